package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/dnstest"
)

func TestHitCountsDownTTL(t *testing.T) {
	f := newFixture(t, defaultConfig(), answer("60 IN A 192.0.2.1", "120 IN A 192.0.2.2"))

	first, rcode := f.ask("www.example.org.", dns.TypeA, withID(1))
	assert.Equal(t, dns.RcodeSuccess, rcode)
	assert.True(t, first.Authoritative)
	assert.Equal(t, []uint32{60, 120}, ttls(first))
	assert.Equal(t, 1, f.calls())

	f.clock.advance(10*time.Second + 500*time.Millisecond)
	hit, rcode := f.ask("WWW.Example.ORG.", dns.TypeA, withID(2))
	assert.Equal(t, 1, f.calls(), "answered from the cache")
	assert.Equal(t, dns.RcodeSuccess, rcode)
	assert.Equal(t, uint16(2), hit.Id)
	assert.Equal(t, "WWW.Example.ORG.", hit.Question[0].Name, "the question as asked")
	assert.True(t, hit.Response)
	assert.False(t, hit.Authoritative, "a cache is not authoritative")
	assert.True(t, hit.RecursionAvailable, "flags as stored")
	// No record outlives the reply's lowest TTL, the time the cache keeps it.
	assert.Equal(t, []uint32{50, 50}, ttls(hit))
	assert.Equal(t, "www.example.org.\t50\tIN\tA\t192.0.2.1", hit.Answer[0].String())
	assert.Equal(t, []uint32{60, 120}, ttls(first), "records handed out before are not modified")

	f.clock.advance(time.Second)
	again, _ := f.ask("www.example.org.", dns.TypeA)
	assert.Equal(t, []uint32{49, 49}, ttls(again))
	assert.Equal(t, []uint32{50, 50}, ttls(hit), "each second has records of its own")

	f.clock.advance(49 * time.Second) // 60.5s after the reply was stored
	expired, _ := f.ask("www.example.org.", dns.TypeA)
	assert.Equal(t, 2, f.calls(), "expired")
	assert.Equal(t, []uint32{60, 120}, ttls(expired))
}

