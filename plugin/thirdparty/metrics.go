package thirdparty

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tpdns/tpdns/health"
)

// The metrics of the thirdparty plugin. Label values are service names,
// which the registry bounds, never query names.
var (
	endpointsGauge = register(&endpointStates{desc: prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "thirdparty", "endpoints"),
		"Endpoints of each service, by health state.", []string{"service", "state"}, nil)})
	healthChecks = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "health_checks_total",
		Help: "Health probes run, by service and result (success or failure).",
	}, []string{"service", "result"})
	healthCheckDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "health_check_duration_seconds",
		Help: "Time a health probe took.", Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
	})
	healthTransitions = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "health_transitions_total",
		Help: "Changes of an endpoint's health state, by service and the state changed to.",
	}, []string{"service", "to"})
	guardActive = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "guard_active",
		Help: "1 while the checker-isolation guard answers failing endpoints as healthy (tpdns itself seems cut off).",
	})
	registryReloads = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "registry_reloads_total",
		Help: "Changed registry files read, by result (success: served; failure: rejected).",
	}, []string{"result"})
	registryGeneration = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "registry_generation",
		Help: "The SOA serial of the registry served; it grows with every change.",
	})
	storeUp = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "store_up",
		Help: "1 while the store of registered services can be read, 0 when it cannot.",
	})
	storeLoaded = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "store_last_load_timestamp_seconds",
		Help: "When the registered services served were last read from the store; its age is how stale they may be.",
	})
	sharingReplicas = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "sharing_replicas",
		Help: "Live replicas sharing the probing (health_sharing), this one included; 0 while etcd cannot be reached.",
	})
	sharingOwned = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "sharing_owned_endpoints",
		Help: "Checked endpoints this replica probes for all, publishing their states (health_sharing).",
	})
	sharingLocal = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "sharing_local_endpoints",
		Help: "Checked endpoints this replica probes for itself because nobody published their state for three intervals (health_sharing).",
	})
	sharingPublished = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "sharing_published_total",
		Help: "Endpoint states this replica wrote to etcd: changes of state, and the states of endpoints it took over (health_sharing).",
	})
	sharingTakeovers = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "sharing_takeovers_total",
		Help: "Endpoints this replica took over from a replica that died or left (health_sharing).",
	})
	kubeObjects = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "kubernetes_objects",
		Help: "ThirdPartyService objects read by the kubernetes source, by state (served, invalid, clash).",
	}, []string{"state"})
	kubeLeader = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "kubernetes_writer",
		Help: "1 while this replica holds the Lease tpdns-writer and writes the objects' status, Services, EndpointSlices and events.",
	})
	kubeWrites = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "kubernetes_writes_total",
		Help: "Writes to the Kubernetes API by the kubernetes source, by kind (status, endpointslices, event) and result (ok, error).",
	}, []string{"kind", "result"})
	apiConnections = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "api_connections",
		Help: "Open connections of the registration API, by server (its scheme and address); at most max_connections.",
	}, []string{"server"})
	apiConnectionsClosed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "api_connections_closed_total",
		Help: "Connections the registration API closed, by server and reason (max_connections, read_header_timeout, idle_timeout, unauthenticated).",
	}, []string{"server", "reason"})
	tokenReloads = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "api_token_reloads_total",
		Help: "Changed API tokens files read, by result (success: in force; failure: rejected, the last good tokens stay).",
	}, []string{"result"})
)

// observeProbe counts one health probe.
func observeProbe(service string, r health.Result) {
	result := "success"
	if !r.OK {
		result = "failure"
	}
	healthChecks.WithLabelValues(service, result).Inc()
	healthCheckDuration.Observe(r.Latency.Seconds())
}

// states are the health states the endpoints gauge has a series for.
var states = []health.State{health.Healthy, health.Unhealthy, health.Unknown, health.Disabled}

// endpointStates is the endpoints gauge. It counts the endpoints of the
// running plugins when it is scraped, rather than keeping a series per
// service and state up to date: at 100,000 services, 400,000 series to
// set at every registry load.
type endpointStates struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	running []*ThirdParty // oldest first
}

func register(c *endpointStates) *endpointStates {
	prometheus.MustRegister(c)
	return c
}

// add counts the endpoints of tp from now on; during a reload, those of
// the configuration starting win over the one stopping.
func (c *endpointStates) add(tp *ThirdParty) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = append(c.running, tp)
}

// remove stops counting the endpoints of tp.
func (c *endpointStates) remove(tp *ThirdParty) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = slices.DeleteFunc(c.running, func(r *ThirdParty) bool { return r == tp })
}

// Describe implements prometheus.Collector.
func (c *endpointStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector: one series per service and
// state, each service counted by the newest plugin serving it.
func (c *endpointStates) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	running := slices.Clone(c.running)
	c.mu.Unlock()
	seen := map[string]bool{}
	for _, tp := range slices.Backward(running) {
		services := tp.reg.Snapshot().Services
		for i := range services {
			s := &services[i]
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			var counts [4]int
			for _, ep := range s.Endpoints {
				counts[tp.endpointStatus(s, ep, "").State]++
			}
			for _, st := range states {
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), s.Name, st.String())
			}
		}
	}
}
