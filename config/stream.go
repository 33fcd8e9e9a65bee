package config

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The stream decoder reads a registry file one service at a time: only the
// node tree of the service being decoded is ever in memory, where yaml.v3
// builds the tree of the whole file first (several times the file's size,
// and most of the time a large registry takes to load).
//
// It reads the YAML registries are written in: block and flow collections,
// plain and quoted scalars on one line, comments, anchors and aliases, in
// one document. It builds the nodes yaml.v3 would build for them (kind,
// tag, value, style, line and column), so that the decoding after it, and
// every message, is the same; FuzzStreamMatchesTree holds it to that.
// Anything else (a scalar over several lines, a block scalar, a tag, a tab,
// a second document, a syntax error) makes it give up, and yaml.v3 reads
// the file whole: it has the messages for every syntax error.

// errOutside is how the stream decoder gives up, as a panic: the file is
// outside the YAML it reads, or invalid.
var errOutside = errors.New("outside the stream decoder's YAML")

// maxStreamDepth is the deepest the stream decoder nests collections. A
// registry needs five; deeper files are yaml.v3's, with its limit.
const maxStreamDepth = 64

// maxKey is the longest implicit key: YAML looks 1024 characters ahead for
// its ":", and yaml.v3 refuses a longer key. Counting bytes, at least as
// many, the stream decoder never takes a key yaml.v3 would not.
const maxKey = 1024

// streamParser reads data, which checkText found to be UTF-8 without
// tabs, carriage returns, or line breaks other than "\n".
type streamParser struct {
	data    []byte
	pos     int // the next byte to read
	line    int // of pos, from 1
	bol     int // offset of pos's line
	depth   int
	anchors map[string]*yaml.Node
	// props counts the anchors and aliases read, so that a service with
	// neither skips the alias check.
	props int
	// scalarFrom is the offset of the last scalar read, a key when a ":"
	// follows.
	scalarFrom int
	// entries is about how many services the list has: the lines that
	// start as its first entry does. The decoder makes room for as many.
	entries int
	// nodes are allocated a slab at a time, and the content of a
	// collection gathered on children first: a node at a time, and a
	// Content slice grown by appending, cost more than the rest of the
	// parse. The slabs used since takeSlabs are in slabs; those the
	// decoder is done with come back on free, cleared.
	nodes    []yaml.Node
	slabs    [][]yaml.Node
	free     chan []yaml.Node
	children []*yaml.Node
	contents []*yaml.Node // what Content slices are cut from
	// colFrom is the offset on line colLine column last counted to, colOf
	// its column.
	colLine, colFrom, colOf int
}

// mark is where a node starts, as yaml.v3 counts: lines and columns from
// 1, columns in characters.
type mark struct{ line, col int }

// anchor is the anchor of the node being read, if any.
type anchor struct {
	name string
	at   mark
}

// Where a node is read, for what may follow it on its line.
const (
	afterKey  = iota // "key: NODE": NODE is a value and ends the line
	afterDash        // "- NODE": NODE may be the first key of a mapping
	lineStart        // NODE begins a line
)

func (p *streamParser) fail() { panic(errOutside) }

// document reads a registry file, handing the node of each item of its
// block list of services to item as soon as it is read. It returns the
// value of "services" when that is anything else (a flow list, null, a
// mistake), for the caller to decode; empty is true for a document of
// comments only. It panics with errOutside when it gives up.
func (p *streamParser) document(item func(*yaml.Node)) (value *yaml.Node, empty bool) {
	p.line = 1
	p.nextContent()
	if p.eof() {
		return nil, true
	}
	// The top level is a block mapping with the one key "services";
	// anything else is the tree decoder's to report.
	top := p.col()
	k := p.scalar(false)
	if k.Style != 0 || k.Value != "services" {
		p.fail()
	}
	p.skipSpaces()
	colon := p.colon(k, false)
	p.skipSpaces()
	switch {
	case !p.atLineEnd():
		if p.peek() == '&' {
			p.fail()
		}
		value = p.node(top, anchor{}, afterKey)
	default:
		p.endLine()
		switch c := p.col(); {
		case c >= top && p.isEntry():
			p.entries = 1 + bytes.Count(p.data[p.pos:], append([]byte{'\n'}, p.data[p.bol:min(p.pos+2, len(p.data))]...))
			p.list(c, anchor{}, item)
		case c > top:
			value = p.node(top, anchor{}, lineStart)
		default:
			value = p.empty(colon)
		}
	}
	if !p.eof() {
		p.fail()
	}
	return value, false
}

