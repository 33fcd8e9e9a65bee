package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// TXT returns the connection information and the secrets of s as zone
// serves them: the keys made for every port (<P>_HOST, <P>_PORT) added
// unless written (or too long for one TXT string), and the references
// (${KEY}, $$) replaced. A service that was decoded and validated expands
// without problems; should one not (a service built by hand), a value
// that does not expand is served as written.
func (s *Service) TXT(zone string) (connection, secrets map[string]string) {
	if hasRefs(s.Connection) || hasRefs(s.Secrets) {
		connection, secrets, _ = s.expand(zone)
		return connection, secrets
	}
	// Without a "$" every value is its own expansion: the expander, its
	// maps and a builder per value cost a view of 100,000 services more
	// than the rest of its TXT records.
	connection = s.withMadeKeys(zone)
	if len(s.Secrets) > 0 {
		secrets = maps.Clone(s.Secrets)
	}
	return connection, secrets
}

// TXTPair is one KEY=value of the TXT records of a service.
type TXTPair struct{ Key, Value string }

// TXTPairs is TXT as pairs in key order, appended to buf: connection, and
// all, the connection and the secrets together (a key in both has the
// secret's value), nil when the service has no secrets. Views ask it of
// every service they build: a service without a reference makes no map.
func (s *Service) TXTPairs(zone string, buf []TXTPair) (connection, all []TXTPair) {
	if hasRefs(s.Connection) || hasRefs(s.Secrets) {
		c, secrets, _ := s.expand(zone)
		connection = sortedPairs(buf, c)
		if len(secrets) > 0 {
			all = sortedPairs(nil, c, secrets)
		}
		return connection, all
	}
	start := len(buf)
	for k, v := range s.Connection {
		buf = append(buf, TXTPair{k, v})
	}
	connection = s.appendMade(buf, zone)[start:]
	slices.SortFunc(connection, comparePairs)
	if len(s.Secrets) > 0 {
		all = make([]TXTPair, len(connection), len(connection)+len(s.Secrets))
		copy(all, connection)
		for k, v := range s.Secrets {
			all = append(all, TXTPair{k, v})
		}
		all = sortPairs(all)
	}
	return connection, all
}

// sortedPairs appends the pairs of sources to dst and returns those
// appended in key order, each key once, with the value of the last source
// that has it.
func sortedPairs(dst []TXTPair, sources ...map[string]string) []TXTPair {
	start := len(dst)
	for _, m := range sources {
		for k, v := range m {
			dst = append(dst, TXTPair{k, v})
		}
	}
	return sortPairs(dst[start:])
}

// sortPairs sorts pairs by key and keeps, of one key, the last pair.
func sortPairs(pairs []TXTPair) []TXTPair {
	// Stable: of one key, the last pair stays last.
	slices.SortStableFunc(pairs, comparePairs)
	n := 0
	for _, p := range pairs {
		if n > 0 && pairs[n-1].Key == p.Key {
			pairs[n-1] = p
			continue
		}
		pairs[n] = p
		n++
	}
	return pairs[:n]
}

func comparePairs(a, b TXTPair) int { return strings.Compare(a.Key, b.Key) }

// withMadeKeys is a copy of the connection of s with the keys made for its
// ports in zone added. nil when that leaves none.
func (s *Service) withMadeKeys(zone string) map[string]string {
	var buf [4]TXTPair // the made keys of two ports, without an allocation
	made := s.appendMade(buf[:0], zone)
	if len(s.Connection)+len(made) == 0 {
		return nil
	}
	connection := make(map[string]string, len(s.Connection)+len(made))
	maps.Copy(connection, s.Connection)
	for _, p := range made {
		connection[p.Key] = p.Value
	}
	return connection
}

// appendMade appends to dst the keys made for the ports of s in zone that
// are neither written (in the connection or the secrets) nor made for an
// earlier port (of the same P), nor too long for one TXT string.
func (s *Service) appendMade(dst []TXTPair, zone string) []TXTPair {
	start := len(dst)
	host := ""
	for _, p := range s.Ports {
		if host == "" {
			// The same for every port: made once.
			host = qualify(s.Name, zone)
		}
		prefix := madePrefix(p)
		for _, kv := range [2]TXTPair{{prefix + "_HOST", host}, {prefix + "_PORT", strconv.Itoa(int(p.Number))}} {
			if _, ok := s.Connection[kv.Key]; ok {
				continue
			}
			if _, ok := s.Secrets[kv.Key]; ok {
				continue
			}
			if slices.ContainsFunc(dst[start:], func(m TXTPair) bool { return m.Key == kv.Key }) {
				continue
			}
			if len(kv.Key)+1+len(kv.Value) > maxTXT {
				// A name of over 240 octets: the key the user never
				// wrote is left out rather than made an error.
				continue
			}
			dst = append(dst, kv)
		}
	}
	return dst
}

// MadeKeys returns the keys made for port p of the service named name in
// zone: <P>_HOST and <P>_PORT, P upper-cased with "-" turned into "_".
func MadeKeys(name, zone string, p Port) (hostKey, host, portKey, port string) {
	prefix := madePrefix(p)
	return prefix + "_HOST", qualify(name, zone), prefix + "_PORT", strconv.Itoa(int(p.Number))
}

// madePrefix is the P of the keys made for port p.
func madePrefix(p Port) string {
	return strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))
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
		connection: s.withMadeKeys(zone),
		secrets:    s.Secrets,
		made:       map[string]bool{},
		done:       map[string]string{},
		failed:     map[string]bool{},
	}
	for k := range x.connection {
		if _, written := s.Connection[k]; !written {
			x.made[k] = true
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
