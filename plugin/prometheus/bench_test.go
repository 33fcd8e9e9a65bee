package prometheus

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

// BenchmarkPacketObserver is the plugin's share of a reply of the packet
// path, in batches of 32 replies of three types: the reply's counts on the
// stack, the batch's added to its series (found by index).
func BenchmarkPacketObserver(b *testing.B) {
	observe := (&Metrics{}).PassPacketBatches("dns://bench", "example.")
	batch := make([]plugin.PacketObserved, 32)
	for i := range batch {
		batch[i] = plugin.PacketObserved{Type: []uint16{dns.TypeA, dns.TypeSRV, dns.TypeTXT}[i%3], QuerySize: 40, ReplySize: 56 + i, Took: time.Millisecond}
	}
	b.ReportAllocs()
	for b.Loop() {
		observe(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/reply")
}

// BenchmarkServeDNS is the plugin's share of a query of the chain.
func BenchmarkServeDNS(b *testing.B) {
	m := &Metrics{Next: plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		reply := new(dns.Msg)
		reply.SetReply(r)
		return dns.RcodeSuccess, w.WriteMsg(reply)
	})}
	ctx := plugin.WithServer(context.Background(), "dns://bench", "example.")
	r := new(dns.Msg)
	r.SetQuestion("a.example.", dns.TypeA)
	w := &dnstest.Writer{}
	b.ReportAllocs()
	for b.Loop() {
		m.ServeDNS(ctx, w, r)
	}
}
