package thirdparty

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/test/dnstest"
)

// benchRegistry is 10,000 services of two endpoints and one port each,
// with connection information.
func benchRegistry() []config.Service {
	services := make([]config.Service, 10000)
	for i := range services {
		var eps []config.Endpoint
		for j := range 2 {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(j + 1)})
			eps = append(eps, config.Endpoint{Address: a.String(), IP: a, Label: fmt.Sprintf("ep%d", j), Weight: 1})
		}
		services[i] = config.Service{
			Name:       fmt.Sprintf("svc%d.team%d", i, i%50),
			Ports:      []config.Port{{Name: "db", Number: 5432, Protocol: "tcp"}},
			Endpoints:  eps,
			Connection: map[string]string{"DB_NAME": "app", "DB_USER": "app"},
		}
	}
	return services
}

func BenchmarkServeDNS(b *testing.B) {
	tp := &ThirdParty{opts: options{zones: []string{"tp.internal."}, ttl: 10}, zones: []string{"tp.internal."}}
	tp.checker = health.NewChecker(1, func(string) {}) // never started: the registry has no checks
	tp.views.Store(tp.build(benchRegistry(), 1))
	h := &Handler{tp: tp}
	for _, c := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"A", "svc4242.team42.tp.internal.", dns.TypeA},
		{"SRV", "_db._tcp.svc4242.team42.tp.internal.", dns.TypeSRV},
		{"TXT", "svc4242.team42.tp.internal.", dns.TypeTXT},
		{"NXDOMAIN", "nope.team42.tp.internal.", dns.TypeA},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := new(dns.Msg)
			r.SetQuestion(c.qname, c.qtype)
			w := &dnstest.Writer{}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.ServeDNS(context.Background(), w, r); err != nil {
					b.Fatal(err)
				}
			}
			if w.Msg == nil || (c.name != "NXDOMAIN" && len(w.Msg.Answer) == 0) {
				b.Fatalf("no answer: %v", w.Msg)
			}
		})
	}
}
