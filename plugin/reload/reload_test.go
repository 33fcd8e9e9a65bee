package reload_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/reload"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReloadsWhenTheCorefileChanges(t *testing.T) {
	logs := test.CaptureLog(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Corefile")
	port := test.FreePort(t)
	corefile := func(text string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n reload 2s 1s\n testanswer %s\n}\n", port, text)
	}
	require.NoError(t, os.WriteFile(path, []byte(corefile("one")), 0o644))
	test.StartInput(t, server.Input{Filename: path, Contents: []byte(corefile("one"))})
	// The reload replaces the instance: stop whichever runs at the end.
	t.Cleanup(func() {
		for _, inst := range slices.Clone(caddy.Instances()) {
			server.Stop(inst)
		}
	})
	addr := "127.0.0.1:" + port
	answer := func() string {
		return test.Exchange(t, "udp", addr, test.Query("x.", dns.TypeTXT, 0)).Answer[0].(*dns.TXT).Txt[0]
	}
	require.Equal(t, "one 0", answer())

	require.NoError(t, os.WriteFile(path, []byte(corefile("two")), 0o644))
	waitAnswer(t, answer, "two 0", 5*time.Second) // interval 2s ± 1s

	// A broken Corefile is logged once and the running one stays.
	require.NoError(t, os.WriteFile(path, []byte(".:"+port+" {\n reload 2s 1s\n nonsense\n}\n"), 0o644))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "[ERROR] plugin/reload: keeping the running configuration") {
		require.True(t, time.Now().Before(deadline), "no error logged:\n%s", logs)
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, "two 0", answer())
}

func waitAnswer(t *testing.T, answer func() string, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for answer() != want {
		require.True(t, time.Now().Before(deadline), "no %q within %s", want, within)
		time.Sleep(20 * time.Millisecond)
	}
}
