package errors

import (
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	cases := []struct {
		input      string
		stacktrace bool
		patterns   []string // "period regexp level"
		err        string
	}{
		{input: "errors"},
		{input: "errors {\n stacktrace\n}", stacktrace: true},
		{input: "errors {\n consolidate 5m \".* i/o timeout$\" warning\n consolidate 30s ^Failed\n}",
			patterns: []string{"5m0s .* i/o timeout$ WARNING", "30s ^Failed ERROR"}},
		{input: "errors stdout", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'stdout'"},
		{input: "errors\nerrors", err: "Testfile:2 - Error during parsing: errors may appear once per server block"},
		{input: "errors {\n stacktrace on\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'on'"},
		{input: "errors {\n consolidate 5m\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '5m'"},
		{input: "errors {\n consolidate soon x\n}", err: `Testfile:2 - Error during parsing: invalid duration "soon"`},
		{input: "errors {\n consolidate 1m (\n}", err: "Testfile:2 - Error during parsing: invalid regexp \"(\": error parsing regexp: missing closing ): `(`"},
		{input: "errors {\n consolidate 1m x loud\n}", err: `Testfile:2 - Error during parsing: unknown log level "loud" (warning, error, info or debug)`},
		{input: "errors {\n quiet\n}", err: `Testfile:2 - Error during parsing: unknown property "quiet"`},
	}
	for _, c := range cases {
		e, stacktrace, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.stacktrace, stacktrace, c.input)
		var patterns []string
		for _, p := range e.patterns {
			patterns = append(patterns, p.period.String()+" "+p.re.String()+" "+p.level)
		}
		assert.Equal(t, c.patterns, patterns, c.input)
	}
}
