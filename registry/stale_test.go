package registry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/store"
)

// TestLoadStaleIsReplacedByAnyLoad: a snapshot kept in a file is served
// while nothing was read from the store, and the store's first snapshot
// replaces it whole though its revision is lower (etcd restored from an
// older backup, or bolt's own counter).
func TestLoadStaleIsReplacedByAnyLoad(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	doc := func(js string) []byte {
		b, err := config.EncodeJSON(service(t, js))
		require.NoError(t, err)
		return b
	}
	_, _, err := st.PutService(ctx, "db", doc(`{"name":"db","endpoints":["10.0.0.1"]}`))
	require.NoError(t, err)

	r := New(opts, nil)
	r.SetStore(st)
	published := 0
	r.Subscribe(func(*State) { published++ })
	stale := &store.Snapshot{
		Revision: 1000,
		Services: map[string][]byte{
			"db":     doc(`{"name":"db","endpoints":["10.0.0.9"]}`),
			"old":    doc(`{"name":"old","endpoints":["10.0.0.2"]}`),
			"broken": []byte(`{"name":"broken","endpoints":["not an address"]}`),
		},
		Endpoints: map[string]map[string]store.Endpoint{"old": {"10.0.0.3": {Doc: []byte(`{}`)}}},
	}
	invalid, applied := r.LoadStale(stale)
	require.True(t, applied)
	assert.Contains(t, invalid, "broken")
	assert.Equal(t, []string{"10.0.0.9"}, endpoints(r.Snapshot(), "db"))
	assert.Equal(t, []string{"10.0.0.2", "10.0.0.3"}, endpoints(r.Snapshot(), "old"))
	assert.Equal(t, int64(1000), r.Snapshot().Stored["db"].Revision)
	assert.Equal(t, 2, published, "at Subscribe, and the stale snapshot")

	_, err = r.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1"}, endpoints(r.Snapshot(), "db"), "the store's read replaces the stale one")
	assert.NotContains(t, r.Snapshot().Stored, "old")
	assert.Equal(t, 3, published)

	_, applied = r.LoadStale(stale)
	assert.False(t, applied, "never over what was read from the store")
	assert.Equal(t, []string{"10.0.0.1"}, endpoints(r.Snapshot(), "db"))
}
