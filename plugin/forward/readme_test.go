package forward

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/server"
)

// TestReadmeExamples loads every Corefile of the README, as the project's
// test of all READMEs does once this plugin is compiled in.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)~~~ corefile\n(.*?)~~~").FindAllSubmatch(b, -1)
	assert.Len(t, blocks, 3)
	for _, m := range blocks {
		err := server.Validate(server.Input{Filename: "Corefile", Contents: m[1]})
		assert.NoError(t, err, "%s", m[1])
	}
}
