package etcd_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/etcd"
	"github.com/tpdns/tpdns/test"
)

// TestWritesFailFastOnceEtcdIsKnownDown: with the default timeout (5s), a
// write to an etcd known to be down (an operation found it unreachable)
// fails within a second; once etcd is back, writes succeed again.
func TestWritesFailFastOnceEtcdIsKnownDown(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()
	_, _, err := s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	require.False(t, s.Down())

	e.Stop(t)
	// What the plugin does every 2 s: a ping bounded by a second.
	start := time.Now()
	ping, cancel := context.WithTimeout(ctx, time.Second)
	err = s.Ping(ping)
	cancel()
	require.ErrorIs(t, err, store.ErrUnavailable)
	t.Logf("ping with etcd down failed after %s", time.Since(start).Round(time.Millisecond))
	require.True(t, s.Down())

	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"PutService", func() error { _, _, err := s.PutService(ctx, "web", []byte(`{}`)); return err }},
		{"PutEndpoint", func() error { _, _, err := s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), time.Minute); return err }},
		{"DeleteService", func() error { _, _, err := s.DeleteService(ctx, "db"); return err }},
	} {
		start := time.Now()
		err := op.do()
		took := time.Since(start)
		assert.ErrorIs(t, err, store.ErrUnavailable, op.name)
		assert.Less(t, took, time.Second, op.name)
		t.Logf("%s with etcd known down: failed after %s", op.name, took.Round(time.Millisecond))
	}

	e.Start(t)
	start = time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		_, _, err := s.PutService(ctx, "web", []byte(`{}`))
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "no write within 15s of etcd starting: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a write succeeded %s after etcd started", time.Since(start).Round(time.Millisecond))
	assert.False(t, s.Down())
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"db": []byte(`{}`), "web": []byte(`{}`)}, snap.Services, "the writes refused were not made")
}

// TestFirstWriteAfterEtcdDiedFailsFast: gRPC's connection state tells a
// write made just after etcd died, before any operation or ping failed.
func TestFirstWriteAfterEtcdDiedFailsFast(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()
	_, _, err := s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)

	e.Stop(t)
	start := time.Now()
	_, _, err = s.PutService(ctx, "web", []byte(`{}`))
	took := time.Since(start)
	require.ErrorIs(t, err, store.ErrUnavailable)
	t.Logf("the first write after etcd stopped failed after %s", took.Round(time.Millisecond))
	assert.Less(t, took, 2*time.Second, "not the whole 5s timeout")
}
