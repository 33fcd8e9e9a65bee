package thirdparty_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/test"
)

// sseEvent is one block of an event stream: an event, or a comment.
type sseEvent struct {
	name, data string
	comment    string
}

// eventStream is an open GET /v1/events, read by a goroutine of its own.
type eventStream struct {
	resp   *http.Response
	blocks chan sseEvent
	done   chan struct{} // closed when the stream ended
}

// openEvents opens the event stream of f with token, and closes it when
// the test ends.
func openEvents(t *testing.T, f *apiFixture, token string) *eventStream {
	t.Helper()
	tr := &http.Transport{}
	req, err := http.NewRequest("GET", f.scheme+"://"+f.api+"/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	s := &eventStream{resp: resp, blocks: make(chan sseEvent, 1000), done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.done
		tr.CloseIdleConnections()
	})
	return s
}

func (s *eventStream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				s.blocks <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ev.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		default:
			ev.comment = "unexpected line " + line
		}
	}
}

// next returns the next event, skipping comments; it fails the test when
// none comes within.
func (s *eventStream) next(t *testing.T, within time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-s.blocks:
			if ev.comment != "" {
				continue
			}
			return ev
		case <-s.done:
			t.Fatal("the event stream ended")
		case <-deadline:
			t.Fatalf("no event within %s", within)
		}
	}
}

// nextJSON returns the next event, which must be called name, decoded.
func (s *eventStream) nextJSON(t *testing.T, name string, within time.Duration) map[string]any {
	t.Helper()
	ev := s.next(t, within)
	require.Equal(t, name, ev.name, "event %s %s", ev.name, ev.data)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(ev.data), &m), ev.data)
	return m
}