// blockValue reads the node after "key:" (ctx afterKey) or "-" (afterDash)
// of a block collection at column indent: on the same line, on the lines
// below, or none, an empty scalar at empty. For a key, a list at the key's
// column is the value. It returns at the first byte of the next line with
// content.
func (p *streamParser) blockValue(indent int, empty mark, ctx int) *yaml.Node {
	p.skipSpaces()
	var a anchor
	if p.peek() == '&' {
		a = p.anchor()
		p.skipSpaces()
	}
	if !p.atLineEnd() {
		return p.node(indent, a, ctx)
	}
	p.endLine()
	switch c := p.col(); {
	case c > indent:
		return p.node(indent, a, lineStart)
	case c == indent && ctx == afterKey && p.isEntry():
		return p.list(c, a, nil)
	case a.name != "":
		return p.scalarNode("", 0, a)
	}
	return p.empty(empty)
}

// node reads a node in a block collection at column indent, at the current
// position (see the ctx constants), with anchor a read before it.
func (p *streamParser) node(indent int, a anchor, ctx int) *yaml.Node {
	c := p.col()
	var n *yaml.Node
	switch p.peek() {
	case '-':
		if p.isEntry() {
			if ctx != lineStart {
				p.fail() // "key: - x", or "- - x", which registries have no use for
			}
			return p.list(c, a, nil)
		}
		n = p.scalar(false)
	case '[', '{':
		n = p.flow(a)
		a = anchor{}
	case '*':
		if a.name != "" {
			p.fail()
		}
		n = p.alias(false)
	default:
		n = p.scalar(false)
	}
	p.skipSpaces()
	if p.peek() == ':' && p.blankz(p.pos+1) {
		// n is the first key of a mapping at column c. An anchor on the
		// same line as the key would be the key's.
		if ctx == afterKey || n.Kind != yaml.ScalarNode || ctx == afterDash && a.name != "" {
			p.fail()
		}
		return p.mapping(c, n, a)
	}
	if a.name != "" {
		p.setAnchor(n, a)
	}
	p.endLine()
	// A line below indented more would continue a plain scalar, or be an
	// error.
	if p.col() > indent {
		p.fail()
	}
	return n
}

// mapping reads a block mapping at column m whose first key, k, is read
// and followed by ":".
func (p *streamParser) mapping(m int, k *yaml.Node, a anchor) *yaml.Node {
	n := p.collection(yaml.MappingNode, a, mark{k.Line, k.Column})
	defer p.leave()
	from := len(p.children)
	for {
		colon := p.colon(k, false)
		p.children = append(p.children, k)
		v := p.blockValue(m, colon, afterKey)
		p.children = append(p.children, v)
		switch c := p.col(); {
		case c < m:
			p.content(n, from)
			return n
		case c > m:
			p.fail()
		}
		k = p.scalar(false)
		p.skipSpaces()
	}
}

// list reads a block list at column s. With item, it hands item each
// entry and returns nil: that is the list of services.
func (p *streamParser) list(s int, a anchor, item func(*yaml.Node)) *yaml.Node {
	var n *yaml.Node
	if item == nil {
		n = p.collection(yaml.SequenceNode, a, p.here())
		defer p.leave()
	}
	from := len(p.children)
	for {
		dash := mark{p.line, p.column(p.pos + 1)}
		p.pos++
		v := p.blockValue(s, dash, afterDash)
		if item != nil {
			item(v)
		} else {
			p.children = append(p.children, v)
		}
		// A line at column s that is no entry ends an indentless list
		// (the mapping's next key); for any other, the caller fails.
		if c := p.col(); c != s || !p.isEntry() {
			if c > s {
				p.fail()
			}
			if n != nil {
				p.content(n, from)
			}
			return n
		}
	}
}

