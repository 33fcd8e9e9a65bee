package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// txtKeyPattern is what a key of connection or secrets looks like: an
// environment variable name, which is what clients turn them into.
const txtKeyPattern = `[A-Za-z_][A-Za-z0-9_]*`

// isTXTKey reports whether s matches txtKeyPattern; by hand, as it is
// asked for every key of every service.
func isTXTKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && c != '_' && (i == 0 || !isDigit(c)) {
			return false
		}
	}
	return s != ""
}

// maxTXT is the most octets one TXT character-string holds; a "KEY=value"
// is served as one, never split, so that clients need not join strings.
const maxTXT = 255

// txt decodes connection or secrets. It returns the pairs and the entry of
// each key, for checkTXTKeys and checkRefs. Messages never repeat a value:
// it may be a secret.
func (d *decoder) txt(e entry, path string) (map[string]string, txtNodes) {
	if e.val == nil {
		return nil, nil
	}
	n, ok := d.mapping(e.val, path)
	if !ok || n == nil {
		return nil, nil
	}
	var values map[string]string
	entries := d.entries(n, path)
	// The entries of the valid keys are kept in place of a map of their
	// nodes, which every service made and most never read.
	keys := entries[:0]
	for _, kv := range entries {
		// The path of a key is made only for a message: made for every key
		// of every service, it was a tenth of the garbage of a parse.
		if !isTXTKey(kv.name) {
			d.errorf(kv.key, join(path, kv.name), "key must match %s", txtKeyPattern)
			continue
		}
		if n := resolve(kv.val); !isNull(n) && n.Kind != yaml.ScalarNode {
			d.literal(n, join(path, kv.name)) // reports it
			continue
		}
		v, _ := d.literal(kv.val, "") // a literal: no message
		// A value with references is measured expanded, by checkRefs.
		if size := len(kv.name) + 1 + len(v); size > maxTXT && !strings.Contains(v, "$") {
			d.errorf(resolve(kv.val), join(path, kv.name), "%s=… is %d octets, more than the %d a TXT string holds", short(kv.name), size, maxTXT)
			continue
		}
		if values == nil {
			values = make(map[string]string, len(entries))
		}
		values[kv.name] = v
		keys = append(keys, kv)
	}
	return values, keys
}

// txtNodes are the valid keys of connection or secrets with their nodes,
// in the order written; each key once.
type txtNodes []entry

// byName is the node of each key of t, by name.
func (t txtNodes) byName() map[string]*yaml.Node {
	m := make(map[string]*yaml.Node, len(t))
	for _, e := range t {
		m[e.name] = e.key
	}
	return m
}

// checkTXTKeys reports a key in both connection and secrets, at the later
// of the two: a client would get two values for it.
func (d *decoder) checkTXTKeys(sd *serviceDecl) {
	if len(sd.connection) == 0 || len(sd.secrets) == 0 {
		return
	}
	connection := sd.connection.byName()
	for _, e := range sd.secrets {
		name, s := e.name, e.key
		c, ok := connection[name]
		if !ok {
			continue
		}
		later, earlier, where, other := s, c, "secrets", "connection"
		if before(s, c) {
			later, earlier, where, other = c, s, "connection", "secrets"
		}
		d.errorf(later, join(join(sd.path, where), name), "%s is also in %s%s", name, d.full(join(sd.path, other)), d.at(earlier))
	}
}

// before reports whether a comes before b in the document.
func before(a, b *yaml.Node) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
}

// checkRefs expands the connection information and the secrets of sd in
// the zone that makes names longest, where the made <P>_HOST values are
// longest, and reports every reference that does not resolve and every
// KEY=value that does not fit one TXT string. Problems of references do
// not depend on the zone.
func (d *decoder) checkRefs(sd *serviceDecl) {
	if !hasRefs(sd.svc.Connection) && !hasRefs(sd.svc.Secrets) {
		// Nothing to expand: the values were checked as written, and a
		// made key too long is left out.
		return
	}
	connection, secrets, problems := sd.svc.expand(d.zone)
	connectionNodes, secretNodes := sd.connection.byName(), sd.secrets.byName()
	for _, p := range problems {
		where, nodes := "connection", connectionNodes
		if p.secret {
			where, nodes = "secrets", secretNodes
		}
		d.errorf(nodes[p.key], join(join(sd.path, where), p.key), "%s", p.msg)
	}
	failed := map[string]bool{}
	for _, p := range problems {
		failed[p.key] = true
	}
	zone := ""
	if d.zone != "" {
		zone = fmt.Sprintf(" in zone %q", d.zone)
	}
	for _, part := range []struct {
		where   string
		values  map[string]string
		written map[string]string
		nodes   map[string]*yaml.Node
	}{{"connection", connection, sd.svc.Connection, connectionNodes}, {"secrets", secrets, sd.svc.Secrets, secretNodes}} {
		for _, k := range slices.Sorted(maps.Keys(part.values)) {
			size := len(k) + 1 + len(part.values[k])
			if size <= maxTXT || failed[k] {
				continue
			}
			// Made keys fit, values without references are checked as
			// written.
			if raw, written := part.written[k]; written && strings.Contains(raw, "$") {
				d.errorf(part.nodes[k], join(join(sd.path, part.where), k), "%s=… is %d octets expanded%s, more than the %d a TXT string holds", short(k), size, zone, maxTXT)
			}
		}
	}
}

// hasRefs reports whether a value of m has a "$", which expands.
func hasRefs(m map[string]string) bool {
	for _, v := range m {
		if strings.Contains(v, "$") {
			return true
		}
	}
	return false
}
