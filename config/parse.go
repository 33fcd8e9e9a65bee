package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseYAML decodes and validates a registry file. It returns every error in the
// file (as an ErrorList), not only the first, and no services when there is any error.
//
// The stream decoder (stream.go) reads the file a service at a time; a file
// it does not read, yaml.v3 reads whole (the tree decoder). Both hand each
// service to the same decoding, which gives the same services and errors.
func ParseYAML(filename string, data []byte, opts Options) ([]Service, error) {
	d := newDecoder(filename, "YAML", true, opts)
	plain, ok := d.checkText(data)
	if !ok {
		return nil, d.err()
	}
	if plain {
		if services, ok := d.stream(data); ok {
			return services, d.err()
		}
		d = newDecoder(filename, "YAML", true, opts)
	}
	return d.tree(data), d.err()
}

// LoadFile reads path, at most DefaultMaxSize bytes (see ReadFile), and calls
// ParseYAML with path as the file name.
func LoadFile(path string, opts Options) ([]Service, error) {
	data, err := ReadFile(path, DefaultMaxSize)
	if err != nil {
		return nil, err
	}
	return ParseYAML(path, data, opts)
}

// stream decodes data with the stream decoder; ok is false when it gave
// up, and d holds what it decoded so far. The services are read in a
// goroutine of their own while this one decodes them, a batch at a time:
// reading and decoding take about as long, and a large registry is read
// at start-up, with the processors idle.
func (d *decoder) stream(data []byte) (services []Service, ok bool) {
	p := &streamParser{data: data, anchors: make(map[string]*yaml.Node), free: make(chan []yaml.Node, 8)}
	batches, stop := make(chan streamBatch, 2), make(chan struct{})
	var (
		value      *yaml.Node
		empty      bool
		parsePanic any // errOutside, or a bug to panic with here
	)
	go func() {
		defer close(batches)
		defer func() { parsePanic = recover() }()
		var batch streamBatch
		send := func() {
			batch.slabs = p.takeSlabs()
			select {
			case batches <- batch:
				batch = streamBatch{}
			case <-stop:
				p.fail()
			}
		}
		props := 0
		value, empty = p.document(func(item *yaml.Node) {
			batch.items = append(batch.items, item)
			batch.props = batch.props || p.props != props
			if props = p.props; len(batch.items) == streamBatchSize {
				send()
			}
		})
		if batch.items != nil {
			send()
		}
	}()
	// However this ends, the reading goroutine ends first.
	defer func() {
		close(stop)
		for range batches {
		}
	}()
	for batch := range batches {
		if d.items == 0 {
			d.grow(p.entries)
		}
		// The tree decoder reports aliases that fail alone, and any
		// syntax error after them first.
		if batch.props && !d.checkBatchAliases(batch.items) {
			return nil, false
		}
		for _, item := range batch.items {
			d.nextService(item)
		}
		if !batch.props {
			// Nothing refers to these nodes any more: no anchors.
			for _, slab := range batch.slabs {
				clear(slab)
				select {
				case p.free <- slab:
				default:
				}
			}
		}
	}
	switch {
	case parsePanic == errOutside:
		return nil, false
	case parsePanic != nil:
		panic(parsePanic)
	case empty:
		return nil, true
	case value != nil:
		if !d.checkAliases(value) {
			return nil, false
		}
		d.serviceList(value)
	}
	return d.result(), true
}

// streamBatch is services read by the stream decoder, handed over to be
// decoded: their nodes, the slabs of the nodes, and whether they have
// anchors or aliases (to check, and to keep the slabs of).
type streamBatch struct {
	items []*yaml.Node
	slabs [][]yaml.Node
	props bool
}

// streamBatchSize is how many services the stream decoder hands over at a
// time: enough that handing over costs nothing next to decoding, few
// enough that the batches in flight take little memory.
const streamBatchSize = 64

// checkBatchAliases checks the aliases of items, in order.
func (d *decoder) checkBatchAliases(items []*yaml.Node) bool {
	for _, item := range items {
		if !d.checkAliases(item) {
			return false
		}
	}
	return true
}

// tree decodes data with yaml.v3's node tree of the whole file.
func (d *decoder) tree(data []byte) []Service {
	root := d.parse(data)
	if root == nil {
		return nil
	}
	n := resolve(root)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", `want a mapping with the key "services", got %s`, describe(n))
		return nil
	}
	e, ok := d.fields(n, "", []string{"services"}).get("services")
	if !ok {
		return nil
	}
	d.serviceList(e.val)
	return d.result()
}

// serviceList decodes the value of "services": a list of services, or
// null.
func (d *decoder) serviceList(n *yaml.Node) {
	items, _ := d.list(n, "services")
	d.grow(len(items))
	for _, item := range items {
		d.nextService(item)
	}
}

// nextService decodes item, the next of the services list. Once there is
// an error the services are not kept: none will be returned.
func (d *decoder) nextService(item *yaml.Node) {
	i := d.items
	d.items++
	d.item = i + 1
	defer func() { d.item = 0 }()
	if sd := d.service(item, ""); sd != nil {
		d.claimNames(sd, i)
		if len(d.errs) == 0 {
			d.services = append(d.services, sd.svc)
		}
	}
	if labels := d.names.labels; d.items == namesSample && d.expected > namesSample {
		d.names.labels = slices.Grow(labels, len(labels)*d.expected/namesSample-len(labels))
	}
}

