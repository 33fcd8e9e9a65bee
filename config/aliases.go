package config

import "go.yaml.in/yaml/v3"

// maxAliasNodes bounds the nodes aliases may add to a document when
// expanded. The walk visits an aliased node once for every alias to it, so
// without a bound a small file of nested aliases (a "billion laughs")
// would keep the walk busy for good.
const maxAliasNodes = 100000

// checkAliases reports an alias inside the node it names, and a document
// whose aliases expand it by more than maxAliasNodes nodes. After it
// passes, the walk may follow every alias.
func (d *decoder) checkAliases(root *yaml.Node) bool {
	nodes, aliases := countNodes(root)
	if aliases == 0 {
		return true // nothing to expand: the common case, and a cheap one
	}
	x := expansion{
		limit:  nodes + maxAliasNodes,
		size:   make(map[*yaml.Node]int),
		inside: make(map[*yaml.Node]bool),
	}
	total := x.expand(root)
	switch {
	case x.loop != nil:
		d.errorf(x.loop, "", "alias *%s is inside the node it names", x.loop.Value)
		return false
	case total >= x.limit:
		d.errorf(nil, "", "aliases expand the document by more than %d nodes", maxAliasNodes)
		return false
	}
	return true
}

// countNodes counts the nodes of the tree under n, an alias as one, and
// the aliases among them.
func countNodes(n *yaml.Node) (nodes, aliases int) {
	nodes = 1
	if n.Kind == yaml.AliasNode {
		aliases = 1
	}
	for _, c := range n.Content {
		cn, ca := countNodes(c)
		nodes, aliases = nodes+cn, aliases+ca
	}
	return nodes, aliases
}

// expansion computes how many nodes a walk that follows every alias would
// visit, remembering each node's count so that the work stays linear in
// the document, and stopping at limit.
type expansion struct {
	limit  int
	size   map[*yaml.Node]int
	inside map[*yaml.Node]bool // the nodes being counted, to spot loops
	loop   *yaml.Node          // the first alias found inside its target
}

func (x *expansion) expand(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if x.inside[n.Alias] {
			if x.loop == nil {
				x.loop = n
			}
			return x.limit
		}
		n = n.Alias
	}
	if s, ok := x.size[n]; ok {
		return s
	}
	x.inside[n] = true
	total := 1
	for _, c := range n.Content {
		if total += x.expand(c); total >= x.limit {
			total = x.limit
			break
		}
	}
	delete(x.inside, n)
	x.size[n] = total
	return total
}
