package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// address is an endpoint's address as written, taken apart.
type address struct {
	addr    string     // canonical IP address, or lower-case host name
	ip      netip.Addr // the zero Addr for a host name
	port    string     // as written; "" when none
	hasPort bool
}

// parseAddress parses the short form of an endpoint: "IP", "IP:PORT",
// "[IPv6]:PORT", a bare IPv6 address, "host" or "host:PORT". It returns
// why s is none of them, or "".
func parseAddress(s string) (address, string) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ipAddress(s, ip, address{}, true)
	}
	host, a := s, address{}
	switch {
	case strings.HasPrefix(s, "["):
		inside, rest, ok := strings.Cut(s[1:], "]")
		ip, err := netip.ParseAddr(inside)
		switch {
		case !ok || rest != "" && !strings.HasPrefix(rest, ":"):
			return a, fmt.Sprintf(`%s is not an address; want "[IPv6]:PORT"`, quote(s))
		case err != nil || !ip.Is6():
			return a, fmt.Sprintf("%s has no IPv6 address in the brackets", quote(s))
		}
		if rest != "" {
			a.port, a.hasPort = rest[1:], true
		}
		return ipAddress(s, ip, a, false)
	case strings.Count(s, ":") > 1:
		// Not IPv6, as ParseAddr failed, and too many colons for a port.
		return a, fmt.Sprintf("%s is not a valid IPv6 address", quote(s))
	case strings.Contains(s, ":"):
		host, a.port, _ = strings.Cut(s, ":")
		a.hasPort = true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ipAddress(s, ip, a, false)
	}
	name := strings.TrimSuffix(asciiLower(host), ".")
	if _, err := netip.ParseAddr(name); err == nil {
		return a, fmt.Sprintf("%s is an IP address with a trailing dot", quote(s))
	}
	if p := hostProblem(name); p != "" {
		return a, fmt.Sprintf("%s is not an IP address, and not a host name: %s", quote(s), p)
	}
	a.addr = name
	return a, ""
}

// ipAddress completes a with ip. Zones ("fe80::1%eth0") are refused: the
// address goes into AAAA records, which have no place for one. So are the
// addresses no client can connect to (see unreachable). alone is whether
// s is the address and nothing else.
func ipAddress(s string, ip netip.Addr, a address, alone bool) (address, string) {
	if ip.Zone() != "" {
		return a, fmt.Sprintf("%s has the zone %q; zones are not allowed", quote(s), ip.Zone())
	}
	if what := unreachable(ip); what != "" {
		return a, fmt.Sprintf("%s is %s, which no client can connect to", quote(s), what)
	}
	a.ip = ip
	if alone && ip.Is4() {
		// ParseAddr takes one spelling of an IPv4 address only (no
		// leading zeros), the canonical one: s is kept, and a large
		// registry has a string less per endpoint to make.
		a.addr = s
	} else {
		a.addr = ip.String()
	}
	return a, ""
}

// broadcast is the limited broadcast address, 255.255.255.255.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// unreachable says what ip is when it cannot be a service's endpoint,
// IPv4-mapped or not: the unspecified address (0.0.0.0, ::), another
// address of 0.0.0.0/8 (RFC 1122's "this network", a source only), the
// broadcast address or a multicast address; "" for any other.
func unreachable(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.Is4() && ip.As4()[0] == 0:
		return `in 0.0.0.0/8, "this network"`
	case ip == broadcast:
		return "the broadcast address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// portNumber parses the port of a short form endpoint.
func portNumber(s string) (uint16, string) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Sprintf("port %s is not a number", quote(s))
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Sprintf("port %s is out of range 1-65535", short(s))
	}
	return uint16(v), ""
}
