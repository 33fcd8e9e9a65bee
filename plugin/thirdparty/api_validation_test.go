package thirdparty_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The API's side of the validation of issue 15 (the config package holds
// the rules): ttl bounds, keys given twice, endpoint addresses no client can
// connect to, and a check's headers masked like secrets.

func TestAPIValidation(t *testing.T) {
	f := startAPIServer(t, "")
	status, _ := f.do(t, "PUT", "/v1/services/db", `{"ports":[{"name":"db","port":5432}],"endpoints":["10.1.0.1"]}`)
	require.Equal(t, http.StatusCreated, status)
	_, before := f.do(t, "GET", "/v1/services", "")

	const db, ep = "/v1/services/db", "/v1/services/db/endpoints/"
	for _, c := range []struct {
		name, method, path, body string
		want                     string // the 400's body
	}{
		{"service ttl beyond a DNS TTL", "PUT", "/v1/services/new", `{"ttl":9223372037}`, `{"error":"9223372037 is out of range 0-2147483647","field":"ttl"}`},
		{"heartbeat ttl of the issue", "PUT", ep + "10.1.0.9", `{"ttl":9223372037}`, `{"error":"9223372037 is out of range 1-86400 (seconds: 1s to 24h)","field":"ttl"}`},
		{"heartbeat ttl over a day", "PUT", ep + "10.1.0.9", `{"ttl":86401}`, `{"error":"86401 is out of range 1-86400 (seconds: 1s to 24h)","field":"ttl"}`},
		{"heartbeat ttl 0", "PUT", ep + "10.1.0.9", `{"ttl":0}`, `{"error":"0 is out of range 1-86400 (seconds: 1s to 24h)","field":"ttl"}`},
		{"negative heartbeat ttl", "PUT", ep + "10.1.0.9", `{"ttl":-1}`, `{"error":"-1 is out of range 1-86400 (seconds: 1s to 24h)","field":"ttl"}`},
		{"fractional heartbeat ttl", "PUT", ep + "10.1.0.9", `{"ttl":0.5}`, `{"error":"0.5 is not a whole number of seconds","field":"ttl"}`},

		// Without "name" in the body the API adds it, which once lost a key
		// given twice; with it, the same body was refused.
		{"key twice, no name", "PUT", "/v1/services/new", `{"endpoints":["10.1.0.2"],"endpoints":["10.1.0.3"]}`, `{"error":"repeated key","field":"endpoints"}`},
		{"key twice, with the name", "PUT", "/v1/services/new", `{"name":"new","endpoints":["10.1.0.2"],"endpoints":["10.1.0.3"]}`, `{"error":"repeated key","field":"endpoints"}`},
		{"name twice", "PUT", "/v1/services/new", `{"name":"new","name":"other"}`, `{"error":"repeated key","field":"name"}`},
		{"key twice in a list item", "PUT", db, `{"endpoints":[{"address":"10.1.0.1","weight":1,"weight":9}]}`, `{"error":"repeated key","field":"endpoints[0].weight"}`},
		{"key twice in connection", "PUT", db, `{"connection":{"A":"1","A":"2"}}`, `{"error":"repeated key","field":"connection.A"}`},
		{"key twice in headers", "PUT", db, `{"check":{"type":"http","headers":{"Authorization":"a","Authorization":"b"}}}`, `{"error":"repeated key","field":"check.headers.Authorization"}`},
		{"every key twice", "PUT", db, `{"ttl":1,"ttl":2,"allow":[],"allow":[]}`,
			`{"error":"repeated key","field":"ttl","errors":[{"error":"repeated key","field":"ttl"},{"error":"repeated key","field":"allow"}]}`},
		{"endpoint key twice", "PUT", ep + "10.1.0.9", `{"weight":1,"weight":2}`, `{"error":"repeated key","field":"weight"}`},
		{"endpoint ttl twice", "PUT", ep + "10.1.0.9", `{"ttl":30,"ttl":9223372037}`, `{"error":"repeated key","field":"ttl"}`},
		{"endpoint key in another case", "PUT", ep + "10.1.0.9", `{"ttl":30,"TTL":60}`, `{"error":"unknown field; did you mean \"ttl\"?","field":"TTL"}`},

		{"unspecified endpoint", "PUT", db, `{"endpoints":["0.0.0.0"]}`, `{"error":"\"0.0.0.0\" is the unspecified address, which no client can connect to","field":"endpoints[0]"}`},
		{"unspecified IPv6 endpoint", "PUT", db, `{"endpoints":[{"address":"::"}]}`, `{"error":"\"::\" is the unspecified address, which no client can connect to","field":"endpoints[0].address"}`},
		{"broadcast endpoint", "PUT", db, `{"endpoints":["10.1.0.1","255.255.255.255"]}`, `{"error":"\"255.255.255.255\" is the broadcast address, which no client can connect to","field":"endpoints[1]"}`},
		{"multicast endpoint", "PUT", db, `{"endpoints":["224.0.0.251:5432"]}`, `{"error":"\"224.0.0.251:5432\" is a multicast address, which no client can connect to","field":"endpoints[0]"}`},
		{"registered unspecified", "PUT", ep + "0.0.0.0", ``, `{"error":"\"0.0.0.0\" is the unspecified address, which no client can connect to","field":"address"}`},
		{"registered IPv6 unspecified", "PUT", ep + "::", ``, `{"error":"\"::\" is the unspecified address, which no client can connect to","field":"address"}`},
		{"registered mapped unspecified", "PUT", ep + "::ffff:0.0.0.0", `{"ttl":30}`, `{"error":"\"::ffff:0.0.0.0\" is the unspecified address, which no client can connect to","field":"address"}`},
		{"registered this network", "PUT", ep + "0.0.0.1", ``, `{"error":"\"0.0.0.1\" is in 0.0.0.0/8, \"this network\", which no client can connect to","field":"address"}`},
		{"registered broadcast", "PUT", ep + "255.255.255.255", ``, `{"error":"\"255.255.255.255\" is the broadcast address, which no client can connect to","field":"address"}`},
		{"registered multicast", "PUT", ep + "239.1.2.3", ``, `{"error":"\"239.1.2.3\" is a multicast address, which no client can connect to","field":"address"}`},
		{"registered IPv6 multicast", "PUT", ep + "ff02::fb", ``, `{"error":"\"ff02::fb\" is a multicast address, which no client can connect to","field":"address"}`},
	} {
		status, body := f.do(t, c.method, c.path, c.body)
		assert.Equal(t, http.StatusBadRequest, status, "%s: %s", c.name, body)
		assert.JSONEq(t, c.want, body, c.name)
	}
	_, after := f.do(t, "GET", "/v1/services", "")
	assert.JSONEq(t, before, after, "a refused write changes nothing")
	status, _ = f.do(t, "GET", "/v1/services/new", "")
	assert.Equal(t, http.StatusNotFound, status)
}

