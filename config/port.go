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
	path string
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
	first := make(map[string]portDecl)
	for i, item := range items {
		p, pd := d.port(item, index(path, i))
		if pd.name != nil {
			if prev, dup := first[p.Name]; dup {
				d.errorf(pd.name, join(pd.path, "name"), "%q is already used by %s%s", p.Name, d.full(prev.path), d.at(prev.name))
				pd.name = nil
			} else {
				first[p.Name] = pd
			}
		}
		sd.svc.Ports = append(sd.svc.Ports, p)
		sd.ports = append(sd.ports, pd)
	}
}

func (d *decoder) port(n *yaml.Node, path string) (Port, portDecl) {
	n = resolve(n)
	pd := portDecl{node: n, path: path}
	var p Port
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return p, pd
	}
	f := d.fields(n, path, portFields)
	if e, ok := f.get("name"); !ok {
		d.errorf(n, join(path, "name"), "is required")
	} else if s, ok := d.str(e.val, join(path, "name"), "a string"); ok {
		if s = asciiLower(s); portNameProblem(s) != "" {
			d.errorf(resolve(e.val), join(path, "name"), "%s", portNameProblem(s))
		} else {
			p.Name, pd.name = s, resolve(e.val)
		}
	}
	if e, ok := f.get("port"); !ok {
		d.errorf(n, join(path, "port"), "is required")
	} else if v, ok := d.integer(e.val, join(path, "port"), 1, math.MaxUint16); ok {
		p.Number = uint16(v)
	}
	if e, ok := f.get("protocol"); ok {
		p.Protocol = d.protocol(e.val, join(path, "protocol"))
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
