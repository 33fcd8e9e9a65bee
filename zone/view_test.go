package zone

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

func ip(s string) config.Endpoint {
	a := netip.MustParseAddr(s)
	return config.Endpoint{Address: a.String(), IP: a, Label: strings.NewReplacer(".", "-", ":", "-").Replace(a.String()), Weight: 1}
}

func host(s string) config.Endpoint { return config.Endpoint{Address: s, Weight: 1} }

func ttl(n uint32) *uint32 { return &n }

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// registry covers every kind of service the view knows.
func registry() []config.Service {
	standby := ip("10.0.0.11")
	standby.Label, standby.Priority, standby.Weight = "standby", 10, 5
	down := ip("10.0.0.12")
	down.Disabled = true
	v6 := ip("2001:db8::10")
	v6.Port = 8443
	return []config.Service{
		{
			Name:         "oracle.finance",
			Ports:        []config.Port{{Name: "db", Number: 1521, Protocol: "tcp"}},
			Endpoints:    []config.Endpoint{ip("10.0.0.10"), standby, down},
			Connection:   map[string]string{"DB_USER": "app", "DB_NAME": "orcl", "DB_NAME2": `back\slash`},
			Secrets:      map[string]string{"DB_PASSWORD": "s3cret"},
			SecretsAllow: prefixes("10.244.0.0/16"),
		},
		{
			Name:      "web",
			Ports:     []config.Port{{Name: "https", Number: 443, Protocol: "tcp"}},
			Endpoints: []config.Endpoint{ip("192.0.2.20"), v6},
			TTL:       ttl(30),
		},
		{
			Name:      "dotnet",
			Ports:     []config.Port{{Name: "api", Number: 8080, Protocol: "tcp"}, {Name: "metrics", Number: 9100, Protocol: "udp"}},
			Endpoints: []config.Endpoint{host("winsrv01.corp.example.com")},
		},
		{
			Name:      "private",
			Endpoints: []config.Endpoint{ip("10.1.0.1")},
			Allow:     prefixes("10.244.0.0/16"),
		},
		{Name: "empty"},
	}
}

type answer struct {
	result          Result
	answer, ns, ext []string
}

func lookup(v *View, name string, qtype uint16, client string) answer {
	m := new(dns.Msg)
	r := v.Lookup(Query{Name: name, Type: qtype, Client: netip.MustParseAddr(client), Local: netip.MustParseAddr("127.0.0.1")}, m)
	return answer{r, lines(m.Answer), lines(m.Ns), lines(m.Extra)}
}

