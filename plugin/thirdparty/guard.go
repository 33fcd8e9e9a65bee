package thirdparty

import (
	"log"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tpdns/tpdns/health"
)

// guard is the checker-isolation guard (SPEC section 7): when more than
// percent of the healthy checked endpoints, at least minHeldEndpoints of
// minHeldServices services, fail within one check interval of each other,
// the fault is more likely tpdns's own (its network, its node) than theirs,
// and it keeps answering them as healthy until at most percent of them
// still fail, or for hold at the latest. Probes go on all the while.
type guard struct {
	percent int // 0: off
	hold    time.Duration

	mu     sync.Mutex
	recent []failure         // healthy → unhealthy within their interval, not held
	held   map[string]string // endpoint key → service, while active
	failed map[string]bool   // the held endpoints that still fail
	since  time.Time         // when it became active; zero while not
}

// failure is an endpoint that went from healthy to unhealthy.
type failure struct {
	key, service string
	at           time.Time
	interval     time.Duration
}

// The least a failure must take to be held: one service, or three
// endpoints, failing together is theirs, not tpdns's.
const (
	minHeldEndpoints = 4
	minHeldServices  = 2
)

// holds reports whether the endpoint with key is answered though its
// probes fail.
func (g *guard) holds(key string) bool {
	if key == "" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.held[key]
	return ok
}

// observe takes in the reports of a batch, healthy the number of checked
// endpoints healthy after it, and returns the services whose answers the
// guard changed (by holding or releasing their endpoints).
func (g *guard) observe(batch []health.Report, healthy int, now time.Time) (changed []string) {
	if g.percent == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range batch {
		fails := !r.Removed && r.Status.State == health.Unhealthy
		if _, ok := g.held[r.Key]; ok {
			switch {
			case r.Removed:
				delete(g.held, r.Key)
				delete(g.failed, r.Key)
			case fails:
				g.failed[r.Key] = true
			default:
				delete(g.failed, r.Key)
			}
			continue
		}
		if r.From == health.Healthy && fails {
			if g.held != nil {
				// Failing while the guard is up: part of the same cut.
				g.held[r.Key], g.failed[r.Key] = r.Owner, true
				changed = append(changed, r.Owner)
				continue
			}
			g.recent = append(g.recent, failure{key: r.Key, service: r.Owner, at: now, interval: r.Target.Check.Interval})
			continue
		}
		if !fails {
			g.recent = slices.DeleteFunc(g.recent, func(f failure) bool { return f.key == r.Key })
		}
	}
	// One interval, and half of it again for the jitter of the schedule
	// and probes that ran late.
	g.recent = slices.DeleteFunc(g.recent, func(f failure) bool { return now.Sub(f.at) > f.interval+f.interval/2 })

	if g.held == nil {
		return append(changed, g.activate(healthy, now)...)
	}
	recovered := len(g.failed)*100 <= g.percent*len(g.held)
	if recovered || now.Sub(g.since) >= g.hold {
		return append(changed, g.lift(now)...)
	}
	return changed
}

// activate holds the recent failures when they are enough. The caller
// holds g.mu.
func (g *guard) activate(healthy int, now time.Time) []string {
	services := map[string]bool{}
	for _, f := range g.recent {
		services[f.service] = true
	}
	n := len(g.recent)
	if n < minHeldEndpoints || len(services) < minHeldServices || n*100 <= g.percent*(healthy+n) {
		return nil
	}
	g.held, g.failed, g.since = map[string]string{}, map[string]bool{}, now
	for _, f := range g.recent {
		g.held[f.key], g.failed[f.key] = f.service, true
	}
	g.recent = nil
	guardActive.Inc()
	log.Printf("[WARNING] plugin/thirdparty: guard: %d of %d healthy endpoints (%d services) failed within one check interval: tpdns itself may be cut off, so they are answered as healthy until at most %d%% of them fail, for %s at most",
		n, healthy+n, len(services), g.percent, g.hold)
	return slices.Sorted(maps.Keys(services))
}

// lift releases the held endpoints. The caller holds g.mu.
func (g *guard) lift(now time.Time) []string {
	services := map[string]bool{}
	for _, s := range g.held {
		services[s] = true
	}
	why := "they recovered"
	if len(g.failed)*100 > g.percent*len(g.held) {
		why = "the hold of " + g.hold.String() + " ran out"
	}
	log.Printf("[WARNING] plugin/thirdparty: guard lifted after %s, %s: %d of the %d endpoints held still fail and leave the answers",
		now.Sub(g.since).Round(time.Second), why, len(g.failed), len(g.held))
	g.held, g.failed, g.since = nil, nil, time.Time{}
	guardActive.Dec()
	return slices.Sorted(maps.Keys(services))
}

// stop lifts the guard without a word: the configuration is going.
func (g *guard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		g.held, g.failed = nil, nil
		guardActive.Dec()
	}
}
