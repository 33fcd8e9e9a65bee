package cache

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metrics of CoreDNS's cache plugin, named tpdns_cache_*.
var (
	entries = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "entries",
		Help: "The number of elements in the cache.",
	}, []string{"server", "type"})
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "requests_total",
		Help: "The count of cache requests.",
	}, []string{"server"})
	hits = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "hits_total",
		Help: "The count of cache hits.",
	}, []string{"server", "type"})
	misses = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "misses_total",
		Help: "The count of cache misses.",
	}, []string{"server"})
	prefetches = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "prefetch_total",
		Help: "The number of times the cache has prefetched a cached item.",
	}, []string{"server"})
	drops = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "drops_total",
		Help: "The number responses that are not cached, because the reply does not match the question.",
	}, []string{"server"})
	servedStale = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "served_stale_total",
		Help: "The number of requests served from stale cache entries.",
	}, []string{"server"})
	evictions = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "cache", Name: "evictions_total",
		Help: "The count of cache evictions.",
	}, []string{"server", "type"})
)

// serverMetrics are the metrics of one server label, resolved once.
type serverMetrics struct {
	server      string
	requests    prometheus.Counter
	misses      prometheus.Counter
	prefetches  prometheus.Counter
	drops       prometheus.Counter
	servedStale prometheus.Counter
	hits        [kinds]prometheus.Counter
	evictions   [kinds]prometheus.Counter
	entries     [kinds]prometheus.Gauge
}

func newServerMetrics(server string) *serverMetrics {
	m := &serverMetrics{
		server:      server,
		requests:    requests.WithLabelValues(server),
		misses:      misses.WithLabelValues(server),
		prefetches:  prefetches.WithLabelValues(server),
		drops:       drops.WithLabelValues(server),
		servedStale: servedStale.WithLabelValues(server),
	}
	for k := range kinds {
		m.hits[k] = hits.WithLabelValues(server, k.String())
		m.evictions[k] = evictions.WithLabelValues(server, k.String())
		m.entries[k] = entries.WithLabelValues(server, k.String())
	}
	return m
}

// metricSet resolves the metrics of the servers a cache answers for. A
// server block mostly has one server, so the last one is looked up
// without a lock.
type metricSet struct {
	last atomic.Pointer[serverMetrics]
	mu   sync.Mutex
	all  map[string]*serverMetrics
}

func (s *metricSet) of(server string) *serverMetrics {
	if m := s.last.Load(); m != nil && m.server == server {
		return m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.all[server]
	if !ok {
		if s.all == nil {
			s.all = map[string]*serverMetrics{}
		}
		m = newServerMetrics(server)
		s.all[server] = m
	}
	s.last.Store(m)
	return m
}
