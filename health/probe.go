package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tpdns/tpdns/config"
)

// maxBody is how much of an HTTP reply a probe reads; the status decides.
const maxBody = 4 << 10

// Result is the outcome of one probe.
type Result struct {
	OK      bool
	Latency time.Duration
	Err     string // a short reason when !OK
}

// Target is one endpoint to probe: its host (an IP address or a host name,
// resolved at probe time), the port, and how.
type Target struct {
	Host  string
	Port  uint16
	Check config.Check
}

func (t Target) addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))) }

// prober runs probes. Its HTTP transports are shared by the probes with
// the same TLS settings.
type prober struct {
	// resolve gives the addresses of host names; nil: the system resolver.
	resolve    func(ctx context.Context, host string) ([]netip.Addr, error)
	mu         sync.Mutex
	transports map[transportKey]*http.Transport
}

type transportKey struct {
	skipVerify bool
	serverName string
}

func newProber() *prober { return &prober{transports: map[transportKey]*http.Transport{}} }

// probe checks t once, giving up after its timeout or when ctx ends.
func (p *prober) probe(ctx context.Context, t Target) Result {
	ctx, cancel := context.WithTimeout(ctx, t.Check.Timeout)
	defer cancel()
	start := time.Now()
	var err error
	switch t.Check.Type {
	case config.CheckTCP:
		err = p.probeTCP(ctx, t)
	case config.CheckHTTP, config.CheckHTTPS:
		err = p.probeHTTP(ctx, t)
	case config.CheckPostgres, config.CheckMySQL, config.CheckRedis, config.CheckTNS, config.CheckMSSQL:
		err = p.probeDB(ctx, t)
	}
	r := Result{OK: err == nil, Latency: time.Since(start)}
	if err != nil {
		r.Err = shortError(ctx, err, t.Check.Timeout)
	}
	return r
}

// dial connects to addr; a host name is dialed at the addresses resolve
// gives, in order, until one answers.
func (p *prober) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	host, port, err := net.SplitHostPort(addr)
	if _, perr := netip.ParseAddr(host); err != nil || perr == nil || p.resolve == nil {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		var c net.Conn
		if c, err = d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port)); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func (p *prober) probeTCP(ctx context.Context, t Target) error {
	c, err := p.dial(ctx, "tcp", t.addr())
	if err != nil {
		return err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// Close with a reset: thousands of probes a second would otherwise
		// leave as many sockets in TIME_WAIT.
		tc.SetLinger(0)
	}
	return c.Close()
}

func (p *prober) probeHTTP(ctx context.Context, t Target) error {
	scheme := "http"
	if t.Check.Type == config.CheckHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.addr()+t.Check.Path, nil)
	if err != nil {
		return err
	}
	if t.Check.Host != "" {
		req.Host = t.Check.Host
	}
	req.Header.Set("User-Agent", "tpdns-health-check")
	for k, v := range t.Check.Headers {
		req.Header.Set(k, v)
	}
	client := http.Client{
		Transport: p.transport(t),
		// A redirect is an answer in itself; its status is judged, its
		// target never fetched.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, maxBody)
	if resp.StatusCode < t.Check.ExpectMin || resp.StatusCode > t.Check.ExpectMax {
		return fmt.Errorf("HTTP status %d, want %d-%d", resp.StatusCode, t.Check.ExpectMin, t.Check.ExpectMax)
	}
	return nil
}

// transport returns the shared transport for t's TLS settings. The server
// name to verify is the Host header when one is set, as a browser would.
func (p *prober) transport(t Target) *http.Transport {
	key := transportKey{skipVerify: t.Check.TLSSkipVerify, serverName: t.Check.Host}
	if t.Check.Type != config.CheckHTTPS {
		key = transportKey{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tr := p.transports[key]
	if tr == nil {
		tr = &http.Transport{
			// A probe measures a fresh connection, and an idle one would
			// outlive the checker.
			DisableKeepAlives: true,
			DialContext:       p.dial,
			TLSClientConfig: &tls.Config{
				InsecureSkipVerify: key.skipVerify, // the user asked for it: tls_skip_verify
				ServerName:         key.serverName,
			},
		}
		p.transports[key] = tr
	}
	return tr
}

// shortError makes a probe error one short line. A database check's
// verdict is one already, and says more than "timed out" would.
func shortError(ctx context.Context, err error, timeout time.Duration) string {
	var v *verdict
	if errors.As(err, &v) {
		return v.msg
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return "timed out after " + timeout.String()
	}
	// url.Error repeats the method and URL around the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
