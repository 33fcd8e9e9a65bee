// Package logcapture collects what the standard logger prints, for tests
// of packages that package test itself imports (server), and for test.
package logcapture

import (
	"bytes"
	"log"
	"sync"
	"testing"
)

// Buffer collects what the standard logger prints.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was logged so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Capture sends the standard logger's output, without timestamps, to a
// buffer until the test ends. Tests that use it must not run in parallel.
func Capture(t testing.TB) *Buffer {
	b := &Buffer{}
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(b)
	log.SetFlags(0)
	t.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	return b
}
