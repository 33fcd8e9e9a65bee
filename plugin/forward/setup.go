package forward

import (
	"errors"
	"io/fs"
	"log"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("forward", setup) }

// setup reads every forward line of the block. Like CoreDNS, several lines
// are tried in the order written: a query one does not forward goes to the
// next, and from the last to the rest of the chain.
func setup(c *caddy.Controller) (plugin.Plugin, error) {
	var groups []*group
	for c.Next() {
		o, err := parse(c)
		if err != nil {
			return nil, err
		}
		groups = append(groups, newGroup(o))
	}
	for _, g := range groups {
		c.OnStartup(func() error { g.start(); return nil })
		c.OnShutdown(func() error { g.stop(); return nil })
	}
	return func(next plugin.Handler) plugin.Handler {
		for i := len(groups) - 1; i >= 0; i-- {
			next = &Forward{Next: next, group: groups[i]}
		}
		return next
	}, nil
}

// parse reads one "forward FROM TO... { ... }".
func parse(c *caddy.Controller) (options, error) {
	o := defaultOptions()
	args := c.RemainingArgs()
	if len(args) < 2 {
		return o, c.ArgErr()
	}
	zones, err := plugin.NormalizeZone(args[0])
	if err != nil {
		return o, c.Errf("FROM: %v", err)
	}
	o.from = zones[0]
	if len(zones) > 1 {
		log.Printf("[WARNING] plugin/forward: %s covers %d reverse zones; only %s is forwarded", args[0], len(zones), o.from)
	}
	for _, to := range args[1:] {
		addrs, err := parseTo(c, to)
		if err != nil {
			return o, err
		}
		o.to = append(o.to, addrs...)
	}
	if len(o.to) > maxUpstreams {
		return o, c.Errf("more than %d upstreams: %d", maxUpstreams, len(o.to))
	}
	for c.NextBlock() {
		if err := parseProperty(c, &o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// unsupported are CoreDNS's forward properties that tpdns does not have.
var unsupported = map[string]bool{
	"tls": true, "tls_servername": true, "doh_method": true, "resolver": true,
	"max_idle_conns": true, "max_connect_attempts": true, "next": true, "next_on_nodata": true,
	"failover": true, "failfast_all_unhealthy_upstreams": true,
}

func parseProperty(c *caddy.Controller, o *options) error {
	prop := c.Val()
	switch prop {
	case "except":
		names := c.RemainingArgs()
		if len(names) == 0 {
			return c.ArgErr()
		}
		for _, n := range names {
			zones, err := plugin.NormalizeZone(n)
			if err != nil {
				return c.Errf("except: %v", err)
			}
			o.except = append(o.except, zones...)
		}
	case "force_tcp", "prefer_udp":
		if len(c.RemainingArgs()) > 0 {
			return c.ArgErr()
		}
		o.forceTCP = o.forceTCP || prop == "force_tcp"
		o.preferUDP = o.preferUDP || prop == "prefer_udp"
	case "expire":
		v, err := oneArg(c)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c.Errf("invalid expire duration %q: want one of 0 or more", v)
		}
		o.expire = d
	case "max_fails":
		v, err := oneArg(c)
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return c.Errf("invalid max_fails %q: want an integer of 0 or more", v)
		}
		o.maxFails = uint32(n)
	case "health_check":
		return parseHealthCheck(c, o)
	case "policy":
		v, err := oneArg(c)
		if err != nil {
			return err
		}
		p, ok := policies[v]
		if !ok {
			return c.Errf("unknown policy %q (random, round_robin or sequential)", v)
		}
		o.policy = p
	case "max_concurrent":
		v, err := oneArg(c)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c.Errf("invalid max_concurrent %q: want an integer of 0 or more", v)
		}
		o.maxConcurrent = n
	default:
		if unsupported[prop] {
			return c.Errf("property %q of CoreDNS's forward is not supported", prop)
		}
		return c.Errf("unknown property %q", prop)
	}
	return nil
}

// parseHealthCheck reads "health_check DURATION [no_rec] [domain FQDN]".
func parseHealthCheck(c *caddy.Controller, o *options) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d <= 0 {
		return c.Errf("invalid health_check duration %q: want one above 0", args[0])
	}
	o.hcInterval = d
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "no_rec":
			o.hcNoRec = true
		case "domain":
			if i++; i == len(args) {
				return c.ArgErr()
			}
			if _, ok := dns.IsDomainName(args[i]); !ok {
				return c.Errf("health_check: invalid domain %q", args[i])
			}
			o.hcName = dns.CanonicalName(args[i])
		default:
			return c.Errf("health_check: unknown option %q", args[i])
		}
	}
	return nil
}

func oneArg(c *caddy.Controller) (string, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return "", c.ArgErr()
	}
	return args[0], nil
}

// parseTo reads one TO: IP[:PORT], [IPv6]:PORT, dns://IP[:PORT], or a file
// in resolv.conf's format whose nameservers (on port 53) are the upstreams.
func parseTo(c *caddy.Controller, to string) ([]string, error) {
	s, scheme := to, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = strings.ToLower(s[:i]), s[i+3:]
		if scheme != "dns" {
			return nil, c.Errf("%q: transport %q is not supported (only dns://)", to, scheme)
		}
	}
	addr, isAddr, err := hostPort(s)
	switch {
	case err != nil:
		return nil, c.Errf("%q: %v", to, err)
	case isAddr:
		return []string{addr}, nil
	case scheme != "":
		return nil, c.Errf("not an IP address: %q", to)
	}

	path := relative(c, s)
	rc, err := dns.ClientConfigFromFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, c.Errf("not an IP address or file: %q", to)
	}
	if err != nil {
		return nil, c.Errf("reading %s: %v", path, err)
	}
	if len(rc.Servers) == 0 {
		return nil, c.Errf("%s: no nameserver", path)
	}
	addrs := make([]string, 0, len(rc.Servers))
	for _, ns := range rc.Servers {
		if net.ParseIP(stripZone(ns)) == nil {
			return nil, c.Errf("%s: nameserver %q is not an IP address", path, ns)
		}
		addrs = append(addrs, net.JoinHostPort(ns, rc.Port))
	}
	return addrs, nil
}

// hostPort normalizes an address with an IP and an optional port to
// HOST:PORT; isAddr is false when s does not start with an IP address.
func hostPort(s string) (addr string, isAddr bool, err error) {
	if ip := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"); net.ParseIP(stripZone(ip)) != nil {
		return net.JoinHostPort(ip, "53"), true, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || net.ParseIP(stripZone(host)) == nil {
		return "", false, nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", true, errors.New("invalid port " + strconv.Quote(port))
	}
	return net.JoinHostPort(host, port), true, nil
}

// stripZone drops the zone of an IPv6 address ("fe80::1%eth0").
func stripZone(s string) string {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		return s[:i]
	}
	return s
}

// relative resolves path against the Corefile's directory, so that a
// Corefile and the files it names can be moved together.
func relative(c *caddy.Controller, path string) string {
	if filepath.IsAbs(path) || c.File() == "stdin" {
		return path
	}
	return filepath.Join(filepath.Dir(c.File()), path)
}
