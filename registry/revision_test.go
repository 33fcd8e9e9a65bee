package registry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

var errRefused = errors.New("refused")

// ifRevision is the precondition "the service is at rev" (0: absent).
func ifRevision(rev int64) Precondition {
	return func(cur *Stored) error {
		if cur == nil && rev == 0 || cur != nil && cur.Revision == rev {
			return nil
		}
		return errRefused
	}
}

// TestRevisions: every change of a service gives it the revision of its
// store write; a heartbeat that changes nothing keeps it; a Load keeps
// the revision of a service it finds unchanged and gives the snapshot's to
// one that changed.
func TestRevisions(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	r := New(opts, nil)
	r.SetStore(st)
	_, err := r.Load(ctx)
	require.NoError(t, err)

	_, s, err := r.Put(ctx, service(t, `{"name":"db","endpoints":["10.0.0.1"]}`))
	require.NoError(t, err)
	assert.Equal(t, int64(1), s.Revision)
	assert.Equal(t, int64(1), r.Snapshot().Stored["db"].Revision)

	keep := func(*config.EndpointDoc) {}
	_, s, err = r.PutEndpoint(ctx, "db", "10.0.0.2", keep, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.Revision, "a new endpoint")
	_, s, err = r.PutEndpoint(ctx, "db", "10.0.0.2", keep, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.Revision, "a heartbeat that changes nothing")
	_, s, err = r.PutEndpoint(ctx, "db", "10.0.0.2", func(e *config.EndpointDoc) { e.Weight = 7 }, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(4), s.Revision, "a changed endpoint")
	require.NoError(t, r.DeleteEndpoint(ctx, "db", "10.0.0.2"))
	assert.Equal(t, int64(5), r.Snapshot().Stored["db"].Revision)

	_, _, err = r.Put(ctx, service(t, `{"name":"web","endpoints":["10.0.1.1"]}`))
	require.NoError(t, err)

	// Another writer changes web: a registry reading the store sees db
	// unchanged and web changed.
	other := New(opts, nil)
	other.SetStore(st)
	_, err = other.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(6), other.Snapshot().Stored["db"].Revision, "first read: the snapshot's")
	_, _, err = other.Put(ctx, service(t, `{"name":"web","endpoints":["10.0.1.2"]}`))
	require.NoError(t, err)
	_, err = r.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), r.Snapshot().Stored["db"].Revision, "unchanged")
	assert.Equal(t, int64(7), r.Snapshot().Stored["web"].Revision, "changed by the other writer")
}

// TestConditionalWrites: PutIf and DeleteIf write only when the
// precondition accepts the service as it is, and of two writers that read
// the same revision one wins.
func TestConditionalWrites(t *testing.T) {
	ctx := context.Background()
	r := New(opts, []config.Service{service(t, `{"name":"file","endpoints":["10.9.9.9"]}`)})
	r.SetStore(openBolt(t))

	_, _, err := r.PutIf(ctx, service(t, `{"name":"db","endpoints":["10.0.0.1"]}`), ifRevision(1))
	assert.ErrorIs(t, err, errRefused, "If-Match of a service that does not exist")
	created, s, err := r.PutIf(ctx, service(t, `{"name":"db","endpoints":["10.0.0.1"]}`), ifRevision(0))
	require.NoError(t, err)
	assert.True(t, created)
	rev := s.Revision

	_, _, err = r.PutIf(ctx, service(t, `{"name":"file","endpoints":["10.0.0.1"]}`), ifRevision(0))
	assert.ErrorIs(t, err, ErrFileOwned, "the file's service, whatever the precondition")
	assert.ErrorIs(t, r.DeleteIf(ctx, "file", ifRevision(0)), ErrFileOwned)

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = r.PutIf(ctx, service(t, `{"name":"db","endpoints":["10.0.0.2"]}`), ifRevision(rev))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, errRefused)
		}
	}
	assert.Equal(t, 1, won, "one writer of the revision read")

	assert.ErrorIs(t, r.DeleteIf(ctx, "db", ifRevision(rev)), errRefused)
	assert.Contains(t, r.Snapshot().Stored, "db", "a refused delete deletes nothing")
	require.NoError(t, r.DeleteIf(ctx, "db", ifRevision(r.Snapshot().Stored["db"].Revision)))
	assert.NotContains(t, r.Snapshot().Stored, "db")
}
