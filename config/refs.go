package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// TXT returns the connection information and the secrets of s as zone
// serves them: the keys made for every port (<P>_HOST, <P>_PORT) added
// unless written (or too long for one TXT string), and the references (${KEY}, $$) replaced. A service that
// was decoded and validated expands without problems; should one not (a
// service built by hand), a value that does not expand is served as
// written.
func (s *Service) TXT(zone string) (connection, secrets map[string]string) {
	connection, secrets, _ = s.expand(zone)
	return connection, secrets
}

// MadeKeys returns the keys made for port p of the service named name in
// zone: <P>_HOST and <P>_PORT, P upper-cased with "-" turned into "_".
func MadeKeys(name, zone string, p Port) (hostKey, host, portKey, port string) {
	prefix := strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))
	return prefix + "_HOST", qualify(name, zone), prefix + "_PORT", strconv.Itoa(int(p.Number))
}

// qualify is name in zone, without the trailing dot.
func qualify(name, zone string) string {
	zone = strings.TrimSuffix(zone, ".")
	if zone == "" {
		return name
	}
	return name + "." + zone
}

// txtProblem is why one key of connection or secrets does not expand.
type txtProblem struct {
	secret bool
	key    string
	msg    string
}

// expander expands the values of one service in one zone.
type expander struct {
	connection, secrets map[string]string // as written, connection with the made keys
	made                map[string]bool   // made keys: literal values
	done                map[string]string // expanded values of both
	failed              map[string]bool   // keys that do not expand, for a reason reported once
	stack               []string          // keys being expanded, for cycles
	problems            []txtProblem
}

// expand is TXT with the problems found, in key order (connection first).
func (s *Service) expand(zone string) (connection, secrets map[string]string, problems []txtProblem) {
	x := &expander{
		connection: maps.Clone(s.Connection),
		secrets:    s.Secrets,
		made:       map[string]bool{},
		done:       map[string]string{},
		failed:     map[string]bool{},
	}
	for _, p := range s.Ports {
		hk, h, pk, pv := MadeKeys(s.Name, zone, p)
		for k, v := range map[string]string{hk: h, pk: pv} {
			if _, ok := x.connection[k]; ok {
				continue
			}
			if _, ok := s.Secrets[k]; ok {
				continue
			}
			if len(k)+1+len(v) > maxTXT {
				// A name of over 240 octets: the key the user never
				// wrote is left out rather than made an error.
				continue
			}
			if x.connection == nil {
				x.connection = map[string]string{}
			}
			x.connection[k], x.made[k] = v, true
		}
	}
	if len(x.connection) > 0 {
		connection = make(map[string]string, len(x.connection))
		for _, k := range slices.Sorted(maps.Keys(x.connection)) {
			connection[k] = x.value(k, false)
		}
	}
	if len(x.secrets) > 0 {
		secrets = make(map[string]string, len(x.secrets))
		for _, k := range slices.Sorted(maps.Keys(x.secrets)) {
			secrets[k] = x.value(k, true)
		}
	}
	return connection, secrets, x.problems
}

// value is the expanded value of key (of the secrets when secret), or its
// value as written when it does not expand.
func (x *expander) value(key string, secret bool) string {
	raw := x.connection[key]
	if secret {
		raw = x.secrets[key]
	}
	if v, ok := x.done[key]; ok {
		return v
	}
	if x.made[key] || x.failed[key] {
		return raw
	}
	x.stack = append(x.stack, key)
	defer func() { x.stack = x.stack[:len(x.stack)-1] }()
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(raw) && raw[i+1] == '$':
			b.WriteByte('$')
			i++
			continue
		case i+1 == len(raw) || raw[i+1] != '{':
			return x.fail(key, secret, raw, "a $ starts a reference ${KEY}; write $$ for a $ of its own")
		}
		end := strings.IndexByte(raw[i+2:], '}')
		if end < 0 {
			return x.fail(key, secret, raw, "${ has no closing }")
		}
		ref := raw[i+2 : i+2+end]
		i += 2 + end
		v, problem := x.ref(ref, secret)
		if problem != "" {
			return x.fail(key, secret, raw, problem)
		}
		if x.failed[ref] {
			// ref's own problem is reported at ref.
			x.failed[key] = true
			return raw
		}
		b.WriteString(v)
	}
	x.done[key] = b.String()
	return x.done[key]
}

// ref is the expanded value of the key a value of connection (or of the
// secrets when secret) refers to, or why it may not.
func (x *expander) ref(ref string, secret bool) (string, string) {
	if !isTXTKey(ref) {
		return "", "${" + short(ref) + "} is not a key: keys match " + txtKeyPattern
	}
	_, inConnection := x.connection[ref]
	_, inSecrets := x.secrets[ref]
	switch {
	case inSecrets && !secret:
		return "", "${" + ref + "} is a secret; connection is served to every client and may not refer to one"
	case !inConnection && !inSecrets:
		return "", "${" + ref + "} is not a key of connection" + map[bool]string{true: " or secrets"}[secret]
	}
	if i := slices.Index(x.stack, ref); i >= 0 {
		return "", "${" + ref + "} makes a cycle: " + strings.Join(append(slices.Clone(x.stack[i:]), ref), " -> ")
	}
	return x.value(ref, inSecrets), ""
}

func (x *expander) fail(key string, secret bool, raw, msg string) string {
	x.failed[key] = true
	x.problems = append(x.problems, txtProblem{secret: secret, key: key, msg: msg})
	return raw
}
