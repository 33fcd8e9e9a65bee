package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/store"
)

// snapshotOf waits until the replicas' etcd snapshot file (in the cache
// directory, by default) holds the service name, and returns its path.
func snapshotOf(t *testing.T, cache, name string) string {
	t.Helper()
	var path string
	waitFor(t, 5*time.Second, "a snapshot file holding "+name, func() bool {
		files, _ := filepath.Glob(filepath.Join(cache, "tpdns", "etcd-*.snapshot"))
		if len(files) != 1 {
			return false
		}
		path = files[0]
		snap, _, err := store.ReadSnapshot(path)
		return err == nil && snap.Services[name] != nil
	})
	return path
}

// ede returns the extended error codes of m.
func ede(m *dns.Msg) []uint16 {
	var codes []uint16
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				codes = append(codes, e.InfoCode)
			}
		}
	}
	return codes
}

// TestReplicaStartedWhileEtcdIsDownServesItsSnapshot: a replica restarted
// while etcd cannot be reached answers the registry it last read, from its
// snapshot file, stale (EDE 3, store_up 0), and refuses writes at once;
// when etcd is back it answers what etcd holds, changes made meanwhile
// included, fresh.
func TestReplicaStartedWhileEtcdIsDownServesItsSnapshot(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache) // the replicas' snapshot files
	e := StartEtcd(t)
	r := startReplicas(t, e, 1)[0]
	require.Equal(t, http.StatusCreated, r.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1","192.0.2.2"]}`))
	require.Equal(t, http.StatusCreated, r.do(t, "PUT", "/v1/services/gone", `{"endpoints":["192.0.2.5"]}`))
	path := snapshotOf(t, cache, "gone")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "documents hold secrets")

	r.proc.Signal(t, syscall.SIGTERM)
	r.proc.Wait(t)
	e.Stop(t)
	start := time.Now()
	r.proc = r.start(t)
	t.Logf("restarted with etcd down: started in %s", time.Since(start).Round(time.Millisecond))
	r.proc.WaitOutput(t, "because etcd cannot be reached")
	assert.Contains(t, r.proc.Output.String(), "[WARNING] plugin/thirdparty: serving the snapshot of ")

	stale := Exchange(t, "udp", r.dns, Query("db.tp.internal.", dns.TypeA, 1232))
	assert.Len(t, stale.Answer, 2)
	assert.Equal(t, []uint16{dns.ExtendedErrorCodeStaleAnswer}, ede(stale), "stale")
	assert.Equal(t, map[string]bool{"192.0.2.5": true}, r.a(t, "gone.tp.internal."))
	metrics := r.scrape(t)
	assert.Contains(t, metrics, "tpdns_thirdparty_store_up 0")
	assert.Contains(t, metrics, "tpdns_thirdparty_store_last_load_timestamp_seconds ")

	// The store is known down (the first read failed): writes fail at once.
	start = time.Now()
	assert.Equal(t, http.StatusServiceUnavailable, r.do(t, "PUT", "/v1/services/other", `{"endpoints":["192.0.2.7"]}`))
	took := time.Since(start)
	assert.Less(t, took, time.Second)
	t.Logf("PUT with etcd down: 503 in %s", took.Round(time.Millisecond))

	// etcd comes back with changes made behind this replica's back: they
	// replace the snapshot whole.
	e.Start(t)
	_, err = e.Client(t).Delete(t.Context(), "/tpdns/services/gone")
	require.NoError(t, err)
	e.Put(t, "/tpdns/services/db", `{"name":"db","endpoints":[{"address":"192.0.2.3","priority":0,"weight":1,"disabled":false}]}`)
	took = r.waitA(t, "db.tp.internal.", map[string]bool{"192.0.2.3": true}, 10*time.Second)
	t.Logf("the change made while the replica served its snapshot answered %s after etcd started", took.Round(time.Millisecond))
	assert.Empty(t, r.a(t, "gone.tp.internal."), "deleted before db changed")
	fresh := Exchange(t, "udp", r.dns, Query("db.tp.internal.", dns.TypeA, 1232))
	assert.Empty(t, ede(fresh), "fresh again")
	assert.Contains(t, r.scrape(t), "tpdns_thirdparty_store_up 1")
	assert.Equal(t, http.StatusCreated, r.do(t, "PUT", "/v1/services/other", `{"endpoints":["192.0.2.7"]}`))
}

// TestCorruptSnapshotIsReportedAndIgnored: a replica started while etcd is
// down with a snapshot file it cannot read says so, with the path, and
// serves without it; the next read of etcd writes it anew.
func TestCorruptSnapshotIsReportedAndIgnored(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	e := StartEtcd(t)
	r := startReplicas(t, e, 1)[0]
	require.Equal(t, http.StatusCreated, r.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1"]}`))
	path := snapshotOf(t, cache, "db")
	r.proc.Signal(t, syscall.SIGTERM)
	r.proc.Wait(t)
	e.Stop(t)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)/2], 0o600)) // cut short

	r.proc = r.start(t)
	r.proc.WaitOutput(t, "[WARNING] plugin/thirdparty: snapshot "+path+": ")
	assert.NotContains(t, r.proc.Output.String(), "serving the snapshot")
	assert.Empty(t, r.a(t, "db.tp.internal."))
	assert.Contains(t, r.scrape(t), "tpdns_thirdparty_store_up 0")

	e.Start(t)
	r.waitA(t, "db.tp.internal.", map[string]bool{"192.0.2.1": true}, 10*time.Second)
	waitFor(t, 5*time.Second, "the snapshot written anew", func() bool {
		_, _, err := store.ReadSnapshot(path)
		return err == nil
	})
	assert.False(t, strings.Contains(r.proc.Output.String(), "panic"))
}
