package log

import (
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	type rule struct {
		zone    string
		format  string
		classes class
	}
	cases := []struct {
		input string
		want  []rule
		err   string
	}{
		{input: "log", want: []rule{{".", DefaultFormat, classAll}}},
		{input: "log example.org", want: []rule{{"example.org.", DefaultFormat, classAll}}},
		{input: "log Example.ORG example.net.", want: []rule{{"example.org.", DefaultFormat, classAll}, {"example.net.", DefaultFormat, classAll}}},
		{input: "log . {combined}", want: []rule{{".", CombinedFormat, classAll}}},
		{input: "log {common}", want: []rule{{".", CommonFormat, classAll}}},
		{input: `log example.org "{remote} {type} {name}"`, want: []rule{{"example.org.", "{remote} {type} {name}", classAll}}},
		{input: "log {\n class denial error\n}", want: []rule{{".", DefaultFormat, classDenial | classError}}},
		{input: "log {\n class success\n class all\n}", want: []rule{{".", DefaultFormat, classAll}}},
		{input: "log a.example\nlog b.example {\n class error\n}", want: []rule{{"a.example.", DefaultFormat, classAll}, {"b.example.", DefaultFormat, classError}}},
		{input: "log {\n class\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'class'"},
		{input: "log {\n class failures\n}", err: `Testfile:2 - Error during parsing: unknown class "failures" (all, success, denial or error)`},
		{input: "log {\n output stderr\n}", err: `Testfile:2 - Error during parsing: unknown property "output"`},
		{input: `log . "{remote} {when}"`, err: "Testfile:1 - Error during parsing: log format: unknown placeholder {when}"},
		{input: `log . "{remote"`, err: `Testfile:1 - Error during parsing: log format: unclosed placeholder "{remote"`},
		{input: "log exa..mple", err: `Testfile:1 - Error during parsing: "exa..mple" is not a domain name`},
	}
	for _, c := range cases {
		rules, err := parse(caddy.NewTestController(plugin.ServerType, c.input))
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		var got []rule
		for _, r := range rules {
			want, _ := compile(c.want[len(got)%len(c.want)].format)
			assert.Equal(t, want, r.format, c.input)
			got = append(got, rule{r.Zone, c.want[len(got)%len(c.want)].format, r.classes})
		}
		assert.Equal(t, c.want, got, c.input)
	}
}