// lines are records as sorted zone-file lines.
func lines(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

const soa = "tp.internal. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. 42 7200 1800 86400 10"

func TestLookup(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	nodata := answer{result: Answered, ns: []string{soa}}
	nx := answer{result: NXDomain, ns: []string{soa}}
	cases := []struct {
		name   string
		qtype  uint16
		client string
		want   answer
	}{
		{"oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Answered, answer: []string{
			"oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{"oracle.finance.tp.internal.", dns.TypeAAAA, "10.9.9.9", nodata},
		{"oracle.finance.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			"oracle.finance.tp.internal. 10 IN SRV 0 1 1521 10-0-0-10.oracle.finance.tp.internal.",
			"oracle.finance.tp.internal. 10 IN SRV 10 5 1521 standby.oracle.finance.tp.internal.",
		}, ext: []string{
			"10-0-0-10.oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{"_db._tcp.oracle.finance.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			"_db._tcp.oracle.finance.tp.internal. 10 IN SRV 0 1 1521 10-0-0-10.oracle.finance.tp.internal.",
			"_db._tcp.oracle.finance.tp.internal. 10 IN SRV 10 5 1521 standby.oracle.finance.tp.internal.",
		}, ext: []string{
			"10-0-0-10.oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{"_db._tcp.oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"_db._udp.oracle.finance.tp.internal.", dns.TypeSRV, "10.9.9.9", nx},
		{"_tcp.oracle.finance.tp.internal.", dns.TypeSRV, "10.9.9.9", nodata},
		{"finance.tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"standby.oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Answered, answer: []string{"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11"}}},
		{"standby.oracle.finance.tp.internal.", dns.TypeAAAA, "10.9.9.9", nodata},
		{"standby.oracle.finance.tp.internal.", dns.TypeTXT, "10.9.9.9", nodata},
		// A disabled endpoint keeps its name but is never answered.
		{"10-0-0-12.oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"x.standby.oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9", nx},
		{"oracle.finance.tp.internal.", dns.TypeTXT, "10.9.9.9", answer{result: Answered, answer: []string{
			`oracle.finance.tp.internal. 10 IN TXT "DB_HOST=oracle.finance.tp.internal"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME2=back\\slash"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME=orcl"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PORT=1521"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_USER=app"`,
		}}},
		{"oracle.finance.tp.internal.", dns.TypeTXT, "10.244.1.2", answer{result: Answered, answer: []string{
			`oracle.finance.tp.internal. 10 IN TXT "DB_HOST=oracle.finance.tp.internal"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME2=back\\slash"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME=orcl"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PASSWORD=s3cret"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PORT=1521"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_USER=app"`,
		}}},
		{"oracle.finance.tp.internal.", dns.TypeANY, "10.9.9.9", answer{result: Answered, answer: []string{`oracle.finance.tp.internal. 10 IN HINFO "RFC8482" ""`}}},
		{"oracle.finance.tp.internal.", dns.TypeMX, "10.9.9.9", nodata},
		// Per-service TTL, a per-endpoint port, IPv6.
		{"web.tp.internal.", dns.TypeAAAA, "10.9.9.9", answer{result: Answered, answer: []string{"web.tp.internal. 30 IN AAAA 2001:db8::10"}}},
		{"web.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			"web.tp.internal. 30 IN SRV 0 1 443 192-0-2-20.web.tp.internal.",
			"web.tp.internal. 30 IN SRV 0 1 8443 2001-db8--10.web.tp.internal.",
		}, ext: []string{
			"192-0-2-20.web.tp.internal. 30 IN A 192.0.2.20",
			"2001-db8--10.web.tp.internal. 30 IN AAAA 2001:db8::10",
		}}},
		// The keys made for a port, when nothing is written.
		{"web.tp.internal.", dns.TypeTXT, "10.9.9.9", answer{result: Answered, answer: []string{
			`web.tp.internal. 30 IN TXT "HTTPS_HOST=web.tp.internal"`,
			`web.tp.internal. 30 IN TXT "HTTPS_PORT=443"`,
		}}},
		{"empty.tp.internal.", dns.TypeTXT, "10.9.9.9", nodata},
		// Host-name services: a CNAME, SRV targets the host name, no glue.
		{"dotnet.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Answered, answer: []string{"dotnet.tp.internal. 10 IN CNAME winsrv01.corp.example.com."}}},
		{"dotnet.tp.internal.", dns.TypeAAAA, "10.9.9.9", answer{result: Answered, answer: []string{"dotnet.tp.internal. 10 IN CNAME winsrv01.corp.example.com."}}},
		{"_metrics._udp.dotnet.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			"_metrics._udp.dotnet.tp.internal. 10 IN SRV 0 1 9100 winsrv01.corp.example.com.",
		}}},
		// allow.
		{"private.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Refused}},
		{"10-1-0-1.private.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Refused}},
		{"private.tp.internal.", dns.TypeA, "10.244.0.1", answer{result: Answered, answer: []string{"private.tp.internal. 10 IN A 10.1.0.1"}}},
		{"private.tp.internal.", dns.TypeA, "::ffff:10.244.0.1", answer{result: Answered, answer: []string{"private.tp.internal. 10 IN A 10.1.0.1"}}},
		// A service without endpoints exists.
		{"empty.tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"empty.tp.internal.", dns.TypeSRV, "10.9.9.9", nodata},
		// The apex.
		{"tp.internal.", dns.TypeSOA, "10.9.9.9", answer{result: Answered, answer: []string{soa}}},
		{"tp.internal.", dns.TypeNS, "10.9.9.9", answer{result: Answered, answer: []string{"tp.internal. 10 IN NS ns.dns.tp.internal."}, ext: []string{"ns.dns.tp.internal. 10 IN A 127.0.0.1"}}},
		{"tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"tp.internal.", dns.TypeANY, "10.9.9.9", answer{result: Answered, answer: []string{`tp.internal. 10 IN HINFO "RFC8482" ""`}}},
		{"ns.dns.tp.internal.", dns.TypeA, "10.9.9.9", answer{result: Answered, answer: []string{"ns.dns.tp.internal. 10 IN A 127.0.0.1"}}},
		{"ns.dns.tp.internal.", dns.TypeAAAA, "10.9.9.9", nodata},
		{"dns.tp.internal.", dns.TypeA, "10.9.9.9", nodata},
		{"nope.tp.internal.", dns.TypeA, "10.9.9.9", nx},
		{"nope.tp.internal.", dns.TypeANY, "10.9.9.9", nx},
	}
	for _, c := range cases {
		got := lookup(v, c.name, c.qtype, c.client)
		assert.Equal(t, c.want, got, "%s %s from %s", c.name, dns.TypeToString[c.qtype], c.client)
	}
}

// TestTXTKeyOrder: one TXT record per key, one string each, in key order
// (lines sorts the other tests' records, so they do not show it).
func TestTXTKeyOrder(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	for client, want := range map[string][]string{
		"10.9.9.9":   {"DB_HOST=oracle.finance.tp.internal", "DB_NAME=orcl", `DB_NAME2=back\\slash`, "DB_PORT=1521", "DB_USER=app"},
		"10.244.1.2": {"DB_HOST=oracle.finance.tp.internal", "DB_NAME=orcl", `DB_NAME2=back\\slash`, "DB_PASSWORD=s3cret", "DB_PORT=1521", "DB_USER=app"},
	} {
		m := new(dns.Msg)
		v.Lookup(Query{Name: "oracle.finance.tp.internal.", Type: dns.TypeTXT, Client: netip.MustParseAddr(client)}, m)
		var got []string
		for _, rr := range m.Answer {
			txt := rr.(*dns.TXT).Txt
			assert.Len(t, txt, 1)
			got = append(got, txt...)
		}
		assert.Equal(t, want, got, client)
	}
}

// TestNSGlue: the glue is the address the query came to, of its family.
func TestNSGlue(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	for local, want := range map[string][]string{
		"192.0.2.53":        {"ns.dns.tp.internal. 10 IN A 192.0.2.53"},
		"::ffff:192.0.2.53": {"ns.dns.tp.internal. 10 IN A 192.0.2.53"},
		"2001:db8::53":      {"ns.dns.tp.internal. 10 IN AAAA 2001:db8::53"},
	} {
		m := new(dns.Msg)
		v.Lookup(Query{Name: "tp.internal.", Type: dns.TypeNS, Client: netip.MustParseAddr("10.9.9.9"), Local: netip.MustParseAddr(local)}, m)
		assert.Equal(t, []string{"tp.internal. 10 IN NS ns.dns.tp.internal."}, lines(m.Answer))
		assert.Equal(t, want, lines(m.Extra), local)
	}
	// No local address (a caller that does not know it): no glue.
	m := new(dns.Msg)
	v.Lookup(Query{Name: "tp.internal.", Type: dns.TypeNS}, m)
	assert.Empty(t, m.Extra)
}

func TestReverse(t *testing.T) {
	v := BuildReverse("10.in-addr.arpa.", "tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	rsoa := "10.in-addr.arpa. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. 42 7200 1800 86400 10"
	for _, c := range []struct {
		name   string
		qtype  uint16
		client string
		want   answer
	}{
		{"10.0.0.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{"10.0.0.10.in-addr.arpa. 10 IN PTR 10-0-0-10.oracle.finance.tp.internal."}}},
		{"11.0.0.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{"11.0.0.10.in-addr.arpa. 10 IN PTR standby.oracle.finance.tp.internal."}}},
		{"11.0.0.10.in-addr.arpa.", dns.TypeA, "10.9.9.9", answer{result: Answered, ns: []string{rsoa}}},
		{"12.0.0.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: NXDomain, ns: []string{rsoa}}}, // disabled
		{"0.0.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: Answered, ns: []string{rsoa}}},
		{"1.0.1.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: Refused}},
		{"1.0.1.10.in-addr.arpa.", dns.TypePTR, "10.244.9.9", answer{result: Answered, answer: []string{"1.0.1.10.in-addr.arpa. 10 IN PTR 10-1-0-1.private.tp.internal."}}},
		{"20.2.0.192.in-addr.arpa.", dns.TypePTR, "10.9.9.9", answer{result: NXDomain, ns: []string{rsoa}}}, // outside the zone: not built
	} {
		assert.Equal(t, c.want, lookup(v, c.name, c.qtype, c.client), "%s %s", c.name, dns.TypeToString[c.qtype])
	}

	v6 := BuildReverse("ip6.arpa.", "tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	got := lookup(v6, "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR, "10.9.9.9")
	assert.Equal(t, []string{"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 30 IN PTR 2001-db8--10.web.tp.internal."}, got.answer)
}

func TestHostNamesRotate(t *testing.T) {
	svc := config.Service{Name: "legacy", Endpoints: []config.Endpoint{host("a.example.com"), host("b.example.com"), host("c.example.com")}}
	v := Build("tp.internal.", []config.Service{svc}, Options{TTL: 10})
	var targets []string
	for range 6 {
		got := lookup(v, "legacy.tp.internal.", dns.TypeA, "10.9.9.9")
		targets = append(targets, strings.Fields(got.answer[0])[4])
	}
	assert.Equal(t, []string{"a.example.com.", "b.example.com.", "c.example.com.", "a.example.com.", "b.example.com.", "c.example.com."}, targets)
}

func TestShuffleAndMaxAnswers(t *testing.T) {
	var eps []config.Endpoint
	for i := range 8 {
		eps = append(eps, ip(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String()))
	}
	svc := config.Service{Name: "many", Ports: []config.Port{{Name: "p", Number: 1, Protocol: "tcp"}}, Endpoints: eps}

	v := Build("tp.internal.", []config.Service{svc}, Options{TTL: 10})
	orders := map[string]bool{}
	for range 50 {
		m := new(dns.Msg)
		v.Lookup(Query{Name: "many.tp.internal.", Type: dns.TypeA}, m)
		assert.Len(t, m.Answer, 8)
		orders[m.Answer[0].String()+m.Answer[1].String()] = true
	}
	assert.Greater(t, len(orders), 5, "answers are shuffled per query")

	v = Build("tp.internal.", []config.Service{svc}, Options{TTL: 10, MaxAnswers: 3})
	seen := map[string]bool{}
	for range 100 {
		got := lookup(v, "many.tp.internal.", dns.TypeA, "10.9.9.9")
		assert.Len(t, got.answer, 3)
		for _, a := range got.answer {
			seen[a] = true
		}
		srv := lookup(v, "many.tp.internal.", dns.TypeSRV, "10.9.9.9")
		assert.Len(t, srv.answer, 3)
		assert.Len(t, srv.ext, 3, "glue for the chosen targets only")
	}
	assert.Len(t, seen, 8, "a random subset, not always the same one")
}

// TestTXTPerZone: the keys made for a port, and the references to them,
// name the service in the zone of the view.
func TestTXTPerZone(t *testing.T) {
	svc := config.Service{
		Name:       "oracle.finance",
		Ports:      []config.Port{{Name: "db", Number: 1521, Protocol: "tcp"}},
		Connection: map[string]string{"JDBC_URL": "jdbc:oracle:thin:@//${DB_HOST}:${DB_PORT}/orcl", "DB_PORT": "1522"},
	}
	for zone, host := range map[string]string{"tp.internal.": "oracle.finance.tp.internal", "example.org.": "oracle.finance.example.org"} {
		v := Build(zone, []config.Service{svc}, Options{TTL: 10})
		name := "oracle.finance." + zone
		assert.Equal(t, []string{
			name + ` 10 IN TXT "DB_HOST=` + host + `"`,
			name + ` 10 IN TXT "DB_PORT=1522"`,
			name + ` 10 IN TXT "JDBC_URL=jdbc:oracle:thin:@//` + host + `:1522/orcl"`,
		}, lookup(v, name, dns.TypeTXT, "10.9.9.9").answer)
		got, ok := appendWire(t, v, name, dns.TypeTXT, "10.9.9.9")
		require.True(t, ok)
		assert.Equal(t, lookup(v, name, dns.TypeTXT, "10.9.9.9"), got)
	}
}

// TestDNSSD: RFC 6763 browsing: the service types in use, the instances of
// a type, an instance's SRV and TXT, each within the services' allow.
func TestDNSSD(t *testing.T) {
	hidden := config.Service{
		Name:      "hidden",
		Ports:     []config.Port{{Name: "ldap", Number: 389, Protocol: "tcp"}, {Name: "db", Number: 5432, Protocol: "tcp"}},
		Endpoints: []config.Endpoint{ip("10.3.0.1")},
		Allow:     prefixes("10.244.0.0/16"),
	}
	v := Build("tp.internal.", append(registry(), hidden), Options{TTL: 10, Serial: 42})
	nodata := answer{result: Answered, ns: []string{soa}}
	nx := answer{result: NXDomain, ns: []string{soa}}
	const enum = "_services._dns-sd._udp.tp.internal."
	oracle := `oracle\.finance._db._tcp.tp.internal.`
	for _, c := range []struct {
		name   string
		qtype  uint16
		client string
		want   answer
	}{
		{enum, dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{
			enum + " 10 IN PTR _api._tcp.tp.internal.",
			enum + " 10 IN PTR _db._tcp.tp.internal.",
			enum + " 10 IN PTR _https._tcp.tp.internal.",
			enum + " 10 IN PTR _metrics._udp.tp.internal.",
		}}},
		{enum, dns.TypePTR, "10.244.1.2", answer{result: Answered, answer: []string{
			enum + " 10 IN PTR _api._tcp.tp.internal.",
			enum + " 10 IN PTR _db._tcp.tp.internal.",
			enum + " 10 IN PTR _https._tcp.tp.internal.",
			enum + " 10 IN PTR _ldap._tcp.tp.internal.",
			enum + " 10 IN PTR _metrics._udp.tp.internal.",
		}}},
		{enum, dns.TypeA, "10.9.9.9", nodata},
		{"_dns-sd._udp.tp.internal.", dns.TypePTR, "10.9.9.9", nodata},
		{"_udp.tp.internal.", dns.TypePTR, "10.9.9.9", nodata},
		{"_tcp.tp.internal.", dns.TypePTR, "10.9.9.9", nodata},
		{"_db._tcp.tp.internal.", dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{
			"_db._tcp.tp.internal. 10 IN PTR " + oracle,
		}}},
		{"_db._tcp.tp.internal.", dns.TypePTR, "10.244.1.2", answer{result: Answered, answer: []string{
			"_db._tcp.tp.internal. 10 IN PTR hidden._db._tcp.tp.internal.",
			"_db._tcp.tp.internal. 10 IN PTR " + oracle,
		}}},
		// A type whose every instance is refused lists nothing: NODATA.
		{"_ldap._tcp.tp.internal.", dns.TypePTR, "10.9.9.9", nodata},
		{"_ldap._tcp.tp.internal.", dns.TypePTR, "10.244.1.2", answer{result: Answered, answer: []string{
			"_ldap._tcp.tp.internal. 10 IN PTR hidden._ldap._tcp.tp.internal.",
		}}},
		{"_https._tcp.tp.internal.", dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{
			"_https._tcp.tp.internal. 30 IN PTR web._https._tcp.tp.internal.",
		}}},
		{"_db._tcp.tp.internal.", dns.TypeSRV, "10.9.9.9", nodata},
		{oracle, dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			oracle + " 10 IN SRV 0 1 1521 10-0-0-10.oracle.finance.tp.internal.",
			oracle + " 10 IN SRV 10 5 1521 standby.oracle.finance.tp.internal.",
		}, ext: []string{
			"10-0-0-10.oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{oracle, dns.TypeTXT, "10.9.9.9", answer{result: Answered, answer: []string{
			oracle + ` 10 IN TXT "DB_HOST=oracle.finance.tp.internal" "DB_NAME=orcl" "DB_NAME2=back\\slash" "DB_PORT=1521" "DB_USER=app"`,
		}}},
		{oracle, dns.TypeTXT, "10.244.1.2", answer{result: Answered, answer: []string{
			oracle + ` 10 IN TXT "DB_HOST=oracle.finance.tp.internal" "DB_NAME=orcl" "DB_NAME2=back\\slash" "DB_PASSWORD=s3cret" "DB_PORT=1521" "DB_USER=app"`,
		}}},
		{oracle, dns.TypeA, "10.9.9.9", nodata},
		{"_metrics._udp.tp.internal.", dns.TypePTR, "10.9.9.9", answer{result: Answered, answer: []string{
			"_metrics._udp.tp.internal. 10 IN PTR dotnet._metrics._udp.tp.internal.",
		}}},
		{"dotnet._metrics._udp.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Answered, answer: []string{
			"dotnet._metrics._udp.tp.internal. 10 IN SRV 0 1 9100 winsrv01.corp.example.com.",
		}}},
		{"dotnet._metrics._udp.tp.internal.", dns.TypeTXT, "10.9.9.9", answer{result: Answered, answer: []string{
			`dotnet._metrics._udp.tp.internal. 10 IN TXT "API_HOST=dotnet.tp.internal" "API_PORT=8080" "METRICS_HOST=dotnet.tp.internal" "METRICS_PORT=9100"`,
		}}},
		// An instance of a refused service is refused.
		{"hidden._ldap._tcp.tp.internal.", dns.TypeSRV, "10.9.9.9", answer{result: Refused}},
		{"hidden._ldap._tcp.tp.internal.", dns.TypeSRV, "10.244.1.2", answer{result: Answered, answer: []string{
			"hidden._ldap._tcp.tp.internal. 10 IN SRV 0 1 389 10-3-0-1.hidden.tp.internal.",
		}, ext: []string{"10-3-0-1.hidden.tp.internal. 10 IN A 10.3.0.1"}}},
		{"nope._db._tcp.tp.internal.", dns.TypeSRV, "10.9.9.9", nx},
		// The escaped dot is inside the label: finance._db._tcp does not exist.
		{"finance._db._tcp.tp.internal.", dns.TypeSRV, "10.9.9.9", nx},
		{"oracle.finance._db._tcp.tp.internal.", dns.TypeSRV, "10.9.9.9", nx},
		{"_db._udp.tp.internal.", dns.TypePTR, "10.9.9.9", nx},
	} {
		assert.Equal(t, c.want, lookup(v, c.name, c.qtype, c.client), "%s %s from %s", c.name, dns.TypeToString[c.qtype], c.client)
	}

	// Written keys win over the made ones in the instance TXT too.
	v = Build("tp.internal.", []config.Service{{Name: "bare", Ports: []config.Port{{Name: "p", Number: 1, Protocol: "tcp"}}, Connection: map[string]string{"P_HOST": "x", "P_PORT": "1"}}}, Options{TTL: 10})
	assert.Equal(t, []string{`bare._p._tcp.tp.internal. 10 IN TXT "P_HOST=x" "P_PORT=1"`}, lookup(v, "bare._p._tcp.tp.internal.", dns.TypeTXT, "10.9.9.9").answer)
	// Reverse zones do not browse.
	rv := BuildReverse("10.in-addr.arpa.", "tp.internal.", registry(), Options{TTL: 10})
	assert.Equal(t, NXDomain, lookup(rv, "_services._dns-sd._udp.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9").result)
}

func TestRebuildTakesUnchangedServices(t *testing.T) {
	opts := Options{TTL: 10, Serial: 42}
	first := Build("tp.internal.", registry(), opts)

	// web gets another endpoint, private goes, the rest is unchanged.
	next := registry()
	next[1].Endpoints = append(next[1].Endpoints, ip("192.0.2.21"))
	next = slices.DeleteFunc(next, func(s config.Service) bool { return s.Name == "private" })
	opts.Serial = 43
	v := Rebuild(first, "tp.internal.", next, opts)

	oracle := v.services["oracle.finance"]
	assert.Same(t, first.services["oracle.finance"].recs.Load(), oracle.recs.Load(), "unchanged: its records are taken over")
	assert.Same(t, &next[0], oracle.def, "and point at the new state only")
	assert.NotSame(t, first.services["web"].recs.Load(), v.services["web"].recs.Load(), "changed: built again")

	// The view answers as one built from scratch.
	fresh := Build("tp.internal.", next, opts)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"oracle.finance.tp.internal.", dns.TypeSRV},
		{"oracle.finance.tp.internal.", dns.TypeTXT},
		{"web.tp.internal.", dns.TypeA},
		{"web.tp.internal.", dns.TypeAAAA},
		{"192-0-2-21.web.tp.internal.", dns.TypeA},
		{"private.tp.internal.", dns.TypeA},
		{"tp.internal.", dns.TypeSOA},
	} {
		assert.Equal(t, lookup(fresh, q.name, q.qtype, "10.244.1.1"), lookup(v, q.name, q.qtype, "10.244.1.1"), "%s %s", q.name, dns.TypeToString[q.qtype])
	}
	assert.Equal(t, NXDomain, lookup(v, "private.tp.internal.", dns.TypeA, "10.244.1.1").result)
	assert.Contains(t, lookup(v, "tp.internal.", dns.TypeSOA, "10.9.9.9").answer[0], " 43 ")
}

