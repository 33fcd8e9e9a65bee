package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tpdns.db")
	s, err := Open(path)
	require.NoError(t, err)
	watchCtx, stopWatching := context.WithCancel(ctx)
	changes := s.Watch(watchCtx)

	created, _, err := s.PutService(ctx, "db", []byte(`{"name":"db"}`))
	require.NoError(t, err)
	assert.True(t, created)
	select {
	case <-changes:
	case <-time.After(time.Second):
		t.Fatal("no change signalled")
	}
	created, _, err = s.PutService(ctx, "db", []byte(`{"name":"db","ttl":5}`))
	require.NoError(t, err)
	assert.False(t, created)
	_, _, err = s.PutService(ctx, "web", []byte(`{"name":"web"}`))
	require.NoError(t, err)

	created, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"address":"10.0.0.1"}`), 0)
	require.NoError(t, err)
	assert.True(t, created)
	created, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"address":"10.0.0.1","weight":5}`), 0)
	require.NoError(t, err)
	assert.False(t, created)
	_, _, err = s.PutEndpoint(ctx, "web", "10.0.0.9", []byte(`{"address":"10.0.0.9"}`), 0)
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "nope", "10.0.0.1", []byte(`{}`), 0)
	assert.ErrorIs(t, err, store.ErrNoService)

	existed, _, err := s.DeleteEndpoint(ctx, "db", "10.0.0.7")
	require.NoError(t, err)
	assert.False(t, existed)
	existed, _, err = s.DeleteService(ctx, "web")
	require.NoError(t, err)
	assert.True(t, existed, "and its endpoints with it")
	stopWatching()
	require.NoError(t, s.Close())

	// What was acknowledged is there after reopening.
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"db": []byte(`{"name":"db","ttl":5}`)}, snap.Services)
	assert.Equal(t, map[string]map[string]store.Endpoint{"db": {"10.0.0.1": {Doc: []byte(`{"address":"10.0.0.1","weight":5}`)}}}, snap.Endpoints)
}

func TestHeartbeatEndpointsExpire(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tpdns.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, _, err = s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 300*time.Millisecond)
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), time.Hour)
	require.NoError(t, err)
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	require.Len(t, snap.Endpoints["db"], 2)
	assert.WithinDuration(t, time.Now().Add(time.Hour), snap.Endpoints["db"]["10.0.0.2"].Expires, time.Minute)

	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	changes := s.Watch(watchCtx)
	select {
	case <-changes: // the expiry
	case <-time.After(2 * time.Second):
		t.Fatal("no change signalled when the heartbeat ran out")
	}
	snap, err = s.Load(ctx)
	require.NoError(t, err)
	assert.NotContains(t, snap.Endpoints["db"], "10.0.0.1")
	require.NoError(t, s.Close())

	// A deadline that passes while the store is closed is honoured on Load.
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	snap, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Contains(t, snap.Endpoints["db"], "10.0.0.2")
}

func TestOpenHeldStoreFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tpdns.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	start := time.Now()
	_, err = Open(path)
	assert.EqualError(t, err, "store bolt "+path+": another process has it open (waited 1s for its lock)")
	assert.Less(t, time.Since(start), 3*time.Second)
}

// TestRevisions checks that every change raises the revision, a write that
// changes nothing does not, an expiry does, Load reports it, and it
// survives reopening: a reader orders snapshots and writes by it.
func TestRevisions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tpdns.db")
	s, err := Open(path)
	require.NoError(t, err)
	revs := []int64{}
	write := func(_ bool, rev int64, err error) {
		t.Helper()
		require.NoError(t, err)
		revs = append(revs, rev)
	}
	write(s.PutService(ctx, "db", []byte(`{}`)))
	write(s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 0))
	write(s.DeleteEndpoint(ctx, "db", "10.0.0.7")) // nothing to delete
	write(s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), 200*time.Millisecond))
	write(s.DeleteService(ctx, "web")) // nothing to delete
	assert.Equal(t, []int64{1, 2, 2, 3, 3}, revs)
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), snap.Revision)

	// The expiry of 10.0.0.2 is a change.
	require.Eventually(t, func() bool {
		snap, err := s.Load(ctx)
		return err == nil && snap.Revision == 4 && len(snap.Endpoints["db"]) == 1
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	write(s.DeleteService(ctx, "db"))
	assert.Equal(t, int64(5), revs[len(revs)-1])
}
