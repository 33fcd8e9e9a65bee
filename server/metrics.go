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
