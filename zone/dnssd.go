package zone

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
)

// DNS-SD browsing (RFC 6763) over the registry: _services._dns-sd._udp.Z
// lists the service types _P._T.Z in use, each type lists its instances
// I._P._T.Z, where I is a service's name as one label, and an instance has
// the SRV records of _P._T.S.Z and the connection information as one TXT
// record of many strings. Only forward views have them; Lookup answers
// them all (the packet path declines the kinds below).

// servicesEnumeration is the owner of the service-type enumeration
// (RFC 6763 section 9), below the zone.
const servicesEnumeration = "_services._dns-sd._udp."

// enumeration is the index of the kindBrowse node of the service-type
// enumeration; those of the types index View.types.
const enumeration = -1

// browseType is a service type _P._T.Z and its instances. Its PTR records
// are made when it is first browsed: a type may list every service of a
// large registry, and few are ever browsed.
type browseType struct {
	owner     string
	instances []instance // in the order of the services
	enum      dns.RR     // the enumeration's record of the type
	ptrs      atomic.Pointer[[]ptr]
}

// instance is a browsable port of a service: its instance name.
type instance struct {
	svc  *service
	name string
}

// records returns the PTR records of the type's instances, made on the
// first call.
func (t *browseType) records() []ptr {
	if p := t.ptrs.Load(); p != nil {
		return *p
	}
	ptrs := make([]ptr, len(t.instances))
	for i, in := range t.instances {
		ptrs[i] = ptr{rr: &dns.PTR{Hdr: dns.RR_Header{Name: t.owner, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: in.svc.ttl}, Ptr: in.name}, svc: in.svc}
	}
	t.ptrs.CompareAndSwap(nil, &ptrs)
	return *t.ptrs.Load()
}

// instanceName is I._P._T.zone, I the service's name as one label in
// presentation form, its dots escaped. ok is false when the label would be longer than 63 octets, or
// the instance name too long: such a service is not browsable.
func instanceName(name string, p config.Port, zone string) (string, bool) {
	return instanceOf(name, typeOwner(p, zone))
}

// instanceOf is instanceName for the service type typ, the port's.
func instanceOf(name, typ string) (string, bool) {
	if len(name) > 63 {
		return "", false
	}
	instance := strings.ReplaceAll(name, ".", `\.`) + "." + typ
	if _, ok := dns.IsDomainName(instance); !ok {
		return "", false
	}
	return instance, true
}

// typeOwner is _P._T.zone, the service type of port p.
func typeOwner(p config.Port, zone string) string { return srvOwner(p, zone) }

// addDNSSD adds the browsing names of the services: the enumeration, one
// node per service type and one per instance. It returns the names of the
// types and of the enumeration, whose parents may be empty non-terminals.
// slots[i] is the slot of defs[i].
func (v *View) addDNSSD(defs []config.Service, slots []*service) []string {
	byOwner := map[string]*browseType{}
	for i := range defs {
		s := slots[i]
		for j, p := range defs[i].Ports {
			typ := typeOwner(p, v.zone)
			name, ok := instanceOf(defs[i].Name, typ)
			if !ok {
				continue
			}
			t := byOwner[typ]
			if t == nil {
				t = &browseType{owner: typ}
				byOwner[typ] = t
				v.types = append(v.types, t)
			}
			t.instances = append(t.instances, instance{svc: s, name: name})
			v.nodes[name] = node{kind: kindInstance, svc: s, index: int32(j)}
		}
	}
	if len(v.types) == 0 {
		return nil
	}
	slices.SortFunc(v.types, func(a, b *browseType) int { return strings.Compare(a.owner, b.owner) })
	enum := owner(strings.TrimSuffix(servicesEnumeration, "."), v.zone)
	names := make([]string, 0, len(v.types)+1)
	for i, t := range v.types {
		t.enum = &dns.PTR{Hdr: dns.RR_Header{Name: enum, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: v.ttl}, Ptr: t.owner}
		v.nodes[t.owner] = node{kind: kindBrowse, index: int32(i)}
		names = append(names, t.owner)
	}
	v.nodes[enum] = node{kind: kindBrowse, index: enumeration}
	return append(names, enum)
}

// browse answers a PTR list of the enumeration or of a service type: the
// records of the services the client may see; the enumeration lists a
// type once, when the client may see one of its instances. A list the
// client sees none of is NODATA, not REFUSED: it names no service.
func (v *View) browse(n node, q Query, m *dns.Msg) {
	if q.Type != dns.TypePTR {
		return
	}
	if n.index == enumeration {
		for _, t := range v.types {
			if slices.ContainsFunc(t.instances, func(in instance) bool { return allowed(in.svc.allow, q.Client) }) {
				m.Answer = append(m.Answer, t.enum)
			}
		}
		return
	}
	for _, p := range v.types[n.index].records() {
		if allowed(p.svc.allow, q.Client) {
			m.Answer = append(m.Answer, p.rr)
		}
	}
}

// instance answers I._P._T.Z: the SRV records of the port, or its TXT.
func (v *View) instance(n node, q Query, m *dns.Msg) {
	s := n.svc
	switch q.Type {
	case dns.TypeSRV:
		recs := s.recs.Load()
		v.addSRV(m, s.rrs(recs, v.zone).instances[n.index], recs.hosts, q)
	case dns.TypeTXT:
		f := s.rrs(s.recs.Load(), v.zone)
		txt := f.instanceTXT[n.index]
		if q.secrets(s) {
			txt = f.instanceTXTAll[n.index]
		}
		if txt != nil {
			m.Answer = append(m.Answer, txt)
		}
	}
}

// instanceTXT makes the RFC 6763 TXT record of every instance of s: one
// record, one KEY=value string per key, sorted; a record with one empty
// string when there is no key (RFC 6763 section 6.1). A port whose
// instance is not browsable has none.
func (s *service) instanceTXT(zone string, connection, secrets map[string]string) (public, all []dns.RR) {
	ports := s.def.Ports
	public, all = make([]dns.RR, len(ports)), make([]dns.RR, len(ports))
	strs := func(sources ...map[string]string) []string {
		pairs := txtPairs(sources...)
		if len(pairs) == 0 {
			return []string{""}
		}
		for i, p := range pairs {
			pairs[i] = txtPresentation(p)
		}
		return pairs
	}
	publicStrs := strs(connection)
	allStrs := publicStrs
	if len(secrets) > 0 {
		allStrs = strs(connection, secrets)
	}
	for i, p := range ports {
		instance, ok := instanceName(s.def.Name, p, zone)
		if !ok {
			continue
		}
		h := dns.RR_Header{Name: instance, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: s.ttl}
		public[i] = &dns.TXT{Hdr: h, Txt: publicStrs}
		all[i] = public[i]
		if len(secrets) > 0 {
			all[i] = &dns.TXT{Hdr: h, Txt: allStrs}
		}
	}
	return public, all
}

// instanceSRV is the SRV records of every port, owned by the port's
// instance name, that of its TXT record: those of _P._T.S.Z under another
// owner. Nil for a port whose instance is not browsable.
func instanceSRV(ports [][]srvRR, txt []dns.RR) [][]srvRR {
	out := make([][]srvRR, len(ports))
	for i, list := range ports {
		if txt[i] == nil {
			continue
		}
		name := txt[i].Header().Name
		out[i] = make([]srvRR, len(list))
		for j, rr := range list {
			srv := *rr.rr.(*dns.SRV)
			srv.Hdr.Name = name
			out[i][j] = srvRR{rr: &srv, glue: rr.glue}
		}
	}
	return out
}
