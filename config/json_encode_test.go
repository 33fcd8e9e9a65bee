package config

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDocumentFieldsKnown: appendDocument writes the fields of Document
// by hand; a field added to Document (or its parts) must be added there
// too, and to this list.
func TestDocumentFieldsKnown(t *testing.T) {
	want := map[reflect.Type][]string{
		reflect.TypeFor[Document](): {"name", "ports,omitempty", "endpoints,omitempty", "connection,omitempty", "secrets,omitempty",
			"secrets_allow,omitempty", "secrets_keys,omitempty", "allow,omitempty", "ttl,omitempty", "check,omitempty"},
		reflect.TypeFor[PortDocument](): {"name", "port", "protocol"},
		reflect.TypeFor[EndpointDoc]():  {"address", "port,omitempty", "name,omitempty", "priority", "weight", "disabled"},
		reflect.TypeFor[CheckDocument](): {"type", "service_name,omitempty", "port,omitempty", "path,omitempty", "host,omitempty",
			"headers,omitempty", "expect,omitempty", "tls_skip_verify,omitempty", "interval", "timeout", "rise", "fall"},
	}
	for typ, tags := range want {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Tag.Get("json"))
		}
		if !reflect.DeepEqual(got, tags) {
			t.Errorf("%s has the fields %q; appendDocument knows %q", typ, got, tags)
		}
	}
}

// encodeStrings are strings that encoding/json escapes one way or another.
var encodeStrings = []string{
	"", "a", `"\`, "<a href='x'>&amp;</a>", "\x00\x01\b\f\n\r\t\x1f\x7f", "é€😀", "\u2028\u2029",
	"\xff", "a\xc3", "\xed\xa0\x80", "\ufffd", "\ufeff",
}

// checkAppendDocument holds appendDocument to json.Marshal on d.
func checkAppendDocument(t *testing.T, d Document) {
	t.Helper()
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendDocument(nil, d); string(got) != string(want) {
		t.Fatalf("appendDocument writes\n%s\njson.Marshal\n%s", got, want)
	}
}

func TestAppendDocumentMatchesMarshal(t *testing.T) {
	ttl := uint32(4294967295)
	zero := uint32(0)
	checkAppendDocument(t, Document{})
	checkAppendDocument(t, Document{Ports: []PortDocument{}, Endpoints: []EndpointDoc{}, Connection: map[string]string{}, SecretsAllow: []string{}, TTL: &zero, Check: &CheckDocument{}})
	for _, s := range encodeStrings {
		checkAppendDocument(t, Document{
			Name:         s,
			Ports:        []PortDocument{{Name: s, Port: 65535, Protocol: s}, {}},
			Endpoints:    []EndpointDoc{{Address: s, Port: 1, Name: s, Priority: 2, Weight: 65535, Disabled: true}, {}},
			Connection:   map[string]string{s: s, "b" + s: "", "a": s},
			Secrets:      map[string]string{s: s},
			SecretsAllow: []string{s, s},
			SecretsKeys:  []string{s},
			Allow:        []string{s, "10.0.0.0/8"},
			TTL:          &ttl,
			Check: &CheckDocument{Type: s, ServiceName: s, Port: s, Path: s, Host: s, Headers: map[string]string{s: s, "X": s},
				Expect: s, TLSSkipVerify: true, Interval: s, Timeout: s, Rise: -1, Fall: 1 << 40},
		})
	}
	// The documents of services as the decoders give them.
	for _, in := range append(append([]string{}, fuzzSeedsJSON...), jsonTreeCases...) {
		if s, err := DecodeJSON([]byte(in), testZones); err == nil {
			checkAppendDocument(t, NewDocument(s))
			doc, _ := EncodeJSON(s)
			if !IsEncoded(doc, s) {
				t.Errorf("IsEncoded(EncodeJSON(s), s) is false for %s", doc)
			}
		}
	}
	for _, in := range fuzzSeedsYAML {
		services, _ := ParseYAML("", []byte(in), testZones)
		for _, s := range services {
			checkAppendDocument(t, NewDocument(s))
		}
	}
}

func FuzzAppendDocument(f *testing.F) {
	for _, s := range encodeStrings {
		f.Add(s, s, uint16(1), true)
	}
	f.Fuzz(func(t *testing.T, a, b string, n uint16, flag bool) {
		ttl := uint32(n)
		checkAppendDocument(t, Document{
			Name: a, Ports: []PortDocument{{Name: b, Port: n, Protocol: a}},
			Endpoints:  []EndpointDoc{{Address: a, Port: n, Name: b, Priority: n, Disabled: flag}},
			Connection: map[string]string{a: b, b: a}, SecretsKeys: []string{a, b}, TTL: &ttl,
			Check: &CheckDocument{Type: a, Path: b, Headers: map[string]string{b: a}, TLSSkipVerify: flag, Rise: int(n)},
		})
	})
}
