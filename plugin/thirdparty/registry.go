package thirdparty

import (
	"crypto/sha256"
	"fmt"
	"log"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/hostname"
	"github.com/tpdns/tpdns/zone"
)

// watcher polls the registry file. Only its goroutine touches the hashes.
type watcher struct {
	loaded   [sha256.Size]byte // content of the registry being served
	rejected [sha256.Size]byte // content last found invalid, reported once
	readErr  string            // last read error, reported once
	quit     chan struct{}
	done     chan struct{}
}

func newThirdParty(o options) (*ThirdParty, error) {
	tp := &ThirdParty{opts: o, zones: append(append([]string{}, o.zones...), o.reverse...), watch: &watcher{}}
	tp.checker = health.NewChecker(o.probes, tp.healthChanged)
	tp.checker.Observe = observeProbe
	tp.checker.Resolve = tp.resolveHost
	servers, err := o.resolvers, error(nil)
	if servers == nil {
		// A missing resolv.conf is no error until a host name needs it.
		servers, err = hostname.ServersFromFile(defaultResolver)
	}
	tp.hosts = hostname.New(servers, err, tp.hostChanged)
	if o.services != "" {
		data, err := os.ReadFile(o.services)
		if err != nil {
			return nil, fmt.Errorf("services %s: %w", o.services, err)
		}
		services, err := config.ParseYAML(o.services, data, tp.configOptions())
		if err != nil {
			return nil, fmt.Errorf("services %s is invalid:\n%w", o.services, err)
		}
		tp.watch.loaded = sha256.Sum256(data)
		tp.file = services
	}
	tp.rebuild(0)
	return tp, nil
}

func (tp *ThirdParty) configOptions() config.Options { return config.Options{Zones: tp.opts.zones} }

// rebuild serves the union of the registry file and the store, with a SOA
// serial above prev. The caller holds tp.mu, or is alone (setup).
func (tp *ThirdParty) rebuild(prev uint32) {
	services, conflicts := tp.union()
	for name, why := range conflicts {
		if tp.conflicts[name] != why {
			log.Printf("[WARNING] plugin/thirdparty: store service %s is not served: %s", name, why)
		}
	}
	tp.conflicts = conflicts
	serial := nextSerial(prev)
	tp.views.Store(tp.build(services, serial))
	registryGeneration.Set(float64(serial))
	tp.services = services
}

// union is what is served: every service of the registry file, then those
// of the store in name order, each unless a name it creates is taken (the
// file wins; the conflict is reported; the API keeps the store from
// clashing with itself).
func (tp *ThirdParty) union() ([]config.Service, map[string]string) {
	taken := map[string]string{} // owner name → the service creating it
	services := make([]config.Service, 0, len(tp.file)+len(tp.stored))
	for _, s := range tp.file {
		for _, n := range s.Names() {
			taken[n] = s.Name
		}
		services = append(services, s)
	}
	conflicts := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(tp.stored)) {
		s := tp.stored[name].svc
		if n, by, clash := clashes(&s, taken); clash {
			conflicts[name] = fmt.Sprintf("the name %s is already used by service %s", n, by)
			continue
		}
		for _, n := range s.Names() {
			taken[n] = s.Name
		}
		services = append(services, s)
	}
	return services, conflicts
}

// clashes returns the first name s creates that is taken, and by whom.
func clashes(s *config.Service, taken map[string]string) (name, by string, clash bool) {
	for _, n := range s.Names() {
		if by, ok := taken[n]; ok {
			return n, by, true
		}
	}
	return "", "", false
}

// build makes the views of every zone for services, and has the checker
// probe their endpoints: those it already probed keep their state.
func (tp *ThirdParty) build(services []config.Service, serial uint32) *views {
	keys, eps := healthEndpoints(services)
	tp.checker.Set(eps)
	tp.hostUsers = tp.hostNames(services)
	tp.hosts.Set(slices.Collect(maps.Keys(tp.hostUsers)))
	up := func(s *config.Service, i int) bool {
		key := keys[s.Name][i]
		if key == "" {
			return true
		}
		st, _ := tp.checker.Status(key)
		return st.State != health.Unhealthy
	}
	opts := zone.Options{TTL: tp.opts.ttl, MaxAnswers: tp.opts.maxAnswers, Serial: serial, Up: up, Panic: tp.opts.panic, Hosts: tp.hosts}
	vs := views{}
	for _, z := range tp.opts.zones {
		vs[z] = zone.Build(z, services, opts)
	}
	for _, z := range tp.opts.reverse {
		vs[z] = zone.BuildReverse(z, tp.opts.zones[0], services, opts)
	}
	return &vs
}

// nextSerial is a SOA serial above prev: the time, unless prev is already
// later (several changes in one second).
func nextSerial(prev uint32) uint32 {
	if now := uint32(time.Now().Unix()); now > prev {
		return now
	}
	return prev + 1
}

func (tp *ThirdParty) serial() uint32 {
	return (*tp.views.Load())[tp.opts.zones[0]].Serial()
}

// pollFile begins polling the registry file, unless there is none or
// reload is 0.
func (tp *ThirdParty) pollFile() {
	if tp.opts.services == "" || tp.opts.reload == 0 {
		return
	}
	w := tp.watch
	w.quit, w.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(tp.opts.reload)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
				tp.reload()
			}
		}
	}()
}

// stopPolling ends the polling of the registry file and waits for it.
func (tp *ThirdParty) stopPolling() {
	if w := tp.watch; w.quit != nil {
		close(w.quit)
		<-w.done
		w.quit = nil
	}
}

// reload serves the registry file again if its content changed and is
// valid. An invalid file is rejected whole, the last good registry keeps
// serving, and its errors are logged once, not on every poll.
func (tp *ThirdParty) reload() {
	w, path := tp.watch, tp.opts.services
	data, err := os.ReadFile(path)
	if err != nil {
		if err.Error() != w.readErr {
			w.readErr = err.Error()
			log.Printf("[ERROR] plugin/thirdparty: %v; the last good registry stays in force", err)
		}
		return
	}
	w.readErr = ""
	sum := sha256.Sum256(data)
	if sum == w.loaded || sum == w.rejected {
		return
	}
	services, err := config.ParseYAML(path, data, tp.configOptions())
	if err != nil {
		w.rejected = sum
		registryReloads.WithLabelValues("failure").Inc()
		log.Printf("[ERROR] plugin/thirdparty: %s is invalid; the last good registry stays in force", path)
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Printf("[ERROR] plugin/thirdparty: %s", line)
		}
		return
	}
	w.loaded, w.rejected = sum, [sha256.Size]byte{}
	registryReloads.WithLabelValues("success").Inc()
	tp.mu.Lock()
	tp.file = services
	tp.rebuild(tp.serial())
	tp.mu.Unlock()
	log.Printf("[INFO] plugin/thirdparty: %s: serving %d services", path, len(services))
	releaseMemory()
}

// releaseMemory gives the memory a registry file's parse leaves behind
// back to the system. The parse goes through a YAML node tree several
// times the registry's size; without this, the heap the collector lets
// grow to twice what is live keeps it as headroom, and a large registry
// (100,000 services) costs twice the memory it needs.
func releaseMemory() { debug.FreeOSMemory() }
