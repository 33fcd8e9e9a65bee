// Package testplugins registers directives that only tests compile in:
// testanswer, which answers from a fixed text, testpanic, which panics,
// testpacket, which answers on the packet path too and panics there on
// demand, and testchain, which passes every query on but keeps the packet
// path out of the chain it is in (it runs just before thirdparty).
package testplugins

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

func init() {
	plugin.Register("testanswer", setupAnswer)
	plugin.Register("testpanic", setupPanic)
	plugin.Register("testpacket", setupPacket)
	plugin.RegisterBefore("testchain", "thirdparty", setupChain)
}

// setupChain parses "testchain".
func setupChain(c *caddy.Controller) (plugin.Plugin, error) {
	c.Next()
	if c.NextArg() {
		return nil, c.ArgErr()
	}
	return func(next plugin.Handler) plugin.Handler { return chain{next} }, nil
}

// chain passes every query to the next handler. It is no
// plugin.PacketPasser, so that every query of its chain goes through
// ServeDNS: tests compare the two paths with it.
type chain struct{ next plugin.Handler }

// ServeDNS implements plugin.Handler.
func (c chain) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	return plugin.NextOrFailure(c.Name(), c.next, ctx, w, r)
}

// Name implements plugin.Handler.
func (chain) Name() string { return "testchain" }

// setupAnswer parses "testanswer TEXT [COUNT]".
func setupAnswer(c *caddy.Controller) (plugin.Plugin, error) {
	c.Next()
	args := c.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return nil, c.ArgErr()
	}
	a := Answer{Text: args[0], Count: 1}
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return nil, c.Errf("bad count %q", args[1])
		}
		a.Count = n
	}
	return func(plugin.Handler) plugin.Handler { return a }, nil
}

// Answer answers every query with Count TXT records holding Text and the
// record's index ("TEXT 0", "TEXT 1", ...), authoritatively.
type Answer struct {
	Text  string
	Count int
}

// ServeDNS implements plugin.Handler.
func (a Answer) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	for i := range a.Count {
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{a.Text + " " + strconv.Itoa(i)},
		})
	}
	return dns.RcodeSuccess, w.WriteMsg(m)
}

// Name implements plugin.Handler.
func (Answer) Name() string { return "testanswer" }

func setupPanic(c *caddy.Controller) (plugin.Plugin, error) {
	c.Next()
	msg := strings.Join(c.RemainingArgs(), " ")
	return func(plugin.Handler) plugin.Handler { return panicker(msg) }, nil
}

type panicker string

func (p panicker) ServeDNS(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
	panic("testpanic: " + string(p))
}

func (panicker) Name() string { return "testpanic" }

// setupPacket parses "testpacket TEXT".
func setupPacket(c *caddy.Controller) (plugin.Plugin, error) {
	c.Next()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return nil, c.ArgErr()
	}
	// One character-string of TXT: TEXT and " packet" in 255 bytes.
	if len(args[0]) > 248 {
		return nil, c.Errf("text %q is longer than 248 bytes", args[0])
	}
	return func(plugin.Handler) plugin.Handler { return Packet{Text: args[0]} }, nil
}

// Packet answers every query with one TXT record, authoritatively: "TEXT
// packet" on the packet path (it is a plugin.PacketAnswerer), "TEXT chain"
// from ServeDNS, so that a test sees which path answered. A query whose
// first label is "panic" makes AnswerPacket panic; one whose first label is
// "panic-all" makes ServeDNS panic too.
type Packet struct {
	Text string
}

// ServeDNS implements plugin.Handler.
func (p Packet) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	name := r.Question[0].Name
	if strings.HasPrefix(strings.ToLower(name), "panic-all.") {
		panic("testpacket: chain: " + name)
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		Txt: []string{p.Text + " chain"},
	}}
	return dns.RcodeSuccess, w.WriteMsg(m)
}

// AnswerPacket implements plugin.PacketAnswerer.
func (p Packet) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	if bytes.HasPrefix(q.Name, []byte("panic.")) || bytes.HasPrefix(q.Name, []byte("panic-all.")) {
		panic("testpacket: packet path: " + string(q.Name))
	}
	text := p.Text + " packet"
	rdlen := 1 + len(text)
	// The owner points at the question (offset 12), then type TXT, class
	// IN, TTL 60, the rdata's length and one character-string.
	b = append(b, 0xC0, 12, 0, byte(dns.TypeTXT), 0, byte(dns.ClassINET), 0, 0, 0, 60, byte(rdlen>>8), byte(rdlen), byte(len(text)))
	return append(b, text...), plugin.PacketReply{Answer: 1}, true
}

// Name implements plugin.Handler.
func (Packet) Name() string { return "testpacket" }
