package thirdparty_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/test"
)

// TestAPIWritesFailFastWhileEtcdIsDown: once the replica knows etcd is
// down (its ping failed), a PUT fails with 503 in under a second, not the
// store's 5s timeout, and changes nothing; once etcd is back, PUTs
// succeed again. Meanwhile the snapshot file holds the last registry read.
func TestAPIWritesFailFastWhileEtcdIsDown(t *testing.T) {
	e := test.StartEtcd(t)
	snapshot := filepath.Join(t.TempDir(), "etcd.snapshot")
	f := startStoreServer(t, "store etcd "+e.Endpoint+" {\n snapshot "+snapshot+"\n }")
	status, body := f.do(t, "PUT", "/v1/services/db", `{"endpoints":["10.220.0.1"]}`)
	require.Equal(t, http.StatusCreated, status, body)
	f.waitDNS(t, "db.tp.internal.", []string{"10.220.0.1"}, 0)

	// The write's echo is read from etcd, and written to the file.
	var snap *store.Snapshot
	waitUntil(t, 5*time.Second, "the snapshot holds db", func() bool {
		var err error
		snap, _, err = store.ReadSnapshot(snapshot)
		return err == nil && snap.Services["db"] != nil
	})
	fi, err := os.Stat(snapshot)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	e.Stop(t)
	stopped := time.Now()
	waitUntil(t, 10*time.Second, "store_up 0", func() bool {
		return metricValue(t, "tpdns_thirdparty_store_up", nil) == 0
	})
	t.Logf("etcd known down %s after it stopped", time.Since(stopped).Round(time.Millisecond))
	for _, w := range []struct{ path, body string }{
		{"/v1/services/other", `{"endpoints":["10.220.0.2"]}`},
		{"/v1/services/db/endpoints/10.220.0.3", ``},
	} {
		start := time.Now()
		status, body := f.do(t, "PUT", w.path, w.body)
		took := time.Since(start)
		assert.Equal(t, http.StatusServiceUnavailable, status, body)
		assert.Less(t, took, time.Second, "PUT %s with etcd down", w.path)
		t.Logf("PUT %s with etcd down: %d in %s", w.path, status, took.Round(time.Millisecond))
	}
	f.waitDNS(t, "db.tp.internal.", []string{"10.220.0.1"}, 0)
	f.waitDNS(t, "other.tp.internal.", nil, 0)

	e.Start(t)
	// Stopped before the server's check for stray goroutines, which
	// started before this etcd process.
	t.Cleanup(func() { e.Stop(t) })
	started := time.Now()
	var refused int
	waitUntil(t, 15*time.Second, "a PUT succeeds after etcd is back", func() bool {
		status, _, err := f.send("PUT", "/v1/services/other", `{"endpoints":["10.220.0.2"]}`)
		if status == http.StatusServiceUnavailable {
			refused++
		}
		return err == nil && status == http.StatusCreated
	})
	t.Logf("a PUT succeeded %s after etcd started (%d refused before)", time.Since(started).Round(time.Millisecond), refused)
	f.waitDNS(t, "other.tp.internal.", []string{"10.220.0.2"}, 0)
	f.waitDNS(t, "db.tp.internal.", []string{"10.220.0.1"}, 0)
}

// waitUntil polls cond until it holds, for at most within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
