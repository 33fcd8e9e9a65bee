package thirdparty_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metricValue is the value of the series of name with labels, or 0 when
// there is none.
func metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// closedBy counts the API connections closed for reason.
func (f *apiFixture) closedBy(t *testing.T, reason string) float64 {
	return metricValue(t, "tpdns_thirdparty_api_connections_closed_total", map[string]string{"server": "http://" + f.api, "reason": reason})
}

func (f *apiFixture) openConnections(t *testing.T) float64 {
	return metricValue(t, "tpdns_thirdparty_api_connections", map[string]string{"server": "http://" + f.api})
}

// waitClosed waits until the server closes c (a read gets EOF or a reset),
// at most within, and returns when.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) time.Time {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(within)))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still open after %s", within)
			}
			return time.Now()
		}
	}
}

// isOpen reports whether the server has not closed c: a read finds
// nothing yet.
func isOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// rawGet sends a GET of path on c with token (none: "") and reads the
// reply's status and whether the server closes the connection after it.
func rawGet(t *testing.T, c net.Conn, br *bufio.Reader, path, token string) (int, bool) {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: tpdns\r\n%s\r\n", path, auth)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Close
}

// TestAPIMaxConnections: at the cap, a new connection closes the one idle
// longest; a connection with a request under way is never closed for it,
// and a client holding idle connections cannot keep an authorized one out.
func TestAPIMaxConnections(t *testing.T) {
	f := startAPIServer(t, "{\n max_connections 4\n }")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", f.api)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	limited := f.closedBy(t, "max_connections")
	// The oldest has a request begun (headers half sent): it is not idle.
	held := []net.Conn{dial()}
	fmt.Fprintf(held[0], "GET /v1/services HTTP/1.1\r\nHost: tpdns\r\n")
	for range 3 {
		time.Sleep(10 * time.Millisecond) // an order of age
		held = append(held, dial())
	}
	require.Eventually(t, func() bool { return f.openConnections(t) == 4 }, time.Second, 5*time.Millisecond)

	fifth := dial()
	waitClosed(t, held[1], time.Second) // the oldest idle one
	assert.True(t, isOpen(held[0]), "the one in a request stays")
	assert.True(t, isOpen(held[2]))
	assert.True(t, isOpen(fifth))
	assert.Equal(t, limited+1, f.closedBy(t, "max_connections"))
	assert.Equal(t, 4.0, f.openConnections(t))

	// The request begun finishes on its connection.
	fmt.Fprintf(held[0], "Authorization: Bearer %s\r\n\r\n", f.token)
	status, closed := rawGet(t, held[2], bufio.NewReader(held[2]), "/v1/services", f.token)
	assert.Equal(t, http.StatusOK, status)
	assert.False(t, closed)
	resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A flood of idle connections: each new one pushes out an idle one,
	// and an authorized client still gets its answer at once.
	for range 20 {
		dial()
	}
	start := time.Now()
	status, body := f.do(t, "GET", "/v1/services/oracle.finance", "")
	assert.Equal(t, http.StatusOK, status, body)
	assert.Less(t, time.Since(start), time.Second)
	assert.LessOrEqual(t, f.openConnections(t), 4.0)
}

