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
		{key: "DNS://tp.internal", want: []ZoneAddr{{"tp.internal.", "53"}}},
		{key: "10.0.0.0/8", want: []ZoneAddr{{"10.in-addr.arpa.", "53"}}},
		{key: "10.1.2.0/24:1053", want: []ZoneAddr{{"2.1.10.in-addr.arpa.", "1053"}}},
		{key: "10.0.0.0/15", want: []ZoneAddr{{"0.10.in-addr.arpa.", "53"}, {"1.10.in-addr.arpa.", "53"}}},
		{key: "192.168.255.0/23", want: []ZoneAddr{{"254.168.192.in-addr.arpa.", "53"}, {"255.168.192.in-addr.arpa.", "53"}}},
		{key: "2001:db8::/32", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "53"}}},
		{key: "[2001:db8::/31]:1053", want: []ZoneAddr{{"8.b.d.0.1.0.0.2.ip6.arpa.", "1053"}, {"9.b.d.0.1.0.0.2.ip6.arpa.", "1053"}}},
		{key: "tls://example.org", err: `"tls://example.org": transport "tls" is not supported (only dns://)`},
		{key: "example.org:99999", err: `"example.org:99999": invalid port "99999"`},
		{key: "example.org:dns", err: `"example.org:dns": invalid port "dns"`},
		{key: "exa..mple", err: `"exa..mple": "exa..mple" is not a domain name`},
		{key: "[2001:db8::/32", err: `"[2001:db8::/32": missing ]`},
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