func TestSecretsByKey(t *testing.T) {
	services := registry()
	services[0].SecretsKeys = []string{"app-finance."}
	v := Build("tp.internal.", services, Options{TTL: 10, Serial: 42})
	txt := func(client, key string) []string {
		m := new(dns.Msg)
		v.Lookup(Query{Name: "oracle.finance.tp.internal.", Type: dns.TypeTXT, Client: netip.MustParseAddr(client), Key: key}, m)
		var out []string
		for _, rr := range m.Answer {
			out = append(out, rr.(*dns.TXT).Txt[0])
		}
		return out
	}
	public := txt("10.9.9.9", "")
	assert.NotContains(t, public, "DB_PASSWORD=s3cret")
	assert.Contains(t, txt("10.9.9.9", "app-finance."), "DB_PASSWORD=s3cret", "a key of secrets_keys, from anywhere")
	assert.Equal(t, public, txt("10.9.9.9", "other-key."), "another key")
	assert.Contains(t, txt("10.244.0.1", ""), "DB_PASSWORD=s3cret", "secrets_allow still")

	// The DNS-SD instance's TXT follows the same rule.
	m := new(dns.Msg)
	v.Lookup(Query{Name: `oracle\.finance._db._tcp.tp.internal.`, Type: dns.TypeTXT, Client: netip.MustParseAddr("10.9.9.9"), Key: "app-finance."}, m)
	require.Len(t, m.Answer, 1)
	assert.Contains(t, m.Answer[0].(*dns.TXT).Txt, "DB_PASSWORD=s3cret")
}

