package rrl

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// describe writes a configuration as one line: zones, window, prefix
// lengths, the nanoseconds a response of each kind costs, slip, table
// size, report-only and exempt prefixes.
func describe(c *config) string {
	var exempt []string
	for _, p := range c.exempt {
		exempt = append(exempt, p.String())
	}
	return fmt.Sprintf("%s window=%s v4=%d v6=%d intervals=%v slip=%d size=%d report=%t exempt=%s",
		strings.Join(c.zones, ","), time.Duration(c.window), c.v4Bits, c.v6Bits, c.intervals, c.slip, c.tableSize, c.reportOnly, strings.Join(exempt, ","))
}

func TestParse(t *testing.T) {
	const defaults = "window=15s v4=24 v6=56 intervals=[50000000 50000000 50000000 50000000 50000000] slip=2 size=100000 report=false exempt=127.0.0.0/8,::1/128"
	cases := []struct {
		input string
		keys  []string
		want  string
		err   string
	}{
		{input: "rrl", want: ". " + defaults},
		{input: "rrl", keys: []string{"tp.internal:1053", "10.0.0.0/8"}, want: "tp.internal.,10.in-addr.arpa. " + defaults},
		{input: "rrl example.org EXAMPLE.net.", keys: []string{"tp.internal"}, want: "example.org.,example.net. " + defaults},
		// CoreDNS's rrl's options.
		{input: `rrl {
			window 2.5
			ipv4-prefix-length 32
			ipv6-prefix-length 64
			responses-per-second 100
			nodata-per-second 0
			nxdomains-per-second 4
			referrals-per-second 0.5
			errors-per-second 3
			slip-ratio 0
			max-table-size 500
			report-only
		}`, want: ". window=2.5s v4=32 v6=64 intervals=[10000000 0 250000000 2000000000 333333333] slip=0 size=500 report=true exempt=127.0.0.0/8,::1/128"},
		// The other kinds follow responses-per-second unless given theirs.
		{input: "rrl {\n responses-per-second 0\n errors-per-second 1\n}", want: ". window=15s v4=24 v6=56 intervals=[0 0 0 0 1000000000] slip=2 size=100000 report=false exempt=127.0.0.0/8,::1/128"},
		// exempt replaces the default; none leaves nothing exempt.
		{input: "rrl {\n exempt none\n}", want: ". window=15s v4=24 v6=56 intervals=[50000000 50000000 50000000 50000000 50000000] slip=2 size=100000 report=false exempt="},
		{input: "rrl {\n exempt 10.0.0.0/8 192.0.2.1\n exempt ::ffff:198.51.100.0/120 2001:db8::/32 fe80::1%eth0\n}",
			want: ". window=15s v4=24 v6=56 intervals=[50000000 50000000 50000000 50000000 50000000] slip=2 size=100000 report=false exempt=10.0.0.0/8,192.0.2.1/32,198.51.100.0/24,2001:db8::/32,fe80::1/128"},

		{input: "rrl {\n window 0\n}", err: `window "0": want seconds, more than 0 and at most 3600`},
		{input: "rrl {\n window 3601\n}", err: "at most 3600"},
		{input: "rrl {\n window\n}", err: "Wrong argument count"},
		{input: "rrl {\n ipv4-prefix-length 33\n}", err: `ipv4-prefix-length "33": want an integer from 1 to 32`},
		{input: "rrl {\n ipv6-prefix-length 0\n}", err: `ipv6-prefix-length "0": want an integer from 1 to 128`},
		{input: "rrl {\n responses-per-second -1\n}", err: `responses-per-second "-1": want a number of responses, 0 (no limit) or from 0.001`},
		{input: "rrl {\n responses-per-second 1e-12\n}", err: `responses-per-second "1e-12": want a number of responses, 0 (no limit) or from 0.001`},
		{input: "rrl {\n nxdomains-per-second many\n}", err: `nxdomains-per-second "many"`},
		{input: "rrl {\n slip-ratio 11\n}", err: `slip-ratio "11": want an integer from 0 to 10`},
		{input: "rrl {\n max-table-size 0\n}", err: `max-table-size "0": want an integer from 1 to 10000000`},
		{input: "rrl {\n report-only yes\n}", err: "Wrong argument count"},
		{input: "rrl {\n exempt\n}", err: "exempt needs none, or addresses and CIDRs"},
		{input: "rrl {\n exempt none 10.0.0.0/8\n}", err: `exempt "none": neither an IP address nor a CIDR (none stands alone)`},
		{input: "rrl {\n exempt 10.0.0.0/33\n}", err: `exempt "10.0.0.0/33"`},
		{input: "rrl {\n requests-per-second 10\n}", err: "requests-per-second (request rate limiting) is not supported"},
		{input: "rrl {\n slip 2\n}", err: `unknown property "slip"`},
		{input: "rrl 192.0.2.1", err: "192.0.2.1 is an address, not a zone"},
		{input: "rrl\nrrl", err: "rrl may appear once per server block"},
	}
	for _, c := range cases {
		ctl := caddy.NewTestController(plugin.ServerType, c.input)
		ctl.ServerBlockKeys = c.keys
		cfg, err := parse(ctl)
		if c.err != "" {
			require.Error(t, err, c.input)
			assert.Contains(t, err.Error(), c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, describe(cfg), c.input)
	}
}

// The defaults are those the README gives.
func TestReadmeDefaults(t *testing.T) {
	b, err := readme()
	require.NoError(t, err)
	for _, want := range []string{
		fmt.Sprintf("Default %d.", defaultWindow),
		fmt.Sprintf("Default %d.", defaultIPv4PrefixLength),
		fmt.Sprintf("Default %d.", defaultIPv6PrefixLength),
		fmt.Sprintf("Default %d.", defaultResponsesPerSecond),
		fmt.Sprintf("Default %d.", defaultSlipRatio),
		fmt.Sprintf("Default %d.", defaultMaxTableSize),
		"Default `127.0.0.0/8 ::1/128`.",
	} {
		assert.Contains(t, b, want)
	}
	assert.Equal(t, []string{"127.0.0.0/8", "::1/128"}, []string{defaultExempt[0].String(), defaultExempt[1].String()})
}
