package rrl

import (
	"context"
	"net"
	"net/netip"
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

const soa = "example.org. 10 IN SOA ns.dns.example.org. hostmaster.example.org. 1 3600 600 86400 10"

// next answers in example.org. as an authoritative server would: a and b
// have A and AAAA records (other types are NODATA), deleg is delegated,
// refused is REFUSED (written by the server) and denied REFUSED (written
// here, with an extended error); any other name does not exist.
var next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	name := strings.ToLower(q.Name)
	switch {
	case name == "refused.example.org.":
		return dns.RcodeRefused, nil
	case name == "denied.example.org.":
		m.Rcode = dns.RcodeRefused
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeProhibited}}
	case dns.IsSubDomain("deleg.example.org.", name):
		m.Authoritative = false
		m.Ns = []dns.RR{mustRR("deleg.example.org. 10 IN NS ns.deleg.example.org.")}
	case (name == "a.example.org." || name == "b.example.org.") && q.Qtype == dns.TypeA:
		m.Answer = []dns.RR{mustRR(q.Name + " 10 IN A 192.0.2.1")}
	case (name == "a.example.org." || name == "b.example.org.") && q.Qtype == dns.TypeAAAA:
		m.Answer = []dns.RR{mustRR(q.Name + " 10 IN AAAA 2001:db8::1")}
	case name == "a.example.org." || name == "b.example.org.":
		m.Ns = []dns.RR{mustRR(soa)}
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{mustRR(soa)}
	}
	if r.IsEdns0() != nil && m.IsEdns0() == nil {
		m.SetEdns0(1232, false)
	}
	return m.Rcode, w.WriteMsg(m)
})

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// clientWriter is a dnstest.Writer whose client has another address.
type clientWriter struct {
	*dnstest.Writer
	addr net.Addr
}

func (w *clientWriter) RemoteAddr() net.Addr { return w.addr }

func newRRL(t *testing.T, corefile string) *RRL {
	t.Helper()
	c := caddy.NewTestController(plugin.ServerType, corefile)
	c.ServerBlockKeys = []string{"example.org"}
	p, err := setup(c)
	require.NoError(t, err, corefile)
	h := p(next).(*RRL)
	t.Cleanup(func() { assert.NoError(t, h.inst.stop()) })
	return h
}

// ctxOf is the context the server gives the test's queries: a server label
// of the test's own, so that its metrics start at 0.
func ctxOf(t *testing.T) context.Context {
	return plugin.WithServer(context.Background(), "dns://"+t.Name(), "example.org.")
}

// serve sends a query for name and qtype from client ("tcp:ADDR" for TCP)
// through h, and returns the outcome: "+" for the reply as made, "s" for
// an empty truncated one, "-" for none.
func serve(t *testing.T, h plugin.Handler, client, name string, qtype uint16) string {
	t.Helper()
	w := write(t, h, client, name, qtype)
	switch {
	case w.Msg == nil:
		return "-"
	case w.Msg.Truncated && len(w.Msg.Answer)+len(w.Msg.Ns) == 0:
		return "s"
	}
	return "+"
}

// write is serve, returning the writer.
func write(t *testing.T, h plugin.Handler, client, name string, qtype uint16) *dnstest.Writer {
	t.Helper()
	dw := &dnstest.Writer{}
	var w dns.ResponseWriter = dw
	if addr, ok := strings.CutPrefix(client, "tcp:"); ok {
		dw.TCP = true
		w = &clientWriter{dw, net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 5353))}
	} else if client != "" {
		w = &clientWriter{dw, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(client), 5353))}
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	rcode, err := h.ServeDNS(ctxOf(t), w, m)
	require.NoError(t, err)
	if !plugin.ClientWrite(rcode) && dw.Msg == nil {
		// The server writes the error reply.
		dw.Msg = new(dns.Msg)
		dw.Msg.SetRcode(m, rcode)
	}
	return dw
}

