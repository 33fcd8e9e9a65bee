// Package prometheus implements the prometheus directive: it serves the
// metrics of every plugin on /metrics, and counts the queries and replies
// of the server blocks it appears in.
package prometheus

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Namespace prefixes the name of every metric of tpdns.
const Namespace = "tpdns"

// The buckets are CoreDNS's, so that dashboards port.
var (
	durationBuckets = prometheus.ExponentialBuckets(0.00025, 2, 16) // 0.25ms to 8s
	sizeBuckets     = []float64{0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3}
)

// The query metrics of CoreDNS, named tpdns_dns_*, with the labels SPEC
// section 6 lists (CoreDNS's, without view, and without the plugin label of
// responses_total). A series is made when it is first used.
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "dns", Name: "requests_total",
		Help: "Counter of DNS requests made per zone, protocol and family.",
	}, []string{"server", "zone", "proto", "family", "type"})
	responses = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "dns", Name: "responses_total",
		Help: "Counter of response status codes.",
	}, []string{"server", "zone", "rcode"})
	// The histograms are this package's (see histogramVec): durations in
	// nanoseconds, exposed in seconds, sizes in bytes.
	duration = newHistogramVec(Namespace+"_dns_request_duration_seconds",
		"Histogram of the time (in seconds) each request took per zone.",
		[]string{"server", "zone", "type"}, durationBuckets, 1e9)
	requestSize = newHistogramVec(Namespace+"_dns_request_size_bytes",
		"Size of the request in bytes, per zone and protocol.",
		[]string{"server", "zone", "proto"}, sizeBuckets, 1)
	responseSize = newHistogramVec(Namespace+"_dns_response_size_bytes",
		"Size of the returned response in bytes, per zone and protocol.",
		[]string{"server", "zone", "proto"}, sizeBuckets, 1)
)

// buildInfo is CoreDNS's coredns_build_info: one series, 1, whose labels
// tell the build.
var buildInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Namespace: Namespace, Name: "build_info",
	Help: "A metric with a constant '1' value labeled by version, revision, and goversion from which tpdns was built.",
}, []string{"version", "revision", "goversion"})

func init() {
	prometheus.MustRegister(duration, requestSize, responseSize)
	SetBuildInfo("unknown", "unknown")
	if len(sizeBuckets) > maxBuckets {
		panic("prometheus: more size buckets than a tally holds")
	}
}

// SetBuildInfo sets the version and the revision (the git commit) that
// tpdns_build_info tells, "unknown" until a command sets them: command
// tpdns does, before it starts.
func SetBuildInfo(version, revision string) {
	buildInfo.Reset()
	buildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
}