func TestTTLLimits(t *testing.T) {
	type step struct {
		at   time.Duration // after the first query
		hit  bool
		ttls []uint32 // of the hit
	}
	delegation := func(r *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(r)
		ns, _ := dns.NewRR("sub.example.org. 300 IN NS ns.sub.example.org.")
		glue, _ := dns.NewRR("ns.sub.example.org. 600 IN A 192.0.2.53")
		m.Ns, m.Extra = []dns.RR{ns}, []dns.RR{glue}
		return m
	}
	truncated := func(r *dns.Msg) *dns.Msg {
		m := answer("60 IN A 192.0.2.1")(r)
		m.Truncated = true
		return m
	}
	const soa = "%d IN SOA ns.example.org. hostmaster.example.org. 1 7200 3600 1209600 %d"
	for _, c := range []struct {
		name  string
		cfg   func(*config)
		reply func(*dns.Msg) *dns.Msg
		steps []step
	}{
		{name: "max TTL caps", reply: answer("86400 IN A 192.0.2.1"),
			steps: []step{{at: 3599 * time.Second, hit: true, ttls: []uint32{1}}, {at: 3600 * time.Second}}},
		{name: "cache TTL", cfg: func(c *config) { c.success.maxTTL = 300 * time.Second }, reply: answer("86400 IN A 192.0.2.1"),
			steps: []step{{at: 0, hit: true, ttls: []uint32{300}}, {at: 299 * time.Second, hit: true, ttls: []uint32{1}}, {at: 300 * time.Second}}},
		{name: "min TTL raises", reply: answer("1 IN A 192.0.2.1"),
			steps: []step{{at: 4 * time.Second, hit: true, ttls: []uint32{0}}, {at: 5 * time.Second}}},
		{name: "TTL 0 with min TTL 0", cfg: func(c *config) { c.success.minTTL = 0 }, reply: answer("0 IN A 192.0.2.1"),
			steps: []step{{at: 0}}},
		{name: "delegation", reply: delegation,
			steps: []step{{at: 100 * time.Second, hit: true, ttls: []uint32{200, 200}}, {at: 300 * time.Second}}},
		{name: "NXDOMAIN by SOA minimum", reply: withRcode(dns.RcodeNameError, fmt.Sprintf(soa, 3600, 300)),
			steps: []step{{at: 299 * time.Second, hit: true, ttls: []uint32{1}}, {at: 300 * time.Second}}},
		{name: "NODATA by SOA TTL", reply: withRcode(dns.RcodeSuccess, fmt.Sprintf(soa, 60, 300)),
			steps: []step{{at: 59 * time.Second, hit: true, ttls: []uint32{1}}, {at: 60 * time.Second}}},
		{name: "denial max TTL", reply: withRcode(dns.RcodeNameError, fmt.Sprintf(soa, 7200, 7200)),
			steps: []step{{at: 1799 * time.Second, hit: true, ttls: []uint32{1}}, {at: 1800 * time.Second}}},
		{name: "denial min TTL", reply: withRcode(dns.RcodeNameError, fmt.Sprintf(soa, 3600, 2)),
			steps: []step{{at: 4 * time.Second, hit: true, ttls: []uint32{1}}, {at: 5 * time.Second}}},
		{name: "NXDOMAIN without SOA", reply: withRcode(dns.RcodeNameError, ""), steps: []step{{at: 0}}},
		{name: "SERVFAIL at most 5s", reply: withRcode(dns.RcodeServerFailure, ""),
			steps: []step{{at: 4 * time.Second, hit: true}, {at: 5 * time.Second}}},
		{name: "servfail 0", cfg: func(c *config) { c.failTTL = 0 }, reply: withRcode(dns.RcodeServerFailure, ""), steps: []step{{at: 0}}},
		{name: "REFUSED", reply: withRcode(dns.RcodeRefused, ""), steps: []step{{at: 0}}},
		{name: "NOTIMP", reply: withRcode(dns.RcodeNotImplemented, ""), steps: []step{{at: 0}}},
		{name: "FORMERR", reply: withRcode(dns.RcodeFormatError, ""), steps: []step{{at: 0}}},
		{name: "truncated", reply: truncated, steps: []step{{at: 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			f := newFixture(t, cfg, c.reply)
			start := f.clock.now()
			first, _ := f.ask("www.sub.example.org.", dns.TypeA)
			for _, s := range c.steps {
				f.clock.advance(start.Add(s.at).Sub(f.clock.now()))
				calls := f.calls()
				m, _ := f.ask("www.sub.example.org.", dns.TypeA)
				assert.Equal(t, s.hit, f.calls() == calls, "hit at %s", s.at)
				if s.hit {
					assert.Equal(t, first.Rcode, m.Rcode)
					assert.Equal(t, s.ttls, ttls(m), "at %s", s.at)
				}
			}
		})
	}
}

func TestServfailKeptOnlyWithoutError(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		kept bool
	}{
		{"returned SERVFAIL", nil, true},
		{"returned SERVFAIL with an error", errUpstream, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, defaultConfig(), nil)
			f.cache.Next = plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
				f.backend.calls.Add(1)
				return dns.RcodeServerFailure, c.err
			})
			m, rcode := f.ask("example.org.", dns.TypeA)
			assert.Nil(t, m, "the server writes it")
			assert.Equal(t, dns.RcodeServerFailure, rcode)

			f.clock.advance(4 * time.Second)
			m, rcode = f.ask("example.org.", dns.TypeA)
			if !c.kept {
				assert.Equal(t, 2, f.calls())
				return
			}
			assert.Equal(t, 1, f.calls())
			require.NotNil(t, m)
			assert.Equal(t, dns.RcodeServerFailure, m.Rcode)
			assert.Equal(t, dns.RcodeSuccess, rcode, "written: the server must not write it again")
		})
	}
}

func TestWrittenReplyWithErrorIsNotKept(t *testing.T) {
	f := newFixture(t, defaultConfig(), answer("60 IN A 192.0.2.1"))
	f.cache.Next = &erring{Handler: f.backend.handler()}
	f.ask("example.org.", dns.TypeA)
	assert.Nil(t, f.peek("example.org.", dns.TypeA), "taken back")
	f.ask("example.org.", dns.TypeA)
	assert.Equal(t, 2, f.calls())
}

// erring writes what its handler writes, then returns an error.
type erring struct{ plugin.Handler }

func (e *erring) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	rcode, _ := e.Handler.ServeDNS(ctx, w, r)
	return rcode, errUpstream
}

