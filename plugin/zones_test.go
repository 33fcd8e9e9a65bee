package plugin

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		key  string
		want []ZoneAddr
		err  string
	}{
		{key: ".", want: []ZoneAddr{{".", "53"}}},
		{key: "", want: []ZoneAddr{{".", "53"}}},
		{key: ":1053", want: []ZoneAddr{{".", "1053"}}},
		{key: "Example.ORG", want: []ZoneAddr{{"example.org.", "53"}}},
		{key: "example.org.:1053", want: []ZoneAddr{{"example.org.", "1053"}}},
		{key: "dns://example.org:1053", want: []ZoneAddr{{"example.org.", "1053"}}},
		{key: "10.0.0.0/8", want: []ZoneAddr{{"10.in-addr.arpa.", "53"}}},
		{key: "10.1.2.0/24:1053", want: []ZoneAddr{{"2.1.10.in-addr.arpa.", "1053"}}},
		{key: "10.0.0.0/15", want: []ZoneAddr{{"0.10.in-addr.arpa.", "53"}, {"1.10.in-addr.arpa.", "53"}}},
		{key: "192.168.255.0/23", want: []ZoneAddr{{"254.168.192.in-addr.arpa.", "53"}, {"255.168.192.in-addr.arpa.", "53"}}},
		{key: "2001:db8::/32", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "53"}}},
		// CoreDNS's form of an IPv6 CIDR with a port: the port after the
		// prefix length, no brackets.
		{key: "2001:db8::/32:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "dns://2001:db8::/32:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "2001:DB8::/31:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}, {"9.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "2001:db8::/112", want: []ZoneAddr{{"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "53"}}},
		{key: "192.0.2.0/24:1053", want: []ZoneAddr{{"2.0.192.in-addr.arpa.", "1053"}}},
		{key: "10.9.3.0/22", want: []ZoneAddr{{"0.9.10.in-addr.arpa.", "53"}, {"1.9.10.in-addr.arpa.", "53"}, {"2.9.10.in-addr.arpa.", "53"}, {"3.9.10.in-addr.arpa.", "53"}}},
		{key: "0.0.0.0/0", want: []ZoneAddr{{"in-addr.arpa.", "53"}}},
		{key: "8.B.D.0.1.0.0.2.ip6.arpa:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "8.b.d.0.1.0.0.2.ip6.arpa.", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "53"}}},
		// What CoreDNS's build hands its plugins for the keys above.
		{key: "dns://8.b.d.0.1.0.0.2.ip6.arpa.:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "example.org:+53", want: []ZoneAddr{{"example.org.", "53"}}},

		{key: "tls://example.org", err: `"tls://example.org": transport "tls" is not supported (only dns://)`},
		// The scheme is case-sensitive in CoreDNS, which would serve a
		// zone "dns://tp.internal." for this key.
		{key: "DNS://tp.internal", err: `"DNS://tp.internal": transport "DNS" is not supported (only dns://)`},
		{key: "example.org:99999", err: `"example.org:99999": invalid port "99999"`},
		{key: "example.org:-1", err: `"example.org:-1": invalid port "-1"`},
		{key: "example.org:dns", err: `"example.org:dns": invalid port "dns"`},
		{key: "example.org:", err: `"example.org:": no port after the last colon`},
		{key: "2001:db8::/32:", err: `"2001:db8::/32:": no port after the last colon`},
		{key: "exa..mple", err: `"exa..mple": "exa..mple" is not a domain name`},
		// CoreDNS's "invalid CIDR" cases (plugin.SplitHostPort): an IPv6
		// CIDR starting with ':' or with '0'.
		{key: "::/0", err: `"::/0": invalid CIDR ::/0`},
		{key: "::fFFF:B:F/115", err: `"::fFFF:B:F/115": invalid CIDR ::fFFF:B:F/115`},
		{key: "::ffff:192.0.2.0/120:1053", err: `"::ffff:192.0.2.0/120:1053": invalid CIDR ::ffff:192.0.2.0/120`},
		{key: "0:0::/32", err: `"0:0::/32": invalid CIDR 0:0::/32`},
		// Keys CoreDNS would take for a zone named after their text, which
		// no query reaches: errors here.
		{key: "[2001:db8::/32]:1053", err: `"[2001:db8::/32]:1053": "[2001:db8::/32]" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`},
		{key: "[2001:db8::/32]", err: `"[2001:db8::/32]": "[2001:db8::/32]" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`},
		{key: "[2001:db8::/32", err: `"[2001:db8::/32": "[2001:db8::/32" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`},
		{key: "dns://[2001:db8::/32].:1053", err: `"dns://[2001:db8::/32].:1053": "[2001:db8::/32]." is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`},
		{key: "10.0.0.0/33", err: `"10.0.0.0/33": invalid CIDR "10.0.0.0/33"`},
		{key: "2001:db8::/129:53", err: `"2001:db8::/129:53": invalid CIDR "2001:db8::/129"`},
		{key: "10.0.0.0/8/16", err: `"10.0.0.0/8/16": invalid CIDR "10.0.0.0/8/16"`},
		{key: "2001:db8::1", err: `"2001:db8::1": 2001:db8::1 is an address, not a zone: write a CIDR (2001:db8::1/128) for its reverse zone`},
		{key: "10.0.0.1:1053", err: `"10.0.0.1:1053": 10.0.0.1 is an address, not a zone: write a CIDR (10.0.0.1/32) for its reverse zone`},
		{key: "dns://10.0.0.1.:53", err: `"dns://10.0.0.1.:53": 10.0.0.1 is an address, not a zone: write a CIDR (10.0.0.1/32) for its reverse zone`},
		{key: "2001:db8:x", err: `"2001:db8:x": "2001:db8:x" is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)`},
		{key: "dns://dns://tp.internal.:53", err: `"dns://dns://tp.internal.:53": "dns://tp.internal." is not a zone or a CIDR: a key takes one transport, dns:// in lower case`},
	}
	for _, c := range cases {
		got, err := ParseKey(c.key, "53")
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.key)
			continue
		}
		if assert.NoError(t, err, c.key) {
			assert.Equal(t, c.want, got, c.key)
		}
	}
}

// TestNormalizeZone: a zone written as a directive's argument takes no
// port, and what would be a zone named after an address or a CIDR's text
// is refused as in a key.
func TestNormalizeZone(t *testing.T) {
	cases := []struct {
		zone string
		want []string
		err  string
	}{
		{zone: "", want: []string{"."}},
		{zone: "TP.internal", want: []string{"tp.internal."}},
		{zone: "2001:db8::/32", want: []string{"8.b.d.0.1.0.0.2.ip6.arpa."}},
		{zone: "192.0.2.0/24", want: []string{"2.0.192.in-addr.arpa."}},
		{zone: "8.b.d.0.1.0.0.2.IP6.arpa", want: []string{"8.b.d.0.1.0.0.2.ip6.arpa."}},
		{zone: "tp.internal:53", err: `"tp.internal:53" is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)`},
		{zone: "2001:db8::/32:53", err: `invalid CIDR "2001:db8::/32:53"`},
		{zone: "[2001:db8::/32]", err: `"[2001:db8::/32]" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`},
		{zone: "192.0.2.1", err: `192.0.2.1 is an address, not a zone: write a CIDR (192.0.2.1/32) for its reverse zone`},
		{zone: "::/0", err: `invalid CIDR ::/0`},
	}
	for _, c := range cases {
		got, err := NormalizeZone(c.zone)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.zone)
			continue
		}
		if assert.NoError(t, err, c.zone) {
			assert.Equal(t, c.want, got, c.zone)
		}
	}
}
