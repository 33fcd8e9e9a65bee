package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// TestReadyWaitsForTheFirstProbes: /ready is 503 while an endpoint's first
// probe is still running (it hangs until its timeout) and 200 once it is
// over; /health is 200 all along.
func TestReadyWaitsForTheFirstProbes(t *testing.T) {
	// A listener that accepts nothing: an HTTP probe to it hangs until its
	// timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	_, silentPort, _ := net.SplitHostPort(silent.Addr().String())

	dir := t.TempDir()
	registry := fmt.Sprintf("services:\n  - name: slow\n    ports: [{name: web, port: %s}]\n    endpoints: [127.0.0.1]\n    check: {type: http, interval: 10s, timeout: 1500ms}\n", silentPort)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	port, readyPort, healthPort := FreePort(t), FreePort(t), FreePort(t)
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n health 127.0.0.1:%s\n ready 127.0.0.1:%s\n thirdparty {\n  services services.yaml\n }\n}\n", port, healthPort, readyPort)
	start := time.Now()
	StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})

	get := func(port, path string) (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + port + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(readyPort, "/ready")
	require.Less(t, time.Since(start), 1500*time.Millisecond, "the first probe could have timed out already")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "thirdparty\n", body)
	code, _ = get(healthPort, "/health")
	assert.Equal(t, http.StatusOK, code)

	waitFor(t, 5*time.Second, "/ready after the first probe timed out", func() bool {
		code, _ := get(readyPort, "/ready")
		return code == http.StatusOK
	})
	assert.GreaterOrEqual(t, time.Since(start), 1500*time.Millisecond, "ready only once the probe timed out")
}
