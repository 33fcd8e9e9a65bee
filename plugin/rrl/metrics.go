package rrl

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metrics of rrl. kind is the kind of response (response, nodata,
// nxdomain, referral, error), never a name or an address, so the label
// values are bounded.
var (
	dropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "rrl", Name: "responses_dropped_total",
		Help: "Responses over the rate limit that were not sent.",
	}, []string{"server", "zone", "kind"})
	slipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "rrl", Name: "responses_slipped_total",
		Help: "Responses over the rate limit that were sent empty and truncated (TC), for the client to retry over TCP.",
	}, []string{"server", "zone", "kind"})
	tableEntries = prometheus.NewDesc("tpdns_rrl_table_entries",
		"Accounts (client prefix and response) the table is tracking: those whose credit is not full.",
		[]string{"server", "zone"}, nil)
)

// tables are the limiters in use, one per server and zone, whose tables
// tpdns_rrl_table_entries counts when it is scraped. A reload's limiter
// takes the place of the one it replaces.
var tables = &tableSet{m: map[[2]string]*limiter{}}

func init() { prometheus.MustRegister(tables) }

type tableSet struct {
	mu sync.Mutex
	m  map[[2]string]*limiter
}

func (s *tableSet) add(lim *limiter) {
	s.mu.Lock()
	s.m[[2]string{lim.server, lim.zone}] = lim
	s.mu.Unlock()
}

func (s *tableSet) remove(lim *limiter) {
	s.mu.Lock()
	if key := [2]string{lim.server, lim.zone}; s.m[key] == lim {
		delete(s.m, key)
	}
	s.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (s *tableSet) Describe(ch chan<- *prometheus.Desc) { ch <- tableEntries }

// Collect implements prometheus.Collector.
func (s *tableSet) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	lims := make([]*limiter, 0, len(s.m))
	for _, lim := range s.m {
		lims = append(lims, lim)
	}
	s.mu.Unlock()
	for _, lim := range lims {
		ch <- prometheus.MustNewConstMetric(tableEntries, prometheus.GaugeValue, float64(lim.table.live()), lim.server, lim.zone)
	}
}

// instance is what one Corefile's rrl directives made: the limiters, taken
// out of the metrics when the Corefile is shut down.
type instance struct {
	mu   sync.Mutex
	lims []*limiter
}

func (i *instance) add(lim *limiter) {
	i.mu.Lock()
	i.lims = append(i.lims, lim)
	i.mu.Unlock()
	tables.add(lim)
}

func (i *instance) stop() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, lim := range i.lims {
		tables.remove(lim)
	}
	i.lims = nil
	return nil
}
