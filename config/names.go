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
// names included, fits in maxName octets in the longest zone.
func (d *decoder) checkLengths(sd *serviceDecl) {
	if sd.name == nil {
		return
	}
	// When the name is too long, so is every name under it: once is enough.
	if !d.fits(sd.name, join(sd.path, "name"), sd.svc.Name) {
		return
	}
	for i, ep := range sd.svc.Endpoints {
		if ed := sd.endpoints[i]; ep.Label != "" && ed.addr != nil {
			d.fits(ed.label, ed.labelField, ep.Label+"."+sd.svc.Name)
		}
	}
	for i, p := range sd.svc.Ports {
		if pd := sd.ports[i]; pd.name != nil && p.Protocol != "" {
			d.fits(pd.name, join(pd.path, "name"), "_"+p.Name+"._"+p.Protocol+"."+sd.svc.Name)
		}
	}
}

// fits reports whether name, relative to the zone, fits in maxName octets
// in the longest zone, and records an error at n when it does not.
func (d *decoder) fits(n *yaml.Node, field, name string) bool {
	size := len(name) + d.extra
	switch {
	case size <= maxName:
		return true
	case d.extra == 0:
		d.errorf(n, field, "%s is %d octets, more than %d", quote(name), size, maxName)
	default:
		d.errorf(n, field, "%s is %d octets in zone %q, more than %d", quote(name), size, d.zone, maxName)
	}
	return false
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

// claimNames reports a name of sd, item i of the services list, that a
// service before it already uses: as its name, or as the name of one of
// its endpoints ("standby" of "oracle.finance" and a service
// "standby.oracle.finance"). The error is at the later use. Endpoints of
// one service are checkEndpoints' concern.
func (d *decoder) claimNames(sd *serviceDecl, i int) {
	if sd.name == nil {
		return
	}
	claim := func(key nameKey, o nameOwner, n *yaml.Node, field string) {
		prev, dup := d.names[key]
		switch {
		case !dup:
			d.names[key] = o
		case prev.svc != o.svc:
			name := key.first + "." + key.rest
			if key.rest == "" {
				name = key.first
			}
			d.errorf(n, field, "%s is already used by %s%s", quote(name), prev.path(), d.atLine(int(prev.line)))
		}
	}
	claim(keyOf(sd.svc.Name), nameOwner{int32(i), -1, int32(sd.name.Line)}, sd.name, join(sd.path, "name"))
	for j, ep := range sd.svc.Endpoints {
		if ed := sd.endpoints[j]; ep.Label != "" && ed.addr != nil {
			claim(nameKey{ep.Label, sd.svc.Name}, nameOwner{int32(i), int32(j), int32(ed.node.Line)}, ed.label, ed.labelField)
		}
	}
}
