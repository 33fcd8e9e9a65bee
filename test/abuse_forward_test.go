//go:build linux

package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The load of TestForwardToBlackHole: 12,000 queries a second for four
// seconds from UDP clients, and TCP clients alongside, to a forward whose
// upstream never answers, under an fd limit of 4,096. Every forwarded query
// would hold a socket and a goroutine for 2s: 24,000 at that rate, were
// they not bounded by max_concurrent (1,000 by default).
const (
	blackHoleQPS        = 12000
	blackHoleLoad       = 4 * time.Second
	blackHoleUDPSenders = 6
	blackHoleTCPClients = 50
	blackHoleTCPPace    = 100 * time.Millisecond // between the queries of one TCP client
	blackHoleFDLimit    = 4096
	blackHoleRecovery   = 15 * time.Second
)

// TestForwardToBlackHole is the forward part of issue 15's abuse test. With
// forward's defaults, during the load a UDP and a TCP query for a
// thirdparty zone and /metrics answer, and the fds stay under the process's
// limit; after it, the goroutines and RSS come back within 20% of before.
//
// "Before" is a server that has served some traffic (2s of 50 forwarded
// queries a second, probes and scrapes), not one that has answered a single
// query: the first traffic grows the Go runtime (code paged in, pools, the
// heap's first cycles) whatever the load, and would be counted against it.
func TestForwardToBlackHole(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	hole := startBlackHole(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port, metricsAddr := FreePort(t), "127.0.0.1:"+FreePort(t)
	api, apiAddr, token := apiBlock(t, dir)
	corefile := fmt.Sprintf(`.:%s {
    bind 127.0.0.1
    prometheus %s
    errors
    thirdparty tp.internal {
        services services.yaml
        %s
    }
    forward . %s
}
`, port, metricsAddr, api, hole.addr)
	path := filepath.Join(dir, "Corefile")
	require.NoError(t, os.WriteFile(path, []byte(corefile), 0o644))
	addr := "127.0.0.1:" + port
	p := StartBinary(t, tpdnsBinary, path, "")
	pid := p.Cmd.Process.Pid
	// The binary raised its soft limit to the hard one; both go down.
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: blackHoleFDLimit, Max: blackHoleFDLimit}, nil))
	limit := fdLimit(t, pid)
	require.Equal(t, blackHoleFDLimit, limit)

	deadline := time.Now().Add(10 * time.Second)
	for probeThirdParty("udp", addr) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("tpdns did not answer within 10s:\n%s", p.Output)
		}
	}
	idle, err := readStats(pid, metricsAddr)
	require.NoError(t, err)

	// Some traffic, then the server idle again.
	warm, stopWarm := context.WithTimeout(context.Background(), 2*time.Second)
	var warmUp flood
	warmUp.udp(warm, t, addr, 50, "warm.example.org.")
	stopWarm()
	for range 3 {
		require.NoError(t, probeThirdParty("udp", addr))
		require.NoError(t, probeThirdParty("tcp", addr))
	}
	before := waitStats(t, pid, metricsAddr, 10*time.Second, func(s procStats) bool { return s.goroutines <= idle.goroutines+2 })
	t.Logf("before: %v (fd limit %d)", before, limit)

	ctx, stop := context.WithTimeout(context.Background(), blackHoleLoad)
	defer stop()
	var load flood
	var clients sync.WaitGroup
	for i := range blackHoleUDPSenders {
		clients.Go(func() { load.udp(ctx, t, addr, blackHoleQPS/blackHoleUDPSenders, fmt.Sprintf("u%d.example.org.", i)) })
	}
	for i := range blackHoleTCPClients {
		clients.Go(func() { load.tcp(ctx, addr, fmt.Sprintf("t%d.example.net.", i)) })
	}
	peak := before
	probes, failures := 0, 0
	for ctx.Err() == nil {
		for _, proto := range []string{"udp", "tcp"} {
			probes++
			if err := probeThirdParty(proto, addr); err != nil {
				failures++
				t.Errorf("during the load: %v", err)
			}
		}
		probes++
		if err := apiGet(apiAddr, token); err != nil {
			failures++
			t.Errorf("during the load: %v", err)
		}
		s, err := readStats(pid, metricsAddr) // /metrics answers, or an error
		if err != nil {
			failures++
			t.Errorf("during the load: %v", err)
			continue
		}
		assert.Less(t, s.fds, limit, "fds during the load")
		peak.goroutines, peak.fds, peak.rss = max(peak.goroutines, s.goroutines), max(peak.fds, s.fds), max(peak.rss, s.rss)
		time.Sleep(100 * time.Millisecond)
	}
	clients.Wait()
	sent := load.sent.Load()
	t.Logf("load: %d queries in %v (%d over TCP), %d replies: %d REFUSED, %d SERVFAIL; the black hole got %d datagrams and %d connections",
		sent, blackHoleLoad, load.sentTCP.Load(), load.replies(), load.rcodes[dns.RcodeRefused].Load(), load.rcodes[dns.RcodeServerFailure].Load(),
		hole.datagrams.Load(), hole.accepted.Load())
	t.Logf("during: peak %v; %d probes (UDP, TCP, API, /metrics), %d failed", peak, probes, failures)
	assert.Greater(t, sent, int64(blackHoleQPS*blackHoleLoad/time.Second*8/10), "the load was sent")
	assert.Positive(t, load.rcodes[dns.RcodeRefused].Load(), "max_concurrent refused queries")
	assert.Positive(t, hole.accepted.Load(), "queries over TCP went to the TCP black hole")
	assert.Less(t, peak.goroutines, 5000, "goroutines bounded by max_concurrent, not by the rate")

	// The queries in flight end within 5s, and forward hands their memory
	// back once they have.
	after := waitStats(t, pid, metricsAddr, blackHoleRecovery, func(s procStats) bool {
		return within(s.goroutines, before.goroutines) && within(int(s.rss), int(before.rss))
	})
	t.Logf("after: %v", after)
	assert.True(t, within(after.goroutines, before.goroutines), "goroutines within 20%% of before: %d, then %d", before.goroutines, after.goroutines)
	assert.True(t, within(int(after.rss), int(before.rss)), "RSS within 20%% of before: %d, then %d", before.rss, after.rss)

	metrics, err := scrapeMetrics(metricsAddr)
	require.NoError(t, err)
	rejects, _ := metricValue(metrics, "tpdns_forward_max_concurrent_rejects_total")
	assert.Positive(t, rejects, "tpdns_forward_max_concurrent_rejects_total")
	assert.NoError(t, probeThirdParty("udp", addr), "after the load")
	assert.NoError(t, probeThirdParty("tcp", addr), "after the load")
	out := p.Output.String()
	assert.LessOrEqual(t, strings.Count(out, "max_concurrent 1000 reached"), 1, "refused queries are logged once every 10s at most")
	assert.NotContains(t, out, "concurrent queries exceeded", "refused queries are not logged one by one")
}

