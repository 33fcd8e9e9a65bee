package config

import "go.yaml.in/yaml/v3"

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

// owner is what first used a name in a registry file.
type owner struct {
	sd   *serviceDecl
	path string // "services[0]" or "services[0].endpoints[1]"
	node *yaml.Node
}

// checkUnique reports a name used twice in a registry file: by two
// services, or by a service and an endpoint of another ("standby" of
// "oracle.finance" and a service "standby.oracle.finance"). The error is
// at the later use. Endpoints of one service are checkEndpoints' concern.
func (d *decoder) checkUnique(decls []*serviceDecl) {
	names := 0
	for _, sd := range decls {
		names += 1 + len(sd.endpoints)
	}
	used := make(map[string]owner, names)
	claim := func(name string, o owner, n *yaml.Node, field string) {
		prev, dup := used[name]
		switch {
		case !dup:
			used[name] = o
		case prev.sd != o.sd:
			d.errorf(n, field, "%s is already used by %s%s", quote(name), prev.path, d.at(prev.node))
		}
	}
	for _, sd := range decls {
		if sd.name == nil {
			continue
		}
		claim(sd.svc.Name, owner{sd, sd.path, sd.name}, sd.name, join(sd.path, "name"))
		for i, ep := range sd.svc.Endpoints {
			if ed := sd.endpoints[i]; ep.Label != "" && ed.addr != nil {
				claim(ep.Label+"."+sd.svc.Name, owner{sd, ed.path, ed.node}, ed.label, ed.labelField)
			}
		}
	}
}
