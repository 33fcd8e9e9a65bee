//go:build linux

package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The figures of a tpdns process that the abuse tests of issue 15 bound:
// its goroutines, fds and RSS, read from /proc and its /metrics.

// procStats are the figures of a process that the abuse tests bound.
type procStats struct {
	goroutines int
	fds        int
	rss        int64 // bytes
}

func (s procStats) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, RSS %.1f MB", s.goroutines, s.fds, float64(s.rss)/(1<<20))
}

// readStats reads the fds and RSS of pid from /proc, and its goroutines
// from its /metrics on metricsAddr.
func readStats(pid int, metricsAddr string) (procStats, error) {
	var s procStats
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return s, fmt.Errorf("VmRSS: %w", err)
			}
			s.rss = kb << 10
		}
	}
	body, err := scrapeMetrics(metricsAddr)
	if err != nil {
		return s, err
	}
	g, ok := metricValue(body, "go_goroutines")
	if !ok {
		return s, errors.New("/metrics has no go_goroutines")
	}
	s.goroutines = int(g)
	return s, nil
}

// scrapeMetrics GETs /metrics within 2s.
func scrapeMetrics(addr string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), nil
}

// metricValue returns the value of the series a line of body starts with
// (a name, or a name and its labels as exposed).
func metricValue(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// fdLimit reads the soft "Max open files" of pid.
func fdLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			n, err := strconv.Atoi(strings.Fields(rest)[0])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no Max open files in /proc/PID/limits")
	return 0
}

// within reports whether v is at most 20% above before.
func within(v, before int) bool { return v*10 <= before*12 }

// apiGet GETs the service list from the API at addr with token, within 2s,
// as an authorized client during a load would.
func apiGet(addr, token string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/services", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("API GET: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return fmt.Errorf("API GET: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("API GET /v1/services: %s", resp.Status)
	}
	return nil
}

// apiBlock is the store and api lines of a thirdparty, the API with a
// fixed token, and the API's address and token.
func apiBlock(t *testing.T, dir string) (block, addr, token string) {
	t.Helper()
	token = "abuse-test-token"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api.token"), []byte(token+"\n"), 0o600))
	addr = "127.0.0.1:" + FreePort(t)
	return "store bolt tpdns.db\n        api " + addr + " {\n            token_file api.token\n        }", addr, token
}
