package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.yaml")
	valid := "services:\n  - name: a\n"
	require.NoError(t, os.WriteFile(path, []byte(valid), 0o600))
	data, err := ReadFile(path, int64(len(valid)))
	require.NoError(t, err)
	assert.Equal(t, valid, string(data))

	_, err = ReadFile(path, int64(len(valid))-1)
	assert.EqualError(t, err, "services "+path+": 22 B, more than the 21 B limit (services_max_size)")

	// Sparse: the size is looked at before anything is read.
	require.NoError(t, os.Truncate(path, 70<<20+100<<10))
	_, err = LoadFile(path, testZones)
	assert.EqualError(t, err, "services "+path+": 70.1 MiB, more than the 64 MiB limit (services_max_size)")

	// A file whose size says nothing, or that grows while read, is read
	// no further than one byte past the limit.
	_, err = ReadFile("/dev/zero", 1<<10)
	assert.EqualError(t, err, "services /dev/zero: more than the 1 KiB limit (services_max_size)")
}

func TestSizes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int64
		text string
	}{
		{"64MiB", 64 << 20, "64 MiB"},
		{"512KiB", 512 << 10, "512 KiB"},
		{"1GiB", 1 << 30, "1 GiB"},
		{"65536", 64 << 10, "64 KiB"},
		{"1000", 1000, "1000 B"},
		{"1536", 1536, "1.5 KiB"},
	} {
		n, err := ParseSize(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.n, n, tt.in)
		assert.Equal(t, tt.text, FormatSize(n), tt.in)
	}
	for _, in := range []string{"", "0", "-1", "64MB", "64 MiB", "1.5MiB", "MiB", "9999999999GiB"} {
		_, err := ParseSize(in)
		assert.EqualError(t, err, `"`+in+`" is not a size such as 64MiB, 512KiB or a number of bytes`, in)
	}
}