// The tokens, as BIND tells identical responses apart: one allowance a
// second, so the second identical response slips (slip-ratio 1).
func TestTokens(t *testing.T) {
	const corefile = "rrl {\n responses-per-second 1\n slip-ratio 1\n exempt none\n}"
	type query struct {
		client, name string
		qtype        uint16
	}
	const c1, c2 = "192.0.2.1", "192.0.2.200"
	cases := []struct {
		what    string
		queries []query
		want    string
	}{
		{"an answer, again", []query{{c1, "a.example.org.", dns.TypeA}, {c1, "A.Example.ORG.", dns.TypeA}}, "+s"},
		{"answers of two types", []query{{c1, "a.example.org.", dns.TypeA}, {c1, "a.example.org.", dns.TypeAAAA}}, "++"},
		{"answers for two names", []query{{c1, "a.example.org.", dns.TypeA}, {c1, "b.example.org.", dns.TypeA}}, "++"},
		{"NODATA, whatever the type", []query{{c1, "a.example.org.", dns.TypeTXT}, {c1, "a.example.org.", dns.TypeMX}}, "+s"},
		{"NODATA for two names", []query{{c1, "a.example.org.", dns.TypeTXT}, {c1, "b.example.org.", dns.TypeTXT}}, "++"},
		{"NODATA and an answer", []query{{c1, "a.example.org.", dns.TypeTXT}, {c1, "a.example.org.", dns.TypeA}}, "++"},
		{"NXDOMAIN, whatever the name", []query{{c1, "x.example.org.", dns.TypeA}, {c1, "y.z.example.org.", dns.TypeTXT}}, "+s"},
		{"errors, whatever the name", []query{{c1, "refused.example.org.", dns.TypeA}, {c1, "denied.example.org.", dns.TypeTXT}}, "+s"},
		{"a referral, again", []query{{c1, "deleg.example.org.", dns.TypeA}, {c1, "www.deleg.example.org.", dns.TypeA}}, "+s"},
		{"referrals of two types", []query{{c1, "deleg.example.org.", dns.TypeA}, {c1, "deleg.example.org.", dns.TypeAAAA}}, "++"},
		{"one /24", []query{{c1, "a.example.org.", dns.TypeA}, {c2, "a.example.org.", dns.TypeA}}, "+s"},
		{"two /24s", []query{{c1, "a.example.org.", dns.TypeA}, {"192.0.3.1", "a.example.org.", dns.TypeA}}, "++"},
		{"IPv4-mapped is IPv4", []query{{c1, "a.example.org.", dns.TypeA}, {"::ffff:192.0.2.7", "a.example.org.", dns.TypeA}}, "+s"},
		{"one /56", []query{{"2001:db8:0:1::1", "a.example.org.", dns.TypeA}, {"2001:db8:0:ff:ffff::1", "a.example.org.", dns.TypeA}}, "+s"},
		{"two /56s", []query{{"2001:db8:0:1::1", "a.example.org.", dns.TypeA}, {"2001:db8:0:100::1", "a.example.org.", dns.TypeA}}, "++"},
		{"TCP is never limited", []query{{"tcp:" + c1, "a.example.org.", dns.TypeA}, {"tcp:" + c1, "a.example.org.", dns.TypeA}, {"tcp:" + c1, "a.example.org.", dns.TypeA}}, "+++"},
		{"TCP does not count", []query{{"tcp:" + c1, "a.example.org.", dns.TypeA}, {c1, "a.example.org.", dns.TypeA}, {c1, "a.example.org.", dns.TypeA}}, "++s"},
		{"outside the zones", []query{{c1, "a.example.net.", dns.TypeA}, {c1, "a.example.net.", dns.TypeA}}, "++"},
	}
	for _, c := range cases {
		h := newRRL(t, corefile)
		var got strings.Builder
		for _, q := range c.queries {
			got.WriteString(serve(t, h, q.client, q.name, q.qtype))
		}
		assert.Equal(t, c.want, got.String(), c.what)
	}
}

