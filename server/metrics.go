package server

import (
	"sync"

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

// pluginEnabled is CoreDNS's coredns_plugin_enabled, named
// tpdns_plugin_enabled: 1 for each plugin in the chain of each zone of each
// server that serves, by its handler's name. Plugins that only configure
// (bind, health, ready) are in no chain, as in CoreDNS.
var pluginEnabled = prometheus.NewDesc("tpdns_plugin_enabled",
	"A metric that indicates whether a plugin is enabled on per server and zone basis.",
	[]string{"server", "zone", "name"}, nil)

// enabled are the servers that serve; tpdns_plugin_enabled is read from
// them when scraped, so that a reload's series are those of the
// configuration that answers, whatever becomes of the others.
var enabled = &enabledPlugins{servers: map[*Server]struct{}{}}

func init() { prometheus.MustRegister(enabled) }

type enabledPlugins struct {
	mu      sync.Mutex
	servers map[*Server]struct{}
}

func (e *enabledPlugins) add(s *Server) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.servers[s] = struct{}{}
}

func (e *enabledPlugins) remove(s *Server) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.servers, s)
}

// Describe implements prometheus.Collector.
func (e *enabledPlugins) Describe(ch chan<- *prometheus.Desc) { ch <- pluginEnabled }

// Collect implements prometheus.Collector: the plugins of the servers that
// no newer configuration replaced, each once.
func (e *enabledPlugins) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[[3]string]bool{}
	for s := range e.servers {
		if s.successor.Load() != nil {
			continue
		}
		for zone, z := range s.zones {
			for _, name := range z.plugins {
				key := [3]string{s.label(), zone, name}
				if !seen[key] {
					seen[key] = true
					ch <- prometheus.MustNewConstMetric(pluginEnabled, prometheus.GaugeValue, 1, key[:]...)
				}
			}
		}
	}
}
