package timeouts

import (
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	cases := []struct {
		input string
		want  plugin.TCPLimits
		err   string
	}{
		{input: "timeouts {\n read 10s\n write 20s\n idle 60s\n}",
			want: plugin.TCPLimits{ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute}},
		{input: "timeouts {\n read 15\n}", want: plugin.TCPLimits{ReadTimeout: 15 * time.Second}},
		{input: "timeouts {\n idle 24h\n}", want: plugin.TCPLimits{IdleTimeout: 24 * time.Hour}},
		{input: "timeouts {\n maxtcpqueries 128\n}", want: plugin.TCPLimits{MaxQueries: 128}},
		{input: "timeouts {\n maxtcpqueries -1\n}", want: plugin.TCPLimits{MaxQueries: -1}},
		{input: "timeouts {\n max_connections 100\n}", want: plugin.TCPLimits{MaxConnections: 100}},
		{input: "timeouts {\n max_connections 0\n}", want: plugin.TCPLimits{MaxConnections: -1}},
		{input: "timeouts {\n read 5s\n}\ntimeouts {\n max_connections 10\n}", want: plugin.TCPLimits{ReadTimeout: 5 * time.Second, MaxConnections: 10}},

		{input: "timeouts", err: "Testfile:1 - Error during parsing: timeouts block with no timeouts specified"},
		{input: "timeouts 5s", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '5s'"},
		{input: "timeouts {\n read\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'read'"},
		{input: "timeouts {\n read 1s 2s\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '2s'"},
		{input: "timeouts {\n read soon\n}", err: `Testfile:2 - Error during parsing: invalid duration "soon"`},
		{input: "timeouts {\n read 500ms\n}", err: "Testfile:2 - Error during parsing: timeout 500ms must be between 1s and 24h"},
		{input: "timeouts {\n idle 25h\n}", err: "Testfile:2 - Error during parsing: timeout 25h0m0s must be between 1s and 24h"},
		{input: "timeouts {\n read 5s\n read 6s\n}", err: "Testfile:3 - Error during parsing: read given twice"},
		{input: "timeouts {\n maxtcpqueries 0\n}", err: `Testfile:2 - Error during parsing: maxtcpqueries "0" must be -1 (unlimited) or a positive integer`},
		{input: "timeouts {\n maxtcpqueries -2\n}", err: `Testfile:2 - Error during parsing: maxtcpqueries "-2" must be -1 (unlimited) or a positive integer`},
		{input: "timeouts {\n max_connections -1\n}", err: `Testfile:2 - Error during parsing: max_connections "-1" must be 0 (unlimited) or a positive integer`},
		{input: "timeouts {\n max_connections many\n}", err: `Testfile:2 - Error during parsing: max_connections "many" must be 0 (unlimited) or a positive integer`},
		{input: "timeouts {\n linger 5s\n}", err: `Testfile:2 - Error during parsing: unknown option "linger"`},
	}
	for _, c := range cases {
		got, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, got, c.input)
	}
}