// ended reports whether the stream ends within.
func (s *eventStream) ended(within time.Duration) bool {
	timeout := time.After(within)
	for {
		select {
		case <-s.blocks:
		case <-s.done:
			return true
		case <-timeout:
			return false
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkedRegistry is a registry of services with a TCP check every 100ms,
// each name → its endpoints, on port.
func checkedRegistry(port string, services map[string][]string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range services {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  - name: %s\n    ports: [{name: db, port: %s}]\n    endpoints: [%s]\n    connection: {DB_USER: app}\n    secrets: {DB_PASSWORD: hunter2}\n    check: {type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 1}\n",
			name, port, strings.Join(services[name], ", "))
	}
	return b.String()
}

// waitState polls the API until the endpoint address of service is in
// state.
func (f *apiFixture) waitState(t *testing.T, service, address, state string) {
	t.Helper()
	require.Eventually(t, func() bool {
		status, body := f.do(t, "GET", "/v1/services/"+service, "")
		if status != http.StatusOK {
			return false
		}
		var s struct {
			Endpoints []struct {
				Address string
				Health  struct{ State string }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		for _, ep := range s.Endpoints {
			if ep.Address == address {
				return ep.Health.State == state
			}
		}
		return false
	}, 3*time.Second, 10*time.Millisecond, "%s %s never %s", service, address, state)
}

// TestEventStream: a health event for every state change, with the
// fields of SPEC 5 exactly, and a registry event for every change of the
// registry.
func TestEventStream(t *testing.T) {
	port := test.FreePort(t)
	a := listen(t, "127.0.0.31:"+port)
	defer a.Close()
	b := listen(t, "127.0.0.32:"+port)
	f := startAPIFixture(t, "", "", map[string]string{"services.yaml": checkedRegistry(port, map[string][]string{"db": {"127.0.0.31", "127.0.0.32"}})})
	// Both probed before the stream opens: its first health event is .32's.
	f.waitState(t, "db", "127.0.0.31", "healthy")
	f.waitState(t, "db", "127.0.0.32", "healthy")

	s := openEvents(t, f, f.token)
	hello := <-s.blocks
	assert.Equal(t, "tpdns events", hello.comment, "a comment first: the client knows the stream is open")

	closed := time.Now()
	b.Close()
	ev := s.nextJSON(t, "health", 2*time.Second)
	assert.Equal(t, []string{"address", "error", "from", "service", "time", "to"}, keys(ev))
	assert.Equal(t, "db", ev["service"])
	assert.Equal(t, "127.0.0.32", ev["address"])
	assert.Equal(t, "healthy", ev["from"])
	assert.Equal(t, "unhealthy", ev["to"])
	assert.Contains(t, ev["error"], "connection refused")
	at, err := time.Parse(time.RFC3339Nano, ev["time"].(string))
	require.NoError(t, err)
	assert.WithinRange(t, at, closed, time.Now())

	b = listen(t, "127.0.0.32:"+port)
	defer b.Close()
	ev = s.nextJSON(t, "health", 2*time.Second)
	assert.Equal(t, map[string]any{"service": "db", "address": "127.0.0.32", "from": "unhealthy", "to": "healthy", "error": "", "time": ev["time"]}, ev)

	status, body := f.do(t, "PUT", "/v1/services/extra", `{"endpoints":["192.0.2.1"]}`)
	require.Equal(t, http.StatusCreated, status, body)
	ev = s.nextJSON(t, "registry", 2*time.Second)
	assert.Equal(t, []string{"generation", "services"}, keys(ev))
	assert.Equal(t, float64(2), ev["services"])
	soa := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("tp.internal.", dns.TypeSOA, 0))
	require.Len(t, soa.Answer, 1)
	assert.Equal(t, float64(soa.Answer[0].(*dns.SOA).Serial), ev["generation"], "the generation is the SOA serial")

	status, _ = f.do(t, "DELETE", "/v1/services/extra", "")
	require.Equal(t, http.StatusNoContent, status)
	next := s.nextJSON(t, "registry", 2*time.Second)
	assert.Equal(t, float64(1), next["services"])
	assert.Greater(t, next["generation"], ev["generation"])
}

// TestEventStreamScope: a token scoped to some services sees the health
// events of those only.
func TestEventStreamScope(t *testing.T) {
	port := test.FreePort(t)
	billing := listen(t, "127.0.0.33:"+port)
	defer billing.Close()
	payroll := listen(t, "127.0.0.34:"+port)
	defer payroll.Close()
	f := startAPIFixture(t, "{\n tokens tokens.yaml\n }", "", map[string]string{
		"tokens.yaml":   tokensFile,
		"services.yaml": checkedRegistry(port, map[string][]string{"billing": {"127.0.0.33"}, "payroll": {"127.0.0.34"}}),
	})
	f.waitState(t, "billing", "127.0.0.33", "healthy")
	f.waitState(t, "payroll", "127.0.0.34", "healthy")

	all := openEvents(t, f, f.token)
	scoped := openEvents(t, f, roleTokens["ci-read"]) // billing and finance.*

	payroll.Close()
	assert.Equal(t, "payroll", all.nextJSON(t, "health", 2*time.Second)["service"])
	billing.Close()
	assert.Equal(t, "billing", all.nextJSON(t, "health", 2*time.Second)["service"])

	status, _ := f.do(t, "PUT", "/v1/services/finance.ledger", `{"endpoints":["192.0.2.1"]}`)
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "registry", all.next(t, 2*time.Second).name)

	// The scoped stream got billing's change, not payroll's, then the
	// registry's.
	ev := scoped.nextJSON(t, "health", 2*time.Second)
	assert.Equal(t, "billing", ev["service"])
	assert.Equal(t, "registry", scoped.next(t, 2*time.Second).name)
}

// TestEventStreamAccess: the stream needs a token, and GET.
func TestEventStreamAccess(t *testing.T) {
	f := startAPIServer(t, "")
	status, body := f.doToken(t, "GET", "/v1/events", "", "")
	assert.Equal(t, http.StatusUnauthorized, status, body)
	status, _ = f.doToken(t, "GET", "/v1/events", "", "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body = f.do(t, "POST", "/v1/events", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status, body)
	status, body = f.do(t, "HEAD", "/v1/events", "")
	assert.Equal(t, http.StatusOK, status, body)
}

// TestEventStreamOutlivesTheTimeouts: the API's connection timeouts do not
// cut a stream, which sends a heartbeat when idle.
func TestEventStreamOutlivesTheTimeouts(t *testing.T) {
	thirdparty.SetEventHeartbeat(t, 100*time.Millisecond)
	f := startAPIServer(t, "{\n read_header_timeout 200ms\n idle_timeout 200ms\n }")
	s := openEvents(t, f, f.token)
	beats := 0
	deadline := time.After(time.Second)
	for waiting := true; waiting; {
		select {
		case ev := <-s.blocks:
			if ev.comment == "heartbeat" {
				beats++
			}
		case <-s.done:
			t.Fatal("the stream ended")
		case <-deadline:
			waiting = false
		}
	}
	assert.GreaterOrEqual(t, beats, 5, "a heartbeat every 100ms")
	status, _ := f.do(t, "PUT", "/v1/services/late", `{"endpoints":["192.0.2.1"]}`)
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "registry", s.next(t, 2*time.Second).name)
}

// TestEventStreamEndsWhenTheTokenIsRevoked: a token taken out of the
// tokens file ends its streams at the next heartbeat.
func TestEventStreamEndsWhenTheTokenIsRevoked(t *testing.T) {
	thirdparty.SetEventHeartbeat(t, 50*time.Millisecond)
	f := startAPIFixture(t, "{\n tokens tokens.yaml\n }", "reload 50ms", map[string]string{"tokens.yaml": tokensFile})
	kept := openEvents(t, f, roleTokens["ci-write"])
	revoked := openEvents(t, f, roleTokens["ci-read"])
	assert.False(t, revoked.ended(200*time.Millisecond))
	lines := slices.DeleteFunc(strings.Split(tokensFile, "\n"), func(l string) bool { return strings.Contains(l, "name: ci-read,") })
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "tokens.yaml"), []byte(strings.Join(lines, "\n")), 0o600))
	assert.True(t, revoked.ended(time.Second), "revoked: the stream ends")
	assert.False(t, kept.ended(200*time.Millisecond))
}

