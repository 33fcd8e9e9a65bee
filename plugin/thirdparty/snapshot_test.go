package thirdparty

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func TestParseEtcdSnapshot(t *testing.T) {
	for _, c := range []struct{ input, want, err string }{
		{input: "", want: ""},
		{input: "snapshot /var/cache/tpdns/etcd.snapshot", want: "/var/cache/tpdns/etcd.snapshot"},
		{input: "snapshot off", want: snapshotOff},
		{input: "snapshot", err: "Testfile:3 - Error during parsing: store etcd snapshot: want one PATH, or off"},
		{input: "snapshot a b", err: "Testfile:3 - Error during parsing: store etcd snapshot: want one PATH, or off"},
	} {
		input := "thirdparty {\n store etcd 127.0.0.1:2379 {\n  " + c.input + "\n }\n}"
		ctl := caddy.NewTestController(plugin.ServerType, input)
		ctl.ServerBlockKeys = []string{"tp.internal."}
		o, err := parse(ctl)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, o.store.snapshot, c.input)
	}
}

func TestDefaultSnapshotPath(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	a, err := defaultSnapshotPath(storeOptions{kind: "etcd", endpoints: []string{"127.0.0.1:2379"}, prefix: "/tpdns"})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "tpdns"), filepath.Dir(a))
	assert.True(t, strings.HasPrefix(filepath.Base(a), "etcd-") && strings.HasSuffix(a, ".snapshot"), a)
	b, err := defaultSnapshotPath(storeOptions{kind: "etcd", endpoints: []string{"127.0.0.1:2379"}, prefix: "/other"})
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "another prefix, another file")

	// A cache directory that cannot be made: an error, for a WARNING.
	file := filepath.Join(cache, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	t.Setenv("XDG_CACHE_HOME", file)
	_, err = defaultSnapshotPath(storeOptions{kind: "etcd", endpoints: []string{"127.0.0.1:2379"}, prefix: "/tpdns"})
	assert.Error(t, err)
}
