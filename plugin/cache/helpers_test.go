package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is the cache's clock in tests: it moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend is the next plugin of the tests: it counts the queries it gets
// and answers them with reply, or with SERVFAIL while fail is set.
type backend struct {
	calls atomic.Int32
	fail  atomic.Bool
	reply func(r *dns.Msg) *dns.Msg
}

var errUpstream = errors.New("upstream down")

func (b *backend) handler() plugin.Handler {
	return plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		b.calls.Add(1)
		m := new(dns.Msg)
		if b.fail.Load() {
			m.SetRcode(r, dns.RcodeServerFailure) // as an upstream's SERVFAIL is relayed
		} else {
			m = b.reply(r)
		}
		return m.Rcode, w.WriteMsg(m)
	})
}

// answer returns a reply function answering with the records, each
// parsed from zone-file text, where "NAME" stands for the query name.
func answer(rrs ...string) func(r *dns.Msg) *dns.Msg {
	return func(r *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.RecursionAvailable = true
		for _, s := range rrs {
			rr, err := dns.NewRR(r.Question[0].Name + " " + s)
			if err != nil {
				panic(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
}

// withRcode returns a reply function answering with rcode and the SOA
// (zone-file text, owned by example.org.) in the authority section.
func withRcode(rcode int, soa string) func(r *dns.Msg) *dns.Msg {
	return func(r *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if soa != "" {
			rr, err := dns.NewRR("example.org. " + soa)
			if err != nil {
				panic(err)
			}
			m.Ns = append(m.Ns, rr)
		}
		return m
	}
}

// fixtures numbers the fixtures, for server labels of their own.
var fixtures atomic.Int64

// fixture is a cache in front of a backend, with a clock of its own and a
// server label of its own, so that metrics can be counted exactly.
type fixture struct {
	t       *testing.T
	cache   *Cache
	backend *backend
	clock   *clock
	ctx     context.Context
	server  string
}

func newFixture(t *testing.T, cfg config, reply func(r *dns.Msg) *dns.Msg) *fixture {
	t.Helper()
	if cfg.zones == nil {
		cfg.zones = []string{"."}
	}
	s, err := newStore(cfg)
	require.NoError(t, err)
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now = clk.now
	t.Cleanup(s.refresh.stop)
	b := &backend{reply: reply}
	server := fmt.Sprintf("dns://%s#%d", t.Name(), fixtures.Add(1)) // fresh series, even with -count
	return &fixture{
		t: t, cache: &Cache{Next: b.handler(), store: s}, backend: b, clock: clk,
		ctx: plugin.WithServer(context.Background(), server, "."), server: server,
	}
}

// ask sends a query for name and type, changed by opts, and returns the
// reply written and the rcode returned.
func (f *fixture) ask(name string, qtype uint16, opts ...func(*dns.Msg)) (*dns.Msg, int) {
	f.t.Helper()
	r := new(dns.Msg)
	r.SetQuestion(name, qtype)
	for _, o := range opts {
		o(r)
	}
	w := &dnstest.Writer{}
	rcode, _ := f.cache.ServeDNS(f.ctx, w, r)
	return w.Msg, rcode
}

func withDO(r *dns.Msg) { r.SetEdns0(1232, true) }
func withCD(r *dns.Msg) { r.CheckingDisabled = true }
func withID(id uint16) func(*dns.Msg) {
	return func(r *dns.Msg) { r.Id = id }
}

// calls returns how many queries reached the backend.
func (f *fixture) calls() int { return int(f.backend.calls.Load()) }

// peek returns the item kept for name and type, without touching the LRU.
func (f *fixture) peek(name string, qtype uint16) *item {
	k := key{name: name, qtype: qtype, qclass: dns.ClassINET}
	for _, l := range f.cache.lrus {
		if i, ok := l.Peek(k); ok {
			return i
		}
	}
	return nil
}

// metric returns the value of one of the fixture's series.
func (f *fixture) metric(name string) float64 {
	switch name {
	case "requests":
		return testutil.ToFloat64(requests.WithLabelValues(f.server))
	case "misses":
		return testutil.ToFloat64(misses.WithLabelValues(f.server))
	case "hits success":
		return testutil.ToFloat64(hits.WithLabelValues(f.server, "success"))
	case "hits denial":
		return testutil.ToFloat64(hits.WithLabelValues(f.server, "denial"))
	case "prefetch":
		return testutil.ToFloat64(prefetches.WithLabelValues(f.server))
	case "drops":
		return testutil.ToFloat64(drops.WithLabelValues(f.server))
	case "served_stale":
		return testutil.ToFloat64(servedStale.WithLabelValues(f.server))
	case "evictions success":
		return testutil.ToFloat64(evictions.WithLabelValues(f.server, "success"))
	case "entries success":
		return testutil.ToFloat64(entries.WithLabelValues(f.server, "success"))
	case "entries denial":
		return testutil.ToFloat64(entries.WithLabelValues(f.server, "denial"))
	}
	panic("unknown metric " + name)
}

// idle reports whether no refresh is running.
func (f *refresher) idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inflight) == 0
}

// eventually polls cond until it holds or 5 seconds have passed.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(time.Millisecond)
	}
}

// ttls returns the TTLs of every record of m, section by section.
func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	for _, s := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range s {
			out = append(out, rr.Header().Ttl)
		}
	}
	return out
}
