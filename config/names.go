package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Names returns every owner name the service creates relative to the zone: the
// service name and "label.name" for each endpoint with a label (disabled ones too).
func (s *Service) Names() []string {
	names := []string{s.Name}
	for _, ep := range s.Endpoints {
		if ep.Label != "" {
			names = append(names, ep.Label+"."+s.Name)
		}
	}
	return names
}

// checkLengths checks that every name the service creates, SRV owner
// names included, fits in maxName octets in the longest zone. The names
// are measured, not made: only an error needs one.
func (d *decoder) checkLengths(sd *serviceDecl) {
	if sd.name == nil {
		return
	}
	name := sd.svc.Name
	// When the name is too long, so is every name under it: once is enough.
	if !d.fits(len(name)) {
		d.tooLong(sd.name, join(sd.path, "name"), name)
		return
	}
	for i, ep := range sd.svc.Endpoints {
		if ed := &sd.endpoints[i]; ep.Label != "" && ed.addr != nil && !d.fits(len(ep.Label)+1+len(name)) {
			d.tooLong(ed.label, ed.labelField(), ep.Label+"."+name)
		}
	}
	for i, p := range sd.svc.Ports {
		if pd := &sd.ports[i]; pd.name != nil && p.Protocol != "" && !d.fits(len(p.Name)+len(p.Protocol)+4+len(name)) {
			d.tooLong(pd.name, pd.at.join("name"), "_"+p.Name+"._"+p.Protocol+"."+name)
		}
	}
}

// fits reports whether a name of size octets, relative to the zone, fits
// in maxName octets in the longest zone.
func (d *decoder) fits(size int) bool { return size+d.extra <= maxName }

// tooLong records the error of a name that does not fit at n.
func (d *decoder) tooLong(n *yaml.Node, field, name string) {
	size := len(name) + d.extra
	if d.extra == 0 {
		d.errorf(n, field, "%s is %d octets, more than %d", quote(name), size, maxName)
		return
	}
	d.errorf(n, field, "%s is %d octets in zone %q, more than %d", quote(name), size, d.zone, maxName)
}

// nameKey is a name a service creates, cut after its first label:
// "standby.oracle.finance" is {"standby", "oracle.finance"}, the key of
// the service of that name and of the endpoint "standby" of the service
// "oracle.finance" alike (labels have no dots), with no string made for
// either.
type nameKey struct{ first, rest string }

func keyOf(name string) nameKey {
	first, rest, _ := strings.Cut(name, ".")
	return nameKey{first, rest}
}

// nameOwner is what first used a name in a registry file: item svc of the
// services list by its name (ep -1) or its endpoint ep, and the line of
// that name or endpoint.
type nameOwner struct {
	svc, ep, line int32
}

func (o nameOwner) path() string {
	if o.ep < 0 {
		return index("services", int(o.svc))
	}
	return index(index("services", int(o.svc))+".endpoints", int(o.ep))
}

// nameClaims is the names the services of a registry file use. Only the
// service names are keys of the maps: an endpoint's name is found from the
// name of its service, "standby.oracle.finance" as the label "standby" of
// the services named "oracle.finance". A map of every name, endpoints'
// too, would be four times as large for 3 endpoints a service, and a
// large registry spends most of its check in that map's lookups.
type nameClaims struct {
	// single and dotted are the first service of each name, an index
	// into services: names of one label by that label, the others by
	// their key. An endpoint's name has a dot: in a registry of one-label
	// names, looking it up as a service's is looking in an empty map.
	single   map[string]int32
	dotted   map[nameKey]int32
	services []serviceClaim
	labels   []labelClaim
}

// serviceClaim is a service with a valid name: its item of the services
// list, the line of its name, its labels (labels[from:to]) and the next
// service of the same name (an index into services, 0 for none: the first
// service of a name is never the next of another).
type serviceClaim struct {
	svc, line, from, to, next int32
	// last is, for the first service of a name, the last of that name.
	last int32
}

