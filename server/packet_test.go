package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// answerer answers A queries for a.example. with one record and declines
// the rest; it remembers what it was asked.
type answerer struct {
	asked []string
}

func (a *answerer) ServeDNS(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
	return dns.RcodeServerFailure, nil
}
func (a *answerer) Name() string { return "answerer" }

func (a *answerer) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	a.asked = append(a.asked, string(q.Name)+" "+q.Client.String())
	if string(q.Name) != "a.example." || q.Type != dns.TypeA {
		return b, plugin.PacketReply{}, false
	}
	rr, _ := dns.NewRR("a.example. 10 IN A 192.0.2.1")
	buf := append(b, make([]byte, 64)...)
	off, err := dns.PackRR(rr, buf, len(b), map[string]int{"a.example.": 12}, true)
	if err != nil {
		panic(err)
	}
	return buf[:off], plugin.PacketReply{Answer: 1}, true
}

// passer counts what it is told.
type passer struct {
	plugin.Handler
	seen []string
}

func (p *passer) PassPackets(server, zone string) plugin.PacketObserver {
	return func(o plugin.PacketObserved) {
		p.seen = append(p.seen, fmt.Sprintf("%s %s %s %s ipv6=%t %d %d %s", server, zone,
			dns.TypeToString[o.Type], dns.RcodeToString[o.Rcode], o.IPv6, o.QuerySize, o.ReplySize, o.Took))
	}
}

func packetServer(handlers ...plugin.Handler) *Server {
	s := newServer("127.0.0.1:53", true)
	s.zones["example."] = &zoneConfig{packet: newPacketChain(handlers, "dns://127.0.0.1:53", "example.")}
	return s
}

func pack(t testing.TB, m *dns.Msg) []byte {
	b, err := m.Pack()
	require.NoError(t, err)
	return b
}

func TestPacketPathAnswers(t *testing.T) {
	a := &answerer{}
	p := &passer{}
	s := packetServer(p, a)
	client := netip.MustParseAddrPort("192.0.2.99:5353")

	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	q.Id, q.CheckingDisabled = 4711, true
	query := pack(t, q)
	reply, ans, ok := s.answerPacket(&packetReader{}, query, client, nil)
	require.True(t, ok)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(reply))
	assert.Equal(t, dns.MsgHdr{Id: 4711, Response: true, Authoritative: true, RecursionDesired: true, CheckingDisabled: true}, m.MsgHdr)
	assert.Equal(t, q.Question, m.Question)
	require.Len(t, m.Answer, 1)
	assert.Equal(t, "a.example.\t10\tIN\tA\t192.0.2.1", m.Answer[0].String())
	assert.Empty(t, m.Ns)
	assert.Empty(t, m.Extra, "no OPT for a query without one")
	assert.Equal(t, []string{"a.example. 192.0.2.99"}, a.asked)

	s.observePacket(observed(ans, query, client, reply), time.Millisecond)
	assert.Equal(t, []string{fmt.Sprintf("dns://127.0.0.1:53 example. A NOERROR ipv6=false %d %d 1ms", len(query), len(reply))}, p.seen)
	// From IPv6, and from IPv4 as an IPv4-mapped address: family 2, then 1.
	for _, from := range []string{"2001:db8::99", "::ffff:192.0.2.99"} {
		client := netip.AddrPortFrom(netip.MustParseAddr(from), 5353)
		reply, ans, ok = s.answerPacket(&packetReader{}, query, client, nil)
		require.True(t, ok)
		s.observePacket(observed(ans, query, client, reply), time.Millisecond)
	}
	assert.Equal(t, []string{"ipv6=true", "ipv6=false"}, []string{strings.Fields(p.seen[1])[4], strings.Fields(p.seen[2])[4]})

	// EDNS: our size, the client's DO bit; padding is ignored, as the
	// chain ignores it.
	q.SetEdns0(4096, true)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 8)})
	reply, _, ok = s.answerPacket(&packetReader{}, pack(t, q), client, nil)
	require.True(t, ok)
	require.NoError(t, m.Unpack(reply))
	require.NotNil(t, m.IsEdns0())
	assert.Equal(t, uint16(ednsSize), m.IsEdns0().UDPSize())
	assert.True(t, m.IsEdns0().Do())
	assert.Empty(t, m.IsEdns0().Option)
	assert.Len(t, m.Answer, 1)
}

