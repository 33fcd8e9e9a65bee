package config

import (
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// jsonTree builds from data, which json.Valid accepted, the node tree the
// walker reads: the very nodes yaml.v3 parses from the YAML flow text
// jsonToYAML (json_yaml_test.go) rewrites JSON into, down to their tags,
// styles and columns (which order the errors of a body), and reports the
// repeated keys of its objects with their paths, every one, as an
// ErrorList.
//
// Writing that text and parsing it again with yaml.v3 was three quarters
// of the time a replica takes to read a large store, all of whose
// services are JSON documents; building the nodes from the bytes at once,
// with no text between, costs a fraction of that. JSON has no anchors,
// aliases, merge keys or tags, so the nodes need no alias check either.
func jsonTree(data []byte) (*yaml.Node, error) {
	return new(jsonBuilder).tree(data)
}

// jsonBuilders keep the nodes of a decoding for the next: a replica
// decodes a service for each of its 100,000 documents, and the nodes,
// which no Service refers to, are most of what a decoding allocates.
var jsonBuilders = sync.Pool{New: func() any { return new(jsonBuilder) }}

// maxPooledNodes bounds the nodes a pooled builder keeps: a service's
// document has some tens, and one huge body should not stay in memory.
const maxPooledNodes = 1 << 12

// withJSONTree calls f with jsonTree(data), or returns its error. The
// nodes are reused once f returns: f must keep none of them.
func withJSONTree(data []byte, f func(root *yaml.Node)) error {
	b := jsonBuilders.Get().(*jsonBuilder)
	root, err := b.tree(data)
	if err == nil {
		f(root)
	}
	if cap(b.nodes) <= maxPooledNodes && cap(b.content) <= maxPooledNodes {
		b.reset()
		jsonBuilders.Put(b)
	}
	return err
}

// jsonBuilder reads one JSON value, valid as json.Valid says, into nodes.
type jsonBuilder struct {
	data []byte
	pos  int
	// col is the column, from 1, of the next character of the YAML text
	// jsonToYAML would write: what yaml.v3 would give each node.
	col int
	// nodes and content are carved out of chunks, so that a document
	// takes a few allocations for all its nodes instead of one each (and
	// none once a pooled builder's chunks are large enough).
	nodes   []yaml.Node
	content []*yaml.Node
	// kids holds the children of the open objects and arrays, each
	// container's after its parent's, until it closes.
	kids []*yaml.Node
	// levels are the open objects and arrays, for the path of a repeated
	// key and the keys of each object.
	levels   []jsonLevel
	repeated ErrorList
}

// jsonLevel is an open object or array: its keys so far and the last,
// or the index of its current item.
type jsonLevel struct {
	object bool
	items  int
	key    string
	keys   keySet
}

// The tags and styles yaml.v3 gives the nodes of jsonToYAML's text.
var (
	// A number is a plain scalar, which yaml.v3 resolves by its form.
	tagTrue  = (&yaml.Node{Kind: yaml.ScalarNode, Value: "true"}).ShortTag()
	tagFalse = (&yaml.Node{Kind: yaml.ScalarNode, Value: "false"}).ShortTag()
	tagNull  = (&yaml.Node{Kind: yaml.ScalarNode, Value: "null"}).ShortTag()
	tagInt   = (&yaml.Node{Kind: yaml.ScalarNode, Value: "0"}).ShortTag()
)

const (
	tagMap = "!!map"
	tagSeq = "!!seq"
	tagStr = "!!str"
)

// tree reads data into nodes; see jsonTree.
func (b *jsonBuilder) tree(data []byte) (*yaml.Node, error) {
	b.data, b.pos, b.col = data, 0, 1
	root := b.value()
	if b.repeated != nil {
		return nil, b.repeated
	}
	return root, nil
}

// reset readies b for another document, letting go of the last one's
// strings and data.
func (b *jsonBuilder) reset() {
	clear(b.nodes)
	clear(b.content)
	b.nodes, b.content = b.nodes[:0], b.content[:0]
	b.kids, b.levels = b.kids[:0], b.levels[:0]
	b.data, b.repeated = nil, nil
}

// minChunk is the nodes of the first chunk: enough for the document of
// a service of a few ports and endpoints.
const minChunk = 64

func (b *jsonBuilder) node(kind yaml.Kind, tag string, style yaml.Style, value string) *yaml.Node {
	if len(b.nodes) == cap(b.nodes) {
		// The nodes so far stay where they are, in the tree.
		b.nodes = make([]yaml.Node, 0, max(minChunk, 2*cap(b.nodes)))
	}
	b.nodes = b.nodes[:len(b.nodes)+1]
	n := &b.nodes[len(b.nodes)-1]
	*n = yaml.Node{Kind: kind, Tag: tag, Style: style, Value: value, Line: 1, Column: b.col}
	return n
}

// children moves the children of the container that opened when kids
// had from of them into a slice of their own, nil for none as yaml.v3
// leaves it.
func (b *jsonBuilder) children(from int) []*yaml.Node {
	kids := b.kids[from:]
	if len(kids) == 0 {
		return nil
	}
	if cap(b.content)-len(b.content) < len(kids) {
		b.content = make([]*yaml.Node, 0, max(minChunk, 2*cap(b.content), len(kids)))
	}
	start := len(b.content)
	b.content = append(b.content, kids...)
	clear(kids)
	b.kids = b.kids[:from]
	return b.content[start:len(b.content):len(b.content)]
}

func (b *jsonBuilder) space() {
	for b.pos < len(b.data) {
		switch b.data[b.pos] {
		case ' ', '\t', '\n', '\r':
			b.pos++
		default:
			return
		}
	}
}

// value reads the value at b.pos, after any white space.
func (b *jsonBuilder) value() *yaml.Node {
	b.space()
	switch b.data[b.pos] {
	case '{':
		return b.object()
	case '[':
		return b.array()
	case '"':
		s, width := b.str()
		n := b.node(yaml.ScalarNode, tagStr, yaml.DoubleQuotedStyle, s)
		b.col += width
		return n
	case 't':
		return b.literal("true", tagTrue)
	case 'f':
		return b.literal("false", tagFalse)
	case 'n':
		return b.literal("null", tagNull)
	}
	start := b.pos
	for b.pos < len(b.data) && isNumberByte(b.data[b.pos]) {
		b.pos++
	}
	n := b.node(yaml.ScalarNode, tagInt, 0, string(b.data[start:b.pos]))
	if !isSmallInt(n.Value) {
		// As yaml.v3 resolves a plain scalar: "1.5" and "1e3" are
		// floats, an int too large for 64 bits a float or a string.
		n.Tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}).ShortTag()
	}
	b.col += b.pos - start
	return n
}

