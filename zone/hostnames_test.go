package zone

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/config"
)

// fakeHosts is what the resolver knows: host → addresses, TTL 300.
type fakeHosts map[string][]string

func (f fakeHosts) Addresses(host string) (a, aaaa []netip.Addr, ttl uint32, ok bool) {
	for _, s := range f[host] {
		ip := netip.MustParseAddr(s)
		if ip.Is4() {
			a = append(a, ip)
		} else {
			aaaa = append(aaaa, ip)
		}
	}
	return a, aaaa, 300, len(f[host]) > 0
}

func hostRegistry() []config.Service {
	standby := ip("10.0.0.11")
	standby.Label = "standby"
	return []config.Service{
		{Name: "pg", Endpoints: []config.Endpoint{ip("10.0.0.5"), ip("2001:db8::5")}},
		{Name: "oracle.finance", Endpoints: []config.Endpoint{ip("10.0.0.10"), standby}},
		{Name: "alias", Ports: []config.Port{{Name: "pg", Number: 5432, Protocol: "tcp"}}, Endpoints: []config.Endpoint{host("pg.tp.internal")}},
		{Name: "label", Endpoints: []config.Endpoint{host("standby.oracle.finance.tp.internal")}},
		{Name: "chain", Endpoints: []config.Endpoint{host("alias.tp.internal")}},
		{Name: "loop1", Endpoints: []config.Endpoint{host("loop2.tp.internal")}},
		{Name: "loop2", Endpoints: []config.Endpoint{host("loop1.tp.internal")}},
		{Name: "private", Endpoints: []config.Endpoint{ip("10.1.0.1")}, Allow: prefixes("10.244.0.0/16")},
		{Name: "toprivate", Endpoints: []config.Endpoint{host("private.tp.internal")}},
		{Name: "missing", Endpoints: []config.Endpoint{host("nothing.tp.internal")}},
		{Name: "dotnet", TTL: ttl(60), Ports: []config.Port{{Name: "api", Number: 8080, Protocol: "tcp"}},
			Endpoints: []config.Endpoint{host("winsrv01.corp.example.com")}},
		{Name: "broken", Ports: []config.Port{{Name: "api", Number: 8080, Protocol: "tcp"}}, Endpoints: []config.Endpoint{host("gone.example.com")}},
	}
}

