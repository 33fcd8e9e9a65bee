package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/test/freeport"
)

// check is a check of type typ. Its timeout is long: under the race detector
// on a loaded machine even a probe that passes or fails at once can take
// 300ms (a TLS handshake); a test of the timeout sets its own.
func check(typ string) config.Check {
	return config.Check{Type: typ, Path: "/", ExpectMin: 200, ExpectMax: 399, Interval: time.Second, Timeout: 5 * time.Second, Rise: 1, Fall: 1}
}

func target(t *testing.T, addr string, c config.Check) Target {
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return Target{Host: host, Port: uint16(n), Check: c}
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+freeport.Port(t)) // closed below: no one else may take it
	require.NoError(t, err)
	addr := ln.Addr().String()
	p := newProber()

	r := p.probe(context.Background(), target(t, addr, check(config.CheckTCP)))
	assert.True(t, r.OK, r.Err)
	assert.Positive(t, r.Latency)

	ln.Close()
	r = p.probe(context.Background(), target(t, addr, check(config.CheckTCP)))
	assert.False(t, r.OK)
	assert.Equal(t, "dial tcp "+addr+": connect: connection refused", r.Err)
}

func TestProbeHTTP(t *testing.T) {
	var gotHost, gotHeader, gotAgent string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		gotHost, gotHeader, gotAgent = r.Host, r.Header.Get("X-Probe"), r.UserAgent()
		w.Write([]byte(strings.Repeat("x", 1<<20))) // more than a probe reads
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/down", http.StatusFound) })
	hang := make(chan struct{})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(hang)
	addr := strings.TrimPrefix(srv.URL, "http://")
	p := newProber()

	probe := func(path string, edit func(*config.Check)) Result {
		c := check(config.CheckHTTP)
		c.Path = path
		if edit != nil {
			edit(&c)
		}
		return p.probe(context.Background(), target(t, addr, c))
	}

	r := probe("/ok", func(c *config.Check) {
		c.Host = "db.example.com"
		c.Headers = map[string]string{"X-Probe": "tpdns"}
	})
	assert.True(t, r.OK, r.Err)
	assert.Equal(t, "db.example.com", gotHost)
	assert.Equal(t, "tpdns", gotHeader)
	assert.Equal(t, "tpdns-health-check", gotAgent)

	r = probe("/down", nil)
	assert.False(t, r.OK)
	assert.Equal(t, "HTTP status 503, want 200-399", r.Err)

	// A redirect is judged by its own status and not followed (its target
	// is down).
	r = probe("/moved", nil)
	assert.True(t, r.OK, r.Err)
	r = probe("/moved", func(c *config.Check) { c.ExpectMin, c.ExpectMax = 200, 200 })
	assert.False(t, r.OK)
	assert.Equal(t, "HTTP status 302, want 200-200", r.Err)

	start := time.Now()
	r = probe("/hang", func(c *config.Check) { c.Timeout = 300 * time.Millisecond })
	assert.False(t, r.OK)
	assert.Equal(t, "timed out after 300ms", r.Err)
	assert.Less(t, time.Since(start), 2*time.Second, "the timeout bounds the probe")
}

func TestProbeHTTPSWithSelfSignedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	p := newProber()

	c := check(config.CheckHTTPS)
	r := p.probe(context.Background(), target(t, addr, c))
	assert.False(t, r.OK)
	assert.Contains(t, r.Err, "tls: failed to verify certificate: x509: certificate signed by unknown authority")

	c.TLSSkipVerify = true
	r = p.probe(context.Background(), target(t, addr, c))
	assert.True(t, r.OK, r.Err)

	// Plain HTTP to a TLS port fails, with a reason.
	r = p.probe(context.Background(), target(t, addr, check(config.CheckHTTP)))
	assert.False(t, r.OK)
	assert.NotEmpty(t, r.Err)
}

func TestProbeHostName(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// localhost is resolved when probed: it is in every /etc/hosts.
	r := newProber().probe(context.Background(), target(t, "localhost:"+port, check(config.CheckTCP)))
	assert.True(t, r.OK, r.Err)
}

// TestProbeHostNameThroughResolve checks that a host-name endpoint is
// dialed at the addresses resolve gives, and fails with its error.
func TestProbeHostNameThroughResolve(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.7:0")
	require.NoError(t, err)
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Listener.Close()
	srv.Listener, err = net.Listen("tcp", "127.0.0.7:0")
	require.NoError(t, err)
	srv.Start()
	defer srv.Close()
	httpPort := uint16(srv.Listener.Addr().(*net.TCPAddr).Port)

	p := newProber()
	p.resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "db.corp.example.com" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.6"), netip.MustParseAddr("127.0.0.7")}, nil
		}
		return nil, errors.New("lookup " + host + " on 127.0.0.1:53: NXDOMAIN")
	}
	r := p.probe(context.Background(), Target{Host: "db.corp.example.com", Port: port, Check: check(config.CheckTCP)})
	assert.True(t, r.OK, r.Err)
	r = p.probe(context.Background(), Target{Host: "db.corp.example.com", Port: httpPort, Check: check(config.CheckHTTP)})
	assert.True(t, r.OK, r.Err)
	r = p.probe(context.Background(), Target{Host: "gone.corp.example.com", Port: port, Check: check(config.CheckTCP)})
	assert.Equal(t, Result{Err: "lookup gone.corp.example.com on 127.0.0.1:53: NXDOMAIN", Latency: r.Latency}, r)
}