func TestExempt(t *testing.T) {
	for _, c := range []struct {
		corefile, client, want string
	}{
		{"rrl {\n responses-per-second 1\n}", "127.0.0.1", "+++"},
		{"rrl {\n responses-per-second 1\n}", "127.9.9.9", "+++"},
		{"rrl {\n responses-per-second 1\n}", "::1", "+++"},
		{"rrl {\n responses-per-second 1\n}", "192.0.2.1", "+s-"},
		{"rrl {\n responses-per-second 1\n exempt none\n}", "127.0.0.1", "+s-"},
		{"rrl {\n responses-per-second 1\n exempt 192.0.2.0/25\n}", "192.0.2.1", "+++"},
		{"rrl {\n responses-per-second 1\n exempt 192.0.2.0/25\n}", "127.0.0.1", "+s-"},
		{"rrl {\n responses-per-second 1\n exempt 2001:db8::/32\n}", "2001:db8::1", "+++"},
	} {
		h := newRRL(t, c.corefile)
		got := ""
		for range 3 {
			got += serve(t, h, c.client, "a.example.org.", dns.TypeA)
		}
		assert.Equal(t, c.want, got, "%s from %s", c.corefile, c.client)
	}
}

// A response over the limit is dropped or slips through as an empty
// truncated reply that keeps the header, the question and the OPT record
// (its options left out); both are counted.
func TestDropAndSlip(t *testing.T) {
	h := newRRL(t, "rrl {\n responses-per-second 1\n exempt none\n}") // slip-ratio 2
	const client = "192.0.2.1"
	assert.Equal(t, "+", serve(t, h, client, "a.example.org.", dns.TypeA))
	w := write(t, h, client, "a.example.org.", dns.TypeA)
	require.NotNil(t, w.Msg)
	assert.Equal(t, dns.MsgHdr{Response: true, Authoritative: true, Truncated: true, RecursionDesired: true, Id: w.Msg.Id}, w.Msg.MsgHdr)
	assert.Equal(t, []dns.Question{{Name: "a.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}, w.Msg.Question)
	assert.Empty(t, w.Msg.Answer)
	assert.Empty(t, w.Msg.Ns)
	assert.Empty(t, w.Msg.Extra)
	assert.Equal(t, "-", serve(t, h, client, "a.example.org.", dns.TypeA))

	// An error reply the next plugin wrote, with EDNS and an extended
	// error: the slip keeps the rcode and the OPT record, not the option.
	assert.Equal(t, "+", serve(t, h, client, "denied.example.org.", dns.TypeA))
	m := new(dns.Msg)
	m.SetQuestion("denied.example.org.", dns.TypeTXT)
	m.SetEdns0(4096, true)
	dw := &dnstest.Writer{}
	rcode, err := h.ServeDNS(ctxOf(t), &clientWriter{dw, &net.UDPAddr{IP: net.ParseIP(client), Port: 5353}}, m)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, rcode)
	require.NotNil(t, dw.Msg)
	assert.True(t, dw.Msg.Truncated)
	assert.Equal(t, dns.RcodeRefused, dw.Msg.Rcode)
	require.Len(t, dw.Msg.Extra, 1)
	require.NotNil(t, dw.Msg.IsEdns0())
	assert.Empty(t, dw.Msg.IsEdns0().Option)

	// An error reply the server would write: rrl writes it, and when it
	// drops it tells the server not to write it.
	w = write(t, h, client, "refused.example.org.", dns.TypeA) // the third error
	assert.Nil(t, w.Msg)
	dw = &dnstest.Writer{}
	m.SetQuestion("refused.example.org.", dns.TypeA)
	rcode, err = h.ServeDNS(ctxOf(t), &clientWriter{dw, &net.UDPAddr{IP: net.ParseIP(client), Port: 5353}}, m)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, rcode, "slipped: written")
	require.NotNil(t, dw.Msg)
	assert.True(t, dw.Msg.Truncated)
	dw = &dnstest.Writer{}
	rcode, err = h.ServeDNS(ctxOf(t), &clientWriter{dw, &net.UDPAddr{IP: net.ParseIP(client), Port: 5353}}, m)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, rcode, "dropped: the server must write nothing")
	assert.Nil(t, dw.Msg)

	server := "dns://" + t.Name()
	assert.Equal(t, 1.0, testutil.ToFloat64(slipped.WithLabelValues(server, "example.org.", "response")))
	assert.Equal(t, 1.0, testutil.ToFloat64(dropped.WithLabelValues(server, "example.org.", "response")))
	assert.Equal(t, 2.0, testutil.ToFloat64(slipped.WithLabelValues(server, "example.org.", "error")))
	assert.Equal(t, 2.0, testutil.ToFloat64(dropped.WithLabelValues(server, "example.org.", "error")))
	assert.Equal(t, 0.0, testutil.ToFloat64(dropped.WithLabelValues(server, "example.org.", "nxdomain")))
}

