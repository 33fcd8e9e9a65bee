package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The load of TestIdleTCPConnections: 20,000 connections that send
// nothing, from two helper processes (this process's own limit is 20,000
// file descriptors), against a tpdns whose limit is 2,048, under its
// default max_connections (1,000).
const (
	idleConns         = 20000
	idleHelpers       = 2
	idleFDLimit       = 2048
	idleMaxConns      = 1000 // server.defaultMaxConnections
	idleRecovery      = time.Minute
	holdEnv           = "TPDNS_TEST_HOLD_TCP" // "ADDRESS COUNT": run as a helper
	holdReadyPrefix   = "held "
	holdHelperTimeout = time.Minute
)

// A helper process holds connections: it is this test binary, run with
// holdEnv set, which opens the connections, prints "held N failed M",
// and closes them all when its standard input closes. It runs before
// TestMain, which would build the commands.
func init() {
	spec := os.Getenv(holdEnv)
	if spec == "" {
		return
	}
	os.Exit(holdTCPConnections(spec))
}

func holdTCPConnections(spec string) int {
	addr, count, ok := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if !ok || err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: want ADDRESS COUNT\n", holdEnv, spec)
		return 2
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	var conns []net.Conn
	failed := 0
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
	}
	fmt.Printf("%s%d failed %d\n", holdReadyPrefix, len(conns), failed)
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// holder is a helper process holding connections.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHolder(t *testing.T, addr string, n int) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", holdEnv, addr, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	h := &holder{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return h
}

// held waits for the helper to have opened its connections and returns
// how many it holds and how many it could not open.
func (h *holder) held(t *testing.T) (held, failed int) {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s, _ := h.out.ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		_, err := fmt.Sscanf(s, holdReadyPrefix+"%d failed %d\n", &held, &failed)
		require.NoError(t, err, "helper said %q", s)
		return held, failed
	case <-time.After(holdHelperTimeout):
		t.Fatalf("a helper did not open its connections within %v", holdHelperTimeout)
		return 0, 0
	}
}

// release makes the helper close its connections and waits for it to exit.
func (h *holder) release(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	require.NoError(t, h.cmd.Wait())
}

