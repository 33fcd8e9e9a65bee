package forward

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/test/dnstest"
)

// BenchmarkForward forwards a query to a fake upstream on loopback, over
// each transport, on pooled connections.
func BenchmarkForward(b *testing.B) {
	u := startUpstream(b, "u1")
	g := newGroup(with(".", []string{u.addr}, nil))
	g.start()
	defer g.stop()
	f := &Forward{group: g}
	for _, proto := range []string{"udp", "tcp"} {
		b.Run(proto, func(b *testing.B) {
			r := new(dns.Msg)
			r.SetQuestion("www.example.org.", dns.TypeTXT)
			w := &dnstest.Writer{TCP: proto == "tcp"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.ServeDNS(context.Background(), w, r); err != nil {
					b.Fatal(err)
				}
			}
			if answeredBy(w.Msg) != "u1" {
				b.Fatalf("not answered by the upstream: %v", w.Msg)
			}
		})
	}
}