func TestAPITTLBounds(t *testing.T) {
	f := startAPIServer(t, "")
	for _, ttl := range []int{1, 86400} {
		status, body := f.do(t, "PUT", "/v1/services/db", fmt.Sprintf(`{"endpoints":["10.1.0.1"],"ttl":%d}`, ttl))
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, body)
		var got struct{ TTL int }
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		assert.Equal(t, ttl, got.TTL)
	}

	start := time.Now()
	status, body := f.do(t, "PUT", "/v1/services/db/endpoints/10.1.0.2", `{"ttl":86400}`)
	require.Equal(t, http.StatusCreated, status, body)
	var got struct {
		Endpoints []struct {
			Address string
			Expires *time.Time
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got.Endpoints, 2)
	assert.Nil(t, got.Endpoints[0].Expires, "the service's own endpoint does not expire")
	require.NotNil(t, got.Endpoints[1].Expires)
	assert.WithinRange(t, *got.Endpoints[1].Expires, start.Add(24*time.Hour-time.Second), time.Now().Add(24*time.Hour+time.Second),
		"the longest heartbeat expires in a day")
}

func TestAPIMasksCheckHeaders(t *testing.T) {
	// A health-checked endpoint that records the Authorization header of
	// every probe.
	var mu sync.Mutex
	var seen []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	registry := fmt.Sprintf(`services:
  - name: oracle.finance
    ports: [{name: db, port: 1521}]
    endpoints: [10.0.0.10]
  - name: web.file
    ports: [{name: http, port: %d}]
    endpoints: [127.0.0.1]
    check: {type: http, headers: {Authorization: Bearer file-s3cret, X-Probe: tpdns}, interval: 1s}
`, port)
	f := startAPIFixture(t, "", "", map[string]string{"services.yaml": registry})
	status, body := f.do(t, "PUT", "/v1/services/web.store", fmt.Sprintf(
		`{"ports":[{"name":"http","port":%d}],"endpoints":["127.0.0.1"],"secrets":{"PASS":"p"},"check":{"type":"http","headers":{"Authorization":"Bearer store-s3cret"},"interval":"1s"}}`, port))
	require.Equal(t, http.StatusCreated, status, body)
	shown := []string{body}

	for _, path := range []string{"/v1/services", "/v1/services/web.store", "/v1/services/web.file"} {
		status, body := f.do(t, "GET", path, "")
		require.Equal(t, http.StatusOK, status, body)
		shown = append(shown, body)
	}
	for _, body := range shown {
		assert.NotContains(t, body, "s3cret", "no header value is shown")
	}
	var one struct {
		Secrets map[string]string
		Check   struct{ Headers map[string]string }
	}
	_, body = f.do(t, "GET", "/v1/services/web.file", "")
	require.NoError(t, json.Unmarshal([]byte(body), &one))
	assert.Equal(t, map[string]string{"Authorization": "***", "X-Probe": "***"}, one.Check.Headers, "the names are shown, the values masked")
	_, body = f.do(t, "GET", "/v1/services/web.store", "")
	one.Secrets, one.Check.Headers = nil, nil
	require.NoError(t, json.Unmarshal([]byte(body), &one))
	assert.Equal(t, map[string]string{"Authorization": "***"}, one.Check.Headers)
	assert.Equal(t, map[string]string{"PASS": "***"}, one.Secrets)

	// The probes send the headers as written.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if strings.Contains(got, "Bearer file-s3cret") && strings.Contains(got, "Bearer store-s3cret") {
			break
		}
		require.False(t, time.Now().After(deadline), "the probes did not send the headers as written: %q", got)
		time.Sleep(50 * time.Millisecond)
	}
}