func TestCapacityEvictsLeastRecentlyUsed(t *testing.T) {
	cfg := defaultConfig()
	cfg.success.capacity = 2
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))

	f.ask("a.example.org.", dns.TypeA)
	f.ask("b.example.org.", dns.TypeA)
	f.ask("a.example.org.", dns.TypeA) // a is now the most recently used
	assert.Equal(t, 2, f.calls())
	f.ask("c.example.org.", dns.TypeA) // evicts b
	assert.Equal(t, 3, f.calls())
	assert.Equal(t, 1.0, f.metric("evictions success"))
	assert.Equal(t, 2.0, f.metric("entries success"))

	f.ask("a.example.org.", dns.TypeA)
	f.ask("c.example.org.", dns.TypeA)
	assert.Equal(t, 3, f.calls(), "a and c are kept")
	f.ask("b.example.org.", dns.TypeA)
	assert.Equal(t, 4, f.calls(), "b was evicted")
}

func TestDOAndCDBitsSeparateEntries(t *testing.T) {
	f := newFixture(t, defaultConfig(), answer("60 IN A 192.0.2.1"))
	variants := [][]func(*dns.Msg){nil, {withDO}, {withCD}, {withDO, withCD}}
	for i, opts := range variants {
		f.ask("example.org.", dns.TypeA, opts...)
		assert.Equal(t, i+1, f.calls())
	}
	for _, opts := range variants {
		m, _ := f.ask("example.org.", dns.TypeA, opts...)
		r := new(dns.Msg)
		for _, o := range opts {
			o(r)
		}
		assert.Equal(t, r.CheckingDisabled, m.CheckingDisabled)
	}
	assert.Equal(t, len(variants), f.calls(), "each variant is a hit")
	f.ask("example.org.", dns.TypeAAAA)
	f.ask("example.org.", dns.TypeA, func(r *dns.Msg) { r.Question[0].Qclass = dns.ClassCHAOS })
	assert.Equal(t, len(variants)+2, f.calls(), "type and class are part of the key")
}

func TestReplyToAnotherQuestionIsDropped(t *testing.T) {
	f := newFixture(t, defaultConfig(), func(r *dns.Msg) *dns.Msg {
		other := new(dns.Msg)
		other.SetQuestion("other.example.org.", dns.TypeA)
		return answer("60 IN A 192.0.2.1")(other)
	})
	f.ask("example.org.", dns.TypeA)
	f.ask("example.org.", dns.TypeA)
	assert.Equal(t, 2, f.calls())
	assert.Equal(t, 2.0, f.metric("drops"))
}

func TestDoNotCache(t *testing.T) {
	for _, after := range []bool{false, true} {
		f := newFixture(t, defaultConfig(), nil)
		f.cache.Next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
			f.backend.calls.Add(1)
			nc, ok := w.(interface{ DoNotCache() })
			require.True(t, ok)
			if !after {
				nc.DoNotCache()
			}
			err := w.WriteMsg(answer("60 IN TXT \"secret\"")(r))
			if after {
				nc.DoNotCache()
			}
			return dns.RcodeSuccess, err
		})
		f.ask("example.org.", dns.TypeTXT)
		m, _ := f.ask("example.org.", dns.TypeTXT)
		assert.Equal(t, 2, f.calls(), "called after writing: %v", after)
		assert.Len(t, m.Answer, 1)
		assert.Nil(t, f.peek("example.org.", dns.TypeTXT))
	}
}

func TestPassesThrough(t *testing.T) {
	cfg := defaultConfig()
	cfg.zones = []string{"example.org."}
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))

	f.ask("example.net.", dns.TypeA)
	f.ask("example.net.", dns.TypeA)
	f.ask("notexample.org.", dns.TypeA)
	f.ask("notexample.org.", dns.TypeA)
	assert.Equal(t, 4, f.calls(), "outside the zones")
	assert.Equal(t, 0.0, f.metric("requests"))

	f.ask("www.Example.org.", dns.TypeA)
	f.ask("www.example.org.", dns.TypeA)
	assert.Equal(t, 5, f.calls(), "inside")

	r := new(dns.Msg)
	r.SetNotify("www.example.org.")
	_, err := f.cache.ServeDNS(f.ctx, &dnstest.Writer{}, r)
	require.NoError(t, err)
	assert.Equal(t, 6, f.calls(), "only queries are answered from the cache")
}

func TestDisable(t *testing.T) {
	cfg := defaultConfig()
	cfg.success.disabled = []string{"tp.internal."}
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
	f.ask("db.tp.internal.", dns.TypeA)
	f.ask("db.tp.internal.", dns.TypeA)
	assert.Equal(t, 2, f.calls())
	f.ask("example.org.", dns.TypeA)
	f.ask("example.org.", dns.TypeA)
	assert.Equal(t, 3, f.calls())
}