// TestAPITimeouts: a connection that sends nothing is closed after
// read_header_timeout, a keep-alive one without a next request after
// idle_timeout, an unauthenticated one after its 401; each is counted.
func TestAPITimeouts(t *testing.T) {
	f := startAPIServer(t, "{\n read_header_timeout 300ms\n idle_timeout 600ms\n }")
	headerTimeouts, idleTimeouts, unauthenticated := f.closedBy(t, "read_header_timeout"), f.closedBy(t, "idle_timeout"), f.closedBy(t, "unauthenticated")

	start := time.Now()
	silent, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer silent.Close()
	slow, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer slow.Close()
	fmt.Fprintf(slow, "GET /v1/services HTTP/1.1\r\n") // and never the rest
	kept, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer kept.Close()
	status, closed := rawGet(t, kept, bufio.NewReader(kept), "/v1/services", f.token)
	require.Equal(t, http.StatusOK, status)
	require.False(t, closed)
	answered := time.Now()
	anonymous, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer anonymous.Close()
	br := bufio.NewReader(anonymous)
	status, closed = rawGet(t, anonymous, br, "/v1/services", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.True(t, closed, "Connection: close")

	assert.Less(t, time.Since(start), 300*time.Millisecond)
	waitClosed(t, anonymous, 100*time.Millisecond) // closed after the 401
	took := waitClosed(t, silent, 3*time.Second).Sub(start)
	assert.InDelta(t, 300*time.Millisecond, took, float64(250*time.Millisecond))
	waitClosed(t, slow, 3*time.Second)
	took = waitClosed(t, kept, 3*time.Second).Sub(answered)
	assert.InDelta(t, 600*time.Millisecond, took, float64(250*time.Millisecond), "idle_timeout, not read_header_timeout")

	assert.Equal(t, headerTimeouts+2, f.closedBy(t, "read_header_timeout"))
	assert.Equal(t, idleTimeouts+1, f.closedBy(t, "idle_timeout"))
	assert.Equal(t, unauthenticated+1, f.closedBy(t, "unauthenticated"))
	require.Eventually(t, func() bool { return f.openConnections(t) == 0 }, time.Second, 5*time.Millisecond)
}

// TestAPILimitsAndTokensFollowAReload: a Corefile reload that changes the
// limits or the tokens file serves with the new ones, on the same port.
func TestAPILimitsAndTokensFollowAReload(t *testing.T) {
	f := startAPIFixture(t, "{\n max_connections 2\n tokens a.yaml\n }", "", map[string]string{
		"a.yaml": "tokens:\n  - {name: a, sha256: " + sha("a-t0ken") + ", role: read}\n",
		"b.yaml": "tokens:\n  - {name: b, sha256: " + sha("b-t0ken") + ", role: read}\n",
	})
	status, _, _ := f.request(t, "GET", "/v1/services", "", "a-t0ken")
	require.Equal(t, http.StatusOK, status)

	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  store bolt tpdns.db\n  api %s {\n   max_connections 4\n   tokens b.yaml\n  }\n }\n}",
		strings.TrimPrefix(f.dns, "127.0.0.1:"), f.api)
	require.NoError(t, f.inst.Reload(corefile))
	status, _, _ = f.request(t, "GET", "/v1/services", "", "a-t0ken")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = f.request(t, "GET", "/v1/services", "", "b-t0ken")
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = f.request(t, "GET", "/v1/services", "", f.token)
	assert.Equal(t, http.StatusOK, status)

	// Four idle connections fit now; a fifth closes the oldest.
	f.client.CloseIdleConnections()
	var held []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", f.api)
		require.NoError(t, err)
		defer c.Close()
		held = append(held, c)
		time.Sleep(10 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return f.openConnections(t) == 4 }, time.Second, 5*time.Millisecond)
	for _, c := range held {
		assert.True(t, isOpen(c))
	}
	fifth, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer fifth.Close()
	waitClosed(t, held[0], time.Second)
	assert.True(t, isOpen(held[1]))
}

// TestAPISlowHeadersGiveWay: at the cap, with no idle connection, a new
// one closes the one whose headers have been coming longest, once that is
// over a second; before, the new one is closed.
func TestAPISlowHeadersGiveWay(t *testing.T) {
	f := startAPIServer(t, "{\n max_connections 2\n }")
	var slow []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", f.api)
		require.NoError(t, err)
		defer c.Close()
		fmt.Fprintf(c, "GET /v1/services HTTP/1.1\r\n")
		slow = append(slow, c)
		time.Sleep(50 * time.Millisecond)
	}
	refused, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer refused.Close()
	waitClosed(t, refused, time.Second) // no room yet
	assert.True(t, isOpen(slow[0]))
	assert.True(t, isOpen(slow[1]))

	time.Sleep(time.Second)
	c, err := net.Dial("tcp", f.api)
	require.NoError(t, err)
	defer c.Close()
	waitClosed(t, slow[0], time.Second)
	assert.True(t, isOpen(slow[1]))
	status, closed := rawGet(t, c, bufio.NewReader(c), "/v1/services", f.token)
	assert.Equal(t, http.StatusOK, status)
	assert.False(t, closed)
}
