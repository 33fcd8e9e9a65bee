package rrl

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/prometheus"
	"github.com/tpdns/tpdns/server"
)

// TestReadmeExamples loads every Corefile of the README, with its registry
// example as services.yaml beside them, as the project's test of all
// READMEs does once this plugin is compiled in.
func TestReadmeExamples(t *testing.T) {
	b, err := readme()
	require.NoError(t, err)
	registries := regexp.MustCompile("(?s)~~~ yaml\n(.*?)~~~").FindAllStringSubmatch(b, -1)
	require.Len(t, registries, 1)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registries[0][1]), 0o644))
	corefiles := regexp.MustCompile("(?s)~~~ corefile\n(.*?)~~~").FindAllStringSubmatch(b, -1)
	assert.Len(t, corefiles, 2)
	for _, m := range corefiles {
		err := server.Validate(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(m[1])})
		assert.NoError(t, err, "%s", m[1])
	}
}
