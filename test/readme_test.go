package test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/server"
)

// Examples in READMEs: Corefiles, and registry files.
var (
	corefileBlock = regexp.MustCompile("(?s)~~~ corefile\n(.*?)~~~")
	yamlBlock     = regexp.MustCompile("(?s)~~~ yaml\n(.*?)~~~")
)

// TestDocumentedExamplesAreValid checks every Corefile and registry file a
// README shows, and the example Corefile with its registry, the way
// --validate does. A README's Corefiles find its last registry example as
// services.yaml beside them.
func TestDocumentedExamplesAreValid(t *testing.T) {
	docs, err := filepath.Glob("../plugin/*/README.md")
	require.NoError(t, err)
	docs = append(docs, "../README.md")
	corefiles := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		dir := t.TempDir()
		for i, m := range yamlBlock.FindAllSubmatch(b, -1) {
			_, err := config.ParseYAML(doc, m[1], config.Options{Zones: []string{"tp.internal."}})
			assert.NoError(t, err, "%s: registry example %d", doc, i+1)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), m[1], 0o644))
		}
		for i, m := range corefileBlock.FindAllSubmatch(b, -1) {
			corefiles++
			err := server.Validate(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: m[1]})
			assert.NoError(t, err, "%s: Corefile example %d:\n%s", doc, i+1, m[1])
		}
	}
	assert.Greater(t, corefiles, 5)

	b, err := os.ReadFile("../Corefile.example")
	require.NoError(t, err)
	assert.NoError(t, server.Validate(server.Input{Filename: "../Corefile.example", Contents: b}))
}
