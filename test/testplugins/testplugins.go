// Package testplugins registers directives that only tests compile in:
// testanswer, which answers from a fixed text, and testpanic, which panics.
package testplugins

import (
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
}

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