// isSmallInt reports whether the JSON number s is an integer that fits in
// an int64 for sure, which yaml.v3 resolves as an int: the common number,
// spared yaml.v3's resolving.
func isSmallInt(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 18 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return false
		}
	}
	return true
}

func isNumberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (b *jsonBuilder) literal(word, tag string) *yaml.Node {
	n := b.node(yaml.ScalarNode, tag, 0, word)
	b.pos += len(word)
	b.col += len(word)
	return n
}

// object reads an object: "{? k1 : v1, ? k2 : v2}" in the YAML text.
func (b *jsonBuilder) object() *yaml.Node {
	n := b.node(yaml.MappingNode, tagMap, yaml.FlowStyle, "")
	b.pos++
	b.col++
	from := len(b.kids)
	b.levels = append(b.levels, jsonLevel{object: true})
	for first := true; ; first = false {
		b.space()
		if b.data[b.pos] == '}' {
			break
		}
		if !first {
			b.pos++ // ','
			b.space()
			b.col += len(", ")
		}
		b.col += len("? ")
		key, width := b.str()
		k := b.node(yaml.ScalarNode, tagStr, yaml.DoubleQuotedStyle, key)
		b.col += width
		top := &b.levels[len(b.levels)-1]
		if !top.keys.add(key) {
			b.repeatedKey(key)
		}
		top.key = key
		b.space()
		b.pos++ // ':'
		b.col += len(" : ")
		b.kids = append(b.kids, k, b.value())
	}
	b.pos++
	b.col++
	b.levels = b.levels[:len(b.levels)-1]
	n.Content = b.children(from)
	return n
}

