package bind

import (
	"net"
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func loopbackAddrs(t *testing.T) []string {
	iface, err := net.InterfaceByName("lo")
	require.NoError(t, err)
	addrs, err := iface.Addrs()
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		out = append(out, a.(*net.IPNet).IP.String())
	}
	return out
}

func TestParse(t *testing.T) {
	lo := loopbackAddrs(t)
	cases := []struct {
		input string
		want  []string
		err   string
	}{
		{input: "bind 127.0.0.1", want: []string{"127.0.0.1"}},
		{input: "bind 127.0.0.1 ::1", want: []string{"127.0.0.1", "::1"}},
		{input: "bind 0:0:0:0:0:0:0:1", want: []string{"::1"}},
		{input: "bind 127.0.0.1\nbind 127.0.0.2", want: []string{"127.0.0.1", "127.0.0.2"}},
		{input: "bind lo", want: lo},
		{input: "bind lo 127.0.0.9 {\n except 127.0.0.1\n}", want: append(without(lo, "127.0.0.1"), "127.0.0.9")},
		{input: "bind", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'bind'"},
		{input: "bind 127.0.0.300", err: `Testfile:1 - Error during parsing: "127.0.0.300" is neither an IP address nor a network interface`},
		{input: "bind 127.0.0.1 {\n except\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'except'"},
		{input: "bind 127.0.0.1 {\n only 127.0.0.1\n}", err: `Testfile:2 - Error during parsing: unknown property "only"`},
		{input: "bind 127.0.0.1 {\n except 127.0.0.1\n}", err: "Testfile:3 - Error during parsing: every address is excepted: nothing to listen on"},
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

func without(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
