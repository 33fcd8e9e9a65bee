package cache

import (
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	// def returns the defaults for the server block keys of the tests,
	// changed by f.
	def := func(f func(*config)) config {
		c := defaultConfig()
		c.zones = []string{"example.org.", "tp.internal."}
		if f != nil {
			f(&c)
		}
		return c
	}
	for _, c := range []struct {
		input string
		want  config
		err   string
	}{
		{input: "cache", want: def(nil)},
		{input: "cache 300", want: def(func(c *config) { c.success.maxTTL, c.denial.maxTTL = 300*time.Second, 300*time.Second })},
		{input: "cache example.net 10.0.0.0/8", want: def(func(c *config) { c.zones = []string{"example.net.", "10.in-addr.arpa."} })},
		{input: "cache 30 Example.NET", want: def(func(c *config) {
			c.success.maxTTL, c.denial.maxTTL = 30*time.Second, 30*time.Second
			c.zones = []string{"example.net."}
		})},
		{input: "cache {\n success 5000\n denial 2500 600 0\n}", want: def(func(c *config) {
			c.success.capacity = 5000
			c.denial = kindConfig{capacity: 2500, maxTTL: 600 * time.Second}
		})},
		{input: "cache {\n success 100 60 10\n}", want: def(func(c *config) {
			c.success = kindConfig{capacity: 100, maxTTL: 60 * time.Second, minTTL: 10 * time.Second}
		})},
		{input: "cache {\n prefetch 10\n}", want: def(func(c *config) { c.prefetch = 10 })},
		{input: "cache {\n prefetch 2 10m 25%\n}", want: def(func(c *config) {
			c.prefetch, c.duration, c.percentage = 2, 10*time.Minute, 25
		})},
		{input: "cache {\n serve_stale\n}", want: def(func(c *config) { c.staleUpTo = time.Hour })},
		{input: "cache {\n serve_stale 30m verify\n}", want: def(func(c *config) { c.staleUpTo, c.verifyStale = 30*time.Minute, true })},
		{input: "cache {\n serve_stale 0s Immediate\n}", want: def(nil)},
		{input: "cache {\n servfail 1m\n}", want: def(func(c *config) { c.failTTL = time.Minute })},
		{input: "cache {\n servfail 0s\n}", want: def(func(c *config) { c.failTTL = 0 })},
		{input: "cache {\n disable success tp.internal\n disable denial\n}", want: def(func(c *config) {
			c.success.disabled, c.denial.disabled = []string{"tp.internal."}, []string{"."}
		})},
		{input: "cache {\n keepttl\n}", want: def(func(c *config) { c.keepTTL = true })},

		{input: "cache 0", err: "Testfile:1 - Error during parsing: cache TTL can not be zero or negative: 0"},
		{input: "cache -5 example.org", err: "Testfile:1 - Error during parsing: cache TTL can not be zero or negative: -5"},
		{input: "cache ex..ample", err: `Testfile:1 - Error during parsing: invalid zone: "ex..ample" is not a domain name`},
		{input: "cache\ncache", err: "Testfile:2 - Error during parsing: cache may appear once per server block"},
		{input: "cache {\n success\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'success'"},
		{input: "cache {\n success many\n}", err: `Testfile:2 - Error during parsing: invalid capacity "many"`},
		{input: "cache {\n denial 0\n}", err: `Testfile:2 - Error during parsing: invalid capacity "0"`},
		{input: "cache {\n success 100 1h\n}", err: `Testfile:2 - Error during parsing: invalid TTL "1h"`},
		{input: "cache {\n denial 100 0\n}", err: "Testfile:2 - Error during parsing: cache TTL can not be zero or negative: 0"},
		{input: "cache {\n denial 100 60 -1\n}", err: "Testfile:2 - Error during parsing: cache min TTL can not be negative: -1"},
		{input: "cache {\n success 100 60 x\n}", err: `Testfile:2 - Error during parsing: invalid min TTL "x"`},
		{input: "cache {\n success 100 60 5 1\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '1'"},
		{input: "cache {\n prefetch\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'prefetch'"},
		{input: "cache {\n prefetch -1\n}", err: "Testfile:2 - Error during parsing: prefetch amount should be positive: -1"},
		{input: "cache {\n prefetch some\n}", err: `Testfile:2 - Error during parsing: invalid prefetch amount "some"`},
		{input: "cache {\n prefetch 2 soon\n}", err: `Testfile:2 - Error during parsing: invalid prefetch duration "soon"`},
		{input: "cache {\n prefetch 2 1m 25\n}", err: "Testfile:2 - Error during parsing: last character of percentage should be `%`, but is: '5'"},
		{input: "cache {\n prefetch 2 1m x%\n}", err: `Testfile:2 - Error during parsing: invalid percentage "x%"`},
		{input: "cache {\n prefetch 2 1m 95%\n}", err: "Testfile:2 - Error during parsing: percentage should fall in range [10, 90]: 95"},
		{input: "cache {\n prefetch 2 1m 10% 1\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '1'"},
		{input: "cache {\n serve_stale 1h later\n}", err: "Testfile:2 - Error during parsing: invalid value for serve_stale refresh mode: later"},
		{input: "cache {\n serve_stale -1h\n}", err: "Testfile:2 - Error during parsing: invalid negative duration for serve_stale"},
		{input: "cache {\n serve_stale long\n}", err: `Testfile:2 - Error during parsing: invalid serve_stale duration "long"`},
		{input: "cache {\n serve_stale 1h verify now\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'now'"},
		{input: "cache {\n servfail 10m\n}", err: "Testfile:2 - Error during parsing: caching SERVFAIL responses over 5m0s is not permitted"},
		{input: "cache {\n servfail\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'servfail'"},
		{input: "cache {\n disable everything\n}", err: `Testfile:2 - Error during parsing: cache type for disable must be "success" or "denial"`},
		{input: "cache {\n keepttl 10\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '10'"},
		{input: "cache {\n negative 100\n}", err: `Testfile:2 - Error during parsing: unknown property "negative"`},
	} {
		ctl := caddy.NewTestController(plugin.ServerType, c.input)
		ctl.ServerBlockKeys = []string{"example.org:1053", "dns://TP.internal"}
		got, err := parse(ctl)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, got, c.input)
	}
}

func TestSetup(t *testing.T) {
	p, err := setup(caddy.NewTestController(plugin.ServerType, "cache {\n success 10\n}"))
	require.NoError(t, err)
	h, ok := p(nil).(*Cache)
	require.True(t, ok)
	assert.Equal(t, "cache", h.Name())
	assert.Equal(t, 10, h.success.capacity)
	h.refresh.stop()

	_, err = setup(caddy.NewTestController(plugin.ServerType, "cache 0"))
	assert.EqualError(t, err, "Testfile:1 - Error during parsing: cache TTL can not be zero or negative: 0")
}
