package config

import (
	"cmp"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// decoder walks the node tree of one registry file or API body, turning it
// into services and collecting every error with the position of the node
// it is about.
type decoder struct {
	file string
	// format is "YAML" or "JSON", for syntax errors.
	format string
	// lines is false for API bodies: their nodes are those of the body
	// rewritten as one line of YAML (see jsonTree), so line numbers would
	// point nowhere useful.
	lines bool
	// zone is the longest of Options.Zones and extra what it adds to a
	// relative name.
	zone  string
	extra int
	errs  []posError

	// For a registry file: the alias check, carried from one service to
	// the next, the items of the services list so far, the services
	// decoded and the names they use.
	aliases  aliasCheck
	items    int
	expected int // how many items there are about to be
	services []Service
	names    nameClaims
	// item is where the service being decoded is in the services list
	// (services[item-1]; 0 for an API body), and part the port or endpoint
	// of it being decoded, whose fields are given inside the part (see
	// full).
	item int
	part listItem
	// spare is the serviceDecl the services are decoded into, one after
	// the other (see newServiceDecl), and entryBuf the entries of their
	// mappings (see entrySpace).
	spare    *serviceDecl
	entryBuf []entry
}

// listItem is item i of the list at the path list; none when list is "".
type listItem struct {
	list string
	i    int
}

func (l listItem) String() string { return index(l.list, l.i) }

// join returns the path of field, a path inside the item.
func (l listItem) join(field string) string {
	if field == "" {
		return l.String()
	}
	return l.String() + "." + field
}

// posError is an Error with the column of its node, which only serves to
// sort errors on one line (flow style) in document order.
type posError struct {
	line, col int
	err       *Error
}

func newDecoder(file, format string, lines bool, opts Options) *decoder {
	d := &decoder{file: file, format: format, lines: lines}
	d.zone, d.extra = opts.longestZone()
	return d
}

// errorf records an error about node n, which may be nil when the error is
// about the whole document.
func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	var line, col int
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.errorAt(line, col, field, format, args...)
}

// errorAt records an error about the node at line and col, 0 for the
// whole document.
func (d *decoder) errorAt(line, col int, field, format string, args ...any) {
	pe := posError{line: line, col: col, err: &Error{File: d.file, Field: d.full(field), Msg: fmt.Sprintf(format, args...)}}
	if d.lines {
		pe.err.Line = line
	}
	d.errs = append(d.errs, pe)
}

// full returns path, a path inside the service being decoded (inside the
// part being decoded, if any), from the top of the document. A service's
// fields are decoded as if it were an API body, and those of its ports and
// endpoints as if each were alone, without the path of the service or the
// item: the path is made here, in the few errors there are, and not for
// every field of every service.
func (d *decoder) full(path string) string {
	if d.part.list != "" {
		path = d.part.join(path)
	}
	if d.item == 0 {
		return path
	}
	return listItem{"services", d.item - 1}.join(path)
}

// at returns " (line N)" for n, to point from one error to the place it
// conflicts with; "" for API bodies, which have no useful lines.
func (d *decoder) at(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return d.atLine(n.Line)
}

func (d *decoder) atLine(line int) string {
	if !d.lines {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

// firstAt returns " (first at line N)" for n; "" for API bodies.
func (d *decoder) firstAt(n *yaml.Node) string {
	if !d.lines {
		return ""
	}
	return fmt.Sprintf(" (first at line %d)", n.Line)
}

// err returns the errors in document order, or nil. Checks that relate
// parts of a service run after the parts are decoded, so the errors are
// sorted rather than kept in the order found; an alias repeats the errors
// of its anchor's node, so exact repeats are dropped.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	errs := slices.Clone(d.errs)
	slices.SortStableFunc(errs, func(a, b posError) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	list := make(ErrorList, 0, len(errs))
	seen := make(map[Error]bool, len(errs))
	for _, pe := range errs {
		if !seen[*pe.err] {
			seen[*pe.err] = true
			list = append(list, pe.err)
		}
	}
	return list
}
