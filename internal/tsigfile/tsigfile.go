// Package tsigfile reads TSIG keys in BIND's named.conf form, as
// tsig-keygen writes them, for the tsig plugin and for tpdnsctl:
//
//	key "app-finance." {
//	    algorithm hmac-sha256;
//	    secret "base64==";
//	};
package tsigfile

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// Key is one key of a file.
type Key struct {
	// Name is lower-case and fully qualified.
	Name string
	// Algorithm is "hmac-sha256.", "hmac-sha384." or "hmac-sha512."; ""
	// when the file does not say.
	Algorithm string
	Secret    []byte
}

// algorithms are those a file may name, by their name there.
var algorithms = map[string]string{
	"hmac-sha256": "hmac-sha256.",
	"hmac-sha384": "hmac-sha384.",
	"hmac-sha512": "hmac-sha512.",
}

// Read reads the keys of the file at path. An error names the line.
func Read(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets %w", err)
	}
	defer f.Close()
	var (
		keys  []Key
		cur   *Key
		line  int
		start int // the line of cur's "key"
	)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line++
		text := uncomment(s.Text())
		fields := strings.Fields(strings.NewReplacer(";", " ; ", "{", " { ", "}", " } ").Replace(text))
		for len(fields) > 0 {
			switch {
			case cur == nil && fields[0] == "key":
				if len(fields) < 3 || fields[2] != "{" {
					return nil, fail(`want key "NAME" {`)
				}
				cur, start = &Key{Name: strings.ToLower(strings.TrimSuffix(strings.Trim(fields[1], `"`), ".")) + "."}, line
				fields = fields[3:]
			case cur == nil && fields[0] == ";":
				fields = fields[1:]
			case cur == nil:
				return nil, fail("unexpected %q, want key", fields[0])
			case fields[0] == "}":
				if cur.Secret == nil {
					return nil, fail("key %q has no secret", cur.Name)
				}
				keys = append(keys, *cur)
				cur = nil
				fields = fields[1:]
			case len(fields) >= 3 && fields[2] == ";" && (fields[0] == "algorithm" || fields[0] == "secret"):
				v := strings.Trim(fields[1], `"`)
				if fields[0] == "algorithm" {
					alg, ok := algorithms[strings.TrimSuffix(strings.ToLower(v), ".")]
					if !ok {
						return nil, fail("algorithm %s is not supported (hmac-sha256, hmac-sha384 or hmac-sha512)", v)
					}
					cur.Algorithm = alg
				} else {
					secret, err := base64.StdEncoding.DecodeString(v)
					if err != nil || len(secret) == 0 {
						return nil, fail("the secret of key %q is not base64", cur.Name)
					}
					cur.Secret = secret
				}
				fields = fields[3:]
			default:
				return nil, fail("unexpected %q, want algorithm NAME; or secret \"BASE64\";", fields[0])
			}
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("secrets %s: %w", path, err)
	}
	if cur != nil {
		line = start
		return nil, fail("key %q is not closed with };", cur.Name)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("secrets %s: no key", path)
	}
	return keys, nil
}

// uncomment drops a "#" or "//" comment from line, outside quotes: a
// base64 secret may hold "//".
func uncomment(line string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '"':
			quoted = !quoted
		case quoted:
		case line[i] == '#', strings.HasPrefix(line[i:], "//"):
			return line[:i]
		}
	}
	return line
}
