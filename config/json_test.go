package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJSON(t *testing.T) {
	in := `{
	"name": "Oracle.Finance",
	"ports": [{"name": "db", "port": 1521}],
	"endpoints": ["10.0.0.10", {"address": "10.0.0.11", "name": "standby", "weight": 0}],
	"connection": {"URL": "jdbc:oracle:thin:@\/\/db\/orcl", "CITY": "Z\u00fcrich", "PORT": 1521},
	"allow": ["10.244.0.0/16"],
	"ttl": 5,
	"check": {"type": "tcp", "interval": "5s"}
}`
	ttl := uint32(5)
	want := Service{
		Name:  "oracle.finance",
		Ports: []Port{{Name: "db", Number: 1521, Protocol: "tcp"}},
		Endpoints: []Endpoint{
			{Address: "10.0.0.10", IP: netip.MustParseAddr("10.0.0.10"), Label: "10-0-0-10", Weight: 1},
			{Address: "10.0.0.11", IP: netip.MustParseAddr("10.0.0.11"), Label: "standby", Weight: 0},
		},
		Connection: map[string]string{"URL": "jdbc:oracle:thin:@//db/orcl", "CITY": "Zürich", "PORT": "1521"},
		Allow:      []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		TTL:        &ttl,
		Check: Check{
			Type:      CheckTCP,
			Path:      "/",
			ExpectMin: 200,
			ExpectMax: 399,
			Interval:  5 * time.Second,
			Timeout:   2 * time.Second,
			Rise:      1,
			Fall:      3,
		},
	}
	s, err := DecodeJSON([]byte(in), testZones)
	require.NoError(t, err)
	require.Equal(t, want, s)
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "unknown field",
			in:   `{"name": "a", "endpoints": [{"adress": "10.0.0.1"}]}`,
			want: []string{
				`endpoints[0].address: is required`,
				`endpoints[0].adress: unknown field; did you mean "address"?`,
			},
		},
		{
			name: "unknown top-level field",
			in:   `{"name": "a", "services": []}`,
			want: []string{`services: unknown field`},
		},
		{
			name: "string for a number",
			in:   `{"name": "a", "ports": [{"name": "db", "port": "1521"}]}`,
			want: []string{`ports[0].port: want an integer, got "1521"`},
		},
		{
			name: "float for a number",
			in:   `{"name": "a", "ports": [{"name": "db", "port": 1521.0}]}`,
			want: []string{`ports[0].port: want an integer, got 1521.0`},
		},
		{
			name: "number for a string",
			in:   `{"name": 5}`,
			want: []string{`name: want a string, got 5`},
		},
		{
			name: "syntax error",
			in:   `{"name":`,
			want: []string{`invalid JSON at offset 8: unexpected end of JSON input`},
		},
		{
			name: "trailing garbage",
			in:   `{"name": "a"} x`,
			want: []string{`invalid JSON at offset 15: invalid character 'x' after top-level value`},
		},
		{
			name: "two objects",
			in:   `{"name": "a"}{"name": "b"}`,
			want: []string{`invalid JSON at offset 14: invalid character '{' after top-level value`},
		},
		{
			name: "empty body",
			in:   ``,
			want: []string{`invalid JSON: unexpected end of JSON input`},
		},
		{
			name: "array",
			in:   `[{"name": "a"}]`,
			want: []string{`want a mapping, got a list`},
		},
		{
			name: "null",
			in:   `null`,
			want: []string{`want a mapping, got null`},
		},
		{
			name: "no YAML merge keys",
			in:   `{"name": "a", "<<": {"ttl": 1}}`,
			want: []string{`"<<": unknown field`},
		},
		{
			name: "repeated key",
			in:   `{"name": "a", "name": "b"}`,
			want: []string{`name: repeated key`},
		},
		{
			name: "key longer than YAML's implicit keys",
			in:   `{"name": "a", "connection": {"` + strings.Repeat("K", 1100) + `": "v"}}`,
			want: []string{`connection.` + strings.Repeat("K", 1100) + `: ` + strings.Repeat("K", 64) + `...=… is 1102 octets, more than the 255 a TXT string holds`},
		},
		{
			name: "errors refer without lines",
			in:   `{"name": "a", "endpoints": ["10.0.0.1", {"address": "10.0.0.1", "port": 99999}]}`,
			want: []string{
				`endpoints[1].address: "10.0.0.1" is already used by endpoints[0]`,
				`endpoints[1].port: 99999 is out of range 1-65535`,
			},
		},
		{
			name: "missing name",
			in:   `{"check": {"type": "tcp"}}`,
			want: []string{
				`name: is required`,
				`check.type: needs a port to probe; give the service a port, or the check one`,
			},
		},
		{
			name: "tns check",
			in:   `{"name": "a", "ports": [{"name": "db", "port": 1521}], "check": {"type": "tns", "service_name": "a b"}}`,
			want: []string{`check.service_name: "a b": want letters, digits and any of _$#.-`},
		},
		{
			name: "tns check without a service",
			in:   `{"name": "a", "ports": [{"name": "db", "port": 1521}], "check": {"type": "tns"}}`,
			want: []string{`check.type: tns needs service_name, the service the listener must know`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeJSON([]byte(tt.in), testZones)
			require.Error(t, err)
			assert.Equal(t, Service{}, s)
			assert.Equal(t, strings.Join(tt.want, "\n"), err.Error())
			var list ErrorList
			require.ErrorAs(t, err, &list)
			for _, e := range list {
				assert.Empty(t, e.File)
				assert.Zero(t, e.Line)
			}
		})
	}
}

// TestJSONToYAML covers what JSON has and yaml.v3 does not take as it is.
func TestJSONToYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"solidus escape", `{"URL": "a\/b"}`, "a/b"},
		{"DEL and C1 controls", "{\"URL\": \"a\x7f\u0085b\"}", "a\x7f\u0085b"},
		{"invalid UTF-8", "{\"URL\": \"a\xffb\"}", "a\ufffdb"},
		{"line separator", `{"URL": "a` + "\u2028" + `b"}`, "a\u2028b"},
		{"surrogate pair", `{"URL": "\ud83d\ude00"}`, "\U0001F600"},
		{"lone surrogate", `{"URL": "\ud83d"}`, "\ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `{"name": "a", "connection": ` + tt.in + `}`
			s, err := DecodeJSON([]byte(in), Options{})
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"URL": tt.want}, s.Connection)
		})
	}
}
