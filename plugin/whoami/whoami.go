// Package whoami implements the whoami directive: it tells the client the
// address and port tpdns sees its query come from, which is the address
// that acl rules and a service's allow list are matched against.
package whoami

import (
	"context"
	"net"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("whoami", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	c.Next()
	if len(c.RemainingArgs()) > 0 {
		return nil, c.ArgErr()
	}
	if c.NextBlock() {
		return nil, c.Errf("unknown property %q", c.Val())
	}
	return func(plugin.Handler) plugin.Handler { return Whoami{} }, nil
}

// Whoami answers every query with the client's address (A or AAAA) and its
// port and transport (SRV owned by _udp or _tcp) in the additional section.
type Whoami struct{}

// ServeDNS implements plugin.Handler.
func (Whoami) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true

	name := r.Question[0].Name
	var (
		ip    net.IP
		port  int
		proto = "udp"
	)
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	case *net.TCPAddr:
		ip, port, proto = a.IP, a.Port, "tcp"
	}
	if ip4 := ip.To4(); ip4 != nil {
		m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: ip4})
	} else if ip != nil {
		m.Extra = append(m.Extra, &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}, AAAA: ip})
	}
	srvName := "_" + proto + "." + name
	if name == "." {
		srvName = "_" + proto + "."
	}
	m.Extra = append(m.Extra, &dns.SRV{
		Hdr:    dns.RR_Header{Name: srvName, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
		Port:   uint16(port),
		Target: ".",
	})
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error("whoami", err)
	}
	return dns.RcodeSuccess, nil
}

// Name implements plugin.Handler.
func (Whoami) Name() string { return "whoami" }