// labelClaim is the label of endpoint ep of a service, on line.
type labelClaim struct {
	label    string
	ep, line int32
}

// newNameClaims makes room for the names of about n services.
func newNameClaims(n int) nameClaims {
	return nameClaims{single: make(map[string]int32, n), dotted: map[nameKey]int32{}, services: make([]serviceClaim, 0, n)}
}

// first returns the first service named key, an index into services, or
// -1 for none.
func (c *nameClaims) first(key nameKey) int32 {
	var s int32
	ok := false
	if key.rest == "" {
		s, ok = c.single[key.first]
	} else if len(c.dotted) > 0 {
		s, ok = c.dotted[key]
	}
	if !ok {
		return -1
	}
	return s
}

// owner returns the first use of key by a service before this one: named,
// the first service named key (-1 for none), or an endpoint labeled
// key.first of a service named key.rest, the first of which is parent (-1
// for none).
func (c *nameClaims) owner(key nameKey, named, parent int32) (nameOwner, bool) {
	var o nameOwner
	found := named >= 0
	if found {
		sc := &c.services[named]
		o = nameOwner{sc.svc, -1, sc.line}
	}
	for s := parent; s >= 0 && (!found || c.services[s].svc < o.svc); {
		sc := &c.services[s]
		for _, l := range c.labels[sc.from:sc.to] {
			if l.label == key.first {
				return nameOwner{sc.svc, l.ep, l.line}, true
			}
		}
		if s = sc.next; s == 0 {
			s = -1
		}
	}
	return o, found
}

// add records the service sd, item i of the services list, and the labels
// of its endpoints; named is the first service of its name before it (-1
// for none).
func (c *nameClaims) add(sd *serviceDecl, i int, key nameKey, named int32) {
	from := len(c.labels)
	for j, ep := range sd.svc.Endpoints {
		if ed := &sd.endpoints[j]; ep.Label != "" && ed.addr != nil {
			c.labels = append(c.labels, labelClaim{ep.Label, int32(j), int32(ed.node.Line)})
		}
	}
	s := int32(len(c.services))
	c.services = append(c.services, serviceClaim{svc: int32(i), line: int32(sd.name.Line), from: int32(from), to: int32(len(c.labels)), last: s})
	switch {
	case named >= 0:
		head := &c.services[named]
		c.services[head.last].next, head.last = s, s
	case key.rest == "":
		c.single[key.first] = s
	default:
		c.dotted[key] = s
	}
}

// claimNames reports a name of sd, item i of the services list, that a
// service before it already uses: as its name, or as the name of one of
// its endpoints ("standby" of "oracle.finance" and a service
// "standby.oracle.finance"). The error is at the later use. Endpoints of
// one service are checkEndpoints' concern.
func (d *decoder) claimNames(sd *serviceDecl, i int) {
	if sd.name == nil {
		return
	}
	c := &d.names
	// The field is made only for an error.
	claim := func(key nameKey, named, parent int32, n *yaml.Node, ed *endpointDecl) {
		prev, dup := c.owner(key, named, parent)
		if !dup {
			return
		}
		name := key.first + "." + key.rest
		if key.rest == "" {
			name = key.first
		}
		field := join(sd.path, "name")
		if ed != nil {
			field = ed.labelField()
		}
		d.errorf(n, field, "%s is already used by %s%s", quote(name), prev.path(), d.atLine(int(prev.line)))
	}
	key := keyOf(sd.svc.Name)
	// self is the services of this name before this one, whose endpoints'
	// names this one's endpoints may repeat.
	self, parent := c.first(key), int32(-1)
	if key.rest != "" {
		parent = c.first(keyOf(key.rest))
	}
	claim(key, self, parent, sd.name, nil)
	for j, ep := range sd.svc.Endpoints {
		if ed := &sd.endpoints[j]; ep.Label != "" && ed.addr != nil {
			epKey := nameKey{ep.Label, sd.svc.Name}
			claim(epKey, c.first(epKey), self, ed.label, ed)
		}
	}
	c.add(sd, i, key, self)
}
