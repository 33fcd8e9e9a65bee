package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// DefaultMaxSize is the largest registry file read unless the plugin's
// services_max_size says otherwise: 64 MiB, over twice a registry of
// 100,000 services with three endpoints each. A larger file is more likely
// a mistake (the wrong file, one that grows without end) than a registry,
// and its parse would take memory from the server for nothing.
const DefaultMaxSize = 64 << 20

// ReadFile reads the registry file at path, refusing one of more than
// limit bytes (0: DefaultMaxSize) before reading it: its size is looked at
// first, and then at most one byte past limit is read, so that a file
// growing meanwhile cannot slip past either. Errors read
// "services PATH: ...", and a file too large "services PATH: 70.1 MiB,
// more than the 64 MiB limit (services_max_size)".
func ReadFile(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("services %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("services %s: %w", path, err)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("services %s: %s, more than the %s limit (services_max_size)", path, FormatSize(fi.Size()), FormatSize(limit))
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("services %s: %w", path, err)
	}
	if int64(b.Len()) > limit {
		return nil, fmt.Errorf("services %s: more than the %s limit (services_max_size)", path, FormatSize(limit))
	}
	return b.Bytes(), nil
}

// FormatSize writes a size in bytes for people: "64 MiB", "70.1 MiB",
// "512 KiB", "100 B", with one decimal when the unit does not divide it.
func FormatSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for u+1 < len(units) && n >= 1<<(10*(u+1)) {
		u++
	}
	if n%(1<<(10*u)) == 0 {
		return fmt.Sprintf("%d %s", n>>(10*u), units[u])
	}
	return fmt.Sprintf("%.1f %s", float64(n)/float64(int64(1)<<(10*u)), units[u])
}

// ParseSize reads a size as the Corefile gives one: bytes ("65536"), or a
// number with a binary unit, KiB, MiB or GiB ("512KiB", "64MiB").
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 64MiB, 512KiB or a number of bytes", s)
	}
	return n * mult, nil
}