// A slip keeps the TSIG record that tsig put last in the reply, for the
// server to sign.
func TestSlipKeepsTSIG(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("a.example.org.", dns.TypeA)
	m.Answer = []dns.RR{mustRR("a.example.org. 10 IN A 192.0.2.1")}
	m.Extra = []dns.RR{mustRR("ns.example.org. 10 IN A 192.0.2.53")}
	m.SetEdns0(1232, true)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther}}
	sig := &dns.TSIG{Hdr: dns.RR_Header{Name: "key.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256, Fudge: 300}
	m.Extra = append(m.Extra, sig)
	s := slipMsg(m)
	assert.True(t, s.Truncated)
	assert.Empty(t, s.Answer)
	require.Len(t, s.Extra, 2)
	assert.Empty(t, s.Extra[0].(*dns.OPT).Option)
	assert.True(t, s.Extra[0].(*dns.OPT).Do())
	assert.Same(t, sig, s.Extra[1])
	assert.Len(t, m.Answer, 1, "m is left as it was")
	assert.Len(t, m.IsEdns0().Option, 1)
}

func TestReportOnly(t *testing.T) {
	h := newRRL(t, "rrl {\n responses-per-second 1\n exempt none\n report-only\n}")
	got := ""
	for range 5 {
		got += serve(t, h, "192.0.2.1", "a.example.org.", dns.TypeA)
	}
	assert.Equal(t, "+++++", got)
	server := "dns://" + t.Name()
	assert.Equal(t, 2.0, testutil.ToFloat64(slipped.WithLabelValues(server, "example.org.", "response")))
	assert.Equal(t, 2.0, testutil.ToFloat64(dropped.WithLabelValues(server, "example.org.", "response")))
}

// A raw reply is limited as a message is.
func TestRawWrite(t *testing.T) {
	raw := plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{mustRR(r.Question[0].Name + " 10 IN A 192.0.2.1")}
		b, err := m.Pack()
		if err != nil {
			return dns.RcodeServerFailure, err
		}
		_, err = w.Write(b)
		return dns.RcodeSuccess, err
	})
	c := caddy.NewTestController(plugin.ServerType, "rrl {\n responses-per-second 1\n exempt none\n}")
	p, err := setup(c)
	require.NoError(t, err)
	h := p(raw).(*RRL)
	got := ""
	for range 3 {
		got += serve(t, h, "192.0.2.1", "a.example.org.", dns.TypeA)
	}
	assert.Equal(t, "+s-", got)
	require.NoError(t, h.inst.stop())
}

