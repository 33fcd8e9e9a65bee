package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// DecodeJSON decodes and validates ONE service object (same fields as a YAML list item,
// including "name") from strict JSON: the body must be valid JSON (check with
// encoding/json's json.Valid first and report a syntax error as one Error), unknown
// fields are errors; Field paths are relative to the object ("endpoints[1].port"); File is "".
func DecodeJSON(data []byte, opts Options) (Service, error) {
	d := newDecoder("", "JSON", false, opts)
	if !json.Valid(data) {
		d.errorf(nil, "", "%s", jsonSyntax(data))
		return Service{}, d.err()
	}
	y, err := jsonToYAML(data)
	var repeated ErrorList
	switch {
	case errors.As(err, &repeated):
		return Service{}, repeated
	case err != nil:
		d.errorf(nil, "", "invalid JSON: %v", err)
		return Service{}, d.err()
	}
	root := d.parse(y)
	if root == nil {
		// Valid JSON that yaml.v3 cannot parse, such as nesting deeper
		// than it allows; d.parse has said why.
		return Service{}, d.err()
	}
	sd := d.service(root, "")
	if err := d.err(); err != nil {
		return Service{}, err
	}
	return sd.svc, nil
}

// CheckJSON refuses what the API's strict JSON does before any decoding:
// a body that is not one JSON value, and a key given twice in one object,
// at any depth (encoding/json would keep the last one, and a check in front
// of tpdns the first). The error is an ErrorList; a repeated key's Field is
// its path ("endpoints[1].port", "check.headers.X-Token"). DecodeJSON and
// DecodeEndpointJSON call it; a caller that rewrites a body before them
// calls it first.
func CheckJSON(data []byte) error {
	if !json.Valid(data) {
		return ErrorList{{Msg: jsonSyntax(data)}}
	}
	_, err := jsonToYAML(data)
	return err
}

// jsonSyntax says what is wrong with data, which json.Valid refused.
func jsonSyntax(data []byte) string {
	var syntax *json.SyntaxError
	err := json.Unmarshal(data, new(json.RawMessage))
	if errors.As(err, &syntax) && syntax.Offset > 0 {
		return fmt.Sprintf("invalid JSON at offset %d: %v", syntax.Offset, err)
	}
	return fmt.Sprintf("invalid JSON: %v", err)
}

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

// keySet is the keys of one JSON object: a few kept in place, more in a
// map, so that the common small object costs no allocation.
type keySet struct {
	few [8]string
	n   int
	set map[string]bool
}

// add adds key and reports whether it is new.
func (k *keySet) add(key string) bool {
	if k.set == nil {
		if slices.Contains(k.few[:k.n], key) {
			return false
		}
		if k.n < len(k.few) {
			k.few[k.n], k.n = key, k.n+1
			return true
		}
		k.set = make(map[string]bool, 2*len(k.few))
		for _, s := range k.few {
			k.set[s] = true
		}
	}
	if k.set[key] {
		return false
	}
	k.set[key] = true
	return true
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
