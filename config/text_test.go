package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestErrorsWithTheirLine checks the errors yaml.v3 gives no line of its
// own: bad characters at the line of the first bad byte, wherever the
// parse would stop, an alias bomb at the alias that makes it one, and
// nesting too deep at the line where the depth is exceeded.
func TestErrorsWithTheirLine(t *testing.T) {
	// bomb is a service whose aliases expand the document by 111,110
	// nodes: the 8th alias on line 8 makes it more than 100,000.
	bomb := "  - name: b\n    x:\n"
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		items := "x, x, x, x, x, x, x, x, x, x"
		if i > 0 {
			items = strings.Repeat("*"+[]string{"a", "b", "c", "d"}[i-1]+", ", 9) + "*" + []string{"a", "b", "c", "d"}[i-1]
		}
		bomb += fmt.Sprintf("      - &%s [%s]\n", name, items)
	}
	var lists strings.Builder
	for range 10001 {
		lists.WriteString("      [\n")
	}
	tests := []struct {
		name, in, want string
	}{
		{"invalid leading octet", "services:\n  - name: a\n    connection: {A: \"x\xffy\"}\n",
			"services.yaml:3: invalid YAML: invalid leading UTF-8 octet"},
		{"invalid trailing octet, a line break", "services:\n  - name: a\n    ttl: \xe2\x82\n  - name: b\n",
			"services.yaml:3: invalid YAML: invalid trailing UTF-8 octet"},
		{"incomplete at the end", "services:\n  - name: \xe2\x82",
			"services.yaml:2: invalid YAML: incomplete UTF-8 octet sequence"},
		{"overlong", "services:\n\n  - name: \xc0\xaf\n",
			"services.yaml:3: invalid YAML: invalid length of a UTF-8 sequence"},
		{"surrogate", "services:\n  - name: \xed\xa0\x80\n",
			"services.yaml:2: invalid YAML: invalid Unicode character"},
		{"control character", "services:\n  - name: a\n    ttl: \x01\n",
			"services.yaml:3: invalid YAML: control characters are not allowed"},
		{"after a syntax error", "services: [\n\n# \x7f\n",
			"services.yaml:3: invalid YAML: control characters are not allowed"},
		{"alias bomb", "services:\n" + bomb,
			"services.yaml:8: aliases expand the document by more than 100000 nodes, counted up to alias *d"},
		{"alias bomb in a later service", "services:\n  - name: a\n    ttl: 1\n" + bomb,
			"services.yaml:10: aliases expand the document by more than 100000 nodes, counted up to alias *d"},
		{"lists too deep, on one line", "services:\n  - name: a\n    check: " + strings.Repeat("[", 10001) + "\n",
			"services.yaml:3: invalid YAML: exceeded max depth of 10000"},
		{"lists too deep, one a line", "services:\n  - name: a\n    check:\n" + lists.String(),
			"services.yaml:10004: invalid YAML: exceeded max depth of 10000"},
		// Block collections nest a column deeper each: on one line, "- - -".
		{"block lists too deep", "services:\n  - name: a\n    check:\n      ttl: 1\n      x:\n        " + strings.Repeat("- ", 10001) + "\n",
			"services.yaml:6: invalid YAML: exceeded max depth of 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML("services.yaml", []byte(tt.in), testZones)
			assert.EqualError(t, err, tt.want)
		})
	}
}
