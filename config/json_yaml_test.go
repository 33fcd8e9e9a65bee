package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The JSON decoding tpdns had before jsonTree, kept as the reference the
// tests hold jsonTree to: JSON rewritten as YAML flow text, parsed by
// yaml.v3.

// jsonToYAML rewrites valid JSON as YAML flow syntax for the walker to
// parse. JSON is nearly YAML 1.2 already, but not quite for yaml.v3: it
// has no "\/" escape, refuses some characters JSON allows in strings
// (DEL, C1 controls, invalid UTF-8), and takes no implicit key over 1024
// characters. So every string is written again, escaped for YAML, and
// every key made explicit with "?". The result is one line; its errors
// carry no line numbers.
//
// A key repeated in an object, which YAML would refuse without saying
// where, is reported here with its path; every one is, as an ErrorList.
func jsonToYAML(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	// Per open object or array: whether it is an object and how many
	// tokens (keys and values) are in it so far; for an object, its keys so
	// far and the last, which with the tokens of the levels around it make
	// the path of a repeated key.
	type level struct {
		object bool
		tokens int
		keys   keySet
		key    string
	}
	var stack []level
	var repeated ErrorList
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if repeated != nil {
				return nil, repeated
			}
			return b.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if delim, ok := tok.(json.Delim); ok && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			b.WriteByte(byte(delim))
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.object && top.tokens%2 == 0:
				if top.tokens > 0 {
					b.WriteString(", ")
				}
				b.WriteString("? ")
				key, _ := tok.(string) // valid JSON: a key is a string
				if !top.keys.add(key) {
					path := ""
					for _, l := range stack[:n-1] {
						if l.object {
							path = join(path, l.key)
						} else {
							path = index(path, l.tokens-1)
						}
					}
					repeated = append(repeated, &Error{Field: join(path, key), Msg: "repeated key"})
				}
				top.key = key
			case top.object:
				b.WriteString(" : ")
			case top.tokens > 0:
				b.WriteString(", ")
			}
			top.tokens++
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, level{object: v == '{'})
			b.WriteByte(byte(v))
		case string:
			b.WriteString(yamlQuote(v))
		case json.Number:
			b.WriteString(v.String())
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		}
	}
}

// yamlQuote writes s as a YAML double-quoted scalar, with everything but
// printable ASCII escaped.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case 0x20 <= r && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
