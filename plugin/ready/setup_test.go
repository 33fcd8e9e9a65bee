package ready

import (
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/plugin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for _, c := range []struct{ input, addr, err string }{
		{input: "ready", addr: ":8181"},
		{input: "ready 127.0.0.1:8182", addr: "127.0.0.1:8182"},
		{input: "ready [::1]:8181", addr: "[::1]:8181"},
		{input: "ready localhost", err: `Testfile:1 - Error during parsing: "localhost" is not HOST:PORT`},
		{input: "ready :8181 :8182", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after ':8182'"},
		{input: "ready {\n monitor until-ready\n}", err: `Testfile:2 - Error during parsing: unknown property "monitor"`},
		{input: "ready\nready :8182", err: "Testfile:2 - Error during parsing: ready may appear once per server block"},
	} {
		addr, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.addr, addr, c.input)
	}
}

// setup adds no handler to the chain.
func TestSetupAddsNoHandler(t *testing.T) {
	p, err := setup(caddy.NewTestController(plugin.ServerType, "ready 127.0.0.1:0"))
	require.NoError(t, err)
	assert.Nil(t, p)
}