// flow reads a flow collection, "[...]" or "{...}". Its lines may be
// indented any way: yaml.v3 does not look.
func (p *streamParser) flow(a anchor) *yaml.Node {
	open := p.peek()
	kind, end := yaml.SequenceNode, byte(']')
	if open == '{' {
		kind, end = yaml.MappingNode, '}'
	}
	n := p.collection(kind, a, p.here())
	defer p.leave()
	n.Style = yaml.FlowStyle
	p.pos++
	p.nextContent()
	from := len(p.children)
	for p.peek() != end {
		if kind == yaml.SequenceNode {
			p.children = append(p.children, p.flowNode())
		} else {
			k, v := p.flowPair()
			p.children = append(p.children, k, v)
		}
		p.nextContent()
		switch p.peek() {
		case ',':
			p.pos++
			p.nextContent()
		case end:
		default:
			p.fail() // "[a b]", "[a: b]", a missing "]"...
		}
	}
	p.pos++
	p.content(n, from)
	return n
}

// flowPair reads "key: value", "key:" or "key" in a flow mapping.
func (p *streamParser) flowPair() (k, v *yaml.Node) {
	if c := p.peek(); c != '"' && c != '\'' && !p.plainStart(true) {
		p.fail()
	}
	k = p.scalar(true)
	p.skipSpaces()
	if p.peek() == ':' {
		p.colon(k, true)
		p.nextContent()
		if c := p.peek(); c != ',' && c != '}' {
			return k, p.flowNode()
		}
	} else if p.nextContent(); p.peek() == ':' {
		p.fail() // a key on a line of its own: no simple key
	}
	// No value: null, where the next token is.
	return k, p.empty(p.here())
}

// flowNode reads a node inside a flow collection.
func (p *streamParser) flowNode() *yaml.Node {
	var a anchor
	if p.peek() == '&' {
		a = p.anchor()
		p.skipSpaces()
	}
	switch c := p.peek(); {
	case c == '[' || c == '{':
		return p.flow(a)
	case c == '*' && a.name == "":
		return p.alias(true)
	case c == '"' || c == '\'' || p.plainStart(true):
		n := p.scalar(true)
		if a.name != "" {
			p.setAnchor(n, a)
		}
		return n
	}
	p.fail()
	return nil
}

// collection starts a mapping or a list at at, or at its anchor.
func (p *streamParser) collection(kind yaml.Kind, a anchor, at mark) *yaml.Node {
	if p.depth++; p.depth > maxStreamDepth {
		p.fail()
	}
	n := p.newNode()
	n.Kind, n.Tag, n.Line, n.Column = kind, "!!seq", at.line, at.col
	if kind == yaml.MappingNode {
		n.Tag = "!!map"
	}
	// Registered before the content, as yaml.v3 does: an alias inside the
	// node it names is the alias check's to report.
	if a.name != "" {
		p.setAnchor(n, a)
	}
	return n
}

func (p *streamParser) leave() { p.depth-- }

func (p *streamParser) setAnchor(n *yaml.Node, a anchor) {
	n.Anchor, n.Line, n.Column = a.name, a.at.line, a.at.col
	p.anchors[a.name] = n
	p.props++
}

// anchor reads "&name", which must be followed by a space or the end of
// the line.
func (p *streamParser) anchor() anchor {
	a := anchor{at: p.here()}
	a.name = p.anchorName()
	if !p.blankz(p.pos) {
		p.fail()
	}
	return a
}

