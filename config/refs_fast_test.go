package config

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTXTFastPath: a service without a "$" skips the expander, and gets
// exactly what the expander gives it, nil maps included.
func TestTXTFastPath(t *testing.T) {
	long := strings.Repeat("n", 250)
	for _, s := range []Service{
		{Name: "bare"},
		{Name: "ports", Ports: []Port{{Name: "db", Number: 5432}, {Name: "em-console", Number: 5500}}},
		{Name: "same-prefix", Ports: []Port{{Name: "a-b", Number: 1}, {Name: "a_b", Number: 2}}},
		{Name: "written", Ports: []Port{{Name: "db", Number: 5432}}, Connection: map[string]string{"DB_PORT": "6432", "USER": "u"}},
		{Name: "secret", Ports: []Port{{Name: "db", Number: 5432}}, Secrets: map[string]string{"DB_HOST": "h", "PASSWORD": "p"}},
		{Name: long, Ports: []Port{{Name: "db", Number: 5432}}},
		{Name: "empty", Connection: map[string]string{}, Secrets: map[string]string{}},
		{Name: "secrets-only", Secrets: map[string]string{"K": "v"}},
	} {
		for _, zone := range []string{"tp.internal.", ".", ""} {
			conn, secrets := s.TXT(zone)
			wantConn, wantSecrets, problems := s.expand(zone)
			assert.Empty(t, problems)
			assert.Equal(t, wantConn, conn, "%s in %q", s.Name, zone)
			assert.Equal(t, wantSecrets, secrets, "%s in %q", s.Name, zone)
		}
	}
}

// TestTXTPairs: TXTPairs is TXT in key order, with or without references,
// the secrets' value winning in all.
func TestTXTPairs(t *testing.T) {
	for _, s := range []Service{
		{Name: "bare"},
		{Name: "ports", Ports: []Port{{Name: "db", Number: 5432}, {Name: "em-console", Number: 5500}}, Connection: map[string]string{"Z": "z", "A": "a"}},
		{Name: "secret", Ports: []Port{{Name: "db", Number: 5432}}, Secrets: map[string]string{"DB_HOST": "h", "PASSWORD": "p"}},
		{Name: "both", Connection: map[string]string{"K": "c", "L": "l"}, Secrets: map[string]string{"K": "s"}},
		{Name: "refs", Ports: []Port{{Name: "db", Number: 5432}}, Connection: map[string]string{"URL": "pg://${DB_HOST}:${DB_PORT}", "P": "$$"}, Secrets: map[string]string{"DSN": "${URL}?${PW}", "PW": "x"}},
		{Name: "bad-ref", Connection: map[string]string{"X": "${NOPE}", "Y": "$"}},
	} {
		conn, secrets := s.TXT("tp.internal.")
		gotConn, gotAll := s.TXTPairs("tp.internal.", []TXTPair{{"BEFORE", "kept"}})
		var want []TXTPair
		for _, k := range slices.Sorted(maps.Keys(conn)) {
			want = append(want, TXTPair{k, conn[k]})
		}
		assert.Equal(t, len(want), len(gotConn), s.Name)
		if len(want) > 0 {
			assert.Equal(t, want, gotConn, s.Name)
		}
		if len(secrets) == 0 {
			assert.Nil(t, gotAll, s.Name)
			continue
		}
		merged := maps.Clone(conn)
		maps.Copy(merged, secrets)
		want = nil
		for _, k := range slices.Sorted(maps.Keys(merged)) {
			want = append(want, TXTPair{k, merged[k]})
		}
		assert.Equal(t, want, gotAll, s.Name)
	}
}
