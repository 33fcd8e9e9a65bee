// Package bind implements the bind directive: the addresses a server block
// listens on.
package bind

import (
	"fmt"
	"net"
	"slices"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("bind", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	b, err := plugin.BlockOf(c)
	if err != nil {
		return nil, err
	}
	hosts, err := parse(c)
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		if !slices.Contains(b.ListenHosts, h) {
			b.ListenHosts = append(b.ListenHosts, h)
		}
	}
	return nil, nil
}

// parse reads every bind line of the block and returns the addresses to
// listen on, interfaces expanded and exceptions removed.
func parse(c *caddy.Controller) ([]string, error) {
	var hosts, except []string
	for c.Next() {
		addrs, err := resolveArgs(c)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, addrs...)
		for c.NextBlock() {
			if c.Val() != "except" {
				return nil, c.Errf("unknown property %q", c.Val())
			}
			addrs, err := resolveArgs(c)
			if err != nil {
				return nil, err
			}
			except = append(except, addrs...)
		}
	}
	hosts = slices.DeleteFunc(hosts, func(h string) bool { return slices.Contains(except, h) })
	if len(hosts) == 0 {
		return nil, c.Err("every address is excepted: nothing to listen on")
	}
	return hosts, nil
}

// resolveArgs resolves the remaining arguments on the line; there must be
// at least one.
func resolveArgs(c *caddy.Controller) ([]string, error) {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return nil, c.ArgErr()
	}
	var out []string
	for _, a := range args {
		addrs, err := resolve(a)
		if err != nil {
			return nil, c.Err(err.Error())
		}
		out = append(out, addrs...)
	}
	return out, nil
}

// resolve turns an IP address or an interface name into addresses.
func resolve(s string) ([]string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return []string{ip.String()}, nil
	}
	iface, err := net.InterfaceByName(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither an IP address nor a network interface", s)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", s, err)
	}
	var out []string
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipnet.IP.String()
		if ipnet.IP.IsLinkLocalUnicast() && ipnet.IP.To4() == nil {
			ip += "%" + s // a link-local address is only usable with its zone
		}
		out = append(out, ip)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("interface %s has no address", s)
	}
	return out, nil
}
