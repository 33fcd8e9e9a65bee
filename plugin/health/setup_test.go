package health

import (
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/plugin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for _, c := range []struct {
		input    string
		addr     string
		lameduck time.Duration
		err      string
	}{
		{input: "health", addr: ":8080"},
		{input: "health 127.0.0.1:8091", addr: "127.0.0.1:8091"},
		{input: "health [::1]:8091 {\n lameduck 1s\n}", addr: "[::1]:8091", lameduck: time.Second},
		{input: "health {\n lameduck 0s\n}", addr: ":8080"},
		{input: "health localhost", err: `Testfile:1 - Error during parsing: "localhost" is not HOST:PORT`},
		{input: "health :8080 :8081", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after ':8081'"},
		{input: "health {\n lameduck\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'lameduck'"},
		{input: "health {\n lameduck 1s 2s\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '2s'"},
		{input: "health {\n lameduck soon\n}", err: `Testfile:2 - Error during parsing: invalid lameduck duration "soon"`},
		{input: "health {\n lameduck -1s\n}", err: `Testfile:2 - Error during parsing: invalid lameduck duration "-1s"`},
		{input: "health {\n path /healthz\n}", err: `Testfile:2 - Error during parsing: unknown property "path"`},
		{input: "health\nhealth :8081", err: "Testfile:2 - Error during parsing: health may appear once per server block"},
	} {
		addr, lameduck, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.addr, addr, c.input)
		assert.Equal(t, c.lameduck, lameduck, c.input)
	}
}

// setup adds no handler to the chain.
func TestSetupAddsNoHandler(t *testing.T) {
	p, err := setup(caddy.NewTestController(plugin.ServerType, "health 127.0.0.1:0"))
	require.NoError(t, err)
	assert.Nil(t, p)
}
