package config

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// endpointFields are the keys of the long form of an endpoint.
var endpointFields = []string{"address", "port", "name", "priority", "weight", "disabled"}

// endpointDecl is where an endpoint is in the document.
type endpointDecl struct {
	node *yaml.Node // the item
	path string
	// addr and addrField are where the address is: the item itself in the
	// short form, its "address" in the long form. addr is nil unless the
	// address is valid.
	addr      *yaml.Node
	addrField string
	// label and labelField are where the label comes from: the "name" of
	// the long form, else the item.
	label      *yaml.Node
	labelField string
	weightSet  bool // for applyDefaults: 0 is a weight too
}

// endpoints decodes a service's endpoints, then checks them against each
// other.
func (d *decoder) endpoints(sd *serviceDecl, e entry) {
	if e.val == nil {
		return
	}
	path := join(sd.path, "endpoints")
	items, _ := d.list(e.val, path)
	if len(items) > 0 {
		sd.svc.Endpoints = make([]Endpoint, 0, len(items))
		sd.endpoints = make([]endpointDecl, 0, len(items))
	}
	for i, item := range items {
		ep, ed := d.endpoint(sd, item, index(path, i))
		sd.svc.Endpoints = append(sd.svc.Endpoints, ep)
		sd.endpoints = append(sd.endpoints, ed)
	}
	d.checkEndpoints(sd)
}

func (d *decoder) endpoint(sd *serviceDecl, n *yaml.Node, path string) (Endpoint, endpointDecl) {
	n = resolve(n)
	ed := endpointDecl{node: n, path: path, label: n, labelField: path}
	var ep Endpoint
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		ed.addrField = path
		a, ok := d.address(&ep, &ed, n, false)
		if ok && a.hasPort {
			if port, p := portNumber(a.port); p != "" {
				d.errorf(n, path, "%s", p)
			} else if d.onePort(sd, n, path) {
				ep.Port = port
			}
		}
	case n.Kind == yaml.MappingNode:
		d.longEndpoint(sd, &ep, &ed, d.fields(n, path, endpointFields))
	default:
		d.errorf(n, path, "want an address or a mapping, got %s", describe(n))
	}
	return ep, ed
}

func (d *decoder) longEndpoint(sd *serviceDecl, ep *Endpoint, ed *endpointDecl, f fieldSet) {
	ed.addrField = join(ed.path, "address")
	if e, ok := f.get("address"); !ok {
		d.errorf(ed.node, ed.addrField, "is required")
	} else if _, ok := d.str(e.val, ed.addrField, "an address"); ok {
		d.address(ep, ed, resolve(e.val), true)
	}
	if e, ok := f.get("port"); ok {
		field := join(ed.path, "port")
		if v, ok := d.integer(e.val, field, 1, math.MaxUint16); ok && d.onePort(sd, resolve(e.val), field) {
			ep.Port = uint16(v)
		}
	}
	if e, ok := f.get("name"); ok {
		d.endpointLabel(ep, ed, e)
	}
	if e, ok := f.get("priority"); ok {
		if v, ok := d.integer(e.val, join(ed.path, "priority"), 0, math.MaxUint16); ok {
			ep.Priority = uint16(v)
		}
	}
	if e, ok := f.get("weight"); ok {
		if v, ok := d.integer(e.val, join(ed.path, "weight"), 0, math.MaxUint16); ok {
			ep.Weight, ed.weightSet = uint16(v), true
		}
	}
	if e, ok := f.get("disabled"); ok {
		ep.Disabled, _ = d.boolean(e.val, join(ed.path, "disabled"))
	}
}

// address sets the address of ep from the string node n; long is for the
// long form, whose address has no port.
func (d *decoder) address(ep *Endpoint, ed *endpointDecl, n *yaml.Node, long bool) (address, bool) {
	a, p := parseAddress(n.Value)
	switch {
	case p != "":
		d.errorf(n, ed.addrField, "%s", p)
		return a, false
	case long && a.hasPort:
		d.errorf(n, ed.addrField, `%s has a port; give the address alone, and the port as "port"`, quote(n.Value))
		return a, false
	}
	ep.Address, ep.IP, ed.addr = a.addr, a.ip, n
	if a.ip.IsValid() && ep.Label == "" {
		ep.Label = dashLabel(a.addr)
	}
	return a, true
}

// endpointLabel sets the label of ep from the "name" of the long form.
func (d *decoder) endpointLabel(ep *Endpoint, ed *endpointDecl, e entry) {
	field := join(ed.path, "name")
	s, ok := d.str(e.val, field, "a string")
	if !ok {
		return
	}
	n := resolve(e.val)
	s = asciiLower(s)
	switch {
	case ed.addr != nil && !ep.IP.IsValid():
		d.errorf(e.key, field, "a host name endpoint cannot have a name: it has no label")
	case s == "":
		d.errorf(n, field, "must not be empty")
	case serviceLabelProblem(s) != "":
		d.errorf(n, field, "%s", serviceLabelProblem(s))
	default:
		ep.Label, ed.label, ed.labelField = s, n, field
	}
}

// onePort reports whether the service has exactly one port, which a port
// given per endpoint replaces the number of.
func (d *decoder) onePort(sd *serviceDecl, n *yaml.Node, field string) bool {
	if len(sd.svc.Ports) != 1 {
		d.errorf(n, field, "a port per endpoint needs the service to have exactly one port, it has %d", len(sd.svc.Ports))
		return false
	}
	return true
}

// checkEndpoints checks the endpoints of a service against each other:
// all IP addresses or all host names, no address twice, no label twice.
func (d *decoder) checkEndpoints(sd *serviceDecl) {
	first := -1
	mixed := false
	addrs := make(map[string]*endpointDecl)
	labels := make(map[string]*endpointDecl)
	for i := range sd.endpoints {
		ed, ep := &sd.endpoints[i], sd.svc.Endpoints[i]
		if ed.addr == nil {
			continue
		}
		if first < 0 {
			first = i
		} else if f := sd.svc.Endpoints[first]; ep.IsHost() != f.IsHost() && !mixed {
			// Once is enough: the first endpoint may be the odd one out.
			mixed = true
			d.errorf(ed.addr, ed.addrField, "%s is %s, but %s is %s; endpoints are all IP addresses or all host names",
				quote(ep.Address), kind(ep), d.full(sd.endpoints[first].path), kind(f))
		}
		if prev, dup := addrs[ep.Address]; dup {
			d.errorf(ed.addr, ed.addrField, "%s is already used by %s%s", quote(ep.Address), d.full(prev.path), d.at(prev.node))
			continue
		}
		addrs[ep.Address] = ed
		if ep.Label == "" {
			continue
		}
		if prev, dup := labels[ep.Label]; dup {
			d.errorf(ed.label, ed.labelField, "label %q is already used by %s%s", ep.Label, d.full(prev.path), d.at(prev.node))
			continue
		}
		labels[ep.Label] = ed
	}
}

func kind(ep Endpoint) string {
	if ep.IsHost() {
		return "a host name"
	}
	return "an IP address"
}
