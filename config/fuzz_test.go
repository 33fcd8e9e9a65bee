package config

import (
	"errors"
	"testing"
)

// fuzzSeedsYAML are valid and broken registry files to start fuzzing from.
var fuzzSeedsYAML = []string{
	"",
	"services:\n",
	`services:
  - name: oracle.finance
    ports:
      - {name: db, port: 1521, protocol: tcp}
    endpoints:
      - 10.0.0.10
      - address: 10.0.0.11
        port: 1522
        name: standby
        priority: 10
        weight: 5
        disabled: false
      - "[2001:db8::1]:1523"
    connection: {DB_NAME: orcl, DB_PORT: 1521}
    secrets: {DB_PASSWORD: s3cret}
    secrets_allow: [10.244.0.0/16]
    allow: [10.244.0.0/16, 127.0.0.1]
    ttl: 30
    check:
      type: https
      port: db
      path: /healthz
      host: db.example.com
      headers: {X-Probe: tpdns}
      expect: 200-399
      tls_skip_verify: true
      interval: 10s
      timeout: 2s
      rise: 1
      fall: 3
  - name: files
    endpoints: [nas1.example.com, "nas2.example.com:2049"]
`,
	`services:
  - name: a
    ports: &p [{name: db, port: 1}]
    check: &c {type: tcp}
  - name: b
    ports: *p
    check: {<<: *c, interval: 5s}
`,
	"services:\n  - &s\n    name: a\n    check: *s\n",
	"a: &a [x, x]\nb: &b [*a, *a]\nservices: [*b]\n",
	"services:\n  - name: a\n    ports: [\n",
	"services:\n  - name: _a\n    endpoints: [10.0.0.1, db.example.com, fe80::1%eth0]\n",
	"services: []\n---\nservices: []\n",
	"- 1\n",
}

// fuzzSeedsJSON are valid and broken API bodies to start fuzzing from.
var fuzzSeedsJSON = []string{
	`{"name": "a"}`,
	`{"name": "oracle.finance", "ports": [{"name": "db", "port": 1521}], "endpoints": ["10.0.0.10", {"address": "10.0.0.11", "name": "standby"}], "connection": {"URL": "a\/b"}, "check": {"type": "tcp"}}`,
	`{"name": "a", "ttl": "30"}`,
	`{"name": "a", "name": "b"}`,
	`{"name":`,
	`{"name": "a"} x`,
	`[]`,
	`null`,
	"{\"name\": \"a\", \"connection\": {\"K\": \"\x7f\xff\\ud83d\"}}",
	`{"name": "a", "endpoints": [{"address": "10.0.0.1", "address": "0.0.0.0"}], "ttl": 86401}`,
	`{"name": "a", "x": [[{"k": 1, "k": 2}]], "connection": {"A": "1", "A": "2"}}`,
}

// fuzzSeedsEndpoint are valid and broken endpoint PUT bodies.
var fuzzSeedsEndpoint = []string{
	``,
	`null`,
	`{"port": 5433, "name": "standby", "priority": 10, "weight": 0, "disabled": true, "ttl": 30}`,
	`{"ttl": 9223372037}`,
	`{"ttl": 30, "ttl": 1}`,
	`{"ttl": "30s", "TTL": 1, "weigth": -1}`,
	`[{"ttl": 1}]`,
	`{"ttl": 1`,
}

// checkResult holds ParseYAML and DecodeJSON to their contract: services
// or a non-empty ErrorList of errors with messages, never both.
func checkResult(t *testing.T, services []Service, err error) {
	t.Helper()
	if err == nil {
		for i, s := range services {
			if s.Name == "" {
				t.Fatalf("service %d has no name", i)
			}
		}
		return
	}
	if services != nil {
		t.Fatalf("services %v with error %v", services, err)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %#v is not a non-empty ErrorList", err)
	}
	for _, e := range list {
		if e == nil || e.Msg == "" {
			t.Fatalf("error without message in %q", err)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	for _, s := range fuzzSeedsYAML {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		services, err := ParseYAML("services.yaml", data, testZones)
		checkResult(t, services, err)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeedsJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeJSON(data, testZones)
		if err == nil {
			checkResult(t, []Service{s}, nil)
			return
		}
		if s.Name != "" {
			t.Fatalf("service %v with error %v", s, err)
		}
		checkResult(t, nil, err)
	})
}

func FuzzDecodeEndpointJSON(f *testing.F) {
	for _, s := range fuzzSeedsEndpoint {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeEndpointJSON(data)
		if err == nil {
			if p.TTL != 0 && (p.TTL < MinTTL || p.TTL > MaxTTL) {
				t.Fatalf("ttl %v out of bounds", p.TTL)
			}
			return
		}
		if p != (EndpointPatch{}) {
			t.Fatalf("patch %+v with error %v", p, err)
		}
		checkResult(t, nil, err)
	})
}
