package main

import (
	"context"
	"net/http"
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

	assert.Equal(t, result{0, "endpoint 10.0.0.10 of web.shop added\n", ""}, got)
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
	assert.Equal(t, result{0,
		"endpoint fd00::1 of web.shop updated\nendpoint fd00::1 of web.shop added\n",
		"tpdnsctl: renew endpoint fd00::1 of web.shop: store unavailable\n"}, got)
}

func TestHeartbeatFirstPutFails(t *testing.T) {
	api := newFakeAPI(t, map[string][]reply{"PUT /v1/services/nope/endpoints/10.0.0.10": {{404, `{"error": "no service nope"}`}}})
	got := runApp(context.Background(), apiEnv(api), false, "endpoints", "heartbeat", "nope", "10.0.0.10", "--ttl", "30s")
	assert.Equal(t, result{1, "", "tpdnsctl: no service nope\n"}, got)
	assert.Len(t, api.seen(), 1)
}
