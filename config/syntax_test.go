package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registryOf returns a valid registry file of n services, ten lines each
// after the first line.
func registryOf(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: svc%d\n    ports:\n      - name: db\n        port: 5432\n    endpoints:\n      - 192.0.2.%d\n      - address: 192.0.2.%d\n        weight: 2\n    ttl: 30\n    check: {type: tcp}\n", i, i+1, i+100)
	}
	return b.String()
}

// issue17 is the registry file of issue 17: an endpoint on line 58
// indented as the keys of its service, which starts on line 52. yaml.v3
// says "line 51": the line the service's mapping begins on, counted from 0.
var issue17 = registryOf(5) + `  - name: last
    ports:
      - name: db
        port: 1
    endpoints:
      - 192.0.2.9
    - 192.0.2.10
    ttl: 30
`

func TestSyntaxErrorLine(t *testing.T) {
	_, line := splitYAMLError(parseAll(strings.NewReader(issue17)))
	require.Equal(t, 51, line, "yaml.v3's own line")

	base := registryOf(5) // 51 lines
	require.Equal(t, 51, strings.Count(base, "\n"))
	for _, tc := range []struct {
		name string
		in   string
		line int
	}{
		{"a key indented less than its service's", base + "  - name: last\n    ports:\n      - name: db\n        port: 1\n    endpoints: [192.0.2.9]\n    ttl: 30\n   check: {type: tcp}\n", 58},
		{"an endpoint indented as a key", issue17, 58},
		{"a key indented more", base + "  - name: last\n    ttl: 30\n      check: {type: tcp}\n", 54},
		{"a key at the list's indentation", base + "  - name: last\n    ttl: 30\n  check: {type: tcp}\n", 54},
		{"a list item in a mapping", base + "  - name: last\n    ttl: 30\n    - 192.0.2.1\n", 54},
		{"a key without a colon", base + "  - name: last\n    ttl: 30\n    check\n    allow: []\n", 54},
		{"a tab", base + "  - name: last\n    ttl: 30\n\tallow: []\n", 54},
		{"an unclosed quote", base + "  - name: \"last\n    ttl: 30\n    allow: []\n", 52},
		{"an unclosed bracket", base + "  - name: last\n    allow: [10.0.0.0/8\n    ttl: 30\n", 53},
		{"two colons", base + "  - name: last\n    ttl: 30\n    connection: a: b\n", 54},
		{"a bad escape", base + "  - name: last\n    connection: {A: \"a\\qb\"}\n", 53},
		{"an unknown anchor", base + "  - name: last\n    ttl: *nope\n", 53},
		{"the first line", "services: [\n", 1},
		{"no newline at the end", base + "  - name: last\n   ttl: 30", 53},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseYAML("services.yaml", []byte(tc.in), testZones)
			var list ErrorList
			require.ErrorAs(t, err, &list)
			require.Len(t, list, 1)
			assert.Equal(t, tc.line, list[0].Line, "%v", err)
		})
	}
}
