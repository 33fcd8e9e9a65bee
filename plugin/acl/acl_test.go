package acl

import (
	"cmp"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

// next answers NOERROR with one TXT record, so an allowed query is told
// apart from a filtered one.
var next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"next"}}}
	return dns.RcodeSuccess, w.WriteMsg(m)
})

// remoteWriter is a dnstest.Writer whose client has another address.
type remoteWriter struct {
	*dnstest.Writer
	addr net.Addr
}

func (w *remoteWriter) RemoteAddr() net.Addr { return w.addr }

func newACL(t *testing.T, corefile string) plugin.Handler {
	t.Helper()
	p, err := setup(caddy.NewTestController(plugin.ServerType, corefile))
	require.NoError(t, err, corefile)
	return p(next)
}

// Outcomes of a query.
const (
	allowedOut  = "allowed"
	refusedOut  = "refused"
	filteredOut = "filtered"
	droppedOut  = "dropped"
)

func outcome(t *testing.T, m *dns.Msg) string {
	t.Helper()
	switch {
	case m == nil:
		return droppedOut
	case m.Rcode == dns.RcodeRefused && len(m.Answer) == 0:
		return refusedOut
	case m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0:
		return filteredOut
	case m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1:
		return allowedOut
	}
	t.Fatalf("unexpected reply:\n%v", m)
	return ""
}

func TestACL(t *testing.T) {
	const defaultClient = "" // dnstest's 10.240.0.1
	cases := []struct {
		name     string
		corefile string
		qname    string // default example.org.
		qtype    uint16 // default A
		client   string // an IP address, or defaultClient
		want     string
	}{
		{name: "block everything", corefile: "acl {\n block\n}", want: refusedOut},
		{name: "allow everything", corefile: "acl {\n allow\n}", want: allowedOut},
		{name: "no rule matches", corefile: "acl {\n block net 192.168.0.0/16\n}", want: allowedOut},
		{name: "block by network", corefile: "acl {\n block net 10.0.0.0/8\n}", want: refusedOut},
		{name: "block by address", corefile: "acl {\n block net 192.168.0.1 10.240.0.1\n}", want: refusedOut},
		{name: "filter by network", corefile: "acl {\n filter net 10.240.0.0/16\n}", want: filteredOut},
		{name: "drop by network", corefile: "acl {\n drop net 10.240.0.0/16\n}", want: droppedOut},
		{name: "block by type", corefile: "acl {\n block type A\n}", want: refusedOut},
		{name: "other type passes", corefile: "acl {\n block type A\n}", qtype: dns.TypeAAAA, want: allowedOut},
		{name: "filter by type and network", corefile: "acl {\n filter type AAAA net 10.0.0.0/8\n}", qtype: dns.TypeAAAA, want: filteredOut},
		{name: "type and network must both match", corefile: "acl {\n filter type AAAA net 192.168.0.0/16\n}", qtype: dns.TypeAAAA, want: allowedOut},
		{name: "drop by type", corefile: "acl {\n drop type ANY\n}", qtype: dns.TypeANY, want: droppedOut},

		{name: "first match wins: allow", corefile: "acl {\n allow net 10.240.0.1\n block\n}", want: allowedOut},
		{name: "first match wins: block", corefile: "acl {\n block net 10.240.0.0/16\n allow net 10.240.0.1\n}", want: refusedOut},
		{name: "allow only some networks", corefile: "acl {\n allow net 127.0.0.0/8 192.168.0.0/16\n block\n}", want: refusedOut},
		{name: "allow ends the search", corefile: "acl {\n allow net 10.0.0.0/8\n}\nacl {\n block\n}", want: allowedOut},
		{name: "no match goes on to the next rule", corefile: "acl {\n allow net 192.168.0.0/16\n}\nacl {\n filter\n}", want: filteredOut},

		{name: "IPv6 client blocked", corefile: "acl {\n block net 2001:db8::/32\n}", client: "2001:db8::53", want: refusedOut},
		{name: "IPv6 client not in an IPv4 network", corefile: "acl {\n block net 10.0.0.0/8\n}", client: "2001:db8::53", want: allowedOut},
		{name: "IPv6 client with a zone", corefile: "acl {\n block net fe80::/10\n}", client: "fe80::1%eth0", want: refusedOut},
		{name: "IPv4-mapped client in an IPv4 network", corefile: "acl {\n block net 10.240.0.0/16\n}", client: "::ffff:10.240.0.1", want: refusedOut},
		{name: "IPv4-mapped client, IPv4-mapped rule", corefile: "acl {\n drop net ::ffff:10.240.0.0/112\n}", client: "::ffff:10.240.0.1", want: droppedOut},
		{name: "IPv4 client, IPv4-mapped rule", corefile: "acl {\n filter net ::ffff:10.240.0.1\n}", want: filteredOut},

		{name: "in the zone", corefile: "acl example.org {\n block\n}", qname: "www.example.org.", want: refusedOut},
		{name: "in the zone, any case", corefile: "acl example.org {\n block\n}", qname: "WWW.Example.ORG.", want: refusedOut},
		{name: "the zone itself", corefile: "acl example.org {\n block\n}", qname: "example.org.", want: refusedOut},
		{name: "outside the zone", corefile: "acl example.org {\n block\n}", qname: "example.net.", want: allowedOut},
		{name: "not a label boundary", corefile: "acl example.org {\n block\n}", qname: "badexample.org.", want: allowedOut},
		{name: "zone of another rule", corefile: "acl a.example.org {\n block\n}\nacl example.org {\n filter\n}", qname: "b.example.org.", want: filteredOut},
		{name: "reverse zone", corefile: "acl 10.0.0.0/8 {\n block\n}", qname: "1.0.0.10.in-addr.arpa.", qtype: dns.TypePTR, want: refusedOut},
		{name: "root zone and root query", corefile: "acl . {\n block\n}", qname: ".", qtype: dns.TypeNS, want: refusedOut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newACL(t, c.corefile)
			r := new(dns.Msg)
			r.SetQuestion(cmp.Or(c.qname, "example.org."), cmp.Or(c.qtype, dns.TypeA))
			w := &dnstest.Writer{}
			var rw dns.ResponseWriter = w
			if c.client != defaultClient {
				ip, zone, _ := strings.Cut(c.client, "%")
				rw = &remoteWriter{Writer: w, addr: &net.UDPAddr{IP: net.ParseIP(ip), Zone: zone, Port: 40212}}
			}
			rcode, err := h.ServeDNS(context.Background(), rw, r)
			require.NoError(t, err)
			assert.Equal(t, dns.RcodeSuccess, rcode, "a reply is written, or none is wanted")
			assert.Equal(t, c.want, outcome(t, w.Msg))
		})
	}
}

