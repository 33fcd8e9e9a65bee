package zone

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Packing: a service's records are written in wire form straight from its
// definition, without a dns.RR of each, when they are built; the dns.RR
// form is made only when Lookup first needs it (rrForm). The differential
// tests (TestAppendWire, FuzzPacketPath) hold the two forms to the same
// answers. A record that cannot be written here (a name or string out of
// bounds, which validation never lets through) leaves the service without
// a wire form: Lookup answers it alone.

// packer writes records in wire form; each goroutine has its own.
type packer struct {
	wire   []byte
	failed bool // a record did not pack: the wire form is unusable
}

func (p *packer) reset() { p.wire, p.failed = p.wire[:0], false }

// begin starts a record of rrtype whose owner is label (none when "")
// before the name at offset ptr of the reply, and returns where its rdata
// starts, for end.
func (p *packer) begin(label string, ptr int, rrtype uint16, ttl uint32) (start, rdata int) {
	start = len(p.wire)
	if label != "" {
		// One label: a dot or an escape would make it another name.
		if len(label) > 63 || strings.ContainsAny(label, `.\`) {
			p.failed = true
		}
		p.wire = append(p.wire, byte(len(label)))
		p.wire = append(p.wire, label...)
	}
	p.wire = binary.BigEndian.AppendUint16(p.wire, 0xC000|uint16(ptr))
	p.wire = binary.BigEndian.AppendUint16(p.wire, rrtype)
	p.wire = binary.BigEndian.AppendUint16(p.wire, dns.ClassINET)
	p.wire = binary.BigEndian.AppendUint32(p.wire, ttl)
	p.wire = append(p.wire, 0, 0) // the rdata's length, set by end
	return start, len(p.wire)
}

// end sets the length of the rdata of the record begun at start.
func (p *packer) end(start, rdata int) span {
	n := len(p.wire) - rdata
	if n > 0xFFFF {
		p.failed = true
	}
	binary.BigEndian.PutUint16(p.wire[rdata-2:], uint16(n))
	return span{uint32(start), uint32(len(p.wire))}
}

// addr writes the A or AAAA record of ip, owned by label before the name
// at offset ptr.
func (p *packer) addr(label string, ptr int, ttl uint32, ip netip.Addr) span {
	if ip.Is4() || ip.Is4In6() {
		start, rdata := p.begin(label, ptr, dns.TypeA, ttl)
		a := ip.Unmap().As4()
		p.wire = append(p.wire, a[:]...)
		return p.end(start, rdata)
	}
	start, rdata := p.begin(label, ptr, dns.TypeAAAA, ttl)
	a := ip.As16()
	p.wire = append(p.wire, a[:]...)
	return p.end(start, rdata)
}

// srv writes an SRV record owned by the question, its target label (none
// when "") before the name after, in full (RFC 2782: never compressed).
func (p *packer) srv(ttl uint32, priority, weight, port uint16, label, after string) span {
	start, rdata := p.begin("", questionOffset, dns.TypeSRV, ttl)
	p.wire = binary.BigEndian.AppendUint16(p.wire, priority)
	p.wire = binary.BigEndian.AppendUint16(p.wire, weight)
	p.wire = binary.BigEndian.AppendUint16(p.wire, port)
	name := len(p.wire)
	if label != "" {
		p.wire = append(p.wire, byte(len(label)))
		p.wire = append(p.wire, label...)
	}
	p.wire = slices.Grow(p.wire, len(after)+1)
	end, err := dns.PackDomainName(after, p.wire[:cap(p.wire)], len(p.wire), nil, false)
	if err != nil || end-name > 255 {
		p.failed = true
		return span{}
	}
	p.wire = p.wire[:end]
	return p.end(start, rdata)
}

// txtSet writes one TXT record per key, its one string KEY=value (the
// value txtValue finds in sources), owned by the question, back to back.
func (p *packer) txtSet(ttl uint32, keys []string, sources ...map[string]string) wireSet {
	if len(keys) == 0 {
		return wireSet{}
	}
	set := wireSet{span: span{off: uint32(len(p.wire))}, n: uint16(len(keys))}
	for _, k := range keys {
		v := txtValue(k, sources...)
		if len(k)+1+len(v) > 255 {
			p.failed = true
			return wireSet{}
		}
		start, rdata := p.begin("", questionOffset, dns.TypeTXT, ttl)
		p.wire = append(p.wire, byte(len(k)+1+len(v)))
		p.wire = append(p.wire, k...)
		p.wire = append(p.wire, '=')
		p.wire = append(p.wire, v...)
		set.end = p.end(start, rdata).end
	}
	return set
}

// wireTXT is a service's TXT records in wire form.
type wireTXT struct {
	wire        []byte
	txt, txtAll wireSet // as wireRecords'
	ok          bool    // false: they do not pack, the service has no wire form
}

// prepareTXT packs the TXT records of s in zone with p: the connection
// information with the keys made for its ports, references expanded.
func (s *service) prepareTXT(zone string, p *packer) {
	connection, secrets := s.def.TXT(zone)
	p.reset()
	var buf [16]string // the keys of a usual service, without an allocation
	t := wireTXT{txt: p.txtSet(s.ttl, sortedKeys(buf[:0], connection), connection)}
	t.txtAll = t.txt
	if len(secrets) > 0 {
		t.txtAll = p.txtSet(s.ttl, sortedKeys(buf[:0], connection, secrets), connection, secrets)
	}
	t.ok = !p.failed
	t.wire = slices.Clone(p.wire)
	s.txt = t
}

// wireForm packs the records r of s with p; nil when one of them does not
// pack. The records that several answers hold are packed once: an
// endpoint's address owned by the question is the service's A or AAAA
// record and the endpoint name's own; an SRV record owned by the question
// is the same bytes for the service's name and the port's.
func (s *service) wireForm(r *records, p *packer) *wireRecords {
	if !s.txt.ok {
		return nil
	}
	def := s.def
	p.reset()
	answered, na := 0, 0
	for i, ep := range def.Endpoints {
		if r.answers(def, i) {
			answered++
			if !ep.IsHost() && (ep.IP.Is4() || ep.IP.Is4In6()) {
				na++
			}
		}
	}
	eps := len(def.Endpoints)
	spans := make([]span, eps+answered)
	w := &wireRecords{
		endpoints: spans[:eps:eps],
		a:         spans[eps : eps : eps+na],
		aaaa:      spans[eps+na : eps+na],
		txt:       s.txt.txt, txtAll: s.txt.txtAll, txtWire: s.txt.wire,
	}
	n := answered * len(def.Ports)
	srvs := make([]wireSRV, 2*n)
	w.srv = srvs[:0:n]
	w.ports = make([][]wireSRV, len(def.Ports))
	for i := range def.Ports {
		at := n + i*answered
		w.ports[i] = srvs[at : at : at+answered]
	}
	for i, ep := range def.Endpoints {
		if !r.answers(def, i) {
			continue
		}
		var glue span
		label, after := ep.Label, s.owner
		if ep.IsHost() {
			label, after = "", dns.Fqdn(ep.Address)
		} else {
			if ep.Label == "" {
				p.failed = true // no name to point at
			}
			rr := p.addr("", questionOffset, r.ttl, ep.IP)
			w.endpoints[i] = rr
			if ep.IP.Is4() || ep.IP.Is4In6() {
				w.a = append(w.a, rr)
			} else {
				w.aaaa = append(w.aaaa, rr)
			}
			glue = p.addr(ep.Label, questionOffset, r.ttl, ep.IP)
		}
		for j, port := range def.Ports {
			number := port.Number
			if ep.Port != 0 {
				number = ep.Port
			}
			rr := p.srv(r.ttl, ep.Priority, ep.Weight, number, label, after)
			w.srv = append(w.srv, wireSRV{rr: rr, glue: glue})
			var portGlue span
			if !ep.IsHost() {
				// The question is _P._T.Name.zone: the target's
				// owner points past _P._T.
				portGlue = p.addr(ep.Label, questionOffset+srvPrefixLen(port), r.ttl, ep.IP)
			}
			w.ports[j] = append(w.ports[j], wireSRV{rr: rr, glue: portGlue})
		}
	}
	if p.failed {
		return nil
	}
	w.wire = slices.Clone(p.wire)
	return w
}

// rrtype is the type of the record at sp, owned by a pointer.
func (w *wireRecords) rrtype(sp span) uint16 {
	return binary.BigEndian.Uint16(w.wire[sp.off+2:])
}

// packApex packs the SOA without its owner, unless it does not pack: then
// the view has no packet path.
func (v *View) packApex() {
	soa := *v.soa.(*dns.SOA)
	soa.Hdr.Name = "."
	buf := make([]byte, 2*256+64) // two names at most 255 octets, and the fixed fields
	end, err := dns.PackRR(&soa, buf, 0, nil, false)
	if err != nil {
		return
	}
	v.wire = &wireApex{soa: buf[1:end:end], zoneLen: wireLen(v.zone)}
}
