// Package prometheus implements the prometheus directive: it serves the
// metrics of every plugin on /metrics, and counts the queries and replies
// of the server blocks it appears in.
package prometheus

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Namespace prefixes the name of every metric of tpdns.
const Namespace = "tpdns"

// durationBuckets are CoreDNS's, so that dashboards port.
var durationBuckets = prometheus.ExponentialBuckets(0.00025, 2, 16) // 0.25ms to 8s

// The query metrics of CoreDNS, named tpdns_dns_*.
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "dns", Name: "requests_total",
		Help: "Counter of DNS requests made per zone and type.",
	}, []string{"server", "zone", "type"})
	responses = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "dns", Name: "responses_total",
		Help: "Counter of response status codes.",
	}, []string{"server", "zone", "rcode"})
	duration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "dns", Name: "request_duration_seconds",
		Help: "Histogram of the time (in seconds) each request took per zone.", Buckets: durationBuckets,
	}, []string{"server", "zone", "type"})
)
