// Package cache implements the cache directive: it answers repeated
// queries from the replies the rest of the chain gave before, with their
// TTLs counted down, as CoreDNS's cache plugin does.
package cache

import (
	"context"
	"fmt"
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// Defaults of the Corefile properties, CoreDNS's.
const (
	defaultCapacity           = 9984
	defaultSuccessTTL         = 3600 * time.Second
	defaultDenialTTL          = 1800 * time.Second
	defaultMinTTL             = 5 * time.Second
	defaultServfailTTL        = 5 * time.Second
	maxServfailTTL            = 5 * time.Minute
	defaultPrefetchDuration   = time.Minute
	defaultPrefetchPercentage = 10
	defaultStaleDuration      = time.Hour
)

// config is what the cache directive says.
type config struct {
	zones   []string
	success kindConfig
	denial  kindConfig
	failTTL time.Duration // how long SERVFAIL is kept; 0: not at all

	prefetch   int // hits within duration that make an item popular; 0: no prefetch
	duration   time.Duration
	percentage int // of the original TTL left when a popular item is refreshed

	staleUpTo   time.Duration // how long after expiry an item may be served; 0: never
	verifyStale bool          // ask the next plugin before serving a stale item

	keepTTL bool // serve the TTLs as stored instead of counting them down
}

// kindConfig configures one of the two caches.
type kindConfig struct {
	capacity int
	maxTTL   time.Duration
	minTTL   time.Duration
	disabled []string // zones whose replies of this kind are not kept
}

func defaultConfig() config {
	return config{
		success:    kindConfig{capacity: defaultCapacity, maxTTL: defaultSuccessTTL, minTTL: defaultMinTTL},
		denial:     kindConfig{capacity: defaultCapacity, maxTTL: defaultDenialTTL, minTTL: defaultMinTTL},
		failTTL:    defaultServfailTTL,
		duration:   defaultPrefetchDuration,
		percentage: defaultPrefetchPercentage,
	}
}

// Cache answers from the replies it keeps and hands the rest of the
// queries to Next, keeping what Next answers. The replies are shared by
// every chain of the server block the directive appears in.
type Cache struct {
	Next plugin.Handler
	*store
}

// store is the state of one cache directive: its configuration, the two
// LRUs, and the background refreshes.
type store struct {
	config
	lrus    [kinds]*lru.Cache[key, *item]
	now     func() time.Time
	refresh *refresher
	metrics metricSet
}

func newStore(cfg config) (*store, error) {
	s := &store{config: cfg, now: time.Now, refresh: newRefresher()}
	for k, kc := range [kinds]kindConfig{success: cfg.success, denial: cfg.denial} {
		l, err := lru.New[key, *item](kc.capacity)
		if err != nil {
			return nil, fmt.Errorf("%s cache: %w", kind(k), err)
		}
		s.lrus[k] = l
	}
	return s, nil
}

// ServeDNS implements plugin.Handler.
func (c *Cache) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 {
		return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
	}
	k := keyOf(r)
	if !inZones(c.zones, k.name) {
		return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
	}
	m := c.metrics.of(plugin.Server(ctx))
	m.requests.Inc()

	now := c.now()
	i := c.get(k)
	if i == nil {
		m.misses.Inc()
		return c.fill(ctx, w, r, k, nil, m)
	}
	age := max(now.Sub(i.stored), 0)
	switch {
	case age < i.ttl:
		m.hits[i.kind].Inc()
		if c.shouldPrefetch(i, now, age) {
			c.startRefresh(ctx, w, r, k, i, m)
		}
		if c.keepTTL {
			age = 0
		}
		return c.answer(w, r, k, i, age)
	case age < i.ttl+c.staleUpTo:
		if c.verifyStale {
			if fresh, rcode := c.verify(ctx, w, r, k, m); fresh != nil {
				m.misses.Inc() // answered by the next plugin after all
				if err := w.WriteMsg(fresh); err != nil {
					return dns.RcodeServerFailure, plugin.Error(c.Name(), err)
				}
				return rcode, nil
			}
		} else {
			c.startRefresh(ctx, w, r, k, i, m)
		}
		m.hits[i.kind].Inc()
		m.servedStale.Inc()
		return c.answer(w, r, k, i, i.ttl) // an age of ttl or more gives every record TTL 0
	}
	m.misses.Inc()
	return c.fill(ctx, w, r, k, nil, m)
}

// Name implements plugin.Handler.
func (c *Cache) Name() string { return "cache" }

// get returns the item kept for k, fresh or not, or nil.
func (s *store) get(k key) *item {
	for _, l := range s.lrus {
		if i, ok := l.Get(k); ok {
			return i
		}
	}
	return nil
}

// answer writes i as the reply to r.
func (c *Cache) answer(w dns.ResponseWriter, r *dns.Msg, k key, i *item, age time.Duration) (int, error) {
	m := i.reply(r, k.do, uint32(age/time.Second))
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(c.Name(), err)
	}
	if !plugin.ClientWrite(m.Rcode) {
		// A kept SERVFAIL is written already; returning its code would ask
		// the plugins above to write it again.
		return dns.RcodeSuccess, nil
	}
	return m.Rcode, nil
}

