package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		key  string
		want []zoneAddr
		err  string
	}{
		{key: ".", want: []zoneAddr{{".", "53"}}},
		{key: "", want: []zoneAddr{{".", "53"}}},
		{key: ":1053", want: []zoneAddr{{".", "1053"}}},
		{key: "Example.ORG", want: []zoneAddr{{"example.org.", "53"}}},
		{key: "example.org.:1053", want: []zoneAddr{{"example.org.", "1053"}}},
		{key: "dns://example.org:1053", want: []zoneAddr{{"example.org.", "1053"}}},
		{key: "DNS://tp.internal", want: []zoneAddr{{"tp.internal.", "53"}}},
		{key: "10.0.0.0/8", want: []zoneAddr{{"10.in-addr.arpa.", "53"}}},
		{key: "10.1.2.0/24:1053", want: []zoneAddr{{"2.1.10.in-addr.arpa.", "1053"}}},
		{key: "10.0.0.0/15", want: []zoneAddr{{"0.10.in-addr.arpa.", "53"}, {"1.10.in-addr.arpa.", "53"}}},
		{key: "192.168.255.0/23", want: []zoneAddr{{"254.168.192.in-addr.arpa.", "53"}, {"255.168.192.in-addr.arpa.", "53"}}},
		{key: "2001:db8::/32", want: []zoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "53"}}},
		{key: "[2001:db8::/31]:1053", want: []zoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}, {"9.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "tls://example.org", err: `"tls://example.org": transport "tls" is not supported (only dns://)`},
		{key: "example.org:99999", err: `"example.org:99999": invalid port "99999"`},
		{key: "example.org:dns", err: `"example.org:dns": invalid port "dns"`},
		{key: "exa..mple", err: `"exa..mple": "exa..mple" is not a domain name`},
		{key: "[2001:db8::/32", err: `"[2001:db8::/32": missing ]`},
	}
	for _, c := range cases {
		got, err := parseKey(c.key, "53")
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.key)
			continue
		}
		if assert.NoError(t, err, c.key) {
			assert.Equal(t, c.want, got, c.key)
		}
	}
}