func TestACLOverTCP(t *testing.T) {
	h := newACL(t, "acl {\n block net 10.240.0.1\n}")
	w := &dnstest.Writer{TCP: true}
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeA)
	_, err := h.ServeDNS(context.Background(), w, r)
	require.NoError(t, err)
	assert.Equal(t, refusedOut, outcome(t, w.Msg))
}

// A client whose address cannot be read is blocked in the rules' zones.
func TestUnreadableClientAddress(t *testing.T) {
	for corefile, want := range map[string]string{
		"acl {\n allow\n}":                 refusedOut,
		"acl {\n filter net 10.0.0.0/8\n}": refusedOut,
		"acl example.net {\n allow\n}":     allowedOut,
	} {
		h := newACL(t, corefile)
		w := &remoteWriter{Writer: &dnstest.Writer{}, addr: &net.UnixAddr{Name: "/run/dns.sock", Net: "unix"}}
		r := new(dns.Msg)
		r.SetQuestion("example.org.", dns.TypeA)
		_, err := h.ServeDNS(context.Background(), w, r)
		require.NoError(t, err)
		assert.Equal(t, want, outcome(t, w.Msg), corefile)
	}
}

func TestExtendedError(t *testing.T) {
	for _, c := range []struct {
		action string
		rcode  int
		code   uint16
	}{
		{"block", dns.RcodeRefused, dns.ExtendedErrorCodeBlocked},
		{"filter", dns.RcodeSuccess, dns.ExtendedErrorCodeFiltered},
	} {
		h := newACL(t, "acl {\n "+c.action+"\n}")

		// With EDNS0, the reason comes along.
		w := &dnstest.Writer{}
		r := new(dns.Msg)
		r.SetQuestion("example.org.", dns.TypeA)
		r.SetEdns0(1232, false)
		_, err := h.ServeDNS(context.Background(), w, r)
		require.NoError(t, err)
		assert.Equal(t, c.rcode, w.Msg.Rcode, c.action)
		require.NotNil(t, w.Msg.IsEdns0(), c.action)
		require.Len(t, w.Msg.IsEdns0().Option, 1, c.action)
		assert.Equal(t, c.code, w.Msg.IsEdns0().Option[0].(*dns.EDNS0_EDE).InfoCode, c.action)
		assert.Empty(t, w.Msg.Answer)

		// Without, the reply has no OPT record.
		r = new(dns.Msg)
		r.SetQuestion("example.org.", dns.TypeA)
		_, err = h.ServeDNS(context.Background(), w, r)
		require.NoError(t, err)
		assert.Equal(t, c.rcode, w.Msg.Rcode, c.action)
		assert.Nil(t, w.Msg.IsEdns0(), c.action)
	}
}

