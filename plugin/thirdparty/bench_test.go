package thirdparty

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/hostname"
	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/registry"
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

// benchHandler serves benchRegistry.
func benchHandler() *Handler {
	tp := &ThirdParty{opts: options{zones: []string{"tp.internal."}, ttl: 10}, zones: []string{"tp.internal."}}
	tp.checker = health.NewChecker(1, func([]health.Report) {}) // never started: the registry has no checks
	tp.hosts = hostname.New(nil, nil, func(string) {})          // never started: no host names
	tp.views.Store(tp.build(benchRegistry(), 1))
	return &Handler{tp: tp}
}

// benchQueries are the queries of the benchmarks, one of each kind.
var benchQueries = []struct {
	name  string
	qname string
	qtype uint16
}{
	{"A", "svc4242.team42.tp.internal.", dns.TypeA},
	{"SRV", "_db._tcp.svc4242.team42.tp.internal.", dns.TypeSRV},
	{"TXT", "svc4242.team42.tp.internal.", dns.TypeTXT},
	{"NXDOMAIN", "nope.team42.tp.internal.", dns.TypeA},
}

func BenchmarkServeDNS(b *testing.B) {
	h := benchHandler()
	for _, c := range benchQueries {
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

// BenchmarkAnswerPacket is the packet path's share in thirdparty: the
// records of a reply appended in wire form.
func BenchmarkAnswerPacket(b *testing.B) {
	h := benchHandler()
	for _, c := range benchQueries {
		b.Run(c.name, func(b *testing.B) {
			q := new(dns.Msg)
			q.SetQuestion(c.qname, c.qtype)
			start, err := q.Pack()
			if err != nil {
				b.Fatal(err)
			}
			p := &plugin.Packet{Name: []byte(c.qname), Type: c.qtype, Client: netip.MustParseAddr("127.0.0.1")}
			reply := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := h.AnswerPacket(append(reply[:0], start...), p); !ok {
					b.Fatal("declined")
				}
			}
		})
	}
}

// BenchmarkServeOneChange is the cost of serving a registry state that
// differs from the one served by one service, in a registry of 10,000.
func BenchmarkServeOneChange(b *testing.B) {
	h := benchHandler()
	services := benchRegistry()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		changed := slices.Clone(services)
		s := &changed[i%len(changed)]
		s.Connection = map[string]string{"DB_NAME": fmt.Sprint("app", i)}
		h.tp.serve(&registry.State{Services: changed})
	}
}
