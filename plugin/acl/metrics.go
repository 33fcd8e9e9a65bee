package acl

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metrics of CoreDNS's acl plugin, named tpdns_acl_*. zone is the acl
// zone that matched the query, so its values are bounded by the Corefile.
var (
	blocked = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "acl", Name: "blocked_requests_total",
		Help: "Counter of DNS requests being blocked.",
	}, []string{"server", "zone"})
	filtered = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "acl", Name: "filtered_requests_total",
		Help: "Counter of DNS requests being filtered.",
	}, []string{"server", "zone"})
	allowed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "acl", Name: "allowed_requests_total",
		Help: "Counter of DNS requests being allowed.",
	}, []string{"server"})
	dropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "acl", Name: "dropped_requests_total",
		Help: "Counter of DNS requests being dropped.",
	}, []string{"server", "zone"})
)
