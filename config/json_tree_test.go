package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeJSONViaYAML is DecodeJSON as it was before jsonTree: the JSON
// rewritten as YAML flow text (jsonToYAML) and parsed by yaml.v3.
func decodeJSONViaYAML(data []byte, opts Options) (Service, error) {
	d := newDecoder("", "JSON", false, opts)
	if !json.Valid(data) {
		d.errorf(nil, "", "%s", jsonSyntax(data))
		return Service{}, d.err()
	}
	root, err := yamlTreeOfJSON(d, data)
	if err != nil {
		return Service{}, err
	}
	if root == nil {
		return Service{}, d.err()
	}
	sd := d.service(root, "")
	if err := d.err(); err != nil {
		return Service{}, err
	}
	return sd.svc, nil
}

// yamlTreeOfJSON is the old path's node tree of valid JSON: nil, with
// the reason in d, when yaml.v3 refuses the text.
func yamlTreeOfJSON(d *decoder, data []byte) (*yaml.Node, error) {
	y, err := jsonToYAML(data)
	var repeated ErrorList
	switch {
	case errors.As(err, &repeated):
		return nil, repeated
	case err != nil:
		d.errorf(nil, "", "invalid JSON: %v", err)
		return nil, nil
	}
	return d.parse(y), nil
}

// sameNodes reports the first difference between two trees, as the
// walker could see it: every field of every node, "" when there is none.
func sameNodes(want, got *yaml.Node, path string) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil || got == nil:
		return fmt.Sprintf("%s: want %v, got %v", path, want, got)
	}
	w, g := *want, *got
	w.Content, g.Content = nil, nil
	if !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("%s: want %+v, got %+v", path, w, g)
	}
	if (want.Content == nil) != (got.Content == nil) || len(want.Content) != len(got.Content) {
		return fmt.Sprintf("%s: want %d children (nil %t), got %d (nil %t)", path,
			len(want.Content), want.Content == nil, len(got.Content), got.Content == nil)
	}
	for i := range want.Content {
		if diff := sameNodes(want.Content[i], got.Content[i], index(path, i)); diff != "" {
			return diff
		}
	}
	return ""
}

// checkJSONTree holds jsonTree and DecodeJSON to the old path on data:
// the same nodes, the same service, the same errors.
func checkJSONTree(t *testing.T, data []byte) {
	t.Helper()
	if json.Valid(data) {
		d := newDecoder("", "JSON", false, testZones)
		want, wantErr := yamlTreeOfJSON(d, data)
		got, gotErr := jsonTree(data)
		switch {
		case want == nil && wantErr == nil:
			t.Fatalf("%.200q: yaml.v3 refuses the rewritten JSON: %v", data, d.err())
		case !reflect.DeepEqual(wantErr, gotErr):
			t.Fatalf("%.200q: want error %v, got %v", data, wantErr, gotErr)
		}
		if diff := sameNodes(want, got, "root"); diff != "" {
			t.Fatalf("%.200q: %s", data, diff)
		}
		if !reflect.DeepEqual(CheckJSON(data), wantErr) {
			t.Fatalf("%.200q: CheckJSON says %v, want %v", data, CheckJSON(data), wantErr)
		}
	}
	want, wantErr := decodeJSONViaYAML(data, testZones)
	got, gotErr := DecodeJSON(data, testZones)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%.200q: want service %+v, got %+v", data, want, got)
	}
	if !reflect.DeepEqual(wantErr, gotErr) {
		t.Fatalf("%.200q: want error %v, got %v", data, wantErr, gotErr)
	}
}

