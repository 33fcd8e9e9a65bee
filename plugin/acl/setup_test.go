package acl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// describe writes rules as "ZONES: ACTION TYPES SOURCES | ...", "*" for
// every type or source.
func describe(rules []rule) []string {
	names := map[action]string{actionAllow: "allow", actionBlock: "block", actionFilter: "filter", actionDrop: "drop"}
	var out []string
	for _, r := range rules {
		var ps []string
		for _, p := range r.policies {
			types, sources := "*", "*"
			if p.qtypes != nil {
				var ts []string
				for _, t := range p.qtypes {
					ts = append(ts, dns.TypeToString[t])
				}
				types = strings.Join(ts, ",")
			}
			if p.sources != nil {
				var ss []string
				for _, s := range p.sources {
					ss = append(ss, s.String())
				}
				sources = strings.Join(ss, ",")
			}
			ps = append(ps, fmt.Sprintf("%s %s %s", names[p.action], types, sources))
		}
		out = append(out, strings.Join(r.zones, ",")+": "+strings.Join(ps, " | "))
	}
	return out
}

func TestParse(t *testing.T) {
	cases := []struct {
		input string
		keys  []string // server block keys
		want  []string
		err   string
	}{
		{input: "acl {\n block\n}", want: []string{".: block * *"}},
		{input: "acl {\n allow net 192.168.1.0/24\n block net 192.168.0.0/16\n}",
			want: []string{".: allow * 192.168.1.0/24 | block * 192.168.0.0/16"}},
		{input: "acl example.org 10.0.0.0/8 {\n filter type A aaaa net 10.0.0.1 2001:db8::/32 ::ffff:192.0.2.0/120 fe80::1%eth0\n}",
			want: []string{"example.org.,10.in-addr.arpa.: filter A,AAAA 10.0.0.1/32,2001:db8::/32,192.0.2.0/24,fe80::1/128"}},
		{input: "acl {\n DROP net 10.0.0.0/8 * type * MX\n}", want: []string{".: drop * *"}},
		{input: "acl {\n block net 10.0.0.0/8 type A net 11.0.0.0/8\n allow type TXT\n}",
			want: []string{".: block A 10.0.0.0/8,11.0.0.0/8 | allow TXT *"}},
		{input: "acl {\n block net 10.1.2.3/8 ::ffff:10.1.2.3\n}", want: []string{".: block * 10.0.0.0/8,10.1.2.3/32"}},
		{input: "acl {\n block\n}", keys: []string{"tp.internal:1053", "dns://Example.ORG", "10.0.0.0/8"},
			want: []string{"tp.internal.,example.org.,10.in-addr.arpa.: block * *"}},
		{input: "acl a.tp.internal {\n block\n}\nacl {\n allow net 10.0.0.0/8\n}", keys: []string{"tp.internal"},
			want: []string{"a.tp.internal.: block * *", "tp.internal.: allow * 10.0.0.0/8"}},

		{input: "acl", err: "Testfile:1 - Error during parsing: acl needs a block with at least one ACTION line"},
		{input: "acl example.org {\n}", err: "Testfile:2 - Error during parsing: acl needs a block with at least one ACTION line"},
		{input: "acl {\n deny\n}", err: `Testfile:2 - Error during parsing: unknown action "deny" (allow, block, filter or drop)`},
		{input: "acl {\n block net 10.0.0.0/33\n}", err: `Testfile:2 - Error during parsing: "10.0.0.0/33" is neither an IP address nor a CIDR`},
		{input: "acl {\n block net example.org\n}", err: `Testfile:2 - Error during parsing: "example.org" is neither an IP address nor a CIDR`},
		{input: "acl {\n block type A AX\n}", err: `Testfile:2 - Error during parsing: unknown query type "AX"`},
		{input: "acl {\n block type\n}", err: `Testfile:2 - Error during parsing: no QTYPE after "type"`},
		{input: "acl {\n block net type A\n}", err: `Testfile:2 - Error during parsing: no SOURCE after "net"`},
		{input: "acl {\n allow 10.0.0.0/8\n}", err: `Testfile:2 - Error during parsing: unexpected "10.0.0.0/8": expect type or net`},
		{input: "acl exa..mple {\n block\n}", err: `Testfile:1 - Error during parsing: "exa..mple" is not a domain name`},
	}
	for _, c := range cases {
		ctl := caddy.NewTestController(plugin.ServerType, c.input)
		ctl.ServerBlockKeys = c.keys
		rules, err := parse(ctl)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, describe(rules), c.input)
	}
}
