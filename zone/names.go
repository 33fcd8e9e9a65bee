package zone

// The names of a view: the map holds the services' names, their SRV names,
// DNS-SD's, the apex, the name server and the empty non-terminals above
// them. The names one label below a service (its endpoints' Label.Name.zone,
// its _health.Name.zone, and _Proto.Name.zone, the empty non-terminal above
// its SRV names) are found from the service's: they are most of a large
// registry's names, and the map would hold millions of them, each a
// string, a slot, and a cache miss when the view is built. A service's
// labels, like its name, never need an escape (config checks them), so the
// first dot of a name ends its first label whenever a service is below.

// find returns the node of name (lower-case, fully qualified), in a string
// or in bytes (the packet path's question), without copying it.
func find[T string | []byte](v *View, name T) (node, bool) {
	if n, ok := v.nodes[string(name)]; ok {
		return n, true
	}
	dot := 0
	for dot < len(name) && name[dot] != '.' {
		dot++
	}
	if len(name)-dot-1 <= len(v.zone) {
		return node{}, false // the parent is the apex, or outside: no service
	}
	parent, ok := v.nodes[string(name[dot+1:])]
	if !ok || parent.kind != kindService {
		return node{}, false
	}
	return below(parent.svc, name[:dot])
}

// below returns the node of the name label.Name.zone of service s: an
// endpoint's (the last of that label, as a map would keep), its health, or
// the empty non-terminal above the SRV names of a protocol it has.
func below[T string | []byte](s *service, label T) (node, bool) {
	eps := s.def.Endpoints
	for i := len(eps) - 1; i >= 0; i-- {
		if eps[i].Label != "" && equal(label, eps[i].Label) {
			return node{kind: kindEndpoint, svc: s, index: int32(i)}, true
		}
	}
	if equal(label, healthOwner[:len(healthOwner)-1]) {
		return node{kind: kindHealth, svc: s}, true
	}
	if len(label) > 1 && label[0] == '_' {
		for _, p := range s.def.Ports {
			if equal(label[1:], p.Protocol) {
				return node{kind: kindEmpty}, true
			}
		}
	}
	return node{}, false
}

// equal reports whether a, a string or bytes, holds s.
func equal[T string | []byte](a T, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := range len(s) {
		if a[i] != s[i] {
			return false
		}
	}
	return true
}
