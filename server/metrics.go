package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// panics is CoreDNS's coredns_panics_total, named tpdns_panics_total: every
// panic the server recovered from, in a plugin's ServeDNS (the chain path)
// or anywhere in the packet path, so one query whose packet path and chain
// both panic counts twice. It has no labels, as CoreDNS's has none. It is
// registered with the default registry, which the prometheus plugin serves:
// the server does not import the plugin (the server imports only plugin).
var panics = promauto.NewCounter(prometheus.CounterOpts{
	Namespace: "tpdns", Name: "panics_total",
	Help: "Counter of panics the server recovered from, in the plugin chain or in the packet path.",
})

// The DNS-over-TCP connections of each server (the label is
// "dns://ADDRESS", as the prometheus plugin's server label): open now, and
// those the server closed because of a limit (the timeouts directive), by
// reason: refused (max_connections open and none idle), evicted (the one
// idle longest, closed for a new connection at max_connections),
// read_timeout, idle_timeout, write_timeout, max_queries (maxtcpqueries).
var (
	tcpConnections = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "tpdns", Subsystem: "tcp", Name: "connections",
		Help: "Gauge of DNS-over-TCP connections open.",
	}, []string{"server"})
	tcpClosed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "tcp", Name: "connections_closed_total",
		Help: "Counter of DNS-over-TCP connections the server closed because of a limit, by reason.",
	}, []string{"server", "reason"})
)
