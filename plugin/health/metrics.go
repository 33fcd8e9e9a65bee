package health

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metrics of CoreDNS's health plugin, named tpdns_health_*. They have
// no server label: being overloaded is a matter of the process, not of one
// server.
var (
	requestDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: "tpdns", Subsystem: "health", Name: "request_duration_seconds",
		Help:    "Histogram of the time (in seconds) each request took.",
		Buckets: prometheus.ExponentialBuckets(0.00025, 10, 5), // 0.25ms to 2.5s, CoreDNS's
	})
	requestFailures = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "health", Name: "request_failures_total",
		Help: "The number of times the health check failed.",
	})
)
