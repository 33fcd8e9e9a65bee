package zone

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
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
	failed bool             // a record did not pack: the wire form is unusable
	pairs  []config.TXTPair // prepareTXT's, kept to be reused
	ports  []int            // wireForm's, kept to be reused
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

// txtSet writes one TXT record per pair, its one string KEY=value, owned
// by the question, back to back.
func (p *packer) txtSet(ttl uint32, pairs []config.TXTPair) wireSet {
	if len(pairs) == 0 {
		return wireSet{}
	}
	set := wireSet{span: span{off: uint32(len(p.wire))}, n: uint16(len(pairs))}
	for _, kv := range pairs {
		k, v := kv.Key, kv.Value
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
	wire []byte
	// txt and txtAll are the records of the connection, and of the
	// connection and the secrets, back to back in key order, in wire.
	txt, txtAll wireSet
	ok          bool // false: they do not pack, the service has no wire form
}

// prepareTXT packs the TXT records of s in zone with p: the connection
// information with the keys made for its ports, references expanded.
func (s *service) prepareTXT(zone string, p *packer) {
	connection, all := s.def.TXTPairs(zone, p.pairs[:0])
	p.pairs = connection[:0] // grown, for the next service
	p.reset()
	t := wireTXT{txt: p.txtSet(s.ttl, connection)}
	t.txtAll = t.txt
	if all != nil {
		t.txtAll = p.txtSet(s.ttl, all)
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
	answered, na, naaaa := 0, 0, 0
	for i, ep := range def.Endpoints {
		if r.answers(def, i) {
			answered++
			switch {
			case ep.IsHost():
			case ep.IP.Is4() || ep.IP.Is4In6():
				na++
			default:
				naaaa++
			}
		}
	}
	eps := len(def.Endpoints)
	n := answered * len(def.Ports)
	w := &wireRecords{
		spans: make([]span, eps+na+naaaa),
		srvs:  make([]wireSRV, 2*n),
		eps:   int32(eps), na: int32(na), answered: int32(answered),
	}
	// The next of each list to fill.
	a, aaaa, srv := eps, eps+na, 0
	if len(def.Ports) > len(p.ports) {
		p.ports = make([]int, len(def.Ports))
	}
	ports := p.ports[:len(def.Ports)]
	for i := range ports {
		ports[i] = n + i*answered
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
			w.spans[i] = rr
			if ep.IP.Is4() || ep.IP.Is4In6() {
				w.spans[a] = rr
				a++
			} else {
				w.spans[aaaa] = rr
				aaaa++
			}
			glue = p.addr(ep.Label, questionOffset, r.ttl, ep.IP)
		}
		for j, port := range def.Ports {
			number := port.Number
			if ep.Port != 0 {
				number = ep.Port
			}
			rr := p.srv(r.ttl, ep.Priority, ep.Weight, number, label, after)
			w.srvs[srv] = wireSRV{rr: rr, glue: glue}
			srv++
			var portGlue span
			if !ep.IsHost() {
				// The question is _P._T.Name.zone: the target's
				// owner points past _P._T.
				portGlue = p.addr(ep.Label, questionOffset+srvPrefixLen(port), r.ttl, ep.IP)
			}
			w.srvs[ports[j]] = wireSRV{rr: rr, glue: portGlue}
			ports[j]++
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