// TestEventStreamsEndOnReload: a reload that hands the API over ends the
// streams at once instead of waiting for them, and the new configuration
// streams its events.
func TestEventStreamsEndOnReload(t *testing.T) {
	f := startAPIServer(t, "")
	s := openEvents(t, f, f.token)
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  store bolt tpdns.db\n  api %s\n  ttl 42\n }\n}", strings.TrimPrefix(f.dns, "127.0.0.1:"), f.api)
	start := time.Now()
	require.NoError(t, f.inst.Reload(corefile))
	assert.Less(t, time.Since(start), 2*time.Second, "the reload did not wait for the stream")
	assert.True(t, s.ended(time.Second))

	s = openEvents(t, f, f.token)
	status, _ := f.do(t, "PUT", "/v1/services/after", `{"endpoints":["192.0.2.8"]}`)
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "registry", s.next(t, 2*time.Second).name)
}

// TestEventStreamsAreCapped: at most half of max_connections streams are
// open at once, so that other requests still get a connection.
func TestEventStreamsAreCapped(t *testing.T) {
	f := startAPIServer(t, "{\n max_connections 4\n }")
	openEvents(t, f, f.token)
	openEvents(t, f, f.token)
	status, body := f.do(t, "GET", "/v1/events", "")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.JSONEq(t, `{"error":"2 event streams are open, the most this API serves","field":""}`, body)
	status, _ = f.do(t, "GET", "/v1/services", "")
	assert.Equal(t, http.StatusOK, status)
}
