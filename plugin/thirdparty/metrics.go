package thirdparty

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
)

// The metrics of the thirdparty plugin. Label values are service names,
// which the registry bounds, never query names.
var (
	endpointsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "endpoints",
		Help: "Endpoints of each service, by health state.",
	}, []string{"service", "state"})
	healthChecks = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "health_checks_total",
		Help: "Health probes run, by service and result (success or failure).",
	}, []string{"service", "result"})
	healthCheckDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "health_check_duration_seconds",
		Help: "Time a health probe took.", Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
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

// countEndpoints sets the endpoints gauge of s from the states its
// endpoints have now.
func (tp *ThirdParty) countEndpoints(s *config.Service) {
	var counts [4]int
	for _, ep := range s.Endpoints {
		counts[tp.state(s, ep)]++
	}
	for _, st := range states {
		endpointsGauge.WithLabelValues(s.Name, st.String()).Set(float64(counts[st]))
	}
}

// state is the health state of ep: disabled, always healthy without a
// check, else what the checker knows.
func (tp *ThirdParty) state(s *config.Service, ep config.Endpoint) health.State {
	switch {
	case ep.Disabled:
		return health.Disabled
	case s.Check.Type == config.CheckNone:
		return health.Healthy
	}
	st, _ := tp.checker.Status(endpointKey(s, ep, probePort(s, ep)))
	return st.State
}

// forgetEndpoints removes the gauge series of services no longer served.
func forgetEndpoints(service string) {
	for _, st := range states {
		endpointsGauge.DeleteLabelValues(service, st.String())
	}
}
