package thirdparty

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tpdns/tpdns/registry"
)

// conditions are the preconditions of a write to a service (RFC 9110
// section 13.1): If-Match and If-None-Match, each "*" or a list of entity
// tags; nil when the header is absent. They are checked by the registry
// under its lock, against the service as the write finds it (see
// registry.Precondition), so that two writers that read the same
// revision cannot both write over it.
//
// They apply to a service's PUT and DELETE. An endpoint's writes take no
// preconditions: its service's ETag is no version of the endpoint alone.
type conditions struct {
	ifMatch, ifNoneMatch []entityTag
	// The headers as sent, for the messages.
	ifMatchText, ifNoneMatchText string
}

// entityTag is one tag of a list: "*", or an opaque tag with its quotes.
type entityTag struct {
	weak  bool
	value string // `"5"`, or "*"
}

// parseConditions reads the preconditions of r; an unreadable header is
// a 400 that names it.
func parseConditions(r *http.Request) (conditions, error) {
	var c conditions
	var err error
	if v := r.Header.Values("If-Match"); len(v) > 0 {
		c.ifMatchText = strings.Join(v, ", ")
		if c.ifMatch, err = parseTags(c.ifMatchText); err != nil {
			return c, &apiError{status: http.StatusBadRequest, msg: "If-Match: " + err.Error(), field: "If-Match"}
		}
	}
	if v := r.Header.Values("If-None-Match"); len(v) > 0 {
		c.ifNoneMatchText = strings.Join(v, ", ")
		if c.ifNoneMatch, err = parseTags(c.ifNoneMatchText); err != nil {
			return c, &apiError{status: http.StatusBadRequest, msg: "If-None-Match: " + err.Error(), field: "If-None-Match"}
		}
	}
	return c, nil
}

// parseTags reads "*" or a comma-separated list of entity tags
// ([W/]"opaque").
func parseTags(s string) ([]entityTag, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return []entityTag{{value: "*"}}, nil
	}
	var tags []entityTag
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		var t entityTag
		if rest, ok := strings.CutPrefix(s, "W/"); ok {
			t.weak, s = true, rest
		}
		if !strings.HasPrefix(s, `"`) {
			return nil, fmt.Errorf(`want * or entity tags such as "5", got %q`, clip(s))
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("an entity tag without its closing quote: %q", clip(s))
		}
		t.value = s[:end+2]
		for _, b := range []byte(t.value[1 : len(t.value)-1]) {
			if b < 0x21 || b == 0x7f {
				return nil, fmt.Errorf("a control character or space in entity tag %q", clip(t.value))
			}
		}
		tags = append(tags, t)
		s = s[end+2:]
		if s = strings.TrimLeft(s, " \t"); s != "" && s[0] != ',' {
			return nil, fmt.Errorf("want a comma after entity tag %s", t.value)
		}
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf(`want * or entity tags such as "5"`)
	}
	return tags, nil
}

// matches reports whether one of tags matches the current tag (""
// when there is no service): "*" matches any service, a tag the same
// one, compared strongly (a weak tag never matches) unless weak.
func matches(tags []entityTag, current string, weak bool) bool {
	for _, t := range tags {
		switch {
		case t.value == "*":
			if current != "" {
				return true
			}
		case current != "" && t.value == current && (weak || !t.weak):
			return true
		}
	}
	return false
}

// precondition is the check of c for the service name, nil when there is
// none. missingIsNotFound makes a service that does not exist a 404
// rather than a failed precondition, as it is for a DELETE: RFC 9110
// section 13.2.1 has a request that would fail without its
// preconditions fail that way.
func (c conditions) precondition(name string, missingIsNotFound bool) registry.Precondition {
	if c.ifMatch == nil && c.ifNoneMatch == nil {
		return nil
	}
	return func(cur *registry.Stored) error {
		current := ""
		if cur != nil {
			current = etag(cur.Revision)
		} else if missingIsNotFound {
			return registry.ErrNotFound
		}
		failed := func(format string, args ...any) error {
			return &apiError{status: http.StatusPreconditionFailed, msg: fmt.Sprintf(format, args...), etag: current}
		}
		if c.ifMatch != nil && !matches(c.ifMatch, current, false) {
			if cur == nil {
				return failed("service %s does not exist (If-Match: %s)", name, c.ifMatchText)
			}
			return failed("service %s is at ETag %s (If-Match: %s)", name, current, c.ifMatchText)
		}
		if c.ifNoneMatch != nil && matches(c.ifNoneMatch, current, true) {
			if c.ifNoneMatch[0].value == "*" {
				return failed("service %s already exists (If-None-Match: *)", name)
			}
			return failed("service %s is at ETag %s (If-None-Match: %s)", name, current, c.ifNoneMatchText)
		}
		return nil
	}
}
