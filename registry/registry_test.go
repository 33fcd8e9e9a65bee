package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/bolt"
)

var opts = config.Options{Zones: []string{"tp.internal."}}

// heldLoads is a real store whose Load, once read, waits to be let go:
// what a Load that races a write looks like.
type heldLoads struct {
	store.Store
	read, release chan struct{}
}

func (h *heldLoads) Load(ctx context.Context) (*store.Snapshot, error) {
	snap, err := h.Store.Load(ctx)
	h.read <- struct{}{}
	<-h.release
	return snap, err
}

func openBolt(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tpdns.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func service(t *testing.T, js string) config.Service {
	t.Helper()
	s, err := config.DecodeJSON([]byte(js), opts)
	require.NoError(t, err)
	return s
}

func endpoints(s *State, name string) []string {
	var out []string
	for _, ep := range s.Stored[name].Service.Endpoints {
		out = append(out, ep.Address)
	}
	return out
}

// TestOlderSnapshotNeverReplacesNewerState: a Load that read the store
// before a write and returns after it is dropped, and the echo of the
// registry's own write publishes nothing.
func TestOlderSnapshotNeverReplacesNewerState(t *testing.T) {
	held := &heldLoads{Store: openBolt(t), read: make(chan struct{}), release: make(chan struct{})}
	r := New(opts, nil)
	r.SetStore(held)
	published := 0
	r.Subscribe(func(*State) { published++ })
	go func() { <-held.read; held.release <- struct{}{} }()
	_, err := r.Load(context.Background()) // the empty store, at revision 0
	require.NoError(t, err)

	loaded := make(chan error)
	go func() { _, err := r.Load(context.Background()); loaded <- err }()
	<-held.read // the store read, before the write
	_, _, err = r.Put(context.Background(), service(t, `{"name":"db","endpoints":["10.0.0.1"]}`))
	require.NoError(t, err)
	close(held.release)
	require.NoError(t, <-loaded)
	assert.Equal(t, []string{"10.0.0.1"}, endpoints(r.Snapshot(), "db"), "the older snapshot did not undo the write")
	assert.Equal(t, 2, published, "at Subscribe, and the write")

	// The echo: the store at the revision of the write, known by it (the
	// state is not even replaced).
	state := r.Snapshot()
	go func() { <-held.read }()
	_, err = r.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, published, "the echo of the write publishes nothing")
	assert.Same(t, state, r.Snapshot())
}

// TestSnapshotFromAnotherWriter: a change made by someone else (another
// replica) is published by the next Load.
func TestSnapshotFromAnotherWriter(t *testing.T) {
	st := openBolt(t)
	r := New(opts, nil)
	r.SetStore(st)
	_, _, err := r.Put(context.Background(), service(t, `{"name":"db","endpoints":["10.0.0.1"]}`))
	require.NoError(t, err)
	_, _, err = st.PutEndpoint(context.Background(), "db", "10.0.0.2", []byte(`{}`), 0)
	require.NoError(t, err)
	_, err = r.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.2"}, endpoints(r.Snapshot(), "db"))
}

// TestWritesAreCheckedAgainstTheUnion: the file's names and the other
// store services' are taken, and the file's services cannot be written.
func TestWritesAreCheckedAgainstTheUnion(t *testing.T) {
	file := []config.Service{service(t, `{"name":"pg","endpoints":[{"address":"10.0.0.5","name":"primary"}]}`)}
	r := New(opts, file)
	r.SetStore(openBolt(t))
	ctx := context.Background()

	_, _, err := r.Put(ctx, service(t, `{"name":"pg","endpoints":["10.0.0.6"]}`))
	assert.ErrorIs(t, err, ErrFileOwned)
	_, _, err = r.Put(ctx, service(t, `{"name":"primary.pg","endpoints":["10.0.0.6"]}`))
	var clash *ClashError
	require.True(t, errors.As(err, &clash), "%v", err)
	assert.Equal(t, ClashError{Name: "primary.pg", By: "pg", File: true}, *clash)
	assert.EqualError(t, clash, "the name primary.pg is already used by the registry file's service pg")

	_, _, err = r.Put(ctx, service(t, `{"name":"web","endpoints":["10.0.0.7"]}`))
	require.NoError(t, err)
	_, _, err = r.Put(ctx, service(t, `{"name":"api.web","endpoints":["10.0.0.8"]}`))
	require.NoError(t, err)
	// An endpoint label of web would make api.web's name.
	_, _, err = r.PutEndpoint(ctx, "web", "10.0.0.9", func(e *config.EndpointDoc) { e.Name = "api" }, 0)
	require.True(t, errors.As(err, &clash), "%v", err)
	assert.Equal(t, ClashError{Name: "api.web", By: "api.web"}, *clash)
	assert.EqualError(t, clash, "the name api.web is already used by the store's service api.web")
	assert.Equal(t, []string{"10.0.0.7"}, endpoints(r.Snapshot(), "web"), "a refused write changes nothing")

	assert.ErrorIs(t, r.Delete(ctx, "nope"), ErrNotFound)
	assert.ErrorIs(t, r.DeleteEndpoint(ctx, "web", "10.9.9.9"), ErrNoEndpoint)
	_, _, err = r.PutEndpoint(ctx, "nope", "10.0.0.1", func(*config.EndpointDoc) {}, 0)
	assert.ErrorIs(t, err, ErrNotFound)
}
