package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The validation of issue 15: ttl bounds, repeated JSON keys, endpoint
// addresses no client can connect to, and what GET shows of a check's
// headers.

func TestDecodeJSONValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want []string // the lines of the error
	}{
		{"ttl 0", `{"name": "a", "ttl": 0}`, nil},
		{"ttl over a day", `{"name": "a", "ttl": 86401}`, nil},
		{"ttl of the issue", `{"name": "a", "ttl": 9223372037}`, []string{`ttl: 9223372037 is out of range 0-2147483647`}},
		{"ttl over 64 bits", `{"name": "a", "ttl": 99999999999999999999}`, []string{`ttl: 99999999999999999999 is out of range 0-2147483647`}},
		{"negative ttl", `{"name": "a", "ttl": -5}`, []string{`ttl: -5 is out of range 0-2147483647`}},

		{"repeated top-level key", `{"ttl": 1, "name": "a", "ttl": 2}`, []string{`ttl: repeated key`}},
		{"repeated name", `{"name": "a", "name": "b"}`, []string{`name: repeated key`}},
		{"repeated key in a list item", `{"name": "a", "endpoints": ["10.0.0.1", {"address": "10.0.0.2", "weight": 1, "address": "10.0.0.3"}]}`, []string{`endpoints[1].address: repeated key`}},
		{"repeated key in a map", `{"name": "a", "connection": {"A": "1", "B": "2", "A": "3"}}`, []string{`connection.A: repeated key`}},
		{"repeated key in the check's headers", `{"name": "a", "check": {"type": "http", "headers": {"Authorization": "a", "Authorization": "b"}}}`, []string{`check.headers.Authorization: repeated key`}},
		{"repeated key with a dot", `{"name": "a", "connection": {"A.B": "1", "A.B": "2"}}`, []string{`connection."A.B": repeated key`}},
		{"repeated key in a list of lists", `{"name": "a", "x": [[{"k": 1}], [{"k": 1, "k": 2}]]}`, []string{`x[1][0].k: repeated key`}},
		{"every repeated key", `{"name": "a", "ports": [{"name": "db", "port": 1, "port": 2}], "name": "b"}`, []string{`ports[0].port: repeated key`, `name: repeated key`}},
		{"the same key in two objects is no repeat", `{"name": "a", "ports": [{"name": "db", "port": 1}, {"name": "m", "port": 2}], "connection": {"name": "x"}}`, nil},

		{"unspecified address", `{"name": "a", "endpoints": ["0.0.0.0"]}`, []string{`endpoints[0]: "0.0.0.0" is the unspecified address, which no client can connect to`}},
		{"unspecified IPv6 address", `{"name": "a", "endpoints": [{"address": "::"}]}`, []string{`endpoints[0].address: "::" is the unspecified address, which no client can connect to`}},
		{"broadcast address", `{"name": "a", "endpoints": ["255.255.255.255"]}`, []string{`endpoints[0]: "255.255.255.255" is the broadcast address, which no client can connect to`}},
		{"multicast address", `{"name": "a", "endpoints": ["10.0.0.1", "ff05::1:3"]}`, []string{`endpoints[1]: "ff05::1:3" is a multicast address, which no client can connect to`}},
	} {
		s, err := DecodeJSON([]byte(tt.in), testZones)
		if tt.want == nil {
			assert.NoError(t, err, tt.name)
			continue
		}
		if assert.Error(t, err, tt.name) {
			assert.Equal(t, strings.Join(tt.want, "\n"), err.Error(), tt.name)
			assert.Empty(t, s.Name, tt.name)
		}
	}
}

func TestTTLBoundsInYAMLAndJSON(t *testing.T) {
	for _, ttl := range []string{"0", "1", "30", "86400", "2147483647"} {
		s, err := DecodeJSON([]byte(`{"name": "a", "ttl": `+ttl+`}`), testZones)
		require.NoError(t, err, ttl)
		services, err := ParseYAML("services.yaml", []byte("services:\n  - name: a\n    ttl: "+ttl+"\n"), testZones)
		require.NoError(t, err, ttl)
		assert.Equal(t, s, services[0], ttl)
		assert.Equal(t, ttl, strings.TrimSpace(string(mustJSON(t, *s.TTL))), ttl)
	}
	assert.Equal(t, time.Second, MinTTL)
	assert.Equal(t, 24*time.Hour, MaxTTL)
}

