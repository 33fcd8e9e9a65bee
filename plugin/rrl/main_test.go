package rrl

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readme is the plugin's README.md.
func readme() (string, error) {
	b, err := os.ReadFile("README.md")
	return string(b), err
}
