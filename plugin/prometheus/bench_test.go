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
// path: its series found by index and counted.
func BenchmarkPacketObserver(b *testing.B) {
	observe := (&Metrics{}).PassPackets("dns://bench", "example.")
	o := plugin.PacketObserved{Type: dns.TypeA, QuerySize: 40, ReplySize: 56, Took: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		observe(o)
	}
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
