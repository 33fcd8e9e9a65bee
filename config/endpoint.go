package config

import (
	"math"
	"slices"

	"go.yaml.in/yaml/v3"
)

// endpointFields are the keys of the long form of an endpoint.
var endpointFields = []string{"address", "port", "name", "priority", "weight", "disabled"}

// endpointDecl is where an endpoint is in the document.
type endpointDecl struct {
	node *yaml.Node // the item
	at   listItem
	// addr and addrKey are where the address is: the item itself ("") in
	// the short form, its "address" in the long form. addr is nil unless
	// the address is valid.
	addr    *yaml.Node
	addrKey string
	// label and labelKey are where the label comes from: the "name" of
	// the long form, else the item.
	label     *yaml.Node
	labelKey  string
	weightSet bool // for applyDefaults: 0 is a weight too
}

// addrField and labelField are the paths of the address and the label in
// the service, made only for an error.
func (ed *endpointDecl) addrField() string  { return ed.at.join(ed.addrKey) }
func (ed *endpointDecl) labelField() string { return ed.at.join(ed.labelKey) }

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
		sd.endpoints = slices.Grow(sd.endpoints, len(items))
	}
	for i, item := range items {
		ep, ed := d.endpoint(sd, item, listItem{path, i})
		sd.svc.Endpoints = append(sd.svc.Endpoints, ep)
		sd.endpoints = append(sd.endpoints, ed)
	}
	d.checkEndpoints(sd)
}

// endpoint decodes the endpoint at, with the paths of its errors made
// from at only when there are errors (see decoder.full).
func (d *decoder) endpoint(sd *serviceDecl, n *yaml.Node, at listItem) (Endpoint, endpointDecl) {
	n = resolve(n)
	ed := endpointDecl{node: n, at: at, label: n}
	d.part = at
	defer func() { d.part = listItem{} }()
	var ep Endpoint
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		a, ok := d.address(&ep, &ed, n, false)
		if ok && a.hasPort {
			if port, p := portNumber(a.port); p != "" {
				d.errorf(n, "", "%s", p)
			} else if d.onePort(sd, n, "") {
				ep.Port = port
			}
		}
	case n.Kind == yaml.MappingNode:
		d.longEndpoint(sd, &ep, &ed, d.fields(n, "", endpointFields))
	default:
		d.errorf(n, "", "want an address or a mapping, got %s", describe(n))
	}
	return ep, ed
}

// longEndpoint decodes the long form of an endpoint; the paths of its
// errors are inside the endpoint (d.part).
func (d *decoder) longEndpoint(sd *serviceDecl, ep *Endpoint, ed *endpointDecl, f fieldSet) {
	ed.addrKey = "address"
	if e, ok := f.get("address"); !ok {
		d.errorf(ed.node, ed.addrKey, "is required")
	} else if _, ok := d.str(e.val, ed.addrKey, "an address"); ok {
		d.address(ep, ed, resolve(e.val), true)
	}
	if e, ok := f.get("port"); ok {
		if v, ok := d.integer(e.val, "port", 1, math.MaxUint16); ok && d.onePort(sd, resolve(e.val), "port") {
			ep.Port = uint16(v)
		}
	}
	if e, ok := f.get("name"); ok {
		d.endpointLabel(ep, ed, e)
	}
	if e, ok := f.get("priority"); ok {
		if v, ok := d.integer(e.val, "priority", 0, math.MaxUint16); ok {
			ep.Priority = uint16(v)
		}
	}
	if e, ok := f.get("weight"); ok {
		if v, ok := d.integer(e.val, "weight", 0, math.MaxUint16); ok {
			ep.Weight, ed.weightSet = uint16(v), true
		}
	}
	if e, ok := f.get("disabled"); ok {
		ep.Disabled, _ = d.boolean(e.val, "disabled")
	}
}

// address sets the address of ep from the string node n; long is for the
// long form, whose address has no port. The paths of its errors are inside
// the endpoint (d.part).
func (d *decoder) address(ep *Endpoint, ed *endpointDecl, n *yaml.Node, long bool) (address, bool) {
	a, p := parseAddress(n.Value)
	switch {
	case p != "":
		d.errorf(n, ed.addrKey, "%s", p)
		return a, false
	case long && a.hasPort:
		d.errorf(n, ed.addrKey, `%s has a port; give the address alone, and the port as "port"`, quote(n.Value))
		return a, false
	}
	ep.Address, ep.IP, ed.addr = a.addr, a.ip, n
	if a.ip.IsValid() && ep.Label == "" {
		ep.Label = dashLabel(a.addr)
	}
	return a, true
}

// endpointLabel sets the label of ep from the "name" of the long form;
// the paths of its errors are inside the endpoint (d.part).
func (d *decoder) endpointLabel(ep *Endpoint, ed *endpointDecl, e entry) {
	const field = "name"
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
		ep.Label, ed.label, ed.labelKey = s, n, field
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
	var addrs, labels firstSeen
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
			d.errorf(ed.addr, ed.addrField(), "%s is %s, but %s is %s; endpoints are all IP addresses or all host names",
				quote(ep.Address), kind(ep), d.full(sd.endpoints[first].at.String()), kind(f))
		}
		if prev := addrs.find(ep.Address); prev != nil {
			d.errorf(ed.addr, ed.addrField(), "%s is already used by %s%s", quote(ep.Address), d.full(prev.at.String()), d.at(prev.node))
			continue
		}
		addrs.add(ep.Address, ed)
		if ep.Label == "" {
			continue
		}
		if prev := labels.find(ep.Label); prev != nil {
			d.errorf(ed.label, ed.labelField(), "label %q is already used by %s%s", ep.Label, d.full(prev.at.String()), d.at(prev.node))
			continue
		}
		labels.add(ep.Label, ed)
	}
}

// firstSeen is the first endpoint of each address or label of a service.
// Services mostly have a few endpoints, looked through faster than a map
// made for each service; a map is made past fewSeen.
type firstSeen struct {
	n    int
	few  [fewSeen]seen
	many map[string]*endpointDecl
}

type seen struct {
	key string
	ed  *endpointDecl
}

const fewSeen = 8

func (f *firstSeen) find(key string) *endpointDecl {
	if f.many != nil {
		return f.many[key]
	}
	for _, s := range f.few[:f.n] {
		if s.key == key {
			return s.ed
		}
	}
	return nil
}

// add records ed as the first of key, which find did not find.
func (f *firstSeen) add(key string, ed *endpointDecl) {
	switch {
	case f.many != nil:
	case f.n < fewSeen:
		f.few[f.n] = seen{key, ed}
		f.n++
		return
	default:
		f.many = make(map[string]*endpointDecl, 2*fewSeen)
		for _, s := range f.few {
			f.many[s.key] = s.ed
		}
	}
	f.many[key] = ed
}

func kind(ep Endpoint) string {
	if ep.IsHost() {
		return "a host name"
	}
	return "an IP address"
}