// probeThirdParty asks what the thirdparty zone answers over proto, with a
// client's retry over UDP.
func probeThirdParty(proto, addr string) error {
	c := &dns.Client{Net: proto, Timeout: time.Second}
	var err error
	for range 2 {
		var r *dns.Msg
		if r, _, err = c.Exchange(Query("db.tp.internal.", dns.TypeA, 0), addr); err == nil {
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.0.0.1" {
				return fmt.Errorf("%s: unexpected answer %v", proto, r)
			}
			return nil
		}
		if proto == "tcp" {
			break
		}
	}
	return fmt.Errorf("%s query: %w", proto, err)
}

// blackHole is an upstream that never answers: a UDP socket that reads
// every datagram and a TCP listener that accepts every connection and
// reads what comes, on one port of 127.0.0.1.
type blackHole struct {
	addr      string
	pc        net.PacketConn
	ln        net.Listener
	datagrams atomic.Int64
	accepted  atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startBlackHole(t *testing.T) *blackHole {
	t.Helper()
	b := &blackHole{addr: "127.0.0.1:" + FreePort(t)}
	var err error
	b.pc, err = net.ListenPacket("udp", b.addr)
	require.NoError(t, err)
	b.ln, err = net.Listen("tcp", b.addr)
	require.NoError(t, err)
	b.wg.Go(func() {
		buf := make([]byte, dns.MaxMsgSize)
		for {
			if _, _, err := b.pc.ReadFrom(buf); err != nil {
				return
			}
			b.datagrams.Add(1)
		}
	})
	b.wg.Go(func() {
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Go(func() { io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(b.close)
	return b
}

func (b *blackHole) close() {
	b.pc.Close()
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// flood sends queries and counts their replies by rcode.
type flood struct {
	sent, sentTCP atomic.Int64
	rcodes        [16]atomic.Int64
}

func (f *flood) replies() int64 {
	var n int64
	for i := range f.rcodes {
		n += f.rcodes[i].Load()
	}
	return n
}

// udp sends qps queries a second from one socket to addr until ctx ends,
// for names under zone, each of its own.
func (f *flood) udp(ctx context.Context, t *testing.T, addr string, qps int, zone string) {
	c, err := net.Dial("udp", addr)
	if !assert.NoError(t, err) {
		return
	}
	var reader sync.WaitGroup
	defer reader.Wait()
	defer c.Close() // ends the reader
	reader.Go(func() {
		buf := make([]byte, dns.MaxMsgSize)
		for {
			n, err := c.Read(buf)
			switch {
			case errors.Is(err, net.ErrClosed):
				return
			case err == nil && n >= 4:
				f.rcodes[buf[3]&0x0f].Add(1)
			}
		}
	})
	// Packed in advance, and sent in turn with a new ID.
	queries := make([][]byte, 4096)
	for i := range queries {
		if queries[i], err = Query(fmt.Sprintf("q%d.%s", i, zone), dns.TypeA, 0).Pack(); !assert.NoError(t, err) {
			return
		}
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for next := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for due := int(time.Since(start).Seconds() * float64(qps)); next < due; next++ {
			q := queries[next%len(queries)]
			q[0], q[1] = byte(next>>8), byte(next)
			if _, err := c.Write(q); err == nil {
				f.sent.Add(1)
			}
		}
	}
}

// tcp sends queries for names under zone over one TCP connection until
// ctx ends, each after the reply to the one before and at most one every
// blackHoleTCPPace; a broken connection is opened again.
func (f *flood) tcp(ctx context.Context, addr, zone string) {
	var c *dns.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		next := time.Now().Add(blackHoleTCPPace)
		if c == nil {
			nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				waitUntil(ctx, next)
				continue
			}
			c = &dns.Conn{Conn: nc}
		}
		conn := c
		stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		err := c.WriteMsg(Query(fmt.Sprintf("q%d.%s", i, zone), dns.TypeA, 0))
		var r *dns.Msg
		if err == nil {
			f.sent.Add(1)
			f.sentTCP.Add(1)
			r, err = c.ReadMsg()
		}
		stop()
		if err != nil {
			c.Close()
			c = nil
		} else {
			f.rcodes[r.Rcode&0x0f].Add(1)
		}
		waitUntil(ctx, next)
	}
}

// waitUntil returns at t, or when ctx ends.
func waitUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// waitStats polls the figures of pid until ok holds of them or timeout has
// passed, and returns the last.
func waitStats(t *testing.T, pid int, metricsAddr string, timeout time.Duration, ok func(procStats) bool) procStats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s, err := readStats(pid, metricsAddr)
		require.NoError(t, err)
		if ok(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}
