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
	if err != nil {
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
func jsonToYAML(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	// Per open object or array: whether it is an object, and how many
	// tokens (keys and values) are in it so far.
	type level struct {
		object bool
		tokens int
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
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
