package plugin

import (
	"fmt"
	"net"
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

// ParseKey normalizes a server block key: "ZONE", "ZONE:PORT",
// "dns://ZONE[:PORT]", or a CIDR ("10.0.0.0/8[:PORT]") that stands for its
// reverse zones. A CIDR whose prefix is not on a label boundary expands to
// every reverse zone it covers, as in CoreDNS.
func ParseKey(key, defaultPort string) ([]ZoneAddr, error) {
	s := key
	if i := strings.Index(s, "://"); i >= 0 {
		if scheme := strings.ToLower(s[:i]); scheme != "dns" {
			return nil, fmt.Errorf("%q: transport %q is not supported (only dns://)", key, scheme)
		}
		s = s[i+3:]
	}
	host, port := s, defaultPort
	switch {
	case strings.HasPrefix(s, "["): // [IPv6 CIDR]:PORT
		end := strings.Index(s, "]")
		if end < 0 {
			return nil, fmt.Errorf("%q: missing ]", key)
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return nil, fmt.Errorf("%q: unexpected %q after ]", key, rest)
			}
			port = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("%q: invalid port %q", key, port)
	}
	zones, err := NormalizeZone(host)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", key, err)
	}
	out := make([]ZoneAddr, len(zones))
	for i, z := range zones {
		out[i] = ZoneAddr{Zone: z, Port: port}
	}
	return out, nil
}

// NormalizeZone turns a zone as written in a Corefile into fully qualified
// lower-case zones: a domain name gives itself ("" is the root), a CIDR
// ("10.0.0.0/8") the reverse zones that cover it.
func NormalizeZone(s string) ([]string, error) {
	if s == "" {
		s = "."
	}
	if _, ipnet, err := net.ParseCIDR(s); err == nil {
		return reverseZones(ipnet), nil
	}
	zone := dns.CanonicalName(s)
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, fmt.Errorf("%q is not a domain name", s)
	}
	return []string{zone}, nil
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
