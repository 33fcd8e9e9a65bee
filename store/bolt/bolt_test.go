package bolt

import (
	"context"
	"errors"
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

	require.NoError(t, store.Put(ctx, s, "db", []byte(`{"a":1}`)))
	select {
	case <-changes:
	case <-time.After(time.Second):
		t.Fatal("no change signalled")
	}
	require.NoError(t, store.Put(ctx, s, "web", []byte(`{"b":2}`)))
	doc, ok, err := s.Get(ctx, "db")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, `{"a":1}`, string(doc))
	_, ok, err = s.Get(ctx, "nope")
	require.NoError(t, err)
	assert.False(t, ok)

	// An aborted update changes nothing.
	boom := errors.New("boom")
	err = s.Update(ctx, "db", func(old []byte) ([]byte, error) { return nil, boom })
	assert.ErrorIs(t, err, boom)
	existed, err := store.Delete(ctx, s, "nope")
	require.NoError(t, err)
	assert.False(t, existed)
	existed, err = store.Delete(ctx, s, "web")
	require.NoError(t, err)
	assert.True(t, existed)
	stopWatching()
	require.NoError(t, s.Close())

	// What was acknowledged is there after reopening.
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	docs, err := s.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"db": []byte(`{"a":1}`)}, docs)
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
