package multisocket

import (
	"runtime"
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
)

// TestParse is CoreDNS's table, with its error messages.
func TestParse(t *testing.T) {
	cases := []struct {
		input string
		want  int
		err   string
	}{
		{input: "multisocket", want: runtime.GOMAXPROCS(0)},
		{input: "multisocket 2", want: 2},
		{input: "multisocket 1024", want: 1024},
		{input: " multisocket 1", want: 1},
		{input: "multisocket text", err: `invalid num sockets: strconv.Atoi: parsing "text": invalid syntax`},
		{input: "multisocket 0", err: "num sockets can not be zero or negative: 0"},
		{input: "multisocket -1", err: "num sockets can not be zero or negative: -1"},
		{input: "multisocket 1025", err: "num sockets exceeds maximum (1024): 1025"},
		{input: "multisocket 2 2", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '2'"},
		{input: "multisocket 2 {\n block\n}", err: "Testfile:1 - Error during parsing: Unexpected token '{', expecting argument"},
		{input: "multisocket 2\nmultisocket 3", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'multisocket'"},
	}
	for _, c := range cases {
		got, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		assert.NoError(t, err, c.input)
		assert.Equal(t, c.want, got, c.input)
	}
}
