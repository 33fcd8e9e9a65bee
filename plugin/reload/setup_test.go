package reload

import (
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		input            string
		interval, jitter time.Duration
		err              string
	}{
		{input: "reload", interval: 30 * time.Second, jitter: 15 * time.Second},
		{input: "reload 10s", interval: 10 * time.Second, jitter: 5 * time.Second},
		{input: "reload 1m 5s", interval: time.Minute, jitter: 5 * time.Second},
		{input: "reload 1s", err: `Testfile:1 - Error during parsing: interval "1s": want a duration of at least 2s`},
		{input: "reload 10s 0s", err: `Testfile:1 - Error during parsing: jitter "0s": want a duration of at least 1s`},
		{input: "reload soon", err: `Testfile:1 - Error during parsing: interval "soon": want a duration of at least 2s`},
		{input: "reload 10s 1s 1s", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '1s'"},
		{input: "reload {\n watch\n}", err: `Testfile:2 - Error during parsing: unknown property "watch"`},
	} {
		interval, jitter, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		assert.NoError(t, err, c.input)
		assert.Equal(t, c.interval, interval, c.input)
		assert.Equal(t, c.jitter, jitter, c.input)
	}
}
