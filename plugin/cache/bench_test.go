package cache

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

// BenchmarkCacheHit measures a hit through ServeDNS: one A record, the
// real clock.
func BenchmarkCacheHit(b *testing.B) {
	c, ctx, r := benchCache(b)
	w := &dnstest.Writer{}
	b.ReportAllocs()
	for b.Loop() {
		r.Id++
		if _, err := c.ServeDNS(ctx, w, r); err != nil {
			b.Fatal(err)
		}
	}
	if w.Msg.Id != r.Id || len(w.Msg.Answer) != 1 {
		b.Fatalf("not answered from the cache: %v", w.Msg)
	}
}

// BenchmarkCacheHitParallel is BenchmarkCacheHit from every CPU at once.
func BenchmarkCacheHitParallel(b *testing.B) {
	c, ctx, r := benchCache(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := r.Copy()
		w := &dnstest.Writer{}
		for pb.Next() {
			r.Id++
			if _, err := c.ServeDNS(ctx, w, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchCache(b *testing.B) (*Cache, context.Context, *dns.Msg) {
	cfg := defaultConfig()
	cfg.zones = []string{"."}
	s, err := newStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.refresh.stop)
	next := plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return dns.RcodeSuccess, w.WriteMsg(answer("300 IN A 192.0.2.1")(r))
	})
	c := &Cache{Next: next, store: s}
	ctx := plugin.WithServer(context.Background(), "dns://bench", ".")
	r := new(dns.Msg)
	r.SetQuestion("www.example.org.", dns.TypeA)
	r.SetEdns0(1232, false)
	if _, err := c.ServeDNS(ctx, &dnstest.Writer{}, r); err != nil {
		b.Fatal(err)
	}
	return c, ctx, r
}
