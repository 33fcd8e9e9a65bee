package test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The load of TestAPIIdleConnections: 20,000 connections to the
// registration API, held idle by two other processes (10,000 each, under
// their own fd limits), against a server limited to 4,096 fds.
const (
	apiAbuseConns    = 20000
	apiAbuseHolders  = 2
	apiAbuseFDLimit  = 4096
	apiAbuseHold     = 3 * time.Second // held after the last is open
	apiAbuseRecovery = 30 * time.Second
)

// TestAPIIdleConnections is the API part of issue 15's abuse test:
// 20,000 idle API connections, a third silent, a third after a 401, a
// third kept alive after an authorized GET. While they are opened and
// held, an authorized GET on a new connection, a UDP and a TCP query and
// /metrics answer, and the server's fds stay under its limit; after, its
// goroutines and RSS come back within 20% of before.
func TestAPIIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	dir := t.TempDir()
	holder := filepath.Join(dir, "connholder")
	build := exec.Command("go", "build", "-o", holder, "github.com/tpdns/tpdns/test/connholder")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	require.NoError(t, build.Run())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port, metricsAddr, api := FreePort(t), "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t)
	addr := "127.0.0.1:" + port
	corefile := fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    prometheus %s
    thirdparty {
        services services.yaml
        store bolt tpdns.db
        api %s
    }
}
`, port, metricsAddr, api)
	path := filepath.Join(dir, "Corefile")
	require.NoError(t, os.WriteFile(path, []byte(corefile), 0o644))
	p := StartBinary(t, tpdnsBinary, path, addr)
	pid := p.Cmd.Process.Pid
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: apiAbuseFDLimit, Max: apiAbuseFDLimit}, nil))
	limit := fdLimit(t, pid)
	require.Equal(t, apiAbuseFDLimit, limit)
	p.WaitOutput(t, "on 127.0.0.1\ntpdns-") // the banner: start-up is over
	tokenBytes, err := os.ReadFile(filepath.Join(dir, "tpdns.token"))
	require.NoError(t, err)
	token := strings.TrimSpace(string(tokenBytes))

	// probe asks the API (on a new connection), DNS over UDP and TCP.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	probeAPI := func() error {
		req, err := http.NewRequest("GET", "http://"+api+"/v1/services/db", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("API: %w", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name": "db"`) {
			return fmt.Errorf("API: %s: %s", resp.Status, body)
		}
		return nil
	}
	probeDNS := func(proto string) error {
		c := &dns.Client{Net: proto, Timeout: time.Second}
		var err error
		for range 2 { // a client retries a lost datagram
			var r *dns.Msg
			if r, _, err = c.Exchange(Query("db.tp.internal.", dns.TypeA, 0), addr); err == nil {
				if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.0.0.1" {
					return fmt.Errorf("%s: unexpected answer %v", proto, r)
				}
				return nil
			}
		}
		return fmt.Errorf("%s: %w", proto, err)
	}
	probe := func() []error {
		var errs []error
		for _, f := range []func() error{probeAPI, func() error { return probeDNS("udp") }, func() error { return probeDNS("tcp") }} {
			if err := f(); err != nil {
				errs = append(errs, err)
			}
		}
		return errs
	}
	for range 50 { // what a server does at first is not what the load leaves
		require.Empty(t, probe())
	}
	before, err := readStats(pid, metricsAddr)
	require.NoError(t, err)
	t.Logf("before: %v (fd limit %d)", before, limit)
	logMemory(t, "before", pid, metricsAddr)

	// The holders: a third of the connections send nothing, a third a
	// GET without a token, a third an authorized GET, kept alive.
	type holderProc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
		done  chan string
	}
	var holders []*holderProc
	for h := range apiAbuseHolders {
		cmd := exec.Command(holder, "-addr", api, "-n", fmt.Sprint(apiAbuseConns/apiAbuseHolders),
			"-src", fmt.Sprintf("127.0.0.%d,127.0.0.%d", 10+2*h, 11+2*h),
			"-payload", "",
			"-payload", `GET /v1/services HTTP/1.1\r\nHost: tpdns\r\n\r\n`,
			"-payload", `GET /v1/services/db HTTP/1.1\r\nHost: tpdns\r\nAuthorization: Bearer `+token+`\r\n\r\n`)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		hp := &holderProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), done: make(chan string, 1)}
		go func() {
			line, _ := hp.out.ReadString('\n')
			hp.done <- strings.TrimSpace(line)
		}()
		t.Cleanup(func() {
			hp.stdin.Close()
			if hp.cmd.ProcessState == nil {
				hp.cmd.Wait()
			}
		})
		holders = append(holders, hp)
	}

	peak := before
	var probes, failures int
	check := func() {
		probes++
		for _, err := range probe() {
			failures++
			t.Errorf("during the load: %v", err)
		}
		s, err := readStats(pid, metricsAddr) // /metrics answers, or an error
		if err != nil {
			failures++
			t.Errorf("during the load: %v", err)
			return
		}
		assert.Less(t, s.fds, limit, "fds during the load")
		peak.goroutines, peak.fds, peak.rss = max(peak.goroutines, s.goroutines), max(peak.fds, s.fds), max(peak.rss, s.rss)
	}
	start := time.Now()
	for _, hp := range holders {
		for waiting := true; waiting; {
			select {
			case line := <-hp.done:
				t.Logf("holder: %s", line)
				var held, failed int
				_, err := fmt.Sscanf(line, "held %d failed %d", &held, &failed)
				require.NoError(t, err, "holder said %q", line)
				assert.Equal(t, apiAbuseConns/apiAbuseHolders, held)
				waiting = false
			case <-time.After(200 * time.Millisecond):
				check()
				require.Less(t, time.Since(start), time.Minute, "the holders did not connect within a minute")
			}
		}
	}
	t.Logf("%d connections opened in %v", apiAbuseConns, time.Since(start).Round(time.Millisecond))
	for held := time.Now(); time.Since(held) < apiAbuseHold; time.Sleep(200 * time.Millisecond) {
		check()
	}
	t.Logf("peak during the load: %v; %d probes, %d failed", peak, probes, failures)
	metrics, err := scrapeMetrics(metricsAddr)
	require.NoError(t, err)
	server := `server="http://` + api + `"`
	open, _ := metricValue(metrics, `tpdns_thirdparty_api_connections{`+server+`}`)
	assert.LessOrEqual(t, open, 512.0, "the default max_connections")
	limited, _ := metricValue(metrics, `tpdns_thirdparty_api_connections_closed_total{reason="max_connections",`+server+`}`)
	unauthenticated, _ := metricValue(metrics, `tpdns_thirdparty_api_connections_closed_total{reason="unauthenticated",`+server+`}`)
	t.Logf("API: %v open, %v closed at max_connections, %v after a 401", open, limited, unauthenticated)
	assert.Greater(t, limited, 0.0)
	assert.GreaterOrEqual(t, unauthenticated, float64(apiAbuseConns/3-10))

	// After: the holders exit, their connections close.
	for _, hp := range holders {
		hp.stdin.Close()
		require.NoError(t, hp.cmd.Wait())
	}
	var after procStats
	deadline := time.Now().Add(apiAbuseRecovery)
	for {
		after, err = readStats(pid, metricsAddr)
		require.NoError(t, err)
		if within(after.goroutines, before.goroutines) && within(int(after.rss), int(before.rss)) || time.Now().After(deadline) {
			break
		}
		logMemory(t, time.Since(start).Round(time.Second).String(), pid, metricsAddr)
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("after: %v, %v since the load began", after, time.Since(start).Round(time.Second))
	assert.True(t, within(after.goroutines, before.goroutines), "goroutines within 20%% of before: %d, then %d", before.goroutines, after.goroutines)
	assert.True(t, within(int(after.rss), int(before.rss)), "RSS within 20%% of before: %d, then %d", before.rss, after.rss)
	assert.Empty(t, probe(), "after the load")
}

// logMemory logs, when $XDEBUG is set, the memory figures of the Go
// runtime and of the kernel for pid: where RSS goes.
func logMemory(t *testing.T, when string, pid int, metricsAddr string) {
	if os.Getenv("XDEBUG") == "" {
		return
	}
	m, _ := scrapeMetrics(metricsAddr)
	var lines []string
	for l := range strings.Lines(m) {
		if strings.HasPrefix(l, "go_memstats_") && !strings.Contains(l, "_total") || strings.HasPrefix(l, "go_gc_duration_seconds_count") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for l := range strings.Lines(string(st)) {
		if strings.HasPrefix(l, "Rss") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	t.Logf("%s:\n%s", when, strings.Join(lines, "\n"))
}
