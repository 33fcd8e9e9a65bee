package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDurationsInEitherForm: a ttl and a check's interval and timeout are
// a number of seconds or a Go duration, in a registry file and in an API
// body alike (SPEC 5, v2).
func TestDurationsInEitherForm(t *testing.T) {
	for _, tc := range []struct {
		name              string
		yaml, json        string
		ttl               uint32
		interval, timeout time.Duration
	}{
		{"numbers", "ttl: 30\n    check: {type: tcp, interval: 20, timeout: 5}", `"ttl": 30, "check": {"type": "tcp", "interval": 20, "timeout": 5}`, 30, 20 * time.Second, 5 * time.Second},
		{"durations", "ttl: 30s\n    check: {type: tcp, interval: 1m, timeout: 2.5s}", `"ttl": "30s", "check": {"type": "tcp", "interval": "1m", "timeout": "2.5s"}`, 30, time.Minute, 2500 * time.Millisecond},
		{"numbers quoted", "ttl: \"30\"\n    check: {type: tcp, interval: \"20\", timeout: \"0.5\"}", `"ttl": "30", "check": {"type": "tcp", "interval": "20", "timeout": "0.5"}`, 30, 20 * time.Second, 500 * time.Millisecond},
		{"fractions of seconds", "ttl: 1h\n    check: {type: tcp, interval: 1.5, timeout: 0.25}", `"ttl": "1h", "check": {"type": "tcp", "interval": 1.5, "timeout": 0.25}`, 3600, 1500 * time.Millisecond, 250 * time.Millisecond},
		{"no cache", "ttl: 0s", `"ttl": "0s"`, 0, DefaultCheckInterval, DefaultCheckTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseYAML("services.yaml", []byte("services:\n  - name: a\n    ports: [{name: db, port: 5432}]\n    "+tc.yaml+"\n"), testZones)
			require.NoError(t, err)
			fromJSON, err := DecodeJSON([]byte(`{"name": "a", "ports": [{"name": "db", "port": 5432}], `+tc.json+`}`), testZones)
			require.NoError(t, err)
			for _, s := range []Service{got[0], fromJSON} {
				require.NotNil(t, s.TTL)
				assert.Equal(t, tc.ttl, *s.TTL)
				assert.Equal(t, tc.interval, s.Check.Interval)
				assert.Equal(t, tc.timeout, s.Check.Timeout)
			}
		})
	}
}

func TestDurationErrorsNameTheFieldAndLimit(t *testing.T) {
	in := `services:
  - name: a
    ttl: 1500ms
  - name: b
    ttl: 1000000h
  - name: c
    ttl: -5s
  - name: d
    ttl: 1.5
  - name: e
    ttl: soon
  - name: f
    ttl: [30]
  - name: g
    check: {interval: 0, timeout: 1e3}
  - name: h
    check: {interval: -2}
`
	_, err := ParseYAML("services.yaml", []byte(in), testZones)
	assert.EqualError(t, err, `services.yaml:3: services[0].ttl: "1500ms" is not a whole number of seconds
services.yaml:5: services[1].ttl: "1000000h" is 3600000000 seconds, out of range 0-2147483647
services.yaml:7: services[2].ttl: "-5s" is -5 seconds, out of range 0-2147483647
services.yaml:9: services[3].ttl: 1.5 is not a whole number of seconds
services.yaml:11: services[4].ttl: want a number of seconds or a duration such as "30s", got "soon"
services.yaml:13: services[5].ttl: want a number of seconds or a duration such as "30s", got a list
services.yaml:15: services[6].check.interval: 0 must be above zero
services.yaml:15: services[6].check.timeout: want a duration such as "10s" or a number of seconds, got 1e3
services.yaml:17: services[7].check.interval: -2 must be above zero`)

	_, err = DecodeJSON([]byte(`{"name": "a", "ttl": "1.5s", "check": {"interval": "x"}}`), testZones)
	assert.EqualError(t, err, `ttl: "1.5s" is not a whole number of seconds
check.interval: want a duration such as "10s" or a number of seconds, got "x"`)
}
