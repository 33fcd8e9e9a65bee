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

	created, err := s.PutService(ctx, "db", []byte(`{"name":"db"}`))
	require.NoError(t, err)
	assert.True(t, created)
	select {
	case <-changes:
	case <-time.After(time.Second):
		t.Fatal("no change signalled")
	}
	created, err = s.PutService(ctx, "db", []byte(`{"name":"db","ttl":5}`))
	require.NoError(t, err)
	assert.False(t, created)
	_, err = s.PutService(ctx, "web", []byte(`{"name":"web"}`))
	require.NoError(t, err)

	created, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"address":"10.0.0.1"}`), 0)
	require.NoError(t, err)
	assert.True(t, created)
	created, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"address":"10.0.0.1","weight":5}`), 0)
	require.NoError(t, err)
	assert.False(t, created)
	_, err = s.PutEndpoint(ctx, "web", "10.0.0.9", []byte(`{"address":"10.0.0.9"}`), 0)
	require.NoError(t, err)
	_, err = s.PutEndpoint(ctx, "nope", "10.0.0.1", []byte(`{}`), 0)
	assert.ErrorIs(t, err, store.ErrNoService)

	existed, err := s.DeleteEndpoint(ctx, "db", "10.0.0.7")
	require.NoError(t, err)
	assert.False(t, existed)
	existed, err = s.DeleteService(ctx, "web")
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
	_, err = s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	_, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 300*time.Millisecond)
	require.NoError(t, err)
	_, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), time.Hour)
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