func TestHealthAnswers(t *testing.T) {
	check := config.Check{Type: config.CheckTCP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 3}
	held := ip("10.0.0.3")
	held.Port = 5433
	off := ip("10.0.0.4")
	off.Disabled = true
	services := []config.Service{
		{Name: "db", Ports: []config.Port{{Name: "pg", Number: 5432, Protocol: "tcp"}}, Endpoints: []config.Endpoint{ip("10.0.0.1"), ip("10.0.0.2"), held, off}, Check: check},
		{Name: "down", Endpoints: []config.Endpoint{ip("10.0.1.1")}, Check: check},
		{Name: "plain", Endpoints: []config.Endpoint{ip("10.0.2.1")}, TTL: ttl(30)},
	}
	checked := time.Date(2026, 12, 5, 3, 4, 5, 0, time.UTC)
	opts := Options{
		TTL: 10, Serial: 42,
		Up:   func(s *config.Service, i int) bool { return s.Name == "db" && i == 0 || s.Name == "plain" },
		Held: func(s *config.Service, i int) bool { return s.Name == "db" && i == 2 },
		Health: func(s *config.Service, i int) EndpointHealth {
			switch {
			case s.Endpoints[i].Disabled:
				return EndpointHealth{State: "disabled"}
			case s.Name == "db" && i == 0:
				return EndpointHealth{State: "healthy", Checked: checked}
			case s.Name == "db" && i == 1:
				return EndpointHealth{State: "unknown"}
			}
			return EndpointHealth{State: "unhealthy", Checked: checked, Error: `dial tcp 10.0.0.3:5433: connection "refused"`}
		},
	}
	v := Build("tp.internal.", services, opts)
	ask := func(name string, qtype uint16, edns bool) *dns.Msg {
		m := new(dns.Msg)
		v.Lookup(Query{Name: name, Type: qtype, Client: netip.MustParseAddr("10.9.9.9"), EDNS: edns}, m)
		return m
	}
	ede := func(m *dns.Msg) *dns.EDNS0_EDE {
		if opt := m.IsEdns0(); opt != nil && len(opt.Option) == 1 {
			return opt.Option[0].(*dns.EDNS0_EDE)
		}
		return nil
	}

	// TTLs follow the check: interval 2s × fall 3 = 6s under the plain 10.
	m := ask("db.tp.internal.", dns.TypeA, true)
	assert.Equal(t, []string{"db.tp.internal. 6 IN A 10.0.0.1", "db.tp.internal. 6 IN A 10.0.0.3"}, lines(m.Answer))
	assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer}, ede(m), "the guard holds 10.0.0.3")
	assert.Nil(t, ede(ask("db.tp.internal.", dns.TypeA, false)), "no EDE without EDNS")
	assert.Equal(t, []string{`db.tp.internal. 10 IN TXT "PG_HOST=db.tp.internal"`, `db.tp.internal. 10 IN TXT "PG_PORT=5432"`}, lines(ask("db.tp.internal.", dns.TypeTXT, true).Answer), "TXT keeps the plain ttl")
	assert.Nil(t, ede(ask("db.tp.internal.", dns.TypeTXT, true)))
	assert.Equal(t, []string{"plain.tp.internal. 30 IN A 10.0.2.1"}, lines(ask("plain.tp.internal.", dns.TypeA, true).Answer))

	m = ask("down.tp.internal.", dns.TypeA, true)
	assert.Empty(t, m.Answer)
	assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "no healthy endpoint"}, ede(m))

	opts.Panic = true
	pv := Build("tp.internal.", services, opts)
	m = new(dns.Msg)
	pv.Lookup(Query{Name: "down.tp.internal.", Type: dns.TypeA, Client: netip.MustParseAddr("10.9.9.9"), EDNS: true}, m)
	assert.Equal(t, []string{"down.tp.internal. 5 IN A 10.0.1.1"}, lines(m.Answer))
	assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "panic: no healthy endpoint, all answered"}, ede(m))

	// _health.S.Z: one TXT per endpoint, whatever its health.
	m = ask("_health.db.tp.internal.", dns.TypeTXT, true)
	require.Len(t, m.Answer, 4)
	var got [][]string
	for _, rr := range m.Answer {
		assert.Equal(t, uint32(6), rr.Header().Ttl)
		got = append(got, rr.(*dns.TXT).Txt)
	}
	assert.Equal(t, [][]string{
		{"address=10.0.0.1", "state=healthy", "checked=2026-12-05T03:04:05Z"},
		{"address=10.0.0.2", "state=unknown"},
		{"address=10.0.0.3", "port=5433", "state=unhealthy", "checked=2026-12-05T03:04:05Z", `error=dial tcp 10.0.0.3:5433: connection \"refused\"`},
		{"address=10.0.0.4", "state=disabled"},
	}, got)
	assert.Empty(t, ask("_health.db.tp.internal.", dns.TypeA, true).Answer, "NODATA for other types")
	_, ok := find(v, "_health.nope.tp.internal.")
	assert.False(t, ok)
}

