package thirdparty

import (
	"fmt"
	"log"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/zone"
)

// storageKey is where a caddy instance keeps its ThirdParty plugins.
const storageKey = "tpdns/thirdparty"

// endpointKey identifies an endpoint's health: the same service, address,
// port and check keep their state across registry edits and reloads.
func endpointKey(s *config.Service, ep config.Endpoint, port uint16) string {
	return endpointKeyOf(s.Name, checkID(s.Check), ep, port)
}

// checkID identifies a check among the keys: every field, so that an edit
// of the check starts its endpoints afresh.
func checkID(c config.Check) string { return fmt.Sprintf("%+v", c) }

func endpointKeyOf(service, check string, ep config.Endpoint, port uint16) string {
	return service + "|" + ep.Address + "|" + strconv.Itoa(int(port)) + "|" + check
}

// healthEndpoints lists what the checker probes: every enabled endpoint of
// every service with a check. keys holds, per service with a check, the
// key of each endpoint; "" for a disabled one. Services without a check
// have none: they are always up, and a large registry of them needs no
// copy of its endpoints.
func healthEndpoints(services []config.Service) (keys endpointKeys, eps []health.Endpoint) {
	keys = endpointKeys{}
	for i := range services {
		s := &services[i]
		if s.Check.Type == config.CheckNone {
			continue
		}
		k := make([]string, len(s.Endpoints))
		keys[s.Name] = k
		check := checkID(s.Check)
		for j, ep := range s.Endpoints {
			if ep.Disabled {
				continue
			}
			port := probePort(s, ep)
			k[j] = endpointKeyOf(s.Name, check, ep, port)
			eps = append(eps, health.Endpoint{Key: k[j], Owner: s.Name, Target: health.Target{Host: ep.Address, Port: port, Check: s.Check}})
		}
	}
	return keys, eps
}

// endpointKeys are the keys of the endpoints of the services with a
// check, by service name.
type endpointKeys map[string][]string

// of is the key of endpoint i of s; "" when it is not probed.
func (k endpointKeys) of(s *config.Service, i int) string {
	if keys := k[s.Name]; keys != nil {
		return keys[i]
	}
	return ""
}

// probePort is the port a check of ep probes: the check's port (a name or
// a number), else the endpoint's first port.
func probePort(s *config.Service, ep config.Endpoint) uint16 {
	portOf := func(p config.Port) uint16 {
		if ep.Port != 0 {
			return ep.Port // only a single-port service has per-endpoint ports
		}
		return p.Number
	}
	if s.Check.Port != "" {
		for _, p := range s.Ports {
			if p.Name == s.Check.Port {
				return portOf(p)
			}
		}
		// Not a port name: a number, as the config package checked.
		n, _ := strconv.ParseUint(s.Check.Port, 10, 16)
		return uint16(n)
	}
	if len(s.Ports) > 0 {
		return portOf(s.Ports[0])
	}
	return ep.Port
}

// endpointStatus is the one place that decides the state of ep, an
// endpoint of s, for DNS, metrics and the API alike: disabled, always
// healthy without a check, else what the checker knows. key is the
// endpoint's key with the checker when the caller has it, or "".
func (tp *ThirdParty) endpointStatus(s *config.Service, ep config.Endpoint, key string) health.Status {
	switch {
	case ep.Disabled:
		return health.Status{State: health.Disabled}
	case s.Check.Type == config.CheckNone:
		return health.Status{State: health.Healthy}
	}
	if key == "" {
		key = endpointKey(s, ep, probePort(s, ep))
	}
	return tp.states.get(key)
}

// healthCopy is the plugin's copy of the endpoint states, kept from
// what the checker publishes: health flows one way, from the checker into
// this copy and from it into the answers, the metrics and the API, and
// nothing asks the checker back.
type healthCopy struct {
	mu      sync.RWMutex
	m       map[string]health.Status // by endpoint key; absent: not probed yet
	healthy int                      // how many of m are healthy
}

// get returns the status of the endpoint with key: Unknown until its first
// probe is published.
func (e *healthCopy) get(key string) health.Status {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m[key]
}

// apply takes in the reports of the checker, and returns the services of
// which an endpoint went in or out of the answers.
func (e *healthCopy) apply(batch []health.Report) (changed []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[string]health.Status, len(batch))
	}
	for _, r := range batch {
		if e.m[r.Key].State == health.Healthy {
			e.healthy--
		}
		if r.Removed {
			delete(e.m, r.Key)
			continue
		}
		e.m[r.Key] = r.Status
		if r.Status.State == health.Healthy {
			e.healthy++
		}
		if r.From.Serving() != r.Status.State.Serving() && !slices.Contains(changed, r.Owner) {
			changed = append(changed, r.Owner)
		}
	}
	return changed
}

// healthyCount is how many endpoints are healthy.
func (e *healthCopy) healthyCount() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.healthy
}

// checkerReported takes the checker's reports: through the sharing of the
// probing when there is one, straight to the answers otherwise.
func (tp *ThirdParty) checkerReported(batch []health.Report) {
	if tp.sharing != nil {
		tp.sharing.checkerReported(batch)
		return
	}
	tp.healthReported(batch)
}