// jsonTreeCases are bodies where building the nodes straight from JSON
// could go astray: escapes, characters YAML writes escaped, numbers
// yaml.v3 resolves in different ways, long keys, repeated keys, nesting.
var jsonTreeCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5`, `1e3`, `-1E+2`, `1.0e-5`, `true`, `false`, `null`,
	` { "name" : "a" , "ttl" : 30 } `,
	"\t\r\n{\"name\":\n\"a\"}\n",
	`{"name": "a", "ttl": 9223372036854775807}`,
	`{"name": "a", "ttl": 999999999999999999}`, `{"name": "a", "ttl": -999999999999999999}`,
	`{"name": "a", "ttl": 1000000000000000000}`, `{"name": "a", "ttl": -9223372036854775808}`,
	`{"name": "a", "ttl": 9223372036854775808}`,
	`{"name": "a", "ttl": 18446744073709551616}`,
	`{"name": "a", "ttl": 123456789012345678901234567890}`,
	`{"name": "a", "ttl": -9223372036854775809}`,
	`{"name": "a", "ttl": 30.0}`,
	`{"name": "a", "ttl": 3e1}`,
	`{"name": "a", "ttl": 1e400}`,
	`{"name": "a", "ttl": "30s"}`,
	`{"name": "a", "ttl": [], "check": {}}`,
	`{"name": "a\/b\"c\\d\b\f\n\r\t\u0000\u001f\u007f\u0080\u009f\u00e9\u2028\ufeff\uffff"}`,
	`{"name": "a", "connection": {"K": "\ud83d\ude00 \ud83d \ude00 \udbff\udfff"}}`,
	"{\"name\": \"a\", \"connection\": {\"K\": \"\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xff \xc3 \xed\xa0\x80\"}}",
	"{\"name\": \"\xff\", \"x\xfe\": 1, \"\xff\": 2, \"\xfe\": 3}",
	`{"name": "a", "connection": {"": "", " ": " ", "a b": "c", "<<": "m", "?": ":", "#": "&x", "*y": "!z"}}`,
	`{"name": "a", "ports": [{"name": "db", "port": 5432, "protocol": "tcp"}], "endpoints": ["10.0.0.1", {"address": "10.0.0.2", "port": 5433, "name": "b", "priority": 1, "weight": 2, "disabled": true}], "check": {"type": "tcp", "port": "db"}}`,
	`{"name": "a", "ports": [{"name": "db", "port": "5432"}], "endpoints": [1, null, true, [], {}], "allow": "x", "secrets_allow": [1.5]}`,
	`{"name": "a", "name": "b", "x": {"k": {"k": 1, "k": 2}}, "endpoints": [{"address": 1}, {"address": 2, "address": 3}], "y": [[{}, {"z": 1, "z": 2}]]}`,
	`{"name": "a", "bogus": 1, "Name": 2, "TTL": 3, "endpoint": [], "ttl": "x"}`,
	`{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10, "a": 11, "i": 12}`,
	`{"name": "a", "check": {"type": "http", "headers": {"X-Token": "1", "X-Token": "2"}}}`,
	`{"name": "` + strings.Repeat("x", 2000) + `", "` + strings.Repeat("k", 1100) + `": 1}`,
	`{"name": "` + strings.Repeat("\\u00e9", 1100) + `"}`,
	strings.Repeat("[", 100) + strings.Repeat("]", 100),
	strings.Repeat(`{"a": `, 100) + "1" + strings.Repeat("}", 100),
	// Not JSON: the old path's syntax errors, which DecodeJSON keeps.
	`{"name":`, `{"name": "a"} x`, `{"name": 'a'}`, "", " ", `{"a": 01}`, `{"a": "\x"}`,
}

func TestJSONTreeMatchesYAML(t *testing.T) {
	for _, in := range append(append(jsonTreeCases, fuzzSeedsJSON...), fuzzSeedsEndpoint...) {
		checkJSONTree(t, []byte(in))
	}
}

// TestJSONTreeDeep is the deepest JSON there is: encoding/json refuses
// more than 10000 levels, and yaml.v3 takes as many.
func TestJSONTreeDeep(t *testing.T) {
	for _, depth := range []int{10000, 10001} {
		checkJSONTree(t, []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)))
		checkJSONTree(t, []byte(`{"name": "a", "x": `+strings.Repeat(`{"k": `, depth-1)+"1"+strings.Repeat("}", depth)))
	}
}

// FuzzJSONTreeMatchesYAML holds jsonTree to the old path on any input.
func FuzzJSONTreeMatchesYAML(f *testing.F) {
	for _, in := range append(jsonTreeCases, fuzzSeedsJSON...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONTree(t, data)
	})
}

// TestDecodeJSONReusesNodesSafely: the nodes of a decoding are reused by
// the next (withJSONTree); a service decoded before keeps what it had.
func TestDecodeJSONReusesNodesSafely(t *testing.T) {
	first := []byte(fuzzSeedsJSON[1])
	s, err := DecodeJSON(first, testZones)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeJSONViaYAML(first, testZones)
	for _, in := range jsonTreeCases {
		_, _ = DecodeJSON([]byte(in), testZones)
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("after other decodings, the service is %+v, want %+v", s, want)
	}
}