func mustJSON(t *testing.T, v uint32) []byte {
	t.Helper()
	b, err := EncodeJSON(Service{Name: "a", TTL: &v})
	require.NoError(t, err)
	return []byte(strings.TrimSuffix(strings.TrimPrefix(string(b), `{"name":"a","ttl":`), "}"))
}

func TestCheckJSON(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{`{"a": 1, "b": {"a": 1}}`, ""},
		{`{"a": 1, "a": 1}`, "a: repeated key"},
		{`[{"a": 1}, {"a": 1, "a": 2}]`, "[1].a: repeated key"},
		{`{"a": {"b": [0, {"c": 1, "c": 2}]}}`, "a.b[1].c: repeated key"},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`, ""},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":3,"k9":9}`, "k3: repeated key\nk9: repeated key"},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k0":0}`, "k0: repeated key"},
		{`{"a": 1`, "invalid JSON at offset 7: unexpected end of JSON input"},
		{`"x"`, ""},
	} {
		err := CheckJSON([]byte(tt.in))
		if tt.want == "" {
			assert.NoError(t, err, tt.in)
			continue
		}
		var list ErrorList
		if assert.True(t, errors.As(err, &list), "%s: %v", tt.in, err) {
			assert.Equal(t, tt.want, list.Error(), tt.in)
		}
	}
}

func TestDecodeEndpointJSON(t *testing.T) {
	u16 := func(v uint16) *uint16 { return &v }
	str := func(s string) *string { return &s }
	yes := true
	for _, tt := range []struct {
		name string
		in   string
		want EndpointPatch
		err  []string // the lines of the error
	}{
		{name: "empty", in: ""},
		{name: "blank", in: " \n"},
		{name: "null", in: "null"},
		{name: "empty object", in: "{}"},
		{
			name: "every field",
			in:   `{"port": 5433, "name": "standby", "priority": 10, "weight": 0, "disabled": true, "ttl": 30}`,
			want: EndpointPatch{Port: u16(5433), Name: str("standby"), Priority: u16(10), Weight: u16(0), Disabled: &yes, TTL: 30 * time.Second},
		},
		{name: "shortest ttl", in: `{"ttl": 1}`, want: EndpointPatch{TTL: time.Second}},
		{name: "longest ttl", in: `{"ttl": 86400}`, want: EndpointPatch{TTL: 24 * time.Hour}},
		{name: "null ttl", in: `{"ttl": null}`},
		{name: "ttl 0", in: `{"ttl": 0}`, err: []string{`ttl: 0 is out of range 1-86400 (seconds: 1s to 24h)`}},
		{name: "negative ttl", in: `{"ttl": -1}`, err: []string{`ttl: -1 is out of range 1-86400 (seconds: 1s to 24h)`}},
		{name: "ttl over a day", in: `{"ttl": 86401}`, err: []string{`ttl: 86401 is out of range 1-86400 (seconds: 1s to 24h)`}},
		{name: "ttl of the issue", in: `{"ttl": 9223372037}`, err: []string{`ttl: 9223372037 is out of range 1-86400 (seconds: 1s to 24h)`}},
		{name: "ttl over 64 bits", in: `{"ttl": 99999999999999999999}`, err: []string{`ttl: 99999999999999999999 is out of range 1-86400 (seconds: 1s to 24h)`}},
		{name: "fractional ttl", in: `{"ttl": 1.5}`, err: []string{`ttl: 1.5 is not a whole number of seconds`}},
		{name: "ttl as text", in: `{"ttl": "30"}`, want: EndpointPatch{TTL: 30 * time.Second}},
		{name: "ttl as a duration", in: `{"ttl": "1m"}`, want: EndpointPatch{TTL: time.Minute}},
		{name: "longest ttl as a duration", in: `{"ttl": "24h"}`, want: EndpointPatch{TTL: 24 * time.Hour}},
		{name: "ttl as a duration over a day", in: `{"ttl": "24h0m1s"}`, err: []string{`ttl: "24h0m1s" is out of range 1s-24h`}},
		{name: "ttl as a duration of no seconds", in: `{"ttl": "0s"}`, err: []string{`ttl: "0s" is out of range 1s-24h`}},
		{name: "ttl as a fractional duration", in: `{"ttl": "1500ms"}`, err: []string{`ttl: "1500ms" is not a whole number of seconds`}},
		{name: "ttl as words", in: `{"ttl": "soon"}`, err: []string{`ttl: want a number of seconds or a duration such as "30s", got "soon"`}},
		{name: "ttl as an object", in: `{"ttl": {}}`, err: []string{`ttl: want a number of seconds or a duration such as "30s", got an object`}},
		{name: "repeated ttl", in: `{"ttl": 30, "ttl": 9223372037}`, err: []string{`ttl: repeated key`}},
		{name: "repeated key, another case", in: `{"ttl": 30, "TTL": 60}`, err: []string{`TTL: unknown field; did you mean "ttl"?`}},
		{name: "unknown field", in: `{"prio": 1}`, err: []string{`prio: unknown field`}},
		{name: "wrong type", in: `{"weight": "heavy"}`, err: []string{`weight: want an integer, got "heavy"`}},
		{name: "weight over its limit", in: `{"weight": 70000}`, err: []string{`weight: 70000 is out of range 0-65535`}},
		{name: "fractional priority", in: `{"priority": 1.5}`, err: []string{`priority: want an integer, got 1.5`}},
		{name: "port over its limit", in: `{"port": 65536}`, err: []string{`port: 65536 is out of range 0-65535`}},
		{name: "name of a number", in: `{"name": 5}`, err: []string{`name: want a string, got 5`}},
		{name: "disabled of a string", in: `{"disabled": "yes"}`, err: []string{`disabled: want true or false, got "yes"`}},
		{name: "nulls", in: `{"port": null, "name": null, "priority": null, "weight": null, "disabled": null}`},
		{name: "every error", in: `{"weigth": 1, "port": -1, "ttl": 0}`, err: []string{
			`weigth: unknown field; did you mean "weight"?`,
			`port: -1 is out of range 0-65535`,
			`ttl: 0 is out of range 1-86400 (seconds: 1s to 24h)`,
		}},
		{name: "list", in: `[]`, err: []string{`want an object, got a list`}},
		{name: "number", in: `5`, err: []string{`want an object, got 5`}},
		{name: "not JSON", in: `{"ttl": 5`, err: []string{`invalid JSON at offset 9: unexpected end of JSON input`}},
		{name: "two objects", in: `{}{}`, err: []string{`invalid JSON at offset 3: invalid character '{' after top-level value`}},
	} {
		p, err := DecodeEndpointJSON([]byte(tt.in))
		if tt.err == nil {
			assert.NoError(t, err, tt.name)
			assert.Equal(t, tt.want, p, tt.name)
			continue
		}
		var list ErrorList
		if assert.True(t, errors.As(err, &list), "%s: %v", tt.name, err) {
			assert.Equal(t, strings.Join(tt.err, "\n"), list.Error(), tt.name)
		}
		assert.Zero(t, p, tt.name)
	}
}

