package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heartbeat runs endpoints heartbeat against api until it has seen n
// requests, then cancels it as a signal would, and returns what it did.
func heartbeat(t *testing.T, api *fakeAPI, n int, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- runApp(ctx, apiEnv(api), false, args...) }()

	deadline := time.After(5 * time.Second)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for len(api.seen()) < n {
		select {
		case r := <-done:
			t.Fatalf("heartbeat ended before %d requests: %+v", n, r)
		case <-deadline:
			t.Fatalf("heartbeat sent %d requests in 5s, want %d", len(api.seen()), n)
		case <-poll.C:
		}
	}
	cancel()
	select {
	case r := <-done:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("heartbeat did not end when cancelled")
		return result{}
	}
}

func TestHeartbeat(t *testing.T) {
	const path = "/v1/services/web.shop/endpoints/10.0.0.10"
	api := newFakeAPI(t, map[string][]reply{"PUT " + path: {{201, webStoreJSON}, {200, webStoreJSON}}})
	got := heartbeat(t, api, 3, "endpoints", "heartbeat", "web.shop", "10.0.0.10", "--ttl", "300ms", "--weight", "2")

	// The renewals are not reported without -v; their count is, at the end.
	assert.Equal(t, 0, got.code)
	assert.Empty(t, got.stderr)
	assert.Regexp(t, `^endpoint 10.0.0.10 of web.shop added\n`+
		`endpoint 10.0.0.10 of web.shop: [1-9][0-9]* renewals?, 0 failed; left to expire within 1s\n$`, got.stdout)
	sent := api.seen()
	require.GreaterOrEqual(t, len(sent), 3)
	for _, r := range sent {
		// Every renewal the same; and no DELETE at the end.
		assert.Equal(t, recorded{Method: http.MethodPut, Path: path, Auth: "Bearer " + testToken, Body: `{"weight":2,"ttl":1}`}, r)
	}
}

func TestHeartbeatRidesOutFailures(t *testing.T) {
	const path = "/v1/services/web.shop/endpoints/fd00::1"
	api := newFakeAPI(t, map[string][]reply{"PUT " + path: {
		{200, webStoreJSON},
		{503, `{"error": "store unavailable"}`},
		// Expired meanwhile: added again.
		{201, `{"name": "web.shop"}`},
		{200, webStoreJSON},
	}})
	got := heartbeat(t, api, 4, "endpoints", "heartbeat", "web.shop", "fd00::1", "--ttl=150ms")
	assert.Equal(t, 0, got.code)
	assert.Regexp(t, `^endpoint fd00::1 of web.shop updated\nendpoint fd00::1 of web.shop added\n`+
		`endpoint fd00::1 of web.shop: [1-9][0-9]* renewals?, 1 failed; left to expire within 1s\n$`, got.stdout)
	assert.Equal(t, "tpdnsctl: renew endpoint fd00::1 of web.shop: store unavailable\n", got.stderr)
}

// TestHeartbeatVerbose: -v reports every renewal, and the summary counts
// them; with -o json the replies are the output and the summary goes to
// stderr.
func TestHeartbeatVerbose(t *testing.T) {
	const path = "/v1/services/web.shop/endpoints/10.0.0.10"
	api := newFakeAPI(t, map[string][]reply{"PUT " + path: {{200, `{"name":"web.shop"}`}}})
	got := heartbeat(t, api, 4, "endpoints", "heartbeat", "web.shop", "10.0.0.10", "--ttl", "1", "-v")
	require.Equal(t, 0, got.code, got.stderr)
	assert.Empty(t, got.stderr)
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 4, got.stdout)
	assert.Equal(t, "endpoint 10.0.0.10 of web.shop updated", lines[0])
	renewals := lines[1 : len(lines)-1]
	for _, l := range renewals {
		assert.Equal(t, "endpoint 10.0.0.10 of web.shop renewed", l)
	}
	assert.Equal(t, fmt.Sprintf("endpoint 10.0.0.10 of web.shop: %s, 0 failed; left to expire within 1s", plural(len(renewals), "renewal")), lines[len(lines)-1])

	api = newFakeAPI(t, map[string][]reply{"PUT " + path: {{200, `{"name":"web.shop"}`}}})
	got = heartbeat(t, api, 3, "endpoints", "heartbeat", "web.shop", "10.0.0.10", "--ttl", "1s", "-v", "-o", "json")
	require.Equal(t, 0, got.code, got.stderr)
	// The last request seen may be cut short by the cancel: two replies at
	// least of the three.
	assert.Regexp(t, `^(\{\n  "name": "web.shop"\n\}\n){2,}$`, got.stdout)
	assert.Regexp(t, `^endpoint 10.0.0.10 of web.shop: [1-9][0-9]* renewals?, 0 failed; left to expire within 1s\n$`, got.stderr)
}

func TestHeartbeatFirstPutFails(t *testing.T) {
	api := newFakeAPI(t, map[string][]reply{"PUT /v1/services/nope/endpoints/10.0.0.10": {{404, `{"error": "no service nope"}`}}})
	got := runApp(context.Background(), apiEnv(api), false, "endpoints", "heartbeat", "nope", "10.0.0.10", "--ttl", "30s")
	assert.Equal(t, result{1, "", "tpdnsctl: no service nope\n"}, got)
	assert.Len(t, api.seen(), 1)
}
