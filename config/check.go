package config

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkFields are the keys of a check.
var checkFields = []string{"type", "service_name", "port", "path", "host", "headers", "expect", "tls_skip_verify", "interval", "timeout", "rise", "fall"}

// checkDecl is where a check is in the document.
type checkDecl struct {
	path string
	// set holds the keys given with a valid value, for checkCheck (nil
	// without a check).
	set map[string]entry
	// bad holds the keys given with an invalid value, so that checkCheck
	// does not hold the other fields against a default instead.
	bad map[string]bool
}

// check decodes the check of a service, field by field. What relates the
// fields to each other and to the rest of the service waits for
// checkCheck, after the defaults are in.
func (d *decoder) check(sd *serviceDecl, e entry) {
	cd := &sd.check
	cd.path = join(sd.path, "check")
	if e.val == nil {
		return
	}
	n, ok := d.mapping(e.val, cd.path)
	if !ok || n == nil {
		return
	}
	cd.set, cd.bad = make(map[string]entry), make(map[string]bool)
	c := &sd.svc.Check
	f := d.fields(n, cd.path, checkFields)
	for _, name := range checkFields {
		kv, ok := f.get(name)
		if !ok {
			continue
		}
		field := join(cd.path, name)
		var valid bool
		switch name {
		case "type":
			c.Type, valid = d.checkType(kv.val, field)
		case "service_name":
			c.ServiceName, valid = d.oracleService(kv.val, field)
		case "port":
			c.Port, valid = d.checkPort(sd, kv.val, field)
		case "path":
			c.Path, valid = d.httpPath(kv.val, field)
		case "host":
			c.Host, valid = d.httpHost(kv.val, field)
		case "headers":
			c.Headers, valid = d.headers(kv.val, field)
		case "expect":
			c.ExpectMin, c.ExpectMax, valid = d.expect(kv.val, field)
		case "tls_skip_verify":
			c.TLSSkipVerify, valid = d.boolean(kv.val, field)
		case "interval":
			c.Interval, valid = d.duration(kv.val, field)
		case "timeout":
			c.Timeout, valid = d.duration(kv.val, field)
		case "rise":
			c.Rise, valid = d.count(kv.val, field)
		case "fall":
			c.Fall, valid = d.count(kv.val, field)
		}
		if valid {
			cd.set[name] = kv
		} else {
			cd.bad[name] = true
		}
	}
}

func (d *decoder) checkType(n *yaml.Node, field string) (string, bool) {
	if n = resolve(n); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		switch s := asciiLower(n.Value); s {
		case CheckNone, CheckTCP, CheckHTTP, CheckHTTPS, CheckPostgres, CheckMySQL, CheckRedis, CheckTNS, CheckMSSQL:
			return s, true
		}
	}
	d.errorf(n, field, "want none, tcp, http, https, postgres, mysql, redis, tns or mssql, got %s", describe(n))
	return "", false
}

// maxServiceName is the longest service_name: the connect descriptor it
// goes into stays within one TNS packet.
const maxServiceName = 255

// oracleService decodes the Oracle service a tns check asks the listener
// for. It goes into the connect descriptor as it is,
// (CONNECT_DATA=(SERVICE_NAME=...)), so it is held to the characters
// Oracle allows in a service name (letters, digits, "_", "$", "#", ".";
// "-" too, as a domain may have it) and never one of the descriptor's
// own, such as "(", ")" or "=". Case is kept: the listener decides.
func (d *decoder) oracleService(n *yaml.Node, field string) (string, bool) {
	s, ok := d.str(n, field, "a string")
	switch {
	case !ok:
	case s == "":
		d.errorf(resolve(n), field, "must not be empty")
	case len(s) > maxServiceName:
		d.errorf(resolve(n), field, "is %d characters long, over %d", len(s), maxServiceName)
	case strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$#.-") != "":
		d.errorf(resolve(n), field, "%s: want letters, digits and any of _$#.-", quote(s))
	default:
		return s, true
	}
	return "", false
}

// checkPort decodes the port to probe: a number, or the name of one of the
// service's ports. A name is never all digits (RFC 6335), so "8080" in
// quotes is a number too.
func (d *decoder) checkPort(sd *serviceDecl, n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if s := n.Value; s != "" && strings.Trim(s, "0123456789") == "" {
			v, p := portNumber(s)
			if p != "" {
				d.errorf(n, field, "%s", p)
				return "", false
			}
			return strconv.Itoa(int(v)), true
		}
		name := asciiLower(n.Value)
		for i, p := range sd.svc.Ports {
			if p.Name == name && sd.ports[i].name != nil {
				return name, true
			}
		}
		d.errorf(n, field, "no port named %s in %s", quote(name), d.full(join(sd.path, "ports")))
		return "", false
	}
	if _, err := parseInt(n); err != nil {
		d.errorf(n, field, "want a port name or number, got %s", describe(n))
		return "", false
	}
	v, ok := d.integer(n, field, 1, math.MaxUint16)
	return strconv.FormatInt(v, 10), ok
}

// httpPath decodes the path of an http check: it goes into the request
// line as it is, so it must not have a space or a control character.
func (d *decoder) httpPath(n *yaml.Node, field string) (string, bool) {
	s, ok := d.str(n, field, "a string")
	switch {
	case !ok:
	case !strings.HasPrefix(s, "/"):
		d.errorf(resolve(n), field, "%s must start with \"/\"", quote(s))
	case hasControl(s, true):
		d.errorf(resolve(n), field, "%s has a space or control character", quote(s))
	default:
		return s, true
	}
	return "", false
}