// TestRRFormIsMadeOnDemand: a view answers the packet path from the wire
// form alone, and makes a service's dns.RR form on its first Lookup, once,
// whichever of the concurrent first queries makes it.
func TestRRFormIsMadeOnDemand(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	recs := v.services["oracle.finance"].recs.Load()
	_, ok := appendWire(t, v, "oracle.finance.tp.internal.", dns.TypeSRV, "10.9.9.9")
	require.True(t, ok)
	assert.Nil(t, recs.rrs.Load(), "the packet path needs no dns.RR")

	want := []string{"oracle.finance.tp.internal. 10 IN A 10.0.0.10", "oracle.finance.tp.internal. 10 IN A 10.0.0.11"}
	var wg sync.WaitGroup
	got := make([][]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = lookup(v, "oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9").answer })
	}
	wg.Wait()
	for _, g := range got {
		assert.Equal(t, want, g)
	}
	made := recs.rrs.Load()
	require.NotNil(t, made)
	lookup(v, "standby.oracle.finance.tp.internal.", dns.TypeA, "10.9.9.9")
	assert.Same(t, made, recs.rrs.Load(), "made once, then read")
	assert.Nil(t, v.services["web"].recs.Load().rrs.Load(), "other services have none")
}

// TestReverseZoneOfOneAddress: a reverse zone that is one endpoint's
// address has no PTR node: its apex answers as an apex.
func TestReverseZoneOfOneAddress(t *testing.T) {
	v := BuildReverse("10.0.0.10.in-addr.arpa.", "tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	got := lookup(v, "10.0.0.10.in-addr.arpa.", dns.TypePTR, "10.9.9.9")
	assert.Equal(t, answer{result: Answered, ns: []string{"10.0.0.10.in-addr.arpa. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. 42 7200 1800 86400 10"}}, got)
}
