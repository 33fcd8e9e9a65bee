package config

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// portFields are the keys of a port.
var portFields = []string{"name", "port", "protocol"}

// portDecl is where a port is in the document.
type portDecl struct {
	node *yaml.Node
	at   listItem
	// name is the node of the name, nil unless the name is valid and the
	// first of its kind in the service.
	name *yaml.Node
}

// ports decodes a service's ports; a port needs both a name, for its SRV
// owner name, and a number.
func (d *decoder) ports(sd *serviceDecl, e entry) {
	if e.val == nil {
		return
	}
	path := join(sd.path, "ports")
	items, _ := d.list(e.val, path)
	// Most services have one port, which needs no map to be told apart.
	var first map[string]portDecl
	if len(items) > 1 {
		first = make(map[string]portDecl, len(items))
	}
	for i, item := range items {
		p, pd := d.port(item, listItem{path, i})
		if pd.name != nil {
			if prev, dup := first[p.Name]; dup {
				d.errorf(pd.name, pd.at.join("name"), "%q is already used by %s%s", p.Name, d.full(prev.at.String()), d.at(prev.name))
				pd.name = nil
			} else if first != nil {
				first[p.Name] = pd
			}
		}
		sd.svc.Ports = append(sd.svc.Ports, p)
		sd.ports = append(sd.ports, pd)
	}
}

// port decodes the port at, with the paths of its errors made from at
// only when there are errors (see decoder.full).
func (d *decoder) port(n *yaml.Node, at listItem) (Port, portDecl) {
	n = resolve(n)
	pd := portDecl{node: n, at: at}
	d.part = at
	defer func() { d.part = listItem{} }()
	var p Port
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "want a mapping, got %s", describe(n))
		return p, pd
	}
	f := d.fields(n, "", portFields)
	if e, ok := f.get("name"); !ok {
		d.errorf(n, "name", "is required")
	} else if s, ok := d.str(e.val, "name", "a string"); ok {
		if s = asciiLower(s); portNameProblem(s) != "" {
			d.errorf(resolve(e.val), "name", "%s", portNameProblem(s))
		} else {
			p.Name, pd.name = s, resolve(e.val)
		}
	}
	if e, ok := f.get("port"); !ok {
		d.errorf(n, "port", "is required")
	} else if v, ok := d.integer(e.val, "port", 1, math.MaxUint16); ok {
		p.Number = uint16(v)
	}
	if e, ok := f.get("protocol"); ok {
		p.Protocol = d.protocol(e.val, "protocol")
	}
	return p, pd
}

func (d *decoder) protocol(n *yaml.Node, field string) string {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if s := asciiLower(n.Value); s == "tcp" || s == "udp" {
			return s
		}
	}
	d.errorf(n, field, "want tcp or udp, got %s", describe(n))
	return ""
}
