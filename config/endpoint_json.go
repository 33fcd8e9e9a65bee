package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// EndpointPatch is the body of PUT /v1/services/{name}/endpoints/{address}:
// the fields of the endpoint it sets (nil: left as they are) and its
// heartbeat ttl (0: none, the endpoint stays until it is deleted).
type EndpointPatch struct {
	Port     *uint16
	Name     *string
	Priority *uint16
	Weight   *uint16
	Disabled *bool
	// TTL is from MinTTL to MaxTTL, or 0.
	TTL time.Duration
}

// endpointPatchFields are the keys of an endpoint PUT's body.
var endpointPatchFields = []string{"port", "name", "priority", "weight", "disabled", "ttl"}

// DecodeEndpointJSON decodes the optional body of an endpoint PUT, as
// strictly as DecodeJSON a service: an empty body (or null) sets nothing;
// otherwise it is one object of the keys of EndpointPatch, in lower case,
// each at most once, with a ttl of whole seconds from MinTTL to MaxTTL.
// Every error is returned, in an ErrorList whose Fields are the keys. The
// values themselves (a label, a port) are validated with the service they
// go into.
func DecodeEndpointJSON(data []byte) (EndpointPatch, error) {
	var p EndpointPatch
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return p, nil
	}
	if err := CheckJSON(data); err != nil {
		return p, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return p, ErrorList{{Msg: "want an object, got " + describeJSON(data)}}
	}
	var errs ErrorList
	for dec.More() {
		tok, _ := dec.Token() // CheckJSON passed: a key, then its value
		key, _ := tok.(string)
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		field := join("", key)
		var target any
		switch key {
		case "port":
			target = &p.Port
		case "name":
			target = &p.Name
		case "priority":
			target = &p.Priority
		case "weight":
			target = &p.Weight
		case "disabled":
			target = &p.Disabled
		case "ttl":
			ttl, problem := decodeTTL(raw)
			if problem != "" {
				errs = append(errs, &Error{Field: field, Msg: problem})
			}
			p.TTL = ttl
			continue
		default:
			errs = append(errs, &Error{Field: field, Msg: "unknown field" + suggest(key, endpointPatchFields)})
			continue
		}
		if err := json.Unmarshal(raw, target); err != nil {
			msg := err.Error()
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				msg = fmt.Sprintf("want %s, got %s", te.Type, te.Value)
			}
			errs = append(errs, &Error{Field: field, Msg: msg})
		}
	}
	if errs != nil {
		return EndpointPatch{}, errs
	}
	return p, nil
}

// decodeTTL decodes a heartbeat ttl: a whole number of seconds, or null
// for none. It returns why raw is no ttl, or "".
func decodeTTL(raw json.RawMessage) (time.Duration, string) {
	switch raw[0] {
	case 'n':
		return 0, ""
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return 0, "want a number of seconds, got " + describeJSON(raw)
	}
	text := string(raw)
	v, err := strconv.ParseInt(text, 10, 64)
	if p := ttlProblem(short(text), v, err); p != "" {
		return 0, p
	}
	return time.Duration(v) * time.Second, ""
}

// describeJSON says what the valid JSON value raw is, for "want X, got Y"
// messages, as describe does for YAML.
func describeJSON(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return quote(s)
	}
	return short(string(raw))
}

// Apply sets on e the fields p gives.
func (p EndpointPatch) Apply(e *EndpointDoc) {
	if p.Port != nil {
		e.Port = *p.Port
	}
	if p.Name != nil {
		e.Name = *p.Name
	}
	if p.Priority != nil {
		e.Priority = *p.Priority
	}
	if p.Weight != nil {
		e.Weight = *p.Weight
	}
	if p.Disabled != nil {
		e.Disabled = *p.Disabled
	}
}
