package config

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeJSONRoundTrips(t *testing.T) {
	for _, file := range []string{"testdata/spec-example.yaml"} {
		services, err := LoadFile(file, Options{})
		require.NoError(t, err)
		for _, s := range services {
			b, err := EncodeJSON(s)
			require.NoError(t, err)
			back, err := DecodeJSON(b, Options{})
			require.NoError(t, err, "%s", b)
			assert.Equal(t, s, back, "%s", b)
		}
	}
	services, err := ParseYAML("x.yaml", []byte(`services:
  - name: web
    endpoints: ["2001:db8::1", "[2001:db8::2]:8443", {address: 192.0.2.1, name: one, weight: 0}]
    ports: [{name: https, port: 443}]
    check: {type: http, expect: 204, interval: 90s, timeout: 1m, port: 443}
  - name: hosts
    endpoints: [a.example.com, b.example.com]
  - name: oracle
    endpoints: [192.0.2.2]
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: ORCL}
`), Options{})
	require.NoError(t, err)
	for _, s := range services {
		b, err := EncodeJSON(s)
		require.NoError(t, err)
		back, err := DecodeJSON(b, Options{})
		require.NoError(t, err, "%s", b)
		assert.Equal(t, s, back, "%s", b)
	}
	b, _ := EncodeJSON(services[0])
	assert.JSONEq(t, `{"name":"web",
		"ports":[{"name":"https","port":443,"protocol":"tcp"}],
		"endpoints":[
			{"address":"2001:db8::1","priority":0,"weight":1,"disabled":false},
			{"address":"2001:db8::2","port":8443,"priority":0,"weight":1,"disabled":false},
			{"address":"192.0.2.1","name":"one","priority":0,"weight":0,"disabled":false}],
		"check":{"type":"http","port":"443","path":"/","expect":"204","interval":"1m30s","timeout":"1m","rise":1,"fall":3}}`, string(b))
	b, _ = EncodeJSON(services[2])
	assert.JSONEq(t, `{"name":"oracle",
		"ports":[{"name":"db","port":1521,"protocol":"tcp"}],
		"endpoints":[{"address":"192.0.2.2","priority":0,"weight":1,"disabled":false}],
		"check":{"type":"tns","service_name":"ORCL","path":"/","expect":"200-399","interval":"10s","timeout":"2s","rise":1,"fall":3}}`, string(b))
}

// TestEncodeYAMLRoundTrips: a registry file written by EncodeYAML reads
// back as the same services, and is written again byte for byte.
func TestEncodeYAMLRoundTrips(t *testing.T) {
	spec, err := os.ReadFile("testdata/spec-example.yaml")
	require.NoError(t, err)
	files := append(slices.Clone(fuzzSeedsYAML), string(spec), `services:
  - name: web
    endpoints: ["2001:db8::1", "[2001:db8::2]:8443", {address: 192.0.2.1, name: one, weight: 0}, {address: 192.0.2.3, port: 80, disabled: true, priority: 3}]
    ports: [{name: https, port: 443}]
    check: {type: http, expect: 204, interval: 90s, timeout: 1m, port: 443, headers: {Authorization: "Bearer x"}, host: web.example.com}
  - name: hosts
    endpoints: [a.example.com, "b.example.com:8080"]
    ports: [{name: dns, port: 53, protocol: udp}]
    connection: {A: "1521", B: "yes", C: "two\nlines", D: "", E: "${A}:$$", F: "- x", G: "a: b", H: " lead"}
    secrets_keys: [app-finance]
    ttl: 0
  - name: oracle
    endpoints: [192.0.2.2, {address: 192.0.2.9, weight: 2}]
    ports: [{name: db, port: 1521}, {name: em, port: 5500}]
    check: {type: tns, service_name: ORCL, interval: 3s, rise: 2, fall: 1, tls_skip_verify: true, path: /x}
  - name: short
    ports: [{name: db, port: 1}]
    check: {type: tcp, interval: 1s}
`)
	valid := 0
	for i, in := range files {
		services, err := ParseYAML("in.yaml", []byte(in), testZones)
		if err != nil || len(services) == 0 {
			continue
		}
		valid++
		out := EncodeYAML(uncommented(services))
		back, err := ParseYAML("out.yaml", out, testZones)
		require.NoError(t, err, "file %d:\n%s", i, out)
		assert.Equal(t, services, back, "file %d:\n%s", i, out)
		assert.Equal(t, string(out), string(EncodeYAML(uncommented(back))), "file %d", i)
	}
	assert.Equal(t, 3, valid, "the valid files among them")

	services, err := ParseYAML("x.yaml", []byte(files[len(files)-1]), testZones)
	require.NoError(t, err)
	out := EncodeYAML([]Commented{
		{Service: services[0], Comments: []string{"one", "two"}},
		{Service: services[2]},
		{Service: services[3]},
	})
	assert.Equal(t, `services:
  # one
  # two
  - name: web
    ports:
      - name: https
        port: 443
    endpoints:
      - 2001:db8::1
      - '[2001:db8::2]:8443'
      - address: 192.0.2.1
        name: one
        weight: 0
      - address: 192.0.2.3
        port: 80
        priority: 3
        disabled: true
    check:
      type: http
      port: 443
      host: web.example.com
      headers:
        Authorization: Bearer x
      expect: "204"
      interval: 1m30s
      timeout: 1m
  - name: oracle
    ports:
      - name: db
        port: 1521
      - name: em
        port: 5500
    endpoints:
      - 192.0.2.2
      - address: 192.0.2.9
        weight: 2
    check:
      type: tns
      service_name: ORCL
      path: /x
      tls_skip_verify: true
      interval: 3s
      rise: 2
      fall: 1
  - name: short
    ports:
      - name: db
        port: 1
    check:
      type: tcp
      interval: 1s
`, string(out))
	assert.Equal(t, "services: []\n", string(EncodeYAML(nil)))
}

// uncommented is services as EncodeYAML takes them, without comments.
func uncommented(services []Service) []Commented {
	c := make([]Commented, len(services))
	for i, s := range services {
		c[i] = Commented{Service: s}
	}
	return c
}