func TestKeepTTL(t *testing.T) {
	cfg := defaultConfig()
	cfg.keepTTL = true
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA)
	f.clock.advance(30 * time.Second)
	m, _ := f.ask("example.org.", dns.TypeA)
	assert.Equal(t, []uint32{60}, ttls(m))
	f.clock.advance(30 * time.Second)
	f.ask("example.org.", dns.TypeA)
	assert.Equal(t, 2, f.calls(), "kept only for the TTL")
}

func TestServeStale(t *testing.T) {
	for _, verify := range []bool{false, true} {
		name := map[bool]string{false: "immediate", true: "verify"}[verify]
		t.Run(name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.staleUpTo = time.Hour
			cfg.verifyStale = verify
			f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
			f.ask("example.org.", dns.TypeA)
			f.backend.fail.Store(true)

			f.clock.advance(90 * time.Second)
			m, rcode := f.ask("example.org.", dns.TypeA)
			assert.Equal(t, dns.RcodeSuccess, rcode)
			require.NotNil(t, m)
			assert.Equal(t, []uint32{0}, ttls(m), "stale records have TTL 0")
			assert.Equal(t, 1.0, f.metric("served_stale"))
			// verify asks before answering, immediate in the background.
			eventually(t, func() bool { return f.calls() == 2 }, "refresh")
			if !verify {
				eventually(t, func() bool { return f.cache.refresh.idle() }, "refresh done")
				assert.Equal(t, 1.0, f.metric("prefetch"))
			}
			assert.False(t, f.peek("example.org.", dns.TypeA).servfail(), "a failed refresh keeps the stale item")

			f.clock.advance(time.Hour - 31*time.Second) // 59 minutes 59 s after expiry
			m, _ = f.ask("example.org.", dns.TypeA)
			assert.Equal(t, []uint32{0}, ttls(m))

			f.clock.advance(time.Second)
			m, _ = f.ask("example.org.", dns.TypeA)
			assert.Equal(t, dns.RcodeServerFailure, m.Rcode, "too stale: the upstream's failure is the answer")

			if verify {
				// A verified refresh that succeeds is the answer.
				f.backend.fail.Store(false)
				f.backend.reply = answer("30 IN A 192.0.2.2")
				f.clock.advance(5 * time.Second) // the SERVFAIL expires
				f.ask("example.org.", dns.TypeA)
				f.clock.advance(40 * time.Second)
				calls := f.calls()
				m, _ = f.ask("example.org.", dns.TypeA)
				assert.Equal(t, calls+1, f.calls())
				assert.Equal(t, []uint32{30}, ttls(m))
				assert.Equal(t, "example.org.\t30\tIN\tA\t192.0.2.2", m.Answer[0].String())
			}
		})
	}
}

func TestPrefetch(t *testing.T) {
	cfg := defaultConfig()
	cfg.prefetch, cfg.duration, cfg.percentage = 3, time.Minute, 10
	f := newFixture(t, cfg, answer("100 IN A 192.0.2.1"))
	f.ask("popular.example.org.", dns.TypeA)
	stored := f.peek("popular.example.org.", dns.TypeA).stored

	f.clock.advance(50 * time.Second)
	f.ask("popular.example.org.", dns.TypeA) // hit 1
	f.clock.advance(35 * time.Second)
	f.ask("popular.example.org.", dns.TypeA) // hit 2: 15s left, above 10%
	f.clock.advance(5 * time.Second)
	m, _ := f.ask("popular.example.org.", dns.TypeA) // hit 3: 10s left
	assert.Equal(t, []uint32{10}, ttls(m), "answered from the cache while it refreshes")

	eventually(t, func() bool {
		i := f.peek("popular.example.org.", dns.TypeA)
		return i != nil && i.stored != stored
	}, "prefetch")
	assert.Equal(t, 2, f.calls())
	assert.Equal(t, 1.0, f.metric("prefetch"))
	eventually(t, f.cache.refresh.idle, "refresh done")

	f.clock.advance(20 * time.Second) // past the first reply's expiry
	m, _ = f.ask("popular.example.org.", dns.TypeA)
	assert.Equal(t, []uint32{80}, ttls(m))
	assert.Equal(t, 2, f.calls())
}

