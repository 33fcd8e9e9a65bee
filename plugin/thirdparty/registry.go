package thirdparty

import (
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
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
	data, err := os.ReadFile(o.services)
	if err != nil {
		return nil, fmt.Errorf("services %s: %w", o.services, err)
	}
	services, err := config.ParseYAML(o.services, data, config.Options{Zones: o.zones})
	if err != nil {
		return nil, fmt.Errorf("services %s is invalid:\n%w", o.services, err)
	}
	tp.watch.loaded = sha256.Sum256(data)
	tp.views.Store(tp.build(services, nextSerial(0)))
	return tp, nil
}

// build makes the views of every zone for services, and has the checker
// probe their endpoints: those it already probed keep their state.
func (tp *ThirdParty) build(services []config.Service, serial uint32) *views {
	keys, eps := healthEndpoints(services)
	tp.checker.Set(eps)
	up := func(s *config.Service, i int) bool {
		key := keys[s.Name][i]
		if key == "" {
			return true
		}
		st, _ := tp.checker.Status(key)
		return st.State != health.Unhealthy
	}
	opts := zone.Options{TTL: tp.opts.ttl, MaxAnswers: tp.opts.maxAnswers, Serial: serial, Up: up, Panic: tp.opts.panic}
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

// start begins the health checks, and polling the registry file unless
// reload is 0.
func (tp *ThirdParty) start() error {
	tp.checker.Start()
	if tp.opts.reload == 0 {
		return nil
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
	return nil
}

// stop ends the polling and the health checks, and waits for them.
func (tp *ThirdParty) stop() error {
	if w := tp.watch; w.quit != nil {
		close(w.quit)
		<-w.done
		w.quit = nil
	}
	tp.checker.Stop()
	return nil
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
	services, err := config.ParseYAML(path, data, config.Options{Zones: tp.opts.zones})
	if err != nil {
		w.rejected = sum
		log.Printf("[ERROR] plugin/thirdparty: %s is invalid; the last good registry stays in force", path)
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Printf("[ERROR] plugin/thirdparty: %s", line)
		}
		return
	}
	w.loaded, w.rejected = sum, [sha256.Size]byte{}
	tp.mu.Lock()
	tp.views.Store(tp.build(services, nextSerial(tp.serial())))
	tp.mu.Unlock()
	log.Printf("[INFO] plugin/thirdparty: %s: serving %d services", path, len(services))
}