// The packet path's replies are limited in the same table, with the same
// tokens.
func TestLimitPackets(t *testing.T) {
	h := newRRL(t, "rrl {\n responses-per-second 1\n slip-ratio 1\n exempt none\n}")
	limit := h.LimitPackets("dns://"+t.Name(), "example.org.")
	packet := func(client, name string, qtype uint16, r plugin.PacketReply) string {
		q := &plugin.Packet{Name: []byte(name), Type: qtype, Client: netip.MustParseAddr(client)}
		return map[plugin.PacketVerdict]string{plugin.PacketSend: "+", plugin.PacketSlip: "s", plugin.PacketDrop: "-"}[limit(q, r)]
	}
	answer := plugin.PacketReply{Answer: 1}
	nodata := plugin.PacketReply{Ns: 1}
	nxdomain := plugin.PacketReply{Rcode: dns.RcodeNameError, Ns: 1}

	// The chain answers first, the packet path next: one account.
	assert.Equal(t, "+", serve(t, h, "192.0.2.1", "A.example.org.", dns.TypeA))
	assert.Equal(t, "s", packet("192.0.2.9", "a.example.org.", dns.TypeA, answer))
	assert.Equal(t, "+", packet("192.0.2.9", "a.example.org.", dns.TypeAAAA, answer))
	assert.Equal(t, "+", packet("192.0.2.9", "a.example.org.", dns.TypeTXT, nodata))
	assert.Equal(t, "s", serve(t, h, "192.0.2.1", "a.example.org.", dns.TypeMX))
	assert.Equal(t, "+", packet("192.0.2.9", "x.example.org.", dns.TypeA, nxdomain))
	assert.Equal(t, "s", serve(t, h, "192.0.2.1", "y.example.org.", dns.TypeTXT))
	assert.Equal(t, "s", packet("192.0.2.9", "z.example.org.", dns.TypeSRV, nxdomain))
	// Exempt, another prefix, another zone: sent.
	assert.Equal(t, "+", packet("127.0.0.1", "a.example.org.", dns.TypeA, answer)) // exempt none: limited...
	assert.Equal(t, "s", packet("127.0.0.1", "a.example.org.", dns.TypeA, answer)) // ...as any
	assert.Equal(t, "+", packet("192.0.3.1", "a.example.org.", dns.TypeA, answer))
	assert.Equal(t, "+", packet("192.0.2.1", "a.example.net.", dns.TypeA, answer))
	assert.Equal(t, "+", packet("192.0.2.1", "a.example.net.", dns.TypeA, answer))
	assert.Nil(t, h.PassPackets("dns://"+t.Name(), "example.org."))

	h = newRRL(t, "rrl {\n responses-per-second 1\n}")
	limit = h.LimitPackets("dns://"+t.Name()+"/2", "example.org.")
	assert.Equal(t, "+++", packet("127.0.0.1", "a.example.org.", dns.TypeA, answer)+packet("127.0.0.1", "a.example.org.", dns.TypeA, answer)+packet("::1", "a.example.org.", dns.TypeA, answer))
}

// tpdns_rrl_table_entries counts the accounts being tracked, per server and
// zone, while the configuration is running.
func TestTableEntries(t *testing.T) {
	c := caddy.NewTestController(plugin.ServerType, "rrl {\n responses-per-second 1\n exempt none\n}")
	c.ServerBlockKeys = []string{"example.org"}
	p, err := setup(c)
	require.NoError(t, err)
	h := p(next).(*RRL)
	for _, client := range []string{"192.0.2.1", "192.0.3.1", "192.0.4.1"} {
		serve(t, h, client, "a.example.org.", dns.TypeA)
	}
	serve(t, h, "192.0.2.1", "a.example.org.", dns.TypeTXT)
	want := `
# HELP tpdns_rrl_table_entries Accounts (client prefix and response) the table is tracking: those whose credit is not full.
# TYPE tpdns_rrl_table_entries gauge
tpdns_rrl_table_entries{server="dns://TestTableEntries",zone="example.org."} 4
`
	assert.NoError(t, testutil.CollectAndCompare(tables, strings.NewReader(want), "tpdns_rrl_table_entries"))
	require.NoError(t, h.inst.stop())
	assert.Equal(t, 0, testutil.CollectAndCount(tables, "tpdns_rrl_table_entries"))
}