// repeatedKey reports key, given twice in the innermost open object.
func (b *jsonBuilder) repeatedKey(key string) {
	path := ""
	for _, l := range b.levels[:len(b.levels)-1] {
		if l.object {
			path = join(path, l.key)
		} else {
			path = index(path, l.items-1)
		}
	}
	b.repeated = append(b.repeated, &Error{Field: join(path, key), Msg: "repeated key"})
}

// array reads an array: "[v1, v2]" in the YAML text.
func (b *jsonBuilder) array() *yaml.Node {
	n := b.node(yaml.SequenceNode, tagSeq, yaml.FlowStyle, "")
	b.pos++
	b.col++
	from := len(b.kids)
	b.levels = append(b.levels, jsonLevel{})
	for first := true; ; first = false {
		b.space()
		if b.data[b.pos] == ']' {
			break
		}
		if !first {
			b.pos++ // ','
			b.col += len(", ")
		}
		b.levels[len(b.levels)-1].items++
		b.kids = append(b.kids, b.value())
	}
	b.pos++
	b.col++
	b.levels = b.levels[:len(b.levels)-1]
	n.Content = b.children(from)
	return n
}

// str reads the string at b.pos as encoding/json does and returns it with
// the width of the double-quoted scalar yamlQuote writes for it.
func (b *jsonBuilder) str() (string, int) {
	start := b.pos // the opening quote
	width := 2
	i := start + 1
	for ; ; i++ {
		c := b.data[i]
		if c == '"' {
			raw := b.data[start+1 : i]
			s, ok := jsonWords[string(raw)]
			if !ok {
				s = string(raw)
			}
			b.pos = i + 1
			return s, width
		}
		if c == '\\' || c >= utf8.RuneSelf {
			break
		}
		width += asciiWidth(c)
	}
	// Escapes or more than ASCII: encoding/json's own decoding, which
	// turns invalid UTF-8 and lone surrogates into U+FFFD, keeps the value
	// exactly what it was.
	end := i
	for c := b.data[end]; c != '"'; c = b.data[end] {
		if c == '\\' {
			end++
		}
		end++
	}
	var s string
	_ = json.Unmarshal(b.data[start:end+1], &s) // valid: json.Valid passed
	b.pos = end + 1
	return s, yamlWidth(s)
}

// jsonWords are the strings most documents are made of, the keys of
// their fields above all, kept once instead of allocated for each.
var jsonWords = func() map[string]string {
	words := map[string]string{"tcp": "tcp", "udp": "udp", "db": "db"}
	for _, fields := range [][]string{serviceFields, portFields, endpointFields, checkFields, endpointPatchFields} {
		for _, f := range fields {
			words[f] = f
		}
	}
	return words
}()

// asciiWidth is the width of ASCII character c in yamlQuote's text.
func asciiWidth(c byte) int {
	switch {
	case c == '"' || c == '\\':
		return 2
	case 0x20 <= c && c < 0x7f:
		return 1
	}
	return len(`\u0000`)
}

// yamlWidth is the width of yamlQuote(s).
func yamlWidth(s string) int {
	width := 2
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			width += asciiWidth(byte(r))
		case r <= 0xffff:
			width += len(`\u0000`)
		default:
			width += len(`\U00000000`)
		}
	}
	return width
}
