package thirdparty

import (
	"context"
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
	"github.com/tpdns/tpdns/registry"
	"github.com/tpdns/tpdns/zone"
)

// watcher polls the registry file. Only its goroutine touches the hashes.
type watcher struct {
	loaded   [sha256.Size]byte // content of the registry being served
	rejected [sha256.Size]byte // content last found invalid, reported once
	readErr  string            // last read error, reported once
	// stable is the file as it was when last read, if it had not changed
	// for stableAge then: while it stays the same file, of the same size
	// and modification time, a poll does not read it (as CoreDNS's hosts
	// checks its file). Reading and hashing a large registry on every poll
	// took the processor from the answers for milliseconds each time.
	stable os.FileInfo
	quit   chan struct{}
	done   chan struct{}
}

// stableAge is how long a file must have stood unchanged when it is read
// for a poll to trust its modification time: a later write moves it even
// where the time is kept to the second, or to the clock's tick, while one
// in the same tick as the read, of the same size, would leave it as it was.
const stableAge = 2 * time.Second

// read returns the content of the registry file, or unchanged when it is
// the stable file still, which it does not read.
func (w *watcher) read(path string, limit int64) (data []byte, unchanged bool, err error) {
	fi, statErr := os.Stat(path)
	if statErr == nil && w.stable != nil && os.SameFile(fi, w.stable) &&
		fi.Size() == w.stable.Size() && fi.ModTime().Equal(w.stable.ModTime()) {
		return nil, true, nil
	}
	w.stable = nil
	if data, err = config.ReadFile(path, limit); err != nil {
		return nil, false, err
	}
	// Taken before the read: a change in between shows at the next poll.
	if statErr == nil && time.Since(fi.ModTime()) >= stableAge {
		w.stable = fi
	}
	return data, false, nil
}

func newThirdParty(o options) (*ThirdParty, error) {
	tp := &ThirdParty{opts: o, zones: append(append([]string{}, o.zones...), o.reverse...), watch: &watcher{},
		guard: guard{percent: o.guard, hold: o.guardHold}, down: map[string]bool{}}
	tp.checker = health.NewChecker(o.probes, tp.checkerReported)
	tp.checker.Observe = observeProbe
	tp.checker.Resolve = tp.resolveHost
	servers, err := o.resolvers, error(nil)
	if servers == nil {
		// A missing resolv.conf is no error until a host name needs it.
		servers, err = hostname.ServersFromFile(defaultResolver)
	}
	tp.hosts = hostname.New(servers, err, tp.hostChanged)
	var file []config.Service
	if o.services != "" {
		data, _, err := tp.watch.read(o.services, o.servicesMaxSize)
		if err != nil {
			return nil, err
		}
		// The hash of a large file takes a while too, and the parse
		// leaves a processor idle now and then: it is taken meanwhile.
		sum := make(chan [sha256.Size]byte, 1)
		go func() { sum <- sha256.Sum256(data) }()
		file, err = config.ParseYAML(o.services, data, tp.configOptions())
		loaded := <-sum
		if err != nil {
			return nil, fmt.Errorf("services %s is invalid:\n%w", o.services, err)
		}
		tp.watch.loaded = loaded
	}
	// Setup only parses and validates: the answers are built when the
	// server starts (start), not for a Corefile that is only checked.
	tp.reg = registry.New(tp.configOptions(), file)
	return tp, nil
}

func (tp *ThirdParty) configOptions() config.Options { return config.Options{Zones: tp.opts.zones} }

// serve answers from state, the registry's newest, with a SOA serial
// above the one served.
func (tp *ThirdParty) serve(state *registry.State) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for name, why := range state.Conflicts {
		if tp.conflicts[name] != why {
			log.Printf("[WARNING] plugin/thirdparty: store service %s is not served: %s", name, why)
		}
	}
	tp.conflicts = state.Conflicts

	var prev uint32
	if vs := tp.views.Load(); vs != nil {
		prev = tp.serial()
	}
	serial := nextSerial(prev)
	tp.views.Store(tp.build(state.Services, serial))
	registryGeneration.Set(float64(serial))
	tp.publishRegistry(serial, len(state.Services))
	tp.kube.signal() // the file's or the store's names may clash with objects
}

// build makes the views of every zone for services, and has the checker
// probe their endpoints: those it already probed keep their state. The
// records of services unchanged since the views served are taken from
// them, not built again. The caller holds tp.mu.
func (tp *ThirdParty) build(services []config.Service, serial uint32) *views {
	keys, eps := healthEndpoints(services)
	if tp.sharing != nil {
		tp.sharing.setEndpoints(eps)
	} else {
		tp.checker.Set(eps)
	}
	tp.hostUsers = tp.hostNames(services)
	tp.hosts.Set(slices.Collect(maps.Keys(tp.hostUsers)))
	up := func(s *config.Service, i int) bool {
		return tp.endpointStatus(s, s.Endpoints[i], keys.of(s, i)).State.Serving()
	}
	held := func(s *config.Service, i int) bool { return tp.guard.holds(keys.of(s, i)) }
	stored := tp.reg.Snapshot().Stored
	stale := func(s *config.Service) bool {
		_, ok := stored[s.Name]
		return ok && tp.storeDown.Load()
	}
	tp.defs = make(map[string]*config.Service, len(services))
	for i := range services {
		tp.defs[services[i].Name] = &services[i]
	}
	opts := zone.Options{TTL: tp.opts.ttl, MaxAnswers: tp.opts.maxAnswers, Serial: serial, Up: up, Held: held, Stale: stale, Health: tp.healthTXT,
		Panic: tp.opts.panic, Hosts: tp.hosts}
	prev := tp.views.Load()
	vs := views{}
	for _, z := range tp.opts.zones {
		var last *zone.View
		if prev != nil {
			last = (*prev)[z]
		}
		vs[z] = zone.Rebuild(last, z, services, opts)
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
	data, unchanged, err := w.read(path, tp.opts.servicesMaxSize)
	if unchanged {
		return
	}
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
	tp.reg.SetFile(services)
	log.Printf("[INFO] plugin/thirdparty: %s: serving %d services", path, len(services))
}

// releaseMemory gives the memory the first read of a registry file or a
// store leaves behind back to the system, once, after the start: decoding
// goes through YAML node trees several times the registry's size, and the
// heap the collector lets grow to twice what is live would keep it as
// headroom. Later changes leave it to the runtime's scavenger: a forced
// collection per change costs more than it gives back.
//
// It waits releaseDelay first, or gives up when ctx ends (a stop, the
// configuration replaced): the server begins answering as start returns,
// and a forced collection of the whole registry then would take a core, and
// the allocating goroutines' time in assists, from the first answers.
func releaseMemory(ctx context.Context) {
	t := time.NewTimer(releaseDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		debug.FreeOSMemory()
	}
}

// releaseDelay is how long after the start releaseMemory waits: past the
// first answers, which follow the start within milliseconds, and before
// the first poll of the registry file (reload is a second at the least
// anyone sets), whose read would be live through the collection and kept
// as part of the heap given back.
const releaseDelay = 250 * time.Millisecond
