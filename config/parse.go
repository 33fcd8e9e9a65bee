package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
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
			d.syntaxError(err)
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
			d.syntaxError(err)
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

// syntaxError records a parse error of yaml.v3, moving the line it
// reports ("yaml: line 3: did not find expected key") into Error.Line.
func (d *decoder) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: d.file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		if line, err := strconv.Atoi(m[1]); err == nil && d.lines {
			e.Line = line
		}
	}
	e.Msg = "invalid " + d.format + ": " + msg
	d.errs = append(d.errs, posError{line: e.Line, err: e})
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
