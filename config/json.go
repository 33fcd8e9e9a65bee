package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
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
	var svc Service
	if err := withJSONTree(data, func(root *yaml.Node) {
		// The walk takes what it keeps out of the nodes, which are reused.
		if sd := d.service(root, ""); sd != nil {
			svc = sd.svc
		}
	}); err != nil {
		return Service{}, err
	}
	if err := d.err(); err != nil {
		return Service{}, err
	}
	return svc, nil
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
	return withJSONTree(data, func(*yaml.Node) {})
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