// alias reads "*name", an alias of an anchor before it.
func (p *streamParser) alias(flow bool) *yaml.Node {
	at := p.here()
	name := p.anchorName()
	if c := p.peek(); !p.blankz(p.pos) && !(flow && (c == ',' || c == ']' || c == '}')) {
		p.fail()
	}
	target := p.anchors[name]
	if target == nil {
		p.fail() // yaml.v3 says "unknown anchor"
	}
	p.props++
	n := p.newNode()
	n.Kind, n.Value, n.Alias, n.Line, n.Column = yaml.AliasNode, name, target, at.line, at.col
	return n
}

// anchorName reads the name after "&" or "*": letters, digits, "_", "-".
func (p *streamParser) anchorName() string {
	p.pos++
	from := p.pos
	for p.pos < len(p.data) && isAnchorChar(p.data[p.pos]) {
		p.pos++
	}
	if p.pos == from {
		p.fail()
	}
	return string(p.data[from:p.pos])
}

func isAnchorChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '-' }

// colon consumes the ":" after key k, the scalar read last, which must be
// on k's line and close enough to be an implicit key (and in block context
// followed by a space or the end of the line), and returns where the
// value is when there is none: right after the ":".
func (p *streamParser) colon(k *yaml.Node, flow bool) mark {
	if p.peek() != ':' || !flow && !p.blankz(p.pos+1) || k.Line != p.line || p.pos-p.scalarFrom > maxKey {
		p.fail()
	}
	p.pos++
	return p.here()
}

// scalar reads a quoted or plain scalar on one line.
func (p *streamParser) scalar(flow bool) *yaml.Node {
	at := p.here()
	p.scalarFrom = p.pos
	switch q := p.peek(); q {
	case '"', '\'':
		v := p.quoted(q)
		style := yaml.DoubleQuotedStyle
		if q == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return p.scalarNode(v, style, anchor{at: at})
	}
	if !p.plainStart(flow) {
		p.fail()
	}
	return p.scalarNode(p.plain(flow), 0, anchor{at: at})
}

// scalarNode makes a scalar node at a.at; its tag is yaml.v3's: the one
// the value resolves to when plain (a merge key "<<" aside), !!str when
// quoted.
func (p *streamParser) scalarNode(value string, style yaml.Style, a anchor) *yaml.Node {
	n := p.newNode()
	n.Kind, n.Value, n.Style, n.Line, n.Column = yaml.ScalarNode, value, style, a.at.line, a.at.col
	n.Tag = "!!str"
	if style == 0 {
		n.Tag = plainTag(value)
	}
	if a.name != "" {
		p.setAnchor(n, a)
	}
	return n
}

// empty is the null yaml.v3 makes where a value is left out.
func (p *streamParser) empty(at mark) *yaml.Node {
	n := p.newNode()
	n.Kind, n.Tag, n.Line, n.Column = yaml.ScalarNode, "!!null", at.line, at.col
	return n
}

// slabNodes is how many nodes a slab holds: a few dozen services'.
const slabNodes = 1024

