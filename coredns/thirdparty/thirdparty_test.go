package thirdparty

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	coreplugin "github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/parse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func init() {
	// As cmd/coredns does; without it CoreDNS knows no such directive.
	if !slices.Contains(dnsserver.Directives, "thirdparty") {
		i := slices.Index(dnsserver.Directives, "cache")
		dnsserver.Directives = slices.Insert(dnsserver.Directives, i, "thirdparty")
	}
}

// TestKeysReadAsCoreDNSReadsThem holds tpdns's reading of server block keys
// against CoreDNS's own (plugin.SplitHostPort): a key CoreDNS reads as a
// domain name or a CIDR gives the same zones and port in tpdns; every
// other key is an error in tpdns, where CoreDNS either refuses it too or
// makes it a zone named after its text, which no query reaches.
func TestKeysReadAsCoreDNSReadsThem(t *testing.T) {
	same := []string{
		".", ".:1053", "tp.internal", "TP.Internal.:1053", "dns://tp.internal:1053",
		"10.0.0.0/8", "10.0.0.0/8:1053", "192.0.2.0/24:1053", "10.0.0.0/15", "10.9.3.0/18", "0.0.0.0/0",
		"2001:db8::/32", "2001:db8::/32:1053", "dns://2001:db8::/32:1053", "2001:db8::/29", "2001:db8::/115:53",
		"8.b.d.0.1.0.0.2.ip6.arpa", "8.b.d.0.1.0.0.2.ip6.arpa.:1053", "2.0.192.in-addr.arpa:1053",
	}
	refused := []string{
		// CoreDNS: a zone named "[2001:db8::/32]." on port 1053.
		"[2001:db8::/32]:1053", "[2001:db8::/32]", "dns://[2001:db8::/32]:53",
		// CoreDNS: zones "2001:db8:." on port 1, "10.0.0.1.", "10.0.0.0/33.".
		"2001:db8::1", "10.0.0.1", "10.0.0.1:53", "10.0.0.0/33", "2001:db8::/129:53",
		// CoreDNS: "invalid CIDR" and "expecting data after last colon".
		"::/0", "::fFFF:B:F/115", "0:0::/32:53", "tp.internal:", "2001:db8::/32:",
		// CoreDNS: a zone "tp.internal:dns.".
		"tp.internal:dns",
	}
	for _, key := range same {
		_, rest := parse.Transport(key)
		hosts, port, err := coreplugin.SplitHostPort(rest)
		require.NoError(t, err, "CoreDNS: %s", key)
		if port == "" {
			port = "53"
		}
		var want []plugin.ZoneAddr
		for _, h := range hosts {
			want = append(want, plugin.ZoneAddr{Zone: coreplugin.Name(h).Normalize(), Port: port})
		}
		got, err := plugin.ParseKey(key, "53")
		if assert.NoError(t, err, key) {
			assert.Equal(t, want, got, key)
		}
	}
	for _, key := range refused {
		_, err := plugin.ParseKey(key, "53")
		assert.Error(t, err, "tpdns: %s", key)
		_, rest := parse.Transport(key)
		hosts, _, err := coreplugin.SplitHostPort(rest)
		if err != nil {
			continue
		}
		for _, h := range hosts {
			zone := coreplugin.Name(h).Normalize()
			_, ipErr := netip.ParseAddr(strings.TrimSuffix(zone, "."))
			assert.True(t, strings.ContainsAny(zone, "[]:/") || ipErr == nil, "CoreDNS serves %s as zone %s", key, zone)
		}
	}
}

// TestSetupRefusesLiteralZones runs Corefiles through CoreDNS's own
// reading of server blocks and the plugin's setup: the reverse zone
// written as CoreDNS writes it is taken, and a key CoreDNS turned into a
// zone named after its text stops the configuration, naming the key.
func TestSetupRefusesLiteralZones(t *testing.T) {
	dir := t.TempDir()
	services := filepath.Join(dir, "services.yaml")
	require.NoError(t, os.WriteFile(services, []byte("services: []\n"), 0o644))
	cases := []struct {
		keys, args, err string
	}{
		{keys: "tp.internal:1053 2001:db8::/32:1053 192.0.2.0/24:1053"},
		{keys: "tp.internal 2001:db8::/32"},
		{keys: "tp.internal:1053 8.b.d.0.1.0.0.2.ip6.arpa:1053"},
		{
			keys: "tp.internal:1053 [2001:db8::/32]:1053",
			err:  `plugin/thirdparty: Corefile:2 - Error during parsing: server block key "dns://[2001:db8::/32].:1053": "[2001:db8::/32]." is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			// Zones given to the plugin do not make the block's keys right.
			keys: "tp.internal:1053 [2001:db8::/32]:1053", args: "tp.internal 2001:db8::/32",
			err: `plugin/thirdparty: Corefile:2 - Error during parsing: server block key "dns://[2001:db8::/32].:1053": "[2001:db8::/32]." is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			keys: "tp.internal 2001:db8::1",
			err:  `plugin/thirdparty: Corefile:2 - Error during parsing: server block key "dns://2001:db8:.:1": "2001:db8:." is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)`,
		},
		{
			keys: "tp.internal 10.0.0.0/33",
			err:  `plugin/thirdparty: Corefile:2 - Error during parsing: server block key "dns://10.0.0.0/33.:53": invalid CIDR "10.0.0.0/33."`,
		},
	}
	for _, c := range cases {
		corefile := c.keys + " {\n thirdparty " + c.args + " {\n  services " + services + "\n  reload 0\n }\n}\n"
		err := caddy.ValidateAndExecuteDirectives(caddy.CaddyfileInput{Filepath: "Corefile", Contents: []byte(corefile), ServerTypeName: "dns"}, nil, true)
		if c.err == "" {
			assert.NoError(t, err, corefile)
		} else {
			assert.EqualError(t, err, c.err, corefile)
		}
	}
}
