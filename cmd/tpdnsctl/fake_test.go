package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testToken is the bearer token every test gives unless it says otherwise.
const testToken = "t0ken"

// testNow is the clock of every test; the fixtures' times are before it.
func testNow() time.Time { return time.Date(2026, 11, 26, 21, 50, 0, 0, time.UTC) }

// recorded is a request as the fake API saw it.
type recorded struct {
	Method string
	Path   string // escaped, as sent
	Auth   string
	Body   string
	// The preconditions sent, if any.
	IfMatch, IfNoneMatch string
}

// reply is a canned answer of the fake API.
type reply struct {
	status int
	body   string
}

// fakeAPI answers "METHOD /escaped/path" with canned replies, the n-th
// request to a route with the n-th reply (the last one over and over),
// and records every request.
type fakeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	// etags are the ETag headers of the replies, by route.
	etags map[string]string
}

func newFakeAPI(t *testing.T, replies map[string][]reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{etags: map[string]string{}}
	seen := map[string]int{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		route := r.Method + " " + r.URL.EscapedPath()
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(body),
			r.Header.Get("If-Match"), r.Header.Get("If-None-Match")})
		rs, n := replies[route], seen[route]
		seen[route]++
		etag := f.etags[route]
		f.mu.Unlock()
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		if len(rs) == 0 {
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprintf(w, `{"error": "fake: no reply for %s"}`, route)
			return
		}
		rep := rs[min(n, len(rs)-1)]
		if rep.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(f.Close)
	return f
}

// seen returns the requests so far.
func (f *fakeAPI) seen() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// result is what one run of tpdnsctl did.
type result struct {
	code           int
	stdout, stderr string
}

// runApp runs tpdnsctl with env as its whole environment, the test clock,
// and colour as asked.
func runApp(ctx context.Context, env map[string]string, color bool, args ...string) result {
	var stdout, stderr bytes.Buffer
	a := app{
		stdout: &stdout,
		stderr: &stderr,
		getenv: envFunc(env),
		now:    testNow,
		color:  color,
	}
	code := a.run(ctx, args)
	return result{code, stdout.String(), stderr.String()}
}

// apiEnv is the environment that points tpdnsctl at f with testToken.
func apiEnv(f *fakeAPI) map[string]string {
	return map[string]string{"TPDNS_SERVER": f.URL, "TPDNS_TOKEN": testToken}
}

// get is a GET of path as tpdnsctl sends it.
func get(path string) recorded {
	return recorded{Method: http.MethodGet, Path: path, Auth: "Bearer " + testToken}
}

// envFunc is env as a getenv.
func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}