func TestEndpointPatchApply(t *testing.T) {
	e := EndpointDoc{Address: "10.0.0.1", Port: 1, Name: "a", Priority: 2, Weight: 3, Disabled: true}
	p, err := DecodeEndpointJSON([]byte(`{"weight": 0, "disabled": false}`))
	require.NoError(t, err)
	p.Apply(&e)
	assert.Equal(t, EndpointDoc{Address: "10.0.0.1", Port: 1, Name: "a", Priority: 2, Weight: 0, Disabled: false}, e)
}

func TestRedacted(t *testing.T) {
	s, err := DecodeJSON([]byte(`{
	"name": "a",
	"ports": [{"name": "web", "port": 443}],
	"connection": {"URL": "https://a"},
	"secrets": {"TOKEN": "s3cret"},
	"check": {"type": "https", "headers": {"Authorization": "Bearer s3cret", "X-Probe": "tpdns"}}
}`), testZones)
	require.NoError(t, err)
	d := NewDocument(s).Redacted()
	assert.Equal(t, map[string]string{"TOKEN": "***"}, d.Secrets)
	assert.Equal(t, map[string]string{"Authorization": "***", "X-Probe": "***"}, d.Check.Headers)
	assert.Equal(t, map[string]string{"URL": "https://a"}, d.Connection, "connection information is not secret")
	assert.Equal(t, "https", d.Check.Type)

	assert.Equal(t, "s3cret", s.Secrets["TOKEN"], "the service keeps its values")
	assert.Equal(t, "Bearer s3cret", s.Check.Headers["Authorization"])
	full := NewDocument(s)
	assert.Equal(t, "Bearer s3cret", full.Check.Headers["Authorization"], "the document too")

	b, err := EncodeJSON(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), "Bearer s3cret", "EncodeJSON, which the store keeps, is not redacted")

	none := NewDocument(Service{Name: "b", Check: Check{Type: CheckTCP}}).Redacted()
	assert.Nil(t, none.Secrets)
	assert.Nil(t, none.Check.Headers)
}