// newNode returns a zero node from the slab.
func (p *streamParser) newNode() *yaml.Node {
	if len(p.nodes) == 0 {
		select {
		case p.nodes = <-p.free:
		default:
			p.nodes = make([]yaml.Node, slabNodes)
		}
		p.slabs = append(p.slabs, p.nodes)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	return n
}

// takeSlabs returns the slabs of the nodes read since it was last called,
// and starts a new one.
func (p *streamParser) takeSlabs() [][]yaml.Node {
	slabs := p.slabs
	p.slabs, p.nodes = nil, nil
	return slabs
}

// content sets the content of n to the children gathered since from.
func (p *streamParser) content(n *yaml.Node, from int) {
	k := len(p.children) - from
	if k == 0 {
		return
	}
	if len(p.contents) < k {
		p.contents = make([]*yaml.Node, max(k, 8*slabNodes))
	}
	n.Content = p.contents[:k:k]
	p.contents = p.contents[k:]
	copy(n.Content, p.children[from:])
	clear(p.children[from:]) // for the collector
	p.children = p.children[:from]
}

// plainTag is the tag yaml.v3 resolves a plain scalar to: "<<" is a merge
// key; a value that starts as no number, bool or null can is a string,
// and so are IP addresses (yaml.v3 would try them as a timestamp, an
// integer and with a regular expression as a float, for each endpoint).
// The rest yaml.v3 resolves.
func plainTag(v string) string {
	switch {
	case v == "<<":
		return "!!merge"
	case v == "" || v == "~" || v == "null" || v == "Null" || v == "NULL":
		return "!!null"
	case v == "true" || v == "True" || v == "TRUE" || v == "false" || v == "False" || v == "FALSE":
		return "!!bool"
	case strings.IndexByte("+-.0123456789", v[0]) < 0 || strings.Count(v, ".") > 1 && strings.Trim(v, "0123456789.:") == "":
		return "!!str"
	}
	return (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
}

// plainStart reports whether a plain scalar starts at pos: not an
// indicator, or "-" (and in block context "?" and ":") before a non-space.
func (p *streamParser) plainStart(flow bool) bool {
	switch p.peek() {
	case '-':
		return !p.blankz(p.pos + 1)
	case '?', ':':
		return !flow && !p.blankz(p.pos+1)
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n':
		return false
	}
	return !p.eof()
}

// plain reads a plain scalar up to the end of its line, a comment, ": ",
// or in flow context a flow indicator. Spaces inside it are kept, at its
// end dropped.
func (p *streamParser) plain(flow bool) string {
	from, end := p.pos, p.pos
	i := p.pos
	for {
		for i < len(p.data) && p.data[i] != ' ' && p.data[i] != '\n' {
			c := p.data[i]
			if c == ':' && p.blankz(i+1) || flow && (c == ',' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}') {
				break
			}
			i++
			end = i
		}
		if i == len(p.data) || p.data[i] != ' ' {
			break
		}
		for i < len(p.data) && p.data[i] == ' ' {
			i++
		}
		if i == len(p.data) || p.data[i] == '\n' || p.data[i] == '#' {
			break
		}
	}
	p.pos = end
	if s, ok := words[string(p.data[from:end])]; ok {
		return s
	}
	return string(p.data[from:end])
}

// words are the plain scalars every registry repeats, its keys above all:
// one string each, not one per time they are read.
var words = func() map[string]string {
	m := map[string]string{}
	for _, w := range slices.Concat(serviceFields, portFields, endpointFields, checkFields,
		[]string{"services", "tcp", "udp", CheckHTTP, CheckHTTPS, CheckNone, "true", "false"}) {
		m[w] = w
	}
	return m
}()

// quoted reads a scalar in quotes q, on one line.
func (p *streamParser) quoted(q byte) string {
	p.pos++
	from := p.pos
	var b []byte // the value, once it differs from the text
	for {
		if p.eof() || p.data[p.pos] == '\n' {
			p.fail() // over several lines: the folding is yaml.v3's
		}
		c := p.data[p.pos]
		switch {
		case c == q && q == '\'' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '\'':
			b = append(append(b, p.data[from:p.pos]...), '\'')
			p.pos += 2
			from = p.pos
			continue
		case c == q:
			v := string(p.data[from:p.pos])
			if b != nil {
				v = string(append(b, v...))
			}
			p.pos++
			return v
		case c == '\\' && q == '"':
			b = p.escape(append(b, p.data[from:p.pos]...))
			from = p.pos
			continue
		}
		p.pos++
	}
}

// escapes are the one-character escapes of double-quoted scalars, as
// yaml.v3 reads them.
var escapes = map[byte]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", 'n': "\n", 'v': "\v", 'f': "\f", 'r': "\r",
	'e': "\x1b", ' ': " ", '"': `"`, '\'': "'", '\\': `\`,
	'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// escape reads the escape at pos ("\n", "\x41", "\u00e9"...) and appends
// what it stands for to b.
func (p *streamParser) escape(b []byte) []byte {
	if p.pos+1 >= len(p.data) {
		p.fail()
	}
	c := p.data[p.pos+1]
	p.pos += 2
	if s, ok := escapes[c]; ok {
		return append(b, s...)
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	if digits == 0 || p.pos+digits > len(p.data) {
		p.fail() // a line break (a continued line), or yaml.v3's error
	}
	r := 0 // an int, as yaml.v3's: "\U80000000" must not wrap
	for _, h := range p.data[p.pos : p.pos+digits] {
		var v byte
		switch {
		case isDigit(h):
			v = h - '0'
		case 'a' <= h && h <= 'f':
			v = h - 'a' + 10
		case 'A' <= h && h <= 'F':
			v = h - 'A' + 10
		default:
			p.fail()
		}
		r = r<<4 | int(v)
	}
	if r >= 0xD800 && r <= 0xDFFF || r > utf8.MaxRune {
		p.fail()
	}
	p.pos += digits
	return utf8.AppendRune(b, rune(r))
}

// skipSpaces skips the spaces at pos.
func (p *streamParser) skipSpaces() {
	for p.pos < len(p.data) && p.data[p.pos] == ' ' {
		p.pos++
	}
}

// atLineEnd reports whether only a comment, if anything, is left on the
// line. Between tokens "#" starts a comment, as in yaml.v3.
func (p *streamParser) atLineEnd() bool {
	return p.eof() || p.data[p.pos] == '\n' || p.data[p.pos] == '#'
}

// endLine skips the rest of the line, which must be spaces or a comment,
// and moves to the next line with content.
func (p *streamParser) endLine() {
	p.skipSpaces()
	if !p.atLineEnd() {
		p.fail()
	}
	p.nextContent()
}

// nextContent skips spaces, comments and line breaks up to the next
// content, at a line's first byte that is not a space (or the end). Any
// of "---", "..." and "%" there would end the document: yaml.v3's to read.
func (p *streamParser) nextContent() {
	for {
		p.skipSpaces()
		if !p.atLineEnd() {
			break
		}
		for p.pos < len(p.data) && p.data[p.pos] != '\n' {
			p.pos++
		}
		if p.eof() {
			return
		}
		p.pos++
		p.line++
		p.bol = p.pos
	}
	if p.pos == p.bol && (p.peek() == '%' || p.docIndicator()) {
		p.fail()
	}
}

func (p *streamParser) docIndicator() bool {
	d := p.data[p.pos:]
	return len(d) >= 3 && (string(d[:3]) == "---" || string(d[:3]) == "...") && p.blankz(p.pos+3)
}

// isEntry reports whether a block list entry, "-" and a space or the end
// of the line, is at pos.
func (p *streamParser) isEntry() bool { return p.peek() == '-' && p.blankz(p.pos+1) }

// blankz reports whether i is a space, a line break or the end.
func (p *streamParser) blankz(i int) bool {
	return i >= len(p.data) || p.data[i] == ' ' || p.data[i] == '\n'
}

func (p *streamParser) eof() bool { return p.pos >= len(p.data) }

// peek returns the byte at pos; 0 at the end.
func (p *streamParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.data[p.pos]
}

// col is the column of pos from 0 in bytes, which is the indentation at
// the first content of a line; -1 at the end, where every collection ends.
func (p *streamParser) col() int {
	if p.eof() {
		return -1
	}
	return p.pos - p.bol
}

// here is where pos is, as yaml.v3 counts.
func (p *streamParser) here() mark { return mark{p.line, p.column(p.pos)} }

// column is the column of offset i on the current line, from 1 in
// characters. It counts on from the last column asked for, so that a long
// line (a whole registry in flow style) is counted once, not once a node.
func (p *streamParser) column(i int) int {
	if p.colLine != p.line || i < p.colFrom {
		p.colLine, p.colFrom, p.colOf = p.line, p.bol, 1
	}
	for _, c := range p.data[p.colFrom:i] {
		if c < 0x80 || c >= 0xC0 { // not a continuation byte: a character
			p.colOf++
		}
	}
	p.colFrom = i
	return p.colOf
}