// TestPacketPathDeclines lists the queries the packet path leaves to the
// chain, each a valid one that the answerer would answer but for one
// thing.
func TestPacketPathDeclines(t *testing.T) {
	s := packetServer(&answerer{})
	base := func() *dns.Msg {
		q := new(dns.Msg)
		q.SetQuestion("a.example.", dns.TypeA)
		return q
	}
	valid := pack(t, base())
	_, _, ok := s.answerPacket(&packetReader{}, valid, netip.MustParseAddrPort("192.0.2.99:5353"), nil)
	require.True(t, ok, "the base query is answered")

	withEDNS := func(f func(*dns.OPT)) []byte {
		q := base()
		q.SetEdns0(1232, false)
		f(q.IsEdns0())
		return pack(t, q)
	}
	cases := map[string][]byte{
		"class CH":      pack(t, func() *dns.Msg { q := base(); q.Question[0].Qclass = dns.ClassCHAOS; return q }()),
		"a response":    pack(t, func() *dns.Msg { q := base(); q.Response = true; return q }()),
		"opcode notify": pack(t, func() *dns.Msg { q := base(); q.Opcode = dns.OpcodeNotify; return q }()),
		"two questions": pack(t, func() *dns.Msg { q := base(); q.Question = append(q.Question, q.Question[0]); return q }()),
		"an answer": pack(t, func() *dns.Msg {
			q := base()
			rr, _ := dns.NewRR("a.example. A 192.0.2.1")
			q.Answer = []dns.RR{rr}
			return q
		}()),
		"trailing bytes": append(append([]byte{}, valid...), 0),
		"truncated":      valid[:len(valid)-1],
		"escaped name":   pack(t, func() *dns.Msg { q := base(); q.Question[0].Name = `a\.b.example.`; return q }()),
		"compressed":     append(append(append([]byte{}, valid[:len(valid)-4]...), 0xC0, 12), valid[len(valid)-4:]...),
		"EDNS version 1": withEDNS(func(o *dns.OPT) { o.SetVersion(1) }),
		"EDNS subnet": withEDNS(func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
		}),
		// The chain answers FORMERR to a malformed cookie.
		"cookie of 9 bytes": withEDNS(func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef01"})
		}),
		"EDNS option past the end": func() []byte {
			b := withEDNS(func(o *dns.OPT) { o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}}) })
			b[len(b)-3] = 3 // the option's length
			return b
		}(),
		"EDNS expire of 2 bytes": withEDNS(func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0EXPIRE, Data: []byte{1, 2}})
		}),
		"ARCOUNT 1, no OPT":        func() []byte { b := append([]byte{}, valid...); b[11] = 1; return b }(),
		"declined by the answerer": pack(t, func() *dns.Msg { q := base(); q.Question[0].Qtype = dns.TypeAAAA; return q }()),
		"outside the zones":        pack(t, func() *dns.Msg { q := base(); q.Question[0].Name = "a.example.org."; return q }()),
	}
	for name, q := range cases {
		reply, _, ok := s.answerPacket(&packetReader{}, q, netip.MustParseAddrPort("192.0.2.99:5353"), make([]byte, 0, 512))
		assert.False(t, ok, name)
		assert.Empty(t, reply, name)
	}
}

