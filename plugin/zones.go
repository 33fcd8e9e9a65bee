package plugin

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ZoneAddr is one server block key, normalized: a fully qualified lower-case
// zone and the port it is served on.
type ZoneAddr struct {
	Zone string
	Port string
}

func (z ZoneAddr) String() string { return z.Zone + ":" + z.Port }

// ParseKey normalizes a server block key the way CoreDNS's
// plugin.SplitHostPort reads one, so that a Corefile means the same in
// tpdns and in the CoreDNS build: an optional "dns://", then a trailing
// ":NUMBER" is the port (defaultPort when there is none), and what is left
// is a domain name or a CIDR that stands for its reverse zones
// ("192.0.2.0/24:1053", "2001:db8::/32", "2001:db8::/32:1053"). A key that
// would become a zone named after its text, such as "[2001:db8::/32]:1053"
// (CoreDNS's zone "[2001:db8::/32]."), is an error naming the key.
func ParseKey(key, defaultPort string) ([]ZoneAddr, error) {
	s := key
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		// Case-sensitive, as in CoreDNS, where "DNS://x" is no transport.
		if scheme != "dns" {
			return nil, fmt.Errorf("%q: transport %q is not supported (only dns://)", key, scheme)
		}
		s = rest
	}
	addrs, err := ParseHostPort(s, defaultPort)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", key, err)
	}
	return addrs, nil
}

// ParseHostPort is ParseKey for a key without its transport: CoreDNS's
// plugin.SplitHostPort, whose reading of the port and of CIDRs it keeps,
// and whose "invalid CIDR" cases it refuses too. Unlike CoreDNS it also
// refuses what CoreDNS would take for a zone literally named after the
// text (an address, a prefix, brackets, colons), which no query matches.
func ParseHostPort(s, defaultPort string) ([]ZoneAddr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		// Checked first: CoreDNS would take the last group of an IPv6
		// address for a port.
		return nil, notAZone(a)
	}
	host, port := s, defaultPort
	if i := strings.LastIndex(s, ":"); i >= 0 {
		p := s[i+1:]
		if p == "" {
			return nil, fmt.Errorf("no port after the last colon")
		}
		// As in CoreDNS, only a number is a port; anything else after
		// the colon stays part of the zone (and is refused below).
		if n, err := strconv.Atoi(p); err == nil {
			if n < 0 || n > 65535 {
				return nil, fmt.Errorf("invalid port %q", p)
			}
			host, port = s[:i], strconv.Itoa(n)
		} else if !strings.ContainsAny(s[:i], ":/[]") {
			return nil, fmt.Errorf("invalid port %q", p)
		}
	}
	zones, err := NormalizeZone(host)
	if err != nil {
		return nil, err
	}
	out := make([]ZoneAddr, len(zones))
	for i, z := range zones {
		out[i] = ZoneAddr{Zone: z, Port: port}
	}
	return out, nil
}

// NormalizeZone turns a zone as written in a Corefile (without a port) into
// fully qualified lower-case zones: a domain name gives itself ("" is the
// root), a CIDR ("10.0.0.0/8", "2001:db8::/32") the reverse zones that
// cover it. Text that is neither, but would pass for a domain name (an
// address, a prefix that is not a CIDR, brackets, colons), is an error: as
// a zone it would match no query.
func NormalizeZone(s string) ([]string, error) {
	if s == "" {
		s = "."
	}
	if _, ipnet, err := net.ParseCIDR(s); err == nil {
		// CoreDNS refuses these (plugin.SplitHostPort), so both builds do.
		if s[0] == ':' || s[0] == '0' && strings.Contains(s, ":") {
			return nil, fmt.Errorf("invalid CIDR %s", s)
		}
		return reverseZones(ipnet), nil
	}
	if err := literal(s); err != nil {
		return nil, err
	}
	zone := dns.CanonicalName(s)
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, fmt.Errorf("%q is not a domain name", s)
	}
	return []string{zone}, nil
}