func TestMetrics(t *testing.T) {
	const server = "dns://127.0.0.1:1053"
	ctx := plugin.WithServer(context.Background(), server, "example.org.")
	h := newACL(t, "acl a.example.org example.org {\n block net 10.240.0.1 type A\n filter type AAAA\n drop type TXT\n}")
	before := map[string]float64{
		"blocked":  testutil.ToFloat64(blocked.WithLabelValues(server, "a.example.org.")),
		"filtered": testutil.ToFloat64(filtered.WithLabelValues(server, "example.org.")),
		"dropped":  testutil.ToFloat64(dropped.WithLabelValues(server, "a.example.org.")),
		"allowed":  testutil.ToFloat64(allowed.WithLabelValues(server)),
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"b.a.example.org.", dns.TypeA},    // blocked in a.example.org.
		{"b.example.org.", dns.TypeAAAA},   // filtered in example.org.
		{"a.example.org.", dns.TypeTXT},    // dropped in a.example.org.
		{"b.example.org.", dns.TypeMX},     // allowed
		{"www.example.net.", dns.TypeAAAA}, // allowed: outside the zones
	} {
		r := new(dns.Msg)
		r.SetQuestion(q.name, q.qtype)
		_, err := h.ServeDNS(ctx, &dnstest.Writer{}, r)
		require.NoError(t, err)
	}
	assert.Equal(t, before["blocked"]+1, testutil.ToFloat64(blocked.WithLabelValues(server, "a.example.org.")))
	assert.Equal(t, before["filtered"]+1, testutil.ToFloat64(filtered.WithLabelValues(server, "example.org.")))
	assert.Equal(t, before["dropped"]+1, testutil.ToFloat64(dropped.WithLabelValues(server, "a.example.org.")))
	assert.Equal(t, before["allowed"]+2, testutil.ToFloat64(allowed.WithLabelValues(server)))
}

// The rules are compiled at setup: deciding on a query allocates nothing.
func TestAllowedQueryDoesNotAllocate(t *testing.T) {
	h := newACL(t, "acl example.net example.org {\n block net 192.168.0.0/16 2001:db8::/32\n filter type ANY\n allow type A\n}")
	pass := plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) { return dns.RcodeSuccess, nil })
	h.(*ACL).Next = pass
	ctx := plugin.WithServer(context.Background(), "dns://127.0.0.1:1053", "example.org.")
	w := &dnstest.Writer{}
	r := new(dns.Msg)
	r.SetQuestion("WWW.Example.ORG.", dns.TypeA)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.ServeDNS(ctx, w, r); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkACL(b *testing.B) {
	p, err := setup(caddy.NewTestController(plugin.ServerType, "acl example.org {\n allow net 127.0.0.0/8 10.0.0.0/8\n block\n}"))
	require.NoError(b, err)
	h := p(plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) { return dns.RcodeSuccess, nil }))
	ctx := plugin.WithServer(context.Background(), "dns://127.0.0.1:1053", "example.org.")
	w := &dnstest.Writer{}
	r := new(dns.Msg)
	r.SetQuestion("www.example.org.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeDNS(ctx, w, r)
	}
}
