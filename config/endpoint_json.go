package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// each at most once, with a ttl of whole seconds from MinTTL to MaxTTL (a
// number, or a Go duration such as "30s").
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
		var problem string
		switch key {
		case "port":
			// 0 takes the endpoint's own port away: it has the service's.
			p.Port, problem = decodeUint16(raw)
		case "name":
			p.Name, problem = decodeString(raw)
		case "priority":
			p.Priority, problem = decodeUint16(raw)
		case "weight":
			p.Weight, problem = decodeUint16(raw)
		case "disabled":
			p.Disabled, problem = decodeBool(raw)
		case "ttl":
			p.TTL, problem = decodeTTL(raw)
		default:
			problem = "unknown field" + suggest(key, endpointPatchFields)
		}
		if problem != "" {
			errs = append(errs, &Error{Field: field, Msg: problem})
		}
	}
	if errs != nil {
		return EndpointPatch{}, errs
	}
	return p, nil
}

// decodeTTL decodes a heartbeat ttl: a whole number of seconds, or a Go
// duration of whole seconds ("30s", "1m"), from MinTTL to MaxTTL; null
// for none. It returns why raw is no ttl, or "".
func decodeTTL(raw json.RawMessage) (time.Duration, string) {
	text := string(raw)
	switch raw[0] {
	case 'n':
		return 0, ""
	case '"':
		_ = json.Unmarshal(raw, &text)
		if !isSeconds(text) {
			return durationTTL(text)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return 0, `want a number of seconds or a duration such as "30s", got ` + describeJSON(raw)
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if p := ttlProblem(short(text), v, err); p != "" {
		return 0, p
	}
	return time.Duration(v) * time.Second, ""
}

// durationTTL decodes a heartbeat ttl written as a Go duration.
func durationTTL(text string) (time.Duration, string) {
	v, err := time.ParseDuration(text)
	switch {
	case err != nil:
		return 0, `want a number of seconds or a duration such as "30s", got ` + quote(text)
	case v%time.Second != 0:
		return 0, quote(text) + " is not a whole number of seconds"
	case v < MinTTL || v > MaxTTL:
		return 0, fmt.Sprintf("%s is out of range %s-%s", quote(text), durationString(MinTTL), durationString(MaxTTL))
	}
	return v, ""
}

// decodeUint16 decodes a number from 0 to 65535, or null for none.
func decodeUint16(raw json.RawMessage) (*uint16, string) {
	if raw[0] == 'n' {
		return nil, ""
	}
	var num json.Number
	if json.Unmarshal(raw, &num) != nil || raw[0] == '"' {
		return nil, "want an integer, got " + describeJSON(raw)
	}
	v, err := strconv.ParseInt(num.String(), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrSyntax):
		return nil, "want an integer, got " + short(num.String())
	case err != nil || v < 0 || v > math.MaxUint16:
		return nil, fmt.Sprintf("%s is out of range 0-%d", short(num.String()), math.MaxUint16)
	}
	u := uint16(v)
	return &u, ""
}

// decodeString decodes a string, or null for none.
func decodeString(raw json.RawMessage) (*string, string) {
	if raw[0] == 'n' {
		return nil, ""
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return nil, "want a string, got " + describeJSON(raw)
	}
	return &s, ""
}

// decodeBool decodes true or false, or null for none.
func decodeBool(raw json.RawMessage) (*bool, string) {
	switch string(raw) {
	case "null":
		return nil, ""
	case "true", "false":
		b := string(raw) == "true"
		return &b, ""
	}
	return nil, "want true or false, got " + describeJSON(raw)
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
