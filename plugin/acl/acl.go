// Package acl implements the acl directive: it allows, blocks, filters or
// drops queries by the client's address and the query type, with
// CoreDNS's syntax.
package acl

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// ACL applies its rules to each query, in order: the first policy that
// matches decides. A query no policy matches is allowed.
type ACL struct {
	Next  plugin.Handler
	rules []rule
}

// rule is one acl directive: its policies apply to names in its zones.
type rule struct {
	zones    []string // fully qualified, lower case
	policies []policy
}

// policy is one ACTION line.
type policy struct {
	action  action
	qtypes  []uint16       // nil matches every type
	sources []netip.Prefix // nil matches every client
}

type action uint8

const (
	// actionNone is no policy matching: the next rule decides.
	actionNone action = iota
	actionAllow
	// actionBlock answers REFUSED.
	actionBlock
	// actionFilter answers NOERROR with no records.
	actionFilter
	// actionDrop answers nothing.
	actionDrop
)

// ServeDNS implements plugin.Handler.
func (a *ACL) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	src := clientAddr(w.RemoteAddr())
rules:
	for i := range a.rules {
		zone := a.rules[i].match(q.Name)
		if zone == "" {
			continue
		}
		switch a.rules[i].decide(src, q.Qtype) {
		case actionNone:
			continue
		case actionAllow:
			break rules
		case actionBlock:
			blocked.WithLabelValues(plugin.Server(ctx), zone).Inc()
			return a.reply(w, r, dns.RcodeRefused, dns.ExtendedErrorCodeBlocked)
		case actionFilter:
			filtered.WithLabelValues(plugin.Server(ctx), zone).Inc()
			return a.reply(w, r, dns.RcodeSuccess, dns.ExtendedErrorCodeFiltered)
		case actionDrop:
			dropped.WithLabelValues(plugin.Server(ctx), zone).Inc()
			// RcodeSuccess tells the server a reply went out: it sends none.
			return dns.RcodeSuccess, nil
		}
	}
	allowed.WithLabelValues(plugin.Server(ctx)).Inc()
	return plugin.NextOrFailure(a.Name(), a.Next, ctx, w, r)
}

// Name implements plugin.Handler.
func (a *ACL) Name() string { return "acl" }

// reply answers r with rcode and no records. A client that speaks EDNS0 is
// also told why, with an extended DNS error (RFC 8914), as CoreDNS does.
func (a *ACL) reply(w dns.ResponseWriter, r *dns.Msg, rcode int, ede uint16) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	if r.IsEdns0() != nil {
		m.SetEdns0(dns.MinMsgSize, false) // the server sets the size it advertises
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: ede})
	}
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(a.Name(), err)
	}
	return dns.RcodeSuccess, nil
}

// match returns the most specific of the rule's zones that contains name,
// or "" when none does. It compares in place: query names keep the case
// the client chose, and lowering them would allocate.
func (r *rule) match(name string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		for _, z := range r.zones {
			if len(z) == len(name)-off && strings.EqualFold(z, name[off:]) {
				return z
			}
		}
	}
	if slices.Contains(r.zones, ".") {
		return "."
	}
	return ""
}

// decide returns the action of the first policy that matches. A client
// whose address could not be read is blocked, as CoreDNS does: an access
// list fails closed.
func (r *rule) decide(src netip.Addr, qtype uint16) action {
	if !src.IsValid() {
		return actionBlock
	}
	for i := range r.policies {
		if p := &r.policies[i]; p.matches(src, qtype) {
			return p.action
		}
	}
	return actionNone
}

func (p *policy) matches(src netip.Addr, qtype uint16) bool {
	if p.qtypes != nil && !slices.Contains(p.qtypes, qtype) {
		return false
	}
	if p.sources == nil {
		return true
	}
	for _, n := range p.sources {
		if n.Contains(src) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client, IPv4 for an IPv4-mapped
// one and without an IPv6 zone, so that the rules' prefixes contain it;
// the invalid address when it cannot tell.
func clientAddr(a net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		if a == nil {
			return netip.Addr{}
		}
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return ap.Addr().Unmap().WithZone("")
}