// httpHost decodes the Host header of an http check.
func (d *decoder) httpHost(n *yaml.Node, field string) (string, bool) {
	s, ok := d.str(n, field, "a string")
	switch {
	case !ok:
	case s == "":
		d.errorf(resolve(n), field, "must not be empty")
	case hasControl(s, true):
		d.errorf(resolve(n), field, "%s has a space or control character", quote(s))
	default:
		return s, true
	}
	return "", false
}

// headers decodes the headers of an http check. Names are HTTP tokens and
// may not repeat in another case, as HTTP does not tell them apart;
// values may not have control characters, which would end the header.
func (d *decoder) headers(n *yaml.Node, path string) (map[string]string, bool) {
	m, ok := d.mapping(n, path)
	if !ok || m == nil {
		return nil, ok
	}
	h := make(map[string]string)
	seen := make(map[string]entry)
	valid := true
	for _, e := range d.entries(m, path) {
		field := join(path, e.name)
		v, ok := d.literal(e.val, field)
		switch {
		case !isToken(e.name):
			d.errorf(e.key, field, "header name must be letters, digits and any of !#$%%&'*+-.^_`|~")
		case !ok:
		case hasControl(v, false):
			d.errorf(resolve(e.val), field, "value has a control character")
		default:
			lower := strings.ToLower(e.name)
			if prev, dup := seen[lower]; dup {
				d.errorf(e.key, field, "header %q is also given as %q%s; header names ignore case", e.name, prev.name, d.at(prev.key))
				valid = false
				continue
			}
			seen[lower], h[e.name] = e, v
			continue
		}
		valid = false
	}
	return h, valid
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// hasControl reports whether s has an ASCII control character, or a space
// when space is set. A tab is allowed where a space is.
func hasControl(s string, space bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0x7f || c < 0x20 && (space || c != '\t') || space && c == ' ' {
			return true
		}
	}
	return false
}

// expect decodes the status codes an http check accepts: "200-399", or a
// single "204" (which may be written as a number).
func (d *decoder) expect(n *yaml.Node, field string) (int, int, bool) {
	n = resolve(n)
	lo, hi, ok := 0, 0, false
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || n.ShortTag() == "!!int") {
		first, last, isRange := strings.Cut(n.Value, "-")
		if !isRange {
			last = first
		}
		lo, ok = status(first)
		if ok {
			hi, ok = status(last)
		}
	}
	switch {
	case !ok:
		d.errorf(n, field, `want a status code such as "204" or a range such as "200-399", got %s`, describe(n))
	case lo < 100 || hi > 599 || lo > 599 || hi < 100:
		d.errorf(n, field, "%s is out of range 100-599", n.Value)
	case lo > hi:
		d.errorf(n, field, "%s is backwards: %d is above %d", quote(n.Value), lo, hi)
	default:
		return lo, hi, true
	}
	return 0, 0, false
}

// status parses a status code of at most three digits.
func status(s string) (int, bool) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	return v, err == nil
}

// count decodes rise or fall.
func (d *decoder) count(n *yaml.Node, field string) (int, bool) {
	v, ok := d.integer(n, field, 1, math.MaxInt32)
	return int(v), ok
}

// checkCheck checks what relates a service's check to the service and its
// fields to each other, after applyDefaults, as defaults take part: a
// timeout must be below the default interval too.
func (d *decoder) checkCheck(sd *serviceDecl) {
	cd, c := &sd.check, &sd.svc.Check
	// path, host, headers, expect and tls_skip_verify mean nothing to a
	// tcp check but are not errors there: the specification's own example
	// gives them all with type tcp, and switching a check between tcp and
	// http should not mean deleting lines.
	// The same goes for service_name, which the specification's example
	// gives with type tcp: it means something to a tns check only, which
	// cannot do without it.
	if !cd.bad["type"] {
		if e, ok := cd.set["type"]; ok && c.Type != CheckNone && c.Port == "" && !cd.bad["port"] && !hasPort(sd) {
			d.errorf(resolve(e.val), join(cd.path, "type"), "needs a port to probe; give the service a port, or the check one")
		}
		if e, ok := cd.set["type"]; ok && c.Type == CheckTNS && c.ServiceName == "" && !cd.bad["service_name"] {
			d.errorf(resolve(e.val), join(cd.path, "type"), "tns needs service_name, the service the listener must know")
		}
	}
	timeout, hasTimeout := cd.set["timeout"]
	interval, hasInterval := cd.set["interval"]
	switch {
	case c.Timeout < c.Interval || cd.bad["timeout"] || cd.bad["interval"]:
	case hasTimeout:
		d.errorf(resolve(timeout.val), join(cd.path, "timeout"), "%s must be below the interval, %s", c.Timeout, c.Interval)
	case hasInterval:
		d.errorf(resolve(interval.val), join(cd.path, "interval"), "%s must be above the timeout, %s", c.Interval, c.Timeout)
	}
}

// hasPort reports whether the service has a port a check could probe.
func hasPort(sd *serviceDecl) bool {
	if len(sd.svc.Ports) > 0 {
		return true
	}
	for _, ep := range sd.svc.Endpoints {
		if ep.Port != 0 {
			return true
		}
	}
	return false
}