// fill hands r to the next plugin and keeps its reply. carry is the item a
// refresh replaces, whose popularity the new one inherits.
func (c *Cache) fill(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, k key, carry *item, m *serverMetrics) (int, error) {
	rec := &recorder{ResponseWriter: w, store: c.store, req: r, key: k, carry: carry, metrics: m, early: true}
	rcode, err := plugin.NextOrFailure(c.Name(), c.Next, ctx, rec, r)
	c.keep(rec, rcode, err)
	return rcode, err
}

// keep settles what rec saw once the next plugin has returned: a reply
// it returned an error for is not kept, and a SERVFAIL it left to the
// server to write is.
func (s *store) keep(rec *recorder, rcode int, err error) {
	switch {
	case err != nil || rec.noCache:
		if rec.early && rec.item != nil {
			s.retract(rec.key, rec.item)
		}
	case rec.item != nil:
		if !rec.early {
			s.set(rec.key, rec.item, rec.carry, rec.metrics)
		}
	case !rec.written && rcode == dns.RcodeServerFailure:
		fail := new(dns.Msg)
		fail.SetRcode(rec.req, dns.RcodeServerFailure)
		if i, _ := s.newItem(rec.req, fail); i != nil {
			s.set(rec.key, i, rec.carry, rec.metrics)
		}
	}
}

// set stores i under k, in the LRU of its kind only. carry is the item i
// replaces, whose popularity i inherits.
func (s *store) set(k key, i *item, carry *item, m *serverMetrics) {
	if i.servfail() {
		// A reply that can still be served, if only stale, serves the
		// client better than a failure (of a prefetch, say).
		for _, l := range s.lrus {
			if old, ok := l.Peek(k); ok && !old.servfail() && s.now().Sub(old.stored) < old.ttl+s.staleUpTo {
				return
			}
		}
	}
	if carry != nil {
		i.hits.Store(carry.hits.Load())
		i.lastHit.Store(carry.lastHit.Load())
	}
	if s.lrus[i.kind].Add(k, i) {
		m.evictions[i.kind].Inc()
	}
	s.lrus[1-i.kind].Remove(k)
	for kind, l := range s.lrus {
		m.entries[kind].Set(float64(l.Len()))
	}
}

// retract removes i, stored under k as it was written, unless it has been
// replaced since.
func (s *store) retract(k key, i *item) {
	if cur, ok := s.lrus[i.kind].Peek(k); ok && cur == i {
		s.lrus[i.kind].Remove(k)
	}
}

// verify asks the next plugin before a stale item is served. When it
// answers with data or a denial, that reply is kept and returned with the
// plugin's rcode, for the caller to write; otherwise verify returns nil
// and the stale item is served.
func (c *Cache) verify(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, k key, m *serverMetrics) (*dns.Msg, int) {
	h := &held{ResponseWriter: w}
	// The client waits for the choice, so the reply is kept only once it is made.
	rec := &recorder{ResponseWriter: h, store: c.store, req: r, key: k, metrics: m}
	rcode, err := plugin.NextOrFailure(c.Name(), c.Next, ctx, rec, r)
	if err != nil || h.msg == nil || (h.msg.Rcode != dns.RcodeSuccess && h.msg.Rcode != dns.RcodeNameError) {
		return nil, 0
	}
	c.keep(rec, rcode, nil)
	return h.msg, rcode
}

// shouldPrefetch counts a hit on i and reports whether i is popular and
// close enough to expiry to be refreshed.
func (s *store) shouldPrefetch(i *item, now time.Time, age time.Duration) bool {
	if s.prefetch <= 0 {
		return false
	}
	hits := i.hit(now, s.duration)
	threshold := time.Duration(math.Ceil(float64(s.percentage)/100*i.ttl.Seconds())) * time.Second
	return hits >= s.prefetch && i.ttl-age <= threshold
}

// startRefresh runs r through the rest of the chain in the background and
// keeps the reply, unless a refresh of k is running already or too many are.
func (c *Cache) startRefresh(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, k key, old *item, m *serverMetrics) {
	if !c.refresh.claim(k) {
		return
	}
	m.prefetches.Inc()
	req := r.Copy() // r is the server's once this query is answered
	nw := &nonwriter{local: w.LocalAddr(), remote: w.RemoteAddr()}
	values := context.WithoutCancel(ctx) // the server and zone, for the metrics of the plugins after this one
	c.refresh.run(k, func(stop context.Context) {
		ctx, cancel := context.WithCancel(values)
		defer cancel()
		defer context.AfterFunc(stop, cancel)()
		c.fill(ctx, nw, req, k, old, m)
	})
}

// inZones reports whether name (lower case) is in one of zones.
func inZones(zones []string, name string) bool {
	for _, z := range zones {
		if z == "." || name == z ||
			len(name) > len(z) && name[len(name)-len(z)-1] == '.' && name[len(name)-len(z):] == z {
			return true
		}
	}
	return false
}
