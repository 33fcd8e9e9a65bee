package test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// corefileBlock is a Corefile example in a README.
var corefileBlock = regexp.MustCompile("(?s)~~~ corefile\n(.*?)~~~")

// TestDocumentedCorefilesAreValid sets up every Corefile that a README
// shows, and the example Corefile, the way --validate does.
func TestDocumentedCorefilesAreValid(t *testing.T) {
	docs, err := filepath.Glob("../plugin/*/README.md")
	require.NoError(t, err)
	docs = append(docs, "../README.md")
	examples := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for i, m := range corefileBlock.FindAllSubmatch(b, -1) {
			examples++
			err := server.Validate(server.Input{Filename: doc, Contents: m[1]})
			assert.NoError(t, err, "%s: example %d:\n%s", doc, i+1, m[1])
		}
	}
	assert.Greater(t, examples, 5)

	b, err := os.ReadFile("../Corefile.example")
	require.NoError(t, err)
	assert.NoError(t, server.Validate(server.Input{Filename: "Corefile.example", Contents: b}))
}