// TestPacketPathLeavesTruncationToTheChain checks that a reply over the
// client's buffer goes through the chain, which truncates it.
func TestPacketPathLeavesTruncationToTheChain(t *testing.T) {
	big := plugin.HandlerFunc(nil)
	s := packetServer(bigAnswerer{big})
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	_, _, ok := s.answerPacket(&packetReader{}, pack(t, q), netip.MustParseAddrPort("192.0.2.99:5353"), nil)
	assert.False(t, ok, "600 bytes over a 512-byte buffer")
	q.SetEdns0(1232, false)
	_, _, ok = s.answerPacket(&packetReader{}, pack(t, q), netip.MustParseAddrPort("192.0.2.99:5353"), nil)
	assert.True(t, ok, "600 bytes in a 1232-byte buffer")
}

// bigAnswerer answers with 600 bytes of padding, as if records.
type bigAnswerer struct{ plugin.HandlerFunc }

func (bigAnswerer) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	return append(b, make([]byte, 600)...), plugin.PacketReply{}, true
}

func TestPacketChainNeedsPassersUpToTheAnswerer(t *testing.T) {
	a := &answerer{}
	other := plugin.HandlerFunc(nil)
	assert.NotNil(t, newPacketChain([]plugin.Handler{a}, "s", "z"))
	assert.NotNil(t, newPacketChain([]plugin.Handler{&passer{}, &passer{}, a, other}, "s", "z"), "what follows the answerer gets what it declines")
	assert.Nil(t, newPacketChain([]plugin.Handler{&passer{}, other, a}, "s", "z"))
	assert.Nil(t, newPacketChain([]plugin.Handler{&passer{}}, "s", "z"))
	assert.Nil(t, newPacketChain(nil, "s", "z"))
}

func TestMsgHdrDecodesEveryFlag(t *testing.T) {
	for bit := range 16 {
		want := new(dns.Msg)
		b := make([]byte, headerLen)
		binary.BigEndian.PutUint16(b, 7)
		binary.BigEndian.PutUint16(b[2:], 1<<bit)
		require.NoError(t, want.Unpack(b))
		assert.Equal(t, want.MsgHdr, msgHdr(7, 1<<bit), "bit %d", bit)
	}
}

// BenchmarkAnswerPacket is the server's share of the packet path: reading
// the query, and framing the records of a (trivial) answerer into a reply.
func BenchmarkAnswerPacket(b *testing.B) {
	s := packetServer(&passer{}, recordAnswerer{})
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	packet, err := q.Pack()
	require.NoError(b, err)
	rd := &packetReader{}
	client := netip.MustParseAddrPort("192.0.2.99:5353")
	reply := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		out, _, ok := s.answerPacket(rd, packet, client, reply)
		if !ok {
			b.Fatal("declined")
		}
		reply = out
	}
}

// BenchmarkObservePacket is the server's share of observing a reply of
// the packet path: the passers' observers (here one that counts) told of
// it.
func BenchmarkObservePacket(b *testing.B) {
	var n countingPasser
	s := packetServer(&n, recordAnswerer{})
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	query, client := pack(b, q), netip.MustParseAddrPort("192.0.2.99:5353")
	reply, a, ok := s.answerPacket(&packetReader{}, query, client, make([]byte, 0, 512))
	require.True(b, ok)
	o := observed(a, query, client, reply)
	b.ReportAllocs()
	for b.Loop() {
		s.observePacket(o, time.Millisecond)
	}
	if n.replies == 0 {
		b.Fatal("not observed")
	}
}

// countingPasser counts the replies it is told of.
type countingPasser struct {
	plugin.Handler
	replies, bytes int
}

func (p *countingPasser) PassPackets(string, string) plugin.PacketObserver {
	return func(o plugin.PacketObserved) { p.replies, p.bytes = p.replies+1, p.bytes+o.ReplySize }
}

// recordAnswerer answers every query with one A record, 192.0.2.1, owned
// by the question.
type recordAnswerer struct{ plugin.HandlerFunc }

func (recordAnswerer) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	return append(b, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 192, 0, 2, 1), plugin.PacketReply{Answer: 1}, true
}