func TestPrefetchNeedsPopularity(t *testing.T) {
	cfg := defaultConfig()
	cfg.prefetch, cfg.duration, cfg.percentage = 2, 10*time.Second, 10
	f := newFixture(t, cfg, answer("100 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA)
	f.clock.advance(80 * time.Second)
	f.ask("example.org.", dns.TypeA)
	f.clock.advance(11 * time.Second)
	f.ask("example.org.", dns.TypeA) // 9s left, but the last hit was too long ago
	assert.Equal(t, 0.0, f.metric("prefetch"))
	assert.Equal(t, 1, f.calls())
}

func TestMetricsCountExactly(t *testing.T) {
	f := newFixture(t, defaultConfig(), func(r *dns.Msg) *dns.Msg {
		if r.Question[0].Name == "missing.example.org." {
			return withRcode(dns.RcodeNameError, "60 IN SOA ns.example.org. hostmaster.example.org. 1 7200 3600 1209600 60")(r)
		}
		return answer("60 IN A 192.0.2.1")(r)
	})
	for range 3 {
		f.ask("example.org.", dns.TypeA)
	}
	for range 2 {
		f.ask("missing.example.org.", dns.TypeA)
	}
	f.clock.advance(time.Minute)
	f.ask("example.org.", dns.TypeA) // expired: a miss

	assert.Equal(t, 6.0, f.metric("requests"))
	assert.Equal(t, 3.0, f.metric("misses"))
	assert.Equal(t, 2.0, f.metric("hits success"))
	assert.Equal(t, 1.0, f.metric("hits denial"))
	assert.Equal(t, 1.0, f.metric("entries success"))
	assert.Equal(t, 1.0, f.metric("entries denial"))
	assert.Equal(t, 0.0, f.metric("served_stale"))
}

func TestShutdownStopsRefreshes(t *testing.T) {
	cfg := defaultConfig()
	cfg.staleUpTo = time.Hour
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA)

	started := make(chan struct{})
	f.cache.Next = plugin.HandlerFunc(func(ctx context.Context, _ dns.ResponseWriter, _ *dns.Msg) (int, error) {
		close(started)
		<-ctx.Done() // an upstream that never answers
		return dns.RcodeServerFailure, ctx.Err()
	})
	f.clock.advance(2 * time.Minute)
	m, _ := f.ask("example.org.", dns.TypeA)
	assert.Equal(t, []uint32{0}, ttls(m), "served stale without waiting")
	<-started
	f.cache.refresh.stop() // returns once the refresh has given up
	f.clock.advance(time.Second)
	f.ask("example.org.", dns.TypeA) // a refresh after shutdown does not start
	assert.True(t, f.cache.refresh.idle())
}

func TestFailedPrefetchKeepsReply(t *testing.T) {
	cfg := defaultConfig()
	cfg.prefetch = 1
	f := newFixture(t, cfg, answer("100 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA)
	f.backend.fail.Store(true)
	f.clock.advance(95 * time.Second)
	f.ask("example.org.", dns.TypeA) // starts a prefetch, which gets SERVFAIL
	eventually(t, func() bool { return f.calls() == 2 }, "prefetch")
	eventually(t, f.cache.refresh.idle, "refresh done")

	f.clock.advance(time.Second)
	m, _ := f.ask("example.org.", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	assert.Equal(t, []uint32{4}, ttls(m))
}

func TestVerifiedStaleCountsAMiss(t *testing.T) {
	cfg := defaultConfig()
	cfg.staleUpTo, cfg.verifyStale = time.Hour, true
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA) // miss
	f.clock.advance(2 * time.Minute)
	m, _ := f.ask("example.org.", dns.TypeA) // verified: the next plugin answers
	assert.Equal(t, []uint32{60}, ttls(m))
	f.backend.fail.Store(true)
	f.clock.advance(2 * time.Minute)
	m, _ = f.ask("example.org.", dns.TypeA) // the next plugin fails: stale
	assert.Equal(t, []uint32{0}, ttls(m))

	assert.Equal(t, 3.0, f.metric("requests"))
	assert.Equal(t, 2.0, f.metric("misses"))
	assert.Equal(t, 1.0, f.metric("hits success"))
	assert.Equal(t, 1.0, f.metric("served_stale"))
}

func TestRefreshPanicIsLogged(t *testing.T) {
	logs := test.CaptureLog(t)
	cfg := defaultConfig()
	cfg.staleUpTo = time.Hour
	f := newFixture(t, cfg, answer("60 IN A 192.0.2.1"))
	f.ask("example.org.", dns.TypeA)
	f.cache.Next = plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
		panic("upstream exploded")
	})
	f.clock.advance(2 * time.Minute)
	f.ask("example.org.", dns.TypeA)
	eventually(t, f.cache.refresh.idle, "refresh done")
	assert.Equal(t, "[ERROR] plugin/cache: refreshing example.org. A: upstream exploded\n", logs.String())
}
