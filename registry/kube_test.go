package registry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

func names(services []config.Service) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name)
	}
	return out
}

// TestKubeServicesComeLast: the Kubernetes objects' services are served
// after the file's and the store's, and one whose name either has is not
// served, with the reason; they outlive the store's reloads and the file's.
func TestKubeServicesComeLast(t *testing.T) {
	file := []config.Service{service(t, `{"name":"pg","endpoints":[{"address":"10.0.0.5","name":"primary"}]}`)}
	r := New(opts, file)
	r.SetStore(openBolt(t))
	ctx := context.Background()
	_, _, err := r.Put(ctx, service(t, `{"name":"web","endpoints":["10.0.0.7"]}`))
	require.NoError(t, err)

	r.SetKube(map[string]config.Service{
		"oracle.finance":   service(t, `{"name":"oracle.finance","endpoints":["10.0.1.1"]}`),
		"primary.pg":       service(t, `{"name":"primary.pg","endpoints":["10.0.1.2"]}`),
		"web":              service(t, `{"name":"web","endpoints":["10.0.1.3"]}`),
		"a.oracle.finance": service(t, `{"name":"a.oracle.finance","endpoints":["10.0.1.4"]}`),
		"finance":          service(t, `{"name":"finance","endpoints":[{"address":"10.0.1.5","name":"oracle"}]}`),
	})
	st := r.Snapshot()
	// Among themselves, in name order: finance's endpoint oracle takes
	// the name oracle.finance first.
	assert.Equal(t, []string{"pg", "web", "a.oracle.finance", "finance"}, names(st.Services))
	assert.Equal(t, map[string]string{
		"primary.pg":     "the name primary.pg is already used by the registry file's service pg",
		"web":            "the name web is already used by the store's service web",
		"oracle.finance": "the name oracle.finance is already used by the Kubernetes object's service finance",
	}, st.KubeConflicts)
	assert.Empty(t, st.Conflicts)

	// A store write may take a name a Kubernetes object has: the store
	// comes first.
	_, _, err = r.Put(ctx, service(t, `{"name":"a.oracle.finance","endpoints":["10.0.0.8"]}`))
	require.NoError(t, err)
	st = r.Snapshot()
	assert.Equal(t, []string{"pg", "a.oracle.finance", "web", "finance"}, names(st.Services))
	assert.Equal(t, "the name a.oracle.finance is already used by the store's service a.oracle.finance", st.KubeConflicts["a.oracle.finance"])

	_, err = r.Load(ctx)
	require.NoError(t, err)
	r.SetFile(nil)
	st = r.Snapshot()
	assert.Equal(t, []string{"a.oracle.finance", "web", "finance", "primary.pg"}, names(st.Services))

	r.SetKube(nil)
	assert.Equal(t, []string{"a.oracle.finance", "web"}, names(r.Snapshot().Services))
	assert.Empty(t, r.Snapshot().KubeConflicts)
}
