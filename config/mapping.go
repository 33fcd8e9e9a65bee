package config

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// entry is one key and its value in a mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// entries returns the pairs of mapping n in document order, reporting keys
// that are not scalars and keys given twice. The pairs of "<<" merge keys
// follow, for the keys n does not set itself: YAML's merge lets a file
// share, say, one check among services through an anchor.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var merged []entry
	own := entryList{list: d.entrySpace(len(n.Content) / 2)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "want a string key, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, join(path, k.Value))...)
			continue
		}
		if first := own.find(k.Value); first != nil {
			d.errorf(k, join(path, k.Value), "repeated key%s", d.firstAt(first.key))
			continue
		}
		own.add(entry{name: k.Value, key: k, val: v})
	}
	// The first mapping merged wins, and n's own keys win over all.
	for _, e := range merged {
		if own.find(e.name) == nil {
			own.add(e)
		}
	}
	return own.list
}

// entrySpace returns an empty slice with room for n entries, taken from
// d.entryBuf: the mappings of a service are decoded and dropped with it,
// so their entries share one buffer, emptied for each service (see
// newServiceDecl), instead of a slice made for each mapping of each
// service. Appending past n makes a slice of its own.
func (d *decoder) entrySpace(n int) []entry {
	buf := slices.Grow(d.entryBuf, n)
	from := len(buf)
	d.entryBuf = buf[:from+n]
	return buf[from : from : from+n]
}

// entryList is the entries of a mapping so far, found by name: by looking
// through them while there are few, as mappings mostly have (cheaper than
// a map made for each), and through a map past that.
type entryList struct {
	list   []entry
	byName map[string]int
}

// manyEntries is where entryList starts a map.
const manyEntries = 16

func (l *entryList) find(name string) *entry {
	if l.byName != nil {
		if i, ok := l.byName[name]; ok {
			return &l.list[i]
		}
		return nil
	}
	for i := range l.list {
		if l.list[i].name == name {
			return &l.list[i]
		}
	}
	return nil
}

func (l *entryList) add(e entry) {
	l.list = append(l.list, e)
	switch {
	case l.byName != nil:
		l.byName[e.name] = len(l.list) - 1
	case len(l.list) > manyEntries:
		l.byName = make(map[string]int, 2*len(l.list))
		for i, e := range l.list {
			l.byName[e.name] = i
		}
	}
}

// merge returns the pairs a "<<" key brings in: those of a mapping, or of
// each mapping in a list.
func (d *decoder) merge(v *yaml.Node, path string) []entry {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.entries(v, path)
	case yaml.SequenceNode:
		var all []entry
		for _, m := range v.Content {
			if m = resolve(m); m.Kind != yaml.MappingNode {
				d.errorf(m, path, "want a mapping to merge, got %s", describe(m))
				continue
			}
			all = append(all, d.entries(m, path)...)
		}
		return all
	}
	d.errorf(v, path, "want a mapping or a list of mappings to merge, got %s", describe(v))
	return nil
}

// fields returns the entries of mapping n, reporting every key not in
// known.
func (d *decoder) fields(n *yaml.Node, path string, known []string) fieldSet {
	all := d.entries(n, path)
	got := all[:0]
	for _, e := range all {
		if !slices.Contains(known, e.name) {
			d.errorf(e.key, join(path, e.name), "unknown field%s", suggest(e.name, known))
			continue
		}
		got = append(got, e)
	}
	return got
}

// fieldSet is the fields of a mapping, each key once.
type fieldSet []entry

// get returns the field named name, and whether there is one.
func (f fieldSet) get(name string) (entry, bool) {
	for _, e := range f {
		if e.name == name {
			return e, true
		}
	}
	return entry{}, false
}

// of returns the field named name; its val is nil when there is none.
func (f fieldSet) of(name string) entry {
	e, _ := f.get(name)
	return e
}

// suggest returns `; did you mean "x"?` for the known field closest to an
// unknown one, when it is a likely typo of it (fields are lower case, so
// "TTL" is one of "ttl"); "" otherwise.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	lower := asciiLower(name)
	for _, k := range known {
		if dist := editDistance(lower, k); dist < bestDist && dist < len(name) {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes:
// field names are ASCII. It gives up early on long names, which are no
// typo of a field's.
func editDistance(a, b string) int {
	if len(a) > 2*len(b)+2 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