// TestIdleTCPConnections is the DNS-over-TCP part of issue 15's abuse test:
// 20,000 connections to the tpdns binary that send nothing, with timeouts
// long enough for them all to stay (read and idle 1m), so that only
// max_connections protects the server. During the load, a UDP and a TCP
// query and /metrics answer, the server holds max_connections open at
// most, each new connection taking the place of the one idle longest, and
// its fds stay under its limit; after it, its goroutines and RSS come back
// within 20% of before.
func TestIdleTCPConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port, metricsAddr := FreePort(t), "127.0.0.1:"+FreePort(t)
	addr := "127.0.0.1:" + port
	api, apiAddr, token := apiBlock(t, dir)
	path := filepath.Join(dir, "Corefile")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    timeouts {
        read 1m
        idle 1m
    }
    prometheus %s
    thirdparty {
        services services.yaml
        %s
    }
}
`, port, metricsAddr, api)), 0o644))
	p := StartBinary(t, tpdnsBinary, path, "")
	pid := p.Cmd.Process.Pid
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: idleFDLimit, Max: idleFDLimit}, nil))
	require.Equal(t, idleFDLimit, fdLimit(t, pid))

	// probe asks what the thirdparty zone answers.
	probe := func(proto string) error {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		r, _, err := c.Exchange(Query("db.tp.internal.", dns.TypeA, 0), addr)
		if err != nil {
			return fmt.Errorf("%s: %w", proto, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.0.0.1" {
			return fmt.Errorf("%s: unexpected answer %v", proto, r)
		}
		return nil
	}
	waitFor(t, 10*time.Second, "tpdns to answer", func() bool { return probe("udp") == nil })
	metric := func(series string) float64 {
		t.Helper()
		body, err := scrapeMetrics(metricsAddr)
		require.NoError(t, err)
		v, _ := metricValue(body, series)
		return v
	}
	label := `{server="dns://` + addr + `"}`
	closed := func(reason string) float64 {
		return metric(`tpdns_tcp_connections_closed_total{reason="` + reason + `",server="dns://` + addr + `"}`)
	}
	// Warm up, so that "before" is the server's steady state and not that
	// of a process that has yet to grow to its heap goal: queries, scrapes,
	// and twice max_connections idle connections (a tenth of the load).
	for range 20 {
		require.NoError(t, probe("udp"))
		require.NoError(t, probe("tcp"))
	}
	warmUp := startHolder(t, addr, 2*idleMaxConns)
	held, failed := warmUp.held(t)
	require.Equal(t, 2*idleMaxConns, held+failed)
	warmUp.release(t)
	waitFor(t, 10*time.Second, "the warm-up connections to close", func() bool { return metric("tpdns_tcp_connections"+label) == 0 })
	for range 50 {
		require.NoError(t, probe("udp"))
		_, err := readStats(pid, metricsAddr)
		require.NoError(t, err)
	}
	before, err := readStats(pid, metricsAddr)
	require.NoError(t, err)
	evicted, refused := closed("evicted"), closed("refused")
	t.Logf("before: %v (fd limit %d)", before, idleFDLimit)

	start := time.Now()
	var holders []*holder
	for range idleHelpers {
		holders = append(holders, startHolder(t, addr, idleConns/idleHelpers))
	}
	peak := before
	sample := func() {
		s, err := readStats(pid, metricsAddr) // /metrics answers, or an error
		require.NoError(t, err, "during the load")
		assert.Less(t, s.fds, idleFDLimit, "fds during the load")
		assert.LessOrEqual(t, metric("tpdns_tcp_connections"+label), float64(idleMaxConns))
		peak.goroutines, peak.fds, peak.rss = max(peak.goroutines, s.goroutines), max(peak.fds, s.fds), max(peak.rss, s.rss)
	}
	total := 0
	for _, h := range holders {
		held, failed := h.held(t)
		assert.Zero(t, failed, "connections that could not be opened")
		total += held
		sample()
	}
	t.Logf("%d connections opened in %v", total, time.Since(start))
	require.Equal(t, idleConns, total)
	// Every connection was let in, the later ones in place of earlier
	// ones; none refused, as every one was idle.
	waitFor(t, 30*time.Second, "every connection accepted", func() bool {
		return closed("evicted")-evicted+metric("tpdns_tcp_connections"+label) == idleConns
	})
	assert.Equal(t, float64(idleMaxConns), metric("tpdns_tcp_connections"+label))
	assert.Equal(t, refused, closed("refused"))
	for range 5 {
		assert.NoError(t, probe("udp"), "during the load")
		assert.NoError(t, probe("tcp"), "during the load")
		assert.NoError(t, apiGet(apiAddr, token), "during the load")
		sample()
	}
	t.Logf("peak during the load: %v", peak)
	assert.Less(t, peak.fds, idleMaxConns+100, "the fds of max_connections, and a few more")

	for _, h := range holders {
		h.release(t)
	}
	waitFor(t, 10*time.Second, "the connections to close", func() bool { return metric("tpdns_tcp_connections"+label) == 0 })
	var after procStats
	deadline := time.Now().Add(idleRecovery)
	for {
		after, err = readStats(pid, metricsAddr)
		require.NoError(t, err)
		if within(after.goroutines, before.goroutines) && within(int(after.rss), int(before.rss)) || time.Now().After(deadline) {
			break
		}
		// Queries, as a server gets, so that the runtime collects and
		// returns the memory the connections held.
		require.NoError(t, probe("udp"))
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after %v: %v", time.Since(start), after)
	assert.True(t, within(after.goroutines, before.goroutines), "goroutines within 20%% of before: %d, then %d", before.goroutines, after.goroutines)
	assert.True(t, within(int(after.rss), int(before.rss)), "RSS within 20%% of before: %d, then %d", before.rss, after.rss)
	assert.NoError(t, probe("udp"), "after the load")
	assert.NoError(t, probe("tcp"), "after the load")
}