func TestHostNameServices(t *testing.T) {
	hosts := fakeHosts{"winsrv01.corp.example.com": {"192.0.2.1", "192.0.2.2", "2001:db8::1"}}
	v := Build("tp.internal.", hostRegistry(), Options{TTL: 10, Serial: 42, Hosts: hosts})
	ok := func(rrs ...string) answer { return answer{result: Answered, answer: rrs} }
	for _, c := range []struct {
		name   string
		qtype  uint16
		client string
		want   answer
	}{
		// Outside the zone: the resolved records, their TTL capped by the service's.
		{"dotnet.tp.internal.", dns.TypeA, "10.9.9.9", ok("dotnet.tp.internal. 60 IN CNAME winsrv01.corp.example.com.",
			"winsrv01.corp.example.com. 60 IN A 192.0.2.1", "winsrv01.corp.example.com. 60 IN A 192.0.2.2")},
		{"dotnet.tp.internal.", dns.TypeAAAA, "10.9.9.9", ok("dotnet.tp.internal. 60 IN CNAME winsrv01.corp.example.com.",
			"winsrv01.corp.example.com. 60 IN AAAA 2001:db8::1")},
		{"dotnet.tp.internal.", dns.TypeCNAME, "10.9.9.9", ok("dotnet.tp.internal. 60 IN CNAME winsrv01.corp.example.com.")},
		{"dotnet.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered,
			answer: []string{"dotnet.tp.internal. 60 IN SRV 0 1 8080 winsrv01.corp.example.com."},
			ext:    []string{"winsrv01.corp.example.com. 60 IN A 192.0.2.1", "winsrv01.corp.example.com. 60 IN A 192.0.2.2", "winsrv01.corp.example.com. 60 IN AAAA 2001:db8::1"}}},
		{"_api._tcp.dotnet.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered,
			answer: []string{"_api._tcp.dotnet.tp.internal. 60 IN SRV 0 1 8080 winsrv01.corp.example.com."},
			ext:    []string{"winsrv01.corp.example.com. 60 IN A 192.0.2.1", "winsrv01.corp.example.com. 60 IN A 192.0.2.2", "winsrv01.corp.example.com. 60 IN AAAA 2001:db8::1"}}},
		// Unresolved: the CNAME alone, SRV without glue.
		{"broken.tp.internal.", dns.TypeA, "10.9.9.9", ok("broken.tp.internal. 10 IN CNAME gone.example.com.")},
		{"broken.tp.internal.", dns.TypeSRV, "10.9.9.9", ok("broken.tp.internal. 10 IN SRV 0 1 8080 gone.example.com.")},
		// In the zone: the target's own records.
		{"alias.tp.internal.", dns.TypeA, "10.9.9.9", ok("alias.tp.internal. 10 IN CNAME pg.tp.internal.", "pg.tp.internal. 10 IN A 10.0.0.5")},
		{"alias.tp.internal.", dns.TypeAAAA, "10.9.9.9", ok("alias.tp.internal. 10 IN CNAME pg.tp.internal.", "pg.tp.internal. 10 IN AAAA 2001:db8::5")},
		{"alias.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered,
			answer: []string{"alias.tp.internal. 10 IN SRV 0 1 5432 pg.tp.internal."},
			ext:    []string{"pg.tp.internal. 10 IN A 10.0.0.5", "pg.tp.internal. 10 IN AAAA 2001:db8::5"}}},
		{"label.tp.internal.", dns.TypeA, "10.9.9.9", ok("label.tp.internal. 10 IN CNAME standby.oracle.finance.tp.internal.", "standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11")},
		{"label.tp.internal.", dns.TypeAAAA, "10.9.9.9", ok("label.tp.internal. 10 IN CNAME standby.oracle.finance.tp.internal.")},
		// A chain of two.
		{"chain.tp.internal.", dns.TypeA, "10.9.9.9", ok("alias.tp.internal. 10 IN CNAME pg.tp.internal.", "chain.tp.internal. 10 IN CNAME alias.tp.internal.", "pg.tp.internal. 10 IN A 10.0.0.5")},
		// A loop ends where it comes back.
		{"loop1.tp.internal.", dns.TypeA, "10.9.9.9", ok("loop1.tp.internal. 10 IN CNAME loop2.tp.internal.", "loop2.tp.internal. 10 IN CNAME loop1.tp.internal.")},
		// The target's allow.
		{"toprivate.tp.internal.", dns.TypeA, "10.9.9.9", ok("toprivate.tp.internal. 10 IN CNAME private.tp.internal.")},
		{"toprivate.tp.internal.", dns.TypeA, "10.244.0.1", ok("private.tp.internal. 10 IN A 10.1.0.1", "toprivate.tp.internal. 10 IN CNAME private.tp.internal.")},
		{"missing.tp.internal.", dns.TypeA, "10.9.9.9", ok("missing.tp.internal. 10 IN CNAME nothing.tp.internal.")},
		// TXT is the connection information, whatever A answers.
		{"dotnet.tp.internal.", dns.TypeTXT, "10.9.9.9", ok(`dotnet.tp.internal. 60 IN TXT "API_HOST=dotnet.tp.internal"`, `dotnet.tp.internal. 60 IN TXT "API_PORT=8080"`)},
	} {
		assert.Equal(t, c.want, lookup(v, c.name, c.qtype, c.client), "%s %s from %s", c.name, dns.TypeToString[c.qtype], c.client)
	}

	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.1.0.1")}, v.Addresses("toprivate.tp.internal"), "probes see past allow")
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("2001:db8::5")}, v.Addresses("chain.tp.internal."))
}

// TestHostNamesRotateOverResolved checks that a CNAME points first at the
// host names that have addresses of the family asked.
func TestHostNamesRotateOverResolved(t *testing.T) {
	svc := config.Service{Name: "legacy", Endpoints: []config.Endpoint{host("a.example.com"), host("b.example.com"), host("c.example.com")}}
	v := Build("tp.internal.", []config.Service{svc}, Options{TTL: 10, Hosts: fakeHosts{"b.example.com": {"192.0.2.2"}, "c.example.com": {"2001:db8::3"}}})
	for range 3 {
		assert.Equal(t, []string{"b.example.com. 10 IN A 192.0.2.2", "legacy.tp.internal. 10 IN CNAME b.example.com."}, lookup(v, "legacy.tp.internal.", dns.TypeA, "10.9.9.9").answer)
		assert.Equal(t, []string{"c.example.com. 10 IN AAAA 2001:db8::3", "legacy.tp.internal. 10 IN CNAME c.example.com."}, lookup(v, "legacy.tp.internal.", dns.TypeAAAA, "10.9.9.9").answer)
	}
}