// grow makes room for about n services: building the slice by appending
// would copy it over and over. Room for their endpoints' labels is made
// for as many as the first services have each, once they are decoded (see
// nextService).
func (d *decoder) grow(n int) {
	d.expected = n
	d.services = make([]Service, 0, n)
	d.names = newNameClaims(n)
}

// namesSample is how many services tell how many labels to make room for.
const namesSample = 64

// result returns the services decoded, or nil after an error.
func (d *decoder) result() []Service {
	if len(d.errs) > 0 {
		return nil
	}
	return d.services
}

// parse parses data, which must hold at most one YAML document, into the
// document's root node. It returns nil on an error and for an empty file
// (or one of comments only), which has no services.
func (d *decoder) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(data, err)
		}
		return nil
	}
	// yaml.v3 would silently ignore more documents, errors and all. Only
	// empty ones ("---" at the end) are let through.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.syntaxError(data, err)
			return nil
		}
		if len(next.Content) > 0 && !isEmpty(next.Content[0]) {
			d.errorf(&next, "", "a second YAML document; the registry is one document")
			return nil
		}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	if !d.checkAliases(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

// isEmpty reports whether n is a null written as nothing at all.
func isEmpty(n *yaml.Node) bool { return isNull(n) && n.Value == "" }

// yamlLine matches the position yaml.v3 puts in front of most messages.
var yamlLine = regexp.MustCompile(`^line (\d+): `)

// syntaxError records a parse error of yaml.v3 in data, at the line where
// the document goes wrong (see errorLine).
func (d *decoder) syntaxError(data []byte, err error) {
	msg, line := splitYAMLError(err)
	e := &Error{File: d.file, Msg: "invalid " + d.format + ": " + msg}
	if d.lines {
		e.Line = errorLine(data, msg, line)
	}
	d.errs = append(d.errs, posError{line: e.Line, err: e})
}

// splitYAMLError returns the message of a yaml.v3 error without its
// "yaml: " and "line N: ", and N (0 when it has none); "" for nil.
func splitYAMLError(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return msg, 0
	}
	line, _ := strconv.Atoi(m[1])
	return msg[len(m[0]):], line
}

// errorLine returns the line of data at which yaml.v3 fails with msg.
//
// The line yaml.v3 reports is not that line. For an error of the parser
// it is where the enclosing mapping or list begins, counted from 0 (a key
// indented wrong on line 58 of a service that starts on line 52 reads
// "line 51"); for one of the scanner, where the token being scanned
// begins, which may be lines before (a tab on line 4 after "ttl: 30" on
// line 3 reads "line 3"). Both are at or before the line wanted, which is
// the first line that, the document cut after it, makes the parse fail
// with the same message: the line of the token yaml.v3 could not take, or
// of an unclosed quote or bracket.
//
// That line is found by parsing cut documents. The document is parsed once
// more, handed to yaml.v3 a line at a time, for how far it read before it
// failed: the line wanted is at or before the last one read, and usually
// that one or the one before. Then cut documents are parsed: after the
// line yaml.v3 said (right for an unclosed quote), then stepping back from
// the last line read by doubling steps and then halving the step, so that
// a large file costs a few more parses (and a valid one none).
func errorLine(data []byte, msg string, reported int) int {
	lr := &lineReader{data: data}
	if m, _ := splitYAMLError(parseAll(lr)); m != msg {
		return reported // not the same error twice: yaml.v3's line it is
	}
	// ends[i] is the end of line i+1, its newline included. The document
	// cut after the last line read fails as the whole one does: yaml.v3
	// stopped before it needed more.
	ends := lineEnds(data)
	if len(ends) == 0 {
		return reported
	}
	hi := min(sort.SearchInts(ends, lr.off)+1, len(ends))
	lo := max(reported, 1) - 1
	fails := func(lines int) bool {
		m, _ := splitYAMLError(parseAll(bytes.NewReader(data[:ends[lines-1]])))
		return m == msg
	}
	if lo+1 < hi && fails(lo+1) {
		return lo + 1 // yaml.v3's line was the one: an unclosed quote
	}
	// lo does not fail (lines 0 is the empty document), hi does.
	for step := 1; hi-step > lo; step *= 2 {
		if !fails(hi - step) {
			lo = hi - step
			break
		}
		hi -= step
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// parseAll parses every document of r as parse does, and returns the
// first error.
func parseAll(r io.Reader) error {
	dec := yaml.NewDecoder(r)
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// lineEnds returns the offset after each line of data: after its newline,
// or the end of data for a last line without one.
func lineEnds(data []byte) []int {
	var ends []int
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			ends = append(ends, len(data))
			break
		}
		off += i + 1
		ends = append(ends, off)
	}
	return ends
}

// lineReader reads data at most a line at a time, so that where it is when
// yaml.v3 fails tells how far yaml.v3 got.
type lineReader struct {
	data []byte
	off  int
}

func (r *lineReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	rest := r.data[r.off:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i+1]
	}
	n := copy(p, rest)
	r.off += n
	return n, nil
}
