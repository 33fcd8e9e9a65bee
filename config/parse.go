package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tpdns/tpdns/internal/parallel"
)

// ParseYAML decodes and validates a registry file. It returns every error in the
// file (as an ErrorList), not only the first, and no services when there is any error.
func ParseYAML(filename string, data []byte, opts Options) ([]Service, error) {
	d := newDecoder(filename, "YAML", true, opts)
	root := d.parse(data)
	if root == nil {
		return nil, d.err()
	}
	services := d.document(root)
	if err := d.err(); err != nil {
		return nil, err
	}
	return services, nil
}

// LoadFile reads path and calls ParseYAML with path as the file name; a read error is
// returned wrapped: fmt.Errorf("services %s: %w", path, err).
func LoadFile(path string, opts Options) ([]Service, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("services %s: %w", path, err)
	}
	return ParseYAML(path, data, opts)
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

// services decodes the items of the services list. A large registry is
// decoded in parallel, in contiguous parts whose errors are then joined in
// order, as one walk would have found them.
func (d *decoder) services(items []*yaml.Node) []*serviceDecl {
	parts := parallel.Parts(len(items), minPart)
	decls := make([][]*serviceDecl, parts)
	workers := make([]decoder, parts)
	parallel.Run(len(items), minPart, func(p, from, to int) {
		workers[p] = *d
		workers[p].errs = nil
		decls[p] = workers[p].serviceRange(items[from:to], from)
	})
	for _, w := range workers {
		d.errs = append(d.errs, w.errs...)
	}
	return slices.Concat(decls...)
}

// minPart is the fewest services worth a goroutine of their own.
const minPart = 1000

// serviceRange decodes items, the first of which is the services list's
// item first.
func (d *decoder) serviceRange(items []*yaml.Node, first int) []*serviceDecl {
	decls := make([]*serviceDecl, 0, len(items))
	for i, item := range items {
		if sd := d.service(item, index("services", first+i)); sd != nil {
			decls = append(decls, sd)
		}
	}
	return decls
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

// document decodes the top level of a registry file: a mapping with the
// one key "services".
func (d *decoder) document(root *yaml.Node) []Service {
	n := resolve(root)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", `want a mapping with the key "services", got %s`, describe(n))
		return nil
	}
	e, ok := d.fields(n, "", []string{"services"})["services"]
	if !ok {
		return nil
	}
	items, ok := d.list(e.val, "services")
	if !ok {
		return nil
	}
	decls := d.services(items)
	d.checkUnique(decls)
	services := make([]Service, len(decls))
	for i, sd := range decls {
		services[i] = sd.svc
	}
	return services
}
