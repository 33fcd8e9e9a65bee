package config

import "go.yaml.in/yaml/v3"

// maxAliasNodes bounds the nodes aliases may add to a document when
// expanded. The walk visits an aliased node once for every alias to it, so
// without a bound a small file of nested aliases (a "billion laughs")
// would keep the walk busy for good.
const maxAliasNodes = 100000

// aliasCheck follows the aliases of a document in document order, one part
// after another (the stream decoder checks each service before decoding
// it), adding up how many nodes each alias adds when expanded.
type aliasCheck struct {
	// size is the expanded size of each anchored node walked, at most
	// maxAliasNodes+1, which is already too many.
	size map[*yaml.Node]int
	// inside holds the anchored nodes being walked, to spot an alias
	// inside the node it names.
	inside map[*yaml.Node]bool
	added  int // the nodes the aliases so far add
	failed bool
}

// checkAliases walks n, the next part of the document, and reports an
// alias inside the node it names, or the alias with which the aliases so
// far expand the document by more than maxAliasNodes nodes. After it
// passes, the decoding may follow every alias in n.
func (d *decoder) checkAliases(n *yaml.Node) bool {
	x := &d.aliases
	if x.size == nil {
		x.size, x.inside = make(map[*yaml.Node]int), make(map[*yaml.Node]bool)
	}
	x.walk(d, n)
	return !x.failed
}

// walk returns the expanded size of n, and stops at the first problem.
func (x *aliasCheck) walk(d *decoder, n *yaml.Node) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if x.inside[n.Alias] {
			d.errorf(n, "", "alias *%s is inside the node it names", n.Value)
			x.failed = true
			return 0
		}
		// Anchors come before their aliases, and n's is not an ancestor:
		// its size is known.
		size := x.size[n.Alias]
		if x.added += size - 1; x.added >= maxAliasNodes {
			d.errorf(n, "", "aliases expand the document by more than %d nodes, counted up to alias *%s", maxAliasNodes, n.Value)
			x.failed = true
		}
		return size
	}
	if n.Anchor != "" {
		x.inside[n] = true
	}
	size := 1
	for _, c := range n.Content {
		size = min(size+x.walk(d, c), maxAliasNodes+1)
		if x.failed {
			return 0
		}
	}
	if n.Anchor != "" {
		delete(x.inside, n)
		x.size[n] = size
	}
	return size
}
