package config

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The scalar decoders below report a wrong type as "want X, got Y" at the
// value's node and return false. They take n unresolved.

// str decodes a string. Other scalars are not taken as their text: a
// number where a name is wanted is more likely a mistake than a name.
func (d *decoder) str(n *yaml.Node, field, want string) (string, bool) {
	if n = resolve(n); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return n.Value, true
	}
	d.errorf(n, field, "want %s, got %s", want, describe(n))
	return "", false
}

// literal decodes any scalar as the text it is written as, so that
// "DB_PORT: 1521" gives "1521"; null gives "".
func (d *decoder) literal(n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value, true
	}
	d.errorf(n, field, "want a string, number or boolean, got %s", describe(n))
	return "", false
}

// integer decodes an integer in [lo, hi], written in any form YAML has for
// one (1_000, 0x3e8, 0o1750).
func (d *decoder) integer(n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	n = resolve(n)
	v, err := parseInt(n)
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && (v < lo || v > hi):
		d.errorf(n, field, "%s is out of range %d-%d", short(n.Value), lo, hi)
		return 0, false
	case err != nil:
		d.errorf(n, field, "want an integer, got %s", describe(n))
		return 0, false
	}
	return v, true
}

// parseInt parses an integer scalar the way YAML resolves one. YAML makes
// an integer too big for 64 bits a float; it is reported as out of range.
func parseInt(n *yaml.Node) (int64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, strconv.ErrSyntax
	}
	switch n.ShortTag() {
	case "!!int":
		return strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	case "!!float":
		if s := strings.TrimLeft(n.Value, "+-"); s != "" && strings.Trim(s, "0123456789_") == "" {
			return 0, strconv.ErrRange
		}
	}
	return 0, strconv.ErrSyntax
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	if n = resolve(n); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	d.errorf(n, field, "want true or false, got %s", describe(n))
	return false, false
}

// duration decodes a duration above zero: a Go duration ("10s", "1m30s")
// or a number of seconds (10, 0.5, "10"), as the API's durations are.
func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	n = resolve(n)
	v, ok := parseDuration(n)
	switch {
	case !ok:
		d.errorf(n, field, `want a duration such as "10s" or a number of seconds, got %s`, describe(n))
		return 0, false
	case v <= 0:
		d.errorf(n, field, "%s must be above zero", n.Value)
		return 0, false
	}
	return v, true
}

// parseDuration parses a scalar that is a Go duration or a number of
// seconds, an integer or a decimal fraction, written as a number or as a
// string.
func parseDuration(n *yaml.Node) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	s := n.Value
	switch n.ShortTag() {
	case "!!int", "!!float":
		s = strings.ReplaceAll(s, "_", "")
	case "!!str":
	default:
		return 0, false
	}
	if isSeconds(s) {
		s += "s"
	}
	v, err := time.ParseDuration(s)
	return v, err == nil
}

// isSeconds reports whether s is a plain decimal number: digits, with a
// sign and a fraction at most ("10", "-1", "0.5").
func isSeconds(s string) bool {
	s = strings.TrimLeft(s, "+-")
	whole, frac, _ := strings.Cut(s, ".")
	return whole+frac != "" && strings.Trim(whole+frac, "0123456789") == ""
}

// seconds decodes a whole number of seconds from lo to hi: an integer
// (quoted or not), or a Go duration of whole seconds ("30s", "1m"), as the
// API's durations are.
func (d *decoder) seconds(n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	n = resolve(n)
	tag := n.ShortTag()
	text := n.Value
	var v int64
	var err error
	switch {
	case n.Kind != yaml.ScalarNode:
		err = strconv.ErrSyntax
	case tag == "!!int":
		v, err = parseInt(n)
	case (tag == "!!str" || tag == "!!float") && isSeconds(text):
		if v, err = strconv.ParseInt(text, 10, 64); errors.Is(err, strconv.ErrSyntax) {
			d.errorf(n, field, "%s is not a whole number of seconds", text)
			return 0, false
		}
	case tag == "!!str":
		dur, perr := time.ParseDuration(text)
		switch {
		case perr != nil:
			err = perr
		case dur%time.Second != 0:
			d.errorf(n, field, "%s is not a whole number of seconds", quote(text))
			return 0, false
		}
		v = int64(dur / time.Second)
		if err == nil && (v < lo || v > hi) {
			d.errorf(n, field, "%s is %d seconds, out of range %d-%d", quote(text), v, lo, hi)
			return 0, false
		}
	default:
		err = strconv.ErrSyntax
	}
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && (v < lo || v > hi):
		d.errorf(n, field, "%s is out of range %d-%d", short(text), lo, hi)
	case err != nil:
		d.errorf(n, field, `want a number of seconds or a duration such as "30s", got %s`, describe(n))
	default:
		return v, true
	}
	return 0, false
}

// list decodes a sequence, returning its items unresolved; null is the
// empty list.
func (d *decoder) list(n *yaml.Node, field string) ([]*yaml.Node, bool) {
	n = resolve(n)
	switch {
	case isNull(n):
		return nil, true
	case n.Kind == yaml.SequenceNode:
		return n.Content, true
	}
	d.errorf(n, field, "want a list, got %s", describe(n))
	return nil, false
}

// mapping decodes a mapping, returning its resolved node; null is the
// empty mapping and gives nil.
func (d *decoder) mapping(n *yaml.Node, field string) (*yaml.Node, bool) {
	n = resolve(n)
	switch {
	case isNull(n):
		return nil, true
	case n.Kind == yaml.MappingNode:
		return n, true
	}
	d.errorf(n, field, "want a mapping, got %s", describe(n))
	return nil, false
}
