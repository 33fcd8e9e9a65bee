package zone

import (
	"slices"
	"strings"

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

// browse is a PTR record and the service whose allow list guards it.
type browse = ptr

// instanceName is I._P._T.zone, I the service's name as one label in
// presentation form, its dots escaped. ok is false when the label would be longer than 63 octets, or
// the instance name too long: such a service is not browsable.
func instanceName(name string, p config.Port, zone string) (string, bool) {
	if len(name) > 63 {
		return "", false
	}
	instance := strings.ReplaceAll(name, ".", `\.`) + "." + typeOwner(p, zone)
	if _, ok := dns.IsDomainName(instance); !ok {
		return "", false
	}
	return instance, true
}

// typeOwner is _P._T.zone, the service type of port p.
func typeOwner(p config.Port, zone string) string { return srvOwner(p, zone) }

// addDNSSD adds the browsing names of the services: the enumeration, one
// node per service type and one per instance.
func (v *View) addDNSSD(defs []config.Service) {
	enum := owner(strings.TrimSuffix(servicesEnumeration, "."), v.zone)
	types := map[string]*node{}
	var order []string
	for i := range defs {
		s := v.services[defs[i].Name]
		for j, p := range defs[i].Ports {
			instance, ok := instanceName(defs[i].Name, p, v.zone)
			if !ok {
				continue
			}
			t := typeOwner(p, v.zone)
			n := types[t]
			if n == nil {
				n = &node{kind: kindBrowse}
				types[t] = n
				order = append(order, t)
			}
			n.ptrs = append(n.ptrs, browse{rr: &dns.PTR{Hdr: dns.RR_Header{Name: t, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: s.ttl}, Ptr: instance}, svc: s})
			v.add(instance, &node{kind: kindInstance, svc: s, index: j})
		}
	}
	if len(types) == 0 {
		return
	}
	slices.Sort(order)
	e := &node{kind: kindBrowse}
	for _, t := range order {
		n := types[t]
		v.add(t, n)
		rr := &dns.PTR{Hdr: dns.RR_Header{Name: enum, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: v.ttl}, Ptr: t}
		// One entry per service of the type, so that a type is listed
		// only to clients that may see one of its instances.
		for _, b := range n.ptrs {
			e.ptrs = append(e.ptrs, browse{rr: rr, svc: b.svc})
		}
	}
	v.add(enum, e)
}

// browse answers a PTR list of the enumeration or of a service type: the
// records of the services the client may see, each record once. A list
// the client sees none of is NODATA, not REFUSED: it names no service.
func (v *View) browse(n *node, q Query, m *dns.Msg) {
	if q.Type != dns.TypePTR {
		return
	}
	for _, p := range n.ptrs {
		if allowed(p.svc.allow, q.Client) && (len(m.Answer) == 0 || m.Answer[len(m.Answer)-1] != p.rr) {
			m.Answer = append(m.Answer, p.rr)
		}
	}
}

// instance answers I._P._T.Z: the SRV records of the port, or its TXT.
func (v *View) instance(n *node, q Query, m *dns.Msg) {
	s := n.svc
	switch q.Type {
	case dns.TypeSRV:
		recs := s.recs.Load()
		v.addSRV(m, recs.instances[n.index], recs.hosts, q)
	case dns.TypeTXT:
		txt := s.instanceTXT[n.index]
		if q.secrets(s) {
			txt = s.instanceTXTAll[n.index]
		}
		if txt != nil {
			m.Answer = append(m.Answer, txt)
		}
	}
}

// prepareInstanceTXT prepares the RFC 6763 TXT record of every instance of
// s: one record, one KEY=value string per key, sorted; a record with one
// empty string when there is no key (RFC 6763 section 6.1).
func (s *service) prepareInstanceTXT(zone string, connection, secrets map[string]string) {
	ports := s.def.Ports
	s.instanceTXT, s.instanceTXTAll = make([]dns.RR, len(ports)), make([]dns.RR, len(ports))
	public, all := txtStrings(connection), txtStrings(connection, secrets)
	for i, p := range ports {
		instance, ok := instanceName(s.def.Name, p, zone)
		if !ok {
			continue
		}
		h := dns.RR_Header{Name: instance, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: s.ttl}
		s.instanceTXT[i] = &dns.TXT{Hdr: h, Txt: orEmpty(public)}
		s.instanceTXTAll[i] = s.instanceTXT[i]
		if len(secrets) > 0 {
			s.instanceTXTAll[i] = &dns.TXT{Hdr: h, Txt: orEmpty(all)}
		}
	}
}

func orEmpty(strs []string) []string {
	if len(strs) == 0 {
		return []string{""}
	}
	return strs
}

// instanceSRV is the SRV records of every port of s, owned by the port's
// instance name: those of _P._T.S.Z under another owner. Nil for a port
// whose instance is not browsable.
func (s *service) instanceSRV(ports [][]srvRR) [][]srvRR {
	out := make([][]srvRR, len(ports))
	for i, list := range ports {
		if s.instanceTXT == nil || s.instanceTXT[i] == nil {
			continue
		}
		name := s.instanceTXT[i].Header().Name
		out[i] = make([]srvRR, len(list))
		for j, rr := range list {
			srv := *rr.rr.(*dns.SRV)
			srv.Hdr.Name = name
			out[i][j] = srvRR{rr: &srv, glue: rr.glue}
		}
	}
	return out
}