// literal reports why s, which is not a CIDR, is no zone either, or nil
// when it may be one. CoreDNS would serve s as a zone of that name, which
// no query ever reaches.
func literal(s string) error {
	name := strings.TrimSuffix(s, ".")
	switch {
	case strings.ContainsAny(s, "[]"):
		return fmt.Errorf("%q is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)", s)
	case strings.Contains(s, "://"):
		return fmt.Errorf("%q is not a zone or a CIDR: a key takes one transport, dns:// in lower case", s)
	case strings.Contains(s, "/"):
		return fmt.Errorf("invalid CIDR %q", s)
	case strings.Contains(s, ":"):
		return fmt.Errorf("%q is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)", s)
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return notAZone(a)
	}
	return nil
}

// notAZone is the error for an address written where a zone goes.
func notAZone(a netip.Addr) error {
	return fmt.Errorf("%s is an address, not a zone: write a CIDR (%s) for its reverse zone", a, netip.PrefixFrom(a, a.BitLen()))
}

// reverseZones returns the in-addr.arpa. or ip6.arpa. zones that together
// cover n: one zone when the prefix ends on a label boundary (8 bits for
// IPv4, 4 for IPv6), otherwise one per value of the partly covered label.
func reverseZones(n *net.IPNet) []string {
	ones, bits := n.Mask.Size()
	step := 8
	if bits == 128 {
		step = 4
	}
	boundary := (ones + step - 1) / step * step
	count := 1 << (boundary - ones)
	zones := make([]string, 0, count)
	ip := n.IP.Mask(n.Mask)
	for i := 0; i < count; i++ {
		zones = append(zones, reverseZone(ip, boundary, bits))
		ip = nextNet(ip, boundary)
	}
	return zones
}

// reverseZone names the reverse zone of the first prefix bits of ip.
func reverseZone(ip net.IP, prefix, bits int) string {
	var labels []string
	if bits == 32 {
		ip4 := ip.To4()
		for i := 0; i < prefix/8; i++ {
			labels = append(labels, strconv.Itoa(int(ip4[i])))
		}
		slices.Reverse(labels)
		return dns.Fqdn(strings.Join(append(labels, "in-addr", "arpa"), "."))
	}
	for i := 0; i < prefix/4; i++ {
		b := ip[i/2]
		if i%2 == 0 {
			b >>= 4
		}
		labels = append(labels, strconv.FormatUint(uint64(b&0xf), 16))
	}
	slices.Reverse(labels)
	return dns.Fqdn(strings.Join(append(labels, "ip6", "arpa"), "."))
}

// nextNet returns the start of the network after ip's /prefix.
func nextNet(ip net.IP, prefix int) net.IP {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	next := make(net.IP, len(ip))
	copy(next, ip)
	bit := prefix - 1
	for i := bit / 8; i >= 0; i-- {
		inc := byte(1)
		if i == bit/8 {
			inc = 1 << (7 - bit%8)
		}
		next[i] += inc
		if next[i] >= inc {
			break
		}
	}
	return next
}

// ZonesOf normalizes the zones a directive names, or else those of the
// server block's keys; with neither (a test controller) it is the root.
func ZonesOf(args, keys []string) ([]string, error) {
	var zones []string
	for _, z := range args {
		zs, err := NormalizeZone(z)
		if err != nil {
			return nil, err
		}
		zones = append(zones, zs...)
	}
	if len(args) > 0 {
		return zones, nil
	}
	for _, k := range keys {
		// The port does not matter here; any valid one will do.
		addrs, err := ParseKey(k, "53")
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			zones = append(zones, a.Zone)
		}
	}
	if len(zones) == 0 {
		zones = []string{"."}
	}
	return zones, nil
}

// MatchZone returns the longest of zones that contains name, or "". Both
// are lower-case and fully qualified.
func MatchZone[T string | []byte](zones []string, name T) string {
	best := ""
	for _, z := range zones {
		if len(z) > len(best) && InZone(z, name) {
			best = z
		}
	}
	return best
}

// InZone reports whether name is zone or below it, on a label boundary,
// without allocating.
func InZone[T string | []byte](zone string, name T) bool {
	switch {
	case zone == ".":
		return true
	case len(name) == len(zone):
		return string(name) == zone
	case len(name) > len(zone):
		return name[len(name)-len(zone)-1] == '.' && string(name[len(name)-len(zone):]) == zone
	}
	return false
}

// ParseSource reads an address or a CIDR. An IPv4-mapped IPv6 one is made
// IPv4, the form client addresses are matched in (acl, rrl).
func ParseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
