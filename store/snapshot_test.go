package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSnapshot(rev int64) *Snapshot {
	return &Snapshot{
		Revision: rev,
		Services: map[string][]byte{
			"db":  []byte(`{"name":"db","endpoints":[{"address":"192.0.2.1"}],"check":{"password":"s3cret"}}`),
			"web": []byte(`{"name":"web"}`),
		},
		Endpoints: map[string]map[string]Endpoint{
			"db": {
				"192.0.2.2": {Doc: []byte(`{"port":5432}`)},
				"192.0.2.3": {Doc: []byte(`{}`), Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
			},
		},
	}
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd.snapshot")
	snap := testSnapshot(42)
	snap.Services["garbage"] = []byte(`{not json`)
	loaded := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	require.NoError(t, WriteSnapshot(path, snap, loaded))

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "documents hold secrets")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"db":{"name":"db",`, "documents kept as the JSON they are")

	got, at, err := ReadSnapshot(path)
	require.NoError(t, err)
	assert.True(t, loaded.Equal(at), "%s", at)
	delete(snap.Services, "garbage") // not JSON: left out, as the registry would
	assert.Equal(t, snap.Revision, got.Revision)
	for name, doc := range snap.Services {
		assert.JSONEq(t, string(doc), string(got.Services[name]), name)
	}
	assert.Len(t, got.Services, len(snap.Services))
	require.Len(t, got.Endpoints["db"], 2)
	assert.JSONEq(t, `{"port":5432}`, string(got.Endpoints["db"]["192.0.2.2"].Doc))
	assert.True(t, got.Endpoints["db"]["192.0.2.2"].Expires.IsZero())
	assert.True(t, snap.Endpoints["db"]["192.0.2.3"].Expires.Equal(got.Endpoints["db"]["192.0.2.3"].Expires))

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}

func TestBadSnapshotFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `{"version":1,"loaded":"2026-12-05T10:00:00Z","revision":4,"services":{"db":{"na`,
		"version":   `{"version":2,"loaded":"2026-12-05T10:00:00Z","revision":4,"services":{},"endpoints":{}}`,
		"revision":  `{"version":1,"loaded":"2026-12-05T10:00:00Z","services":{},"endpoints":{}}`,
		"binary":    "\x00\x01\x02",
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, _, err := ReadSnapshot(path)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "snapshot "+path+": ", name)
		t.Logf("%s: %v", name, err)
	}
	_, _, err := ReadSnapshot(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestSnapshotWriterCoalesces: while a write is in flight, the snapshots
// given wait, each replacing the one before; the newest is written next,
// and Save never waits for the disk.
func TestSnapshotWriterCoalesces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd.snapshot")
	w := NewSnapshotWriter(path, nil)
	started, release := make(chan struct{}), make(chan struct{})
	var writes atomic.Int32
	var inFlight atomic.Int32
	w.write = func(path string, snap *Snapshot, loaded time.Time) error {
		if inFlight.Add(1) > 1 {
			t.Error("two writes at once")
		}
		defer inFlight.Add(-1)
		if writes.Add(1) == 1 {
			close(started)
			<-release
		}
		return WriteSnapshot(path, snap, loaded)
	}
	w.Save(testSnapshot(1), time.Now())
	<-started
	start := time.Now()
	for rev := int64(2); rev <= 100; rev++ {
		w.Save(testSnapshot(rev), time.Now())
	}
	assert.Less(t, time.Since(start), 100*time.Millisecond, "Save waited")
	close(release)
	w.Wait()
	assert.Equal(t, int32(2), writes.Load(), "the first, then the newest")
	got, _, err := ReadSnapshot(path)
	require.NoError(t, err)
	assert.Equal(t, int64(100), got.Revision)

	// And again after it went idle.
	w.Save(testSnapshot(101), time.Now())
	w.Wait()
	got, _, err = ReadSnapshot(path)
	require.NoError(t, err)
	assert.Equal(t, int64(101), got.Revision)
}

// TestSnapshotWriterIsAtomic: a reader never finds a snapshot half
// written, however often it is replaced.
func TestSnapshotWriterIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etcd.snapshot")
	big := func(rev int64) *Snapshot {
		s := &Snapshot{Revision: rev, Services: map[string][]byte{}, Endpoints: map[string]map[string]Endpoint{}}
		for i := range 5000 {
			s.Services[fmt.Sprintf("s%d", i)] = fmt.Appendf(nil, `{"name":"s%d","endpoints":["192.0.2.1"]}`, i)
		}
		return s
	}
	require.NoError(t, WriteSnapshot(path, big(1), time.Now()))
	w := NewSnapshotWriter(path, func(err error) { t.Error(err) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for rev := int64(2); ; rev++ {
			select {
			case <-stop:
				return
			default:
			}
			w.Save(big(rev), time.Now())
			time.Sleep(time.Millisecond)
		}
	})
	reads := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); reads++ {
		got, _, err := ReadSnapshot(path)
		require.NoError(t, err)
		require.Len(t, got.Services, 5000)
	}
	close(stop)
	wg.Wait()
	w.Wait()
	t.Logf("%d whole reads while it was rewritten", reads)
}
