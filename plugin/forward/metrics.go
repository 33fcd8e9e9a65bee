package forward

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metrics of the forward plugin, CoreDNS's coredns_forward_* renamed.
// The "to" label is an upstream's HOST:PORT, which the Corefile bounds.
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "requests_total",
		Help: "Counter of requests sent per upstream.",
	}, []string{"to"})
	responses = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "responses_total",
		Help: "Counter of responses received per upstream and rcode.",
	}, []string{"to", "rcode"})
	requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "request_duration_seconds",
		Help:    "Histogram of the time each request to an upstream took, per rcode of its response.",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // CoreDNS's: 0.25ms to 8s
	}, []string{"to", "rcode"})
	healthcheckFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "healthcheck_failures_total",
		Help: "Counter of failed health checks per upstream.",
	}, []string{"to"})
	healthcheckBroken = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "healthcheck_broken_total",
		Help: "Counter of queries forwarded while every upstream was down.",
	})
	maxConcurrentRejects = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "forward", Name: "max_concurrent_rejects_total",
		Help: "Counter of queries refused because max_concurrent were in flight.",
	})
)

// upstreamMetrics are the series of one upstream, resolved when the
// configuration is built (per rcode, when the rcode is first seen) so that
// the query path does not look labels up.
type upstreamMetrics struct {
	to         string
	requests   prometheus.Counter
	hcFailures prometheus.Counter
	byRcode    [16]atomic.Pointer[rcodeMetrics] // the rcodes of the header
}

type rcodeMetrics struct {
	responses prometheus.Counter
	duration  prometheus.Observer
}

func newUpstreamMetrics(to string) *upstreamMetrics {
	return &upstreamMetrics{
		to:         to,
		requests:   requests.WithLabelValues(to),
		hcFailures: healthcheckFailures.WithLabelValues(to),
	}
}

// observe counts a response with rcode that took d.
func (m *upstreamMetrics) observe(rcode int, d time.Duration) {
	rm := m.rcode(rcode)
	rm.responses.Inc()
	rm.duration.Observe(d.Seconds())
}

func (m *upstreamMetrics) rcode(rcode int) *rcodeMetrics {
	cached := rcode >= 0 && rcode < len(m.byRcode)
	if cached {
		if rm := m.byRcode[rcode].Load(); rm != nil {
			return rm
		}
	}
	name := rcodeName(rcode)
	rm := &rcodeMetrics{
		responses: responses.WithLabelValues(m.to, name),
		duration:  requestDuration.WithLabelValues(m.to, name),
	}
	if cached {
		m.byRcode[rcode].Store(rm)
	}
	return rm
}

// rcodeName is the rcode label of a metric.
func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return strconv.Itoa(rcode)
}