// healthReported keeps the reports of the checker, logs and counts the
// changes of state, lets the guard see them, and rebuilds in every view the
// records of the services whose answers they change.
func (tp *ThirdParty) healthReported(batch []health.Report) {
	tp.publishHealth(batch)
	changed := tp.states.apply(batch)
	for _, r := range batch {
		if r.Changed() || r.Status.LastError != "" {
			tp.kube.signal() // the objects' status tells states and errors
		}
		if r.Changed() {
			healthTransitions.WithLabelValues(r.Owner, r.Status.State.String()).Inc()
			log.Printf("[INFO] plugin/thirdparty: %s", describeChange(r))
		}
	}
	for _, s := range tp.guard.observe(batch, tp.states.healthyCount(), time.Now()) {
		if !slices.Contains(changed, s) {
			changed = append(changed, s)
		}
	}
	if len(changed) == 0 {
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, v := range *tp.views.Load() {
		for _, service := range changed {
			v.Update(service)
		}
	}
	tp.warnDown(changed)
}

// describeChange is the log line of a change of state: "oracle.finance
// 192.0.2.10:1521 healthy -> unhealthy after 3 failures: dial tcp ...".
func describeChange(r health.Report) string {
	s := fmt.Sprintf("%s %s %s -> %s after ", r.Owner, net.JoinHostPort(r.Target.Host, strconv.Itoa(int(r.Target.Port))), r.From, r.Status.State)
	switch n := r.Status.Failures; {
	case r.Status.State == health.Healthy && r.Status.Successes == 1:
		s += "1 success"
	case r.Status.State == health.Healthy:
		s += strconv.Itoa(r.Status.Successes) + " successes"
	case n == 1:
		s += "1 failure"
	default:
		s += strconv.Itoa(n) + " failures"
	}
	if r.Status.LastError != "" {
		s += ": " + r.Status.LastError
	}
	return s
}

// warnDown logs, once, a service among names left with no healthy
// endpoint, and one that has one again. A service the guard holds is left
// to the guard's own warning until it lifts. The caller holds tp.mu.
func (tp *ThirdParty) warnDown(names []string) {
next:
	for _, name := range names {
		s := tp.defs[name]
		if s == nil || s.Check.Type == config.CheckNone {
			continue
		}
		enabled, up := 0, 0
		for _, ep := range s.Endpoints {
			if ep.Disabled {
				continue
			}
			key := endpointKey(s, ep, probePort(s, ep))
			if tp.guard.holds(key) {
				continue next
			}
			enabled++
			if tp.states.get(key).State.Serving() {
				up++
			}
		}
		down := enabled > 0 && up == 0
		switch {
		case down && !tp.down[name]:
			tp.down[name] = true
			log.Printf("[WARNING] plugin/thirdparty: service %s has no healthy endpoint left (%d enabled)", name, enabled)
		case !down && tp.down[name]:
			delete(tp.down, name)
			log.Printf("[WARNING] plugin/thirdparty: service %s has a healthy endpoint again (%d of %d)", name, up, enabled)
		}
	}
}

// healthTXT is what _health.S.Z tells of endpoint i of s.
func (tp *ThirdParty) healthTXT(s *config.Service, i int) zone.EndpointHealth {
	ep := s.Endpoints[i]
	st := tp.endpointStatus(s, ep, "")
	h := zone.EndpointHealth{State: st.State.String(), Checked: st.LastCheck, Error: st.LastError}
	if e := tp.hostError(ep); e != "" && h.Error == "" {
		h.Error = e
	}
	return h
}

// Ready implements plugin.Readiness: the registry is loaded when the
// plugin is set up, so it is ready once every endpoint has had its first
// probe, or its first probe timed out, and every host name outside the
// zones has had its first resolution (which times out too).
func (tp *ThirdParty) Ready() bool { return tp.checker.FirstRoundDone() && tp.hosts.FirstRoundDone() }

// previous returns the ThirdParty plugins of the other running caddy
// instances: during a reload, those of the configuration being replaced.
func previous(self *ThirdParty) []*ThirdParty {
	var out []*ThirdParty
	for _, inst := range caddy.Instances() {
		inst.StorageMu.RLock()
		tps, _ := inst.Storage[storageKey].([]*ThirdParty)
		inst.StorageMu.RUnlock()
		for _, tp := range tps {
			if tp != self {
				out = append(out, tp)
			}
		}
	}
	return out
}

// inherit takes over the endpoint states of the plugins of a configuration
// being replaced, and answers by them at once.
func (tp *ThirdParty) inherit(from []*ThirdParty) {
	if len(from) == 0 {
		return
	}
	for _, old := range from {
		tp.states.apply(tp.checker.Inherit(old.checker))
		if tp.sharing != nil {
			// Its checker has what this replica owns, the copy the rest.
			tp.states.apply(tp.sharing.inherit(&old.states))
		}
		tp.hosts.Inherit(old.hosts)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, v := range *tp.views.Load() {
		v.UpdateAll()
	}
}
