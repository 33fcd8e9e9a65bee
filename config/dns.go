package config

import (
	"fmt"
	"strings"
)

// maxName is the most octets a name may have in presentation form without
// the trailing dot: 255 in wire form, less the first length octet and the
// root label.
const maxName = 253

// The *Problem functions return why a string is not what its name says, or
// "" when it is. They check the rules by hand instead of by regexp so that
// the message can say which rule is broken.

// nameProblem checks a service name: dot-separated labels matching
// [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?. Names are lower-cased before.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.HasSuffix(name, "."):
		return fmt.Sprintf("%q ends with a dot; names are relative to the zone", name)
	}
	// Cut rather than Split: no slice made per name.
	for rest, more := name, true; more; {
		var label string
		label, rest, more = strings.Cut(rest, ".")
		if label == "" {
			return fmt.Sprintf("%q has an empty label", name)
		}
		if p := serviceLabelProblem(label); p != "" {
			return p
		}
	}
	return ""
}

// serviceLabelProblem checks a label of a name the service creates. A
// label starting with "_" gets its own message: the pattern forbids it
// anyway, but the reason is worth saying, since users who know SRV names
// may try one.
func serviceLabelProblem(label string) string {
	if strings.HasPrefix(label, "_") {
		return fmt.Sprintf(`label %q starts with "_", which is reserved for SRV owner names`, label)
	}
	return labelProblem(label)
}

// labelProblem checks a host name label: letters, digits and hyphens, 1-63
// octets, no hyphen first or last. Labels are lower-cased before.
func labelProblem(label string) string {
	if len(label) > 63 {
		return fmt.Sprintf("label %q is %d octets, more than 63", short(label), len(label))
	}
	for _, r := range label {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			return fmt.Sprintf("label %q has %q; only letters, digits and hyphens are allowed", short(label), r)
		}
	}
	if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
		return fmt.Sprintf("label %q starts or ends with a hyphen", label)
	}
	return ""
}

// hostProblem checks a host name, lower-cased and without its trailing
// dot. A last label of digits only is refused, as no top-level domain is
// one (RFC 3696 section 2): such a name is a mistyped IP address.
func hostProblem(host string) string {
	if host == "" {
		return "it is empty"
	}
	if len(host) > maxName {
		return fmt.Sprintf("it is %d octets, more than %d", len(host), maxName)
	}
	labels := strings.Split(host, ".")
	for _, label := range labels {
		if label == "" {
			return "it has an empty label"
		}
		if p := labelProblem(label); p != "" {
			return p
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "its last label is all digits"
	}
	return ""
}

// portNameProblem checks a port name against RFC 6335 section 5.1: 1-15
// characters, letters, digits and hyphens, at least one letter, no hyphen
// first, last or next to another. Names are lower-cased before.
func portNameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > 15:
		return fmt.Sprintf("%q is %d characters, more than 15", short(name), len(name))
	}
	letter := false
	for _, r := range name {
		switch {
		case 'a' <= r && r <= 'z':
			letter = true
		case '0' <= r && r <= '9' || r == '-':
		default:
			return fmt.Sprintf("%q has %q; only letters, digits and hyphens are allowed", name, r)
		}
	}
	switch {
	case !letter:
		return fmt.Sprintf("%q needs a letter", name)
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return fmt.Sprintf("%q starts or ends with a hyphen", name)
	case strings.Contains(name, "--"):
		return fmt.Sprintf("%q has two hyphens in a row", name)
	}
	return ""
}

// dashLabel returns the label an IP address endpoint gets by default: its
// address with "." and ":" replaced by "-". It need not be a valid label
// by the pattern (an IPv6 one may start with "-"); it is one in DNS.
func dashLabel(addr string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == ':' {
			return '-'
		}
		return r
	}, addr)
}
