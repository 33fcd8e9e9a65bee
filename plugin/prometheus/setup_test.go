package prometheus

import (
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	for _, c := range []struct{ input, addr, err string }{
		{input: "prometheus", addr: "localhost:9153"},
		{input: "prometheus 127.0.0.1:9253", addr: "127.0.0.1:9253"},
		{input: "prometheus :9153", addr: ":9153"},
		{input: "prometheus localhost", err: `Testfile:1 - Error during parsing: "localhost" is not HOST:PORT`},
		{input: "prometheus a:1 b:2", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'b:2'"},
		{input: "prometheus {\n path /m\n}", err: `Testfile:2 - Error during parsing: unknown property "path"`},
		{input: "prometheus\nprometheus :9154", err: "Testfile:2 - Error during parsing: prometheus may appear once per server block"},
	} {
		addr, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		assert.NoError(t, err, c.input)
		assert.Equal(t, c.addr, addr, c.input)
	}
}
