package rrl

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

func benchRRL(b *testing.B, corefile string) *RRL {
	b.Helper()
	c := caddy.NewTestController(plugin.ServerType, corefile)
	c.ServerBlockKeys = []string{"example.org"}
	p, err := setup(c)
	if err != nil {
		b.Fatal(err)
	}
	h := p(next).(*RRL)
	b.Cleanup(func() { _ = h.inst.stop() })
	return h
}

// BenchmarkLimitPacket is what rrl adds to a reply of the packet path.
func BenchmarkLimitPacket(b *testing.B) {
	answer := plugin.PacketReply{Answer: 1}
	for _, c := range []struct {
		name, corefile, client string
		clients                int // clients in distinct /24s, in turn
	}{
		{"exempt", "rrl", "127.0.0.1", 1},
		{"sent", "rrl {\n responses-per-second 1000000000\n exempt none\n}", "192.0.2.1", 1},
		{"limited", "rrl {\n responses-per-second 1\n}", "192.0.2.1", 1},
		{"1M-prefixes", "rrl {\n responses-per-second 1\n}", "", 1 << 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			limit := benchRRL(b, c.corefile).LimitPackets("dns://bench", "example.org.")
			q := &plugin.Packet{Name: []byte("www.finance.example.org."), Type: dns.TypeA}
			if c.client != "" {
				q.Client = netip.MustParseAddr(c.client)
			}
			b.ReportAllocs()
			i := uint32(0)
			for b.Loop() {
				if c.clients > 1 {
					var a [4]byte
					binary.BigEndian.PutUint32(a[:], 0x0a000000|(i%uint32(c.clients))<<8)
					q.Client = netip.AddrFrom4(a)
					i++
				}
				limit(q, answer)
			}
		})
	}
}

// BenchmarkLimitPacketParallel is BenchmarkLimitPacket from every
// processor: one token (one shard's lock), or one token a goroutine.
func BenchmarkLimitPacketParallel(b *testing.B) {
	answer := plugin.PacketReply{Answer: 1}
	for _, shared := range []bool{true, false} {
		name := "one-token"
		if !shared {
			name = "token-per-goroutine"
		}
		b.Run(name, func(b *testing.B) {
			limit := benchRRL(b, "rrl {\n responses-per-second 1\n}").LimitPackets("dns://bench", "example.org.")
			var n uint32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				q := &plugin.Packet{Name: []byte("www.finance.example.org."), Type: dns.TypeA, Client: netip.MustParseAddr("192.0.2.1")}
				if !shared {
					n++
					q.Client = netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 1})
				}
				for pb.Next() {
					limit(q, answer)
				}
			})
		})
	}
}

// BenchmarkServeDNS is what rrl adds to a query of the chain: its writer,
// and the same accounting.
func BenchmarkServeDNS(b *testing.B) {
	done := plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return dns.RcodeSuccess, w.WriteMsg(r)
	})
	c := caddy.NewTestController(plugin.ServerType, "rrl {\n responses-per-second 1\n}")
	c.ServerBlockKeys = []string{"example.org"}
	p, err := setup(c)
	if err != nil {
		b.Fatal(err)
	}
	h := p(done).(*RRL)
	b.Cleanup(func() { _ = h.inst.stop() })
	ctx := plugin.WithServer(context.Background(), "dns://bench", "example.org.")
	m := new(dns.Msg)
	m.SetQuestion("www.finance.example.org.", dns.TypeA)
	m.Answer = []dns.RR{mustRR("www.finance.example.org. 10 IN A 192.0.2.1")}
	w := &clientWriter{&dnstest.Writer{}, &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5353}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.ServeDNS(ctx, w, m)
	}
}
