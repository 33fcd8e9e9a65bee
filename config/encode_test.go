package config

import (
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
