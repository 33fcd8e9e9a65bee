package zone

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/miekg/dns"
)

// The wire form of a view: records packed when the view is built, so that
// the server's packet path answers a query by copying bytes. Every packed
// record is position-independent: its names point, if anywhere, only into
// the reply's question, which always starts at offset 12, so a record can
// be copied anywhere in a reply and in any order.

// questionOffset is where the question's name starts in a DNS message.
const questionOffset = 12

// packAt is where records are packed in the packer's scratch buffer: at or
// past it, miekg/dns records no name for later compression, so a record
// can point only at the names the packer offers (the question's).
const packAt = 1 << 14

// span is a packed record: wire[off:end] of its records.
type span struct{ off, end uint32 }

func (s span) none() bool { return s.end == 0 }

// wireRecords are the records of one service in wire form.
type wireRecords struct {
	wire      []byte // every record back to back; spans index into it
	a, aaaa   []span // owner: the question, a service name
	srv       []wireSRV
	ports     [][]wireSRV
	endpoints []span // owner: the question, an endpoint name; none when not answered
	// txt and txtAll are the records of records.txt and records.txtAll,
	// back to back in key order.
	txt, txtAll wireSet
}

// wireSet is n records packed back to back: wire[off:end].
type wireSet struct {
	span
	n uint16
}

// wireSRV is an SRV record and the address record of its target; records
// of one list with the same target share the glue span.
type wireSRV struct{ rr, glue span }

// packer packs records into wire form.
type packer struct {
	scratch []byte
	names   map[string]int // the question's names, by offset
	wire    []byte
	failed  bool // a record did not pack: the wire form is unusable
}

// newPacker returns a packer with room for the usual records; it grows for
// larger ones.
func newPacker() *packer {
	return &packer{scratch: make([]byte, packAt+4096), names: map[string]int{}}
}

// question sets the question name that the next records may point into.
func (p *packer) question(name string) {
	clear(p.names)
	for i, end := 0, false; !end; i, end = dns.NextLabel(name, i) {
		p.names[name[i:]] = questionOffset + i
	}
}

// pack appends rr in wire form.
func (p *packer) pack(rr dns.RR) span {
	end, err := dns.PackRR(rr, p.scratch, packAt, p.names, true)
	if errors.Is(err, dns.ErrBuf) && len(p.scratch) < packAt+dns.MaxMsgSize {
		p.scratch = make([]byte, packAt+dns.MaxMsgSize)
		return p.pack(rr)
	}
	if err != nil {
		p.failed = true
		return span{}
	}
	off := len(p.wire)
	p.wire = append(p.wire, p.scratch[packAt:end]...)
	return span{uint32(off), uint32(len(p.wire))}
}

// body packs rr without its owner name: what follows an owner that the
// packet path writes itself. Its names are written in full.
func (p *packer) body(rr dns.RR) []byte {
	h := *rr.Header()
	defer func() { *rr.Header() = h }()
	rr.Header().Name = "."
	end, err := dns.PackRR(rr, p.scratch, packAt, nil, false)
	if errors.Is(err, dns.ErrBuf) && len(p.scratch) < packAt+dns.MaxMsgSize {
		p.scratch = make([]byte, packAt+dns.MaxMsgSize)
		return p.body(rr)
	}
	if err != nil {
		p.failed = true
		return nil
	}
	return append([]byte(nil), p.scratch[packAt+1:end]...)
}

// srvs packs an SRV answer whose owner is the question.
func (p *packer) srvs(question string, srvs []srvRR) []wireSRV {
	p.question(question)
	out := make([]wireSRV, len(srvs))
	for i, s := range srvs {
		out[i].rr = p.pack(s.rr)
		if s.glue == nil {
			continue
		}
		for j := range i {
			if srvs[j].glue == s.glue {
				out[i].glue = out[j].glue
				break
			}
		}
		if out[i].glue.none() {
			out[i].glue = p.pack(s.glue)
		}
	}
	return out
}

// wireForm packs the records r of s with p; nil when one of them does not
// pack.
func (s *service) wireForm(r *records, p *packer) *wireRecords {
	p.wire, p.failed = p.wire[:0], false
	w := &wireRecords{}
	p.question(s.owner)
	w.a = p.packAll(r.a)
	w.aaaa = p.packAll(r.aaaa)
	w.txt = p.packSet(r.txt)
	w.txtAll = w.txt
	if len(r.txtAll) != len(r.txt) {
		w.txtAll = p.packSet(r.txtAll)
	}
	w.srv = p.srvs(s.owner, r.srv)
	w.ports = make([][]wireSRV, len(r.ports))
	for i, port := range s.def.Ports {
		w.ports[i] = p.srvs(srvOwner(port, s.owner), r.ports[i])
	}
	w.endpoints = make([]span, len(r.endpoints))
	for i, rr := range r.endpoints {
		if rr != nil {
			p.question(rr.Header().Name)
			w.endpoints[i] = p.pack(rr)
		}
	}
	if p.failed {
		return nil
	}
	w.wire = append([]byte(nil), p.wire...)
	return w
}

// packSet packs rrs back to back.
func (p *packer) packSet(rrs []dns.RR) wireSet {
	if len(rrs) == 0 {
		return wireSet{}
	}
	first := p.pack(rrs[0])
	set := wireSet{span: first, n: uint16(len(rrs))}
	for _, rr := range rrs[1:] {
		set.end = p.pack(rr).end
	}
	return set
}

func (p *packer) packAll(rrs []dns.RR) []span {
	if len(rrs) == 0 {
		return nil
	}
	out := make([]span, len(rrs))
	for i, rr := range rrs {
		out[i] = p.pack(rr)
	}
	return out
}

// wireApex is the view's own record without its owner, the apex: the SOA
// (an answer, and the authority section of negative answers).
type wireApex struct {
	soa     []byte
	zoneLen int // of the zone's name in wire form
}

func (v *View) packApex() {
	p := newPacker()
	apex := &wireApex{soa: p.body(v.soa), zoneLen: wireLen(v.zone)}
	if !p.failed {
		v.wire = apex
	}
}

// WireReply tells what AppendWire appended.
type WireReply struct {
	Rcode             int
	Answer, Ns, Extra uint16 // records in each section
}

// AppendWire appends to b the records Lookup answers a query for name (as
// Query.Name, but in bytes) and qtype from client with, in wire form, for a
// reply whose question is at offset 12 of b. It returns ok false, and b as
// it was, for the queries left to Lookup: refused ones, ANY, host-name
// services, the name server's own address and NS (its glue), and reverse
// zones.
func (v *View) AppendWire(b []byte, name []byte, qtype uint16, client netip.Addr) (out []byte, r WireReply, ok bool) {
	if v.wire == nil || qtype == dns.TypeANY {
		return b, r, false
	}
	n, found := v.nodes[string(name)]
	if !found {
		r.Rcode = dns.RcodeNameError
		return v.appendNegative(b, name, &r), r, true
	}
	if n.svc != nil && !allowed(n.svc.allow, client) {
		return b, r, false
	}
	switch n.kind {
	case kindEmpty:
	case kindApex:
		switch qtype {
		case dns.TypeSOA:
			b = appendOwned(b, questionOffset, v.wire.soa)
			r.Answer = 1
		case dns.TypeNS:
			// The glue is the local address, which the packet path
			// does not have.
			return b, r, false
		}
	case kindService:
		recs := n.svc.recs.Load()
		w := recs.wire
		if w == nil || len(recs.cname) > 0 && (qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeCNAME || qtype == dns.TypeSRV) {
			return b, r, false // a rotating CNAME followed, or SRV with host-name glue
		}
		switch qtype {
		case dns.TypeA:
			b, r.Answer = v.appendShuffled(b, w, w.a)
		case dns.TypeAAAA:
			b, r.Answer = v.appendShuffled(b, w, w.aaaa)
		case dns.TypeSRV:
			b, r.Answer, r.Extra = v.appendSRV(b, w, w.srv)
		case dns.TypeTXT:
			txt := w.txt
			if len(n.svc.secret) > 0 && allowed(n.svc.secret, client) {
				txt = w.txtAll
			}
			if !txt.none() {
				b = append(b, w.wire[txt.off:txt.end]...)
				r.Answer = txt.n
			}
		}
	case kindEndpoint:
		recs := n.svc.recs.Load()
		w := recs.wire
		if w == nil {
			return b, r, false
		}
		if rr := recs.endpoints[n.index]; rr != nil && rr.Header().Rrtype == qtype {
			ep := w.endpoints[n.index]
			b = append(b, w.wire[ep.off:ep.end]...)
			r.Answer = 1
		}
	case kindPort:
		recs := n.svc.recs.Load()
		w := recs.wire
		if w == nil || len(recs.cname) > 0 && qtype == dns.TypeSRV {
			return b, r, false // SRV with host-name glue
		}
		if qtype == dns.TypeSRV {
			b, r.Answer, r.Extra = v.appendSRV(b, w, w.ports[n.index])
		}
	default:
		return b, r, false
	}
	if r.Answer == 0 {
		b = v.appendNegative(b, name, &r)
	}
	return b, r, true
}

// appendNegative appends the SOA to the authority section; its owner, the
// apex, points at the end of the question's name.
func (v *View) appendNegative(b, name []byte, r *WireReply) []byte {
	r.Ns = 1
	return appendOwned(b, questionOffset+wireLen(name)-v.wire.zoneLen, v.wire.soa)
}

// wireLen is the length in wire form of a name in presentation form
// without escapes.
func wireLen[T string | []byte](name T) int {
	if len(name) == 1 {
		return 1 // the root
	}
	return len(name) + 1
}

// appendOwned appends a record whose owner is the name at offset owner.
func appendOwned(b []byte, owner int, body []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 0xC000|uint16(owner))
	return append(b, body...)
}

// appendShuffled appends the records rrs in random order, at most the
// view's MaxAnswers of them, as pick does.
func (v *View) appendShuffled(b []byte, w *wireRecords, rrs []span) ([]byte, uint16) {
	var buf [32]int // the order of a typical handful stays on the stack
	order, n := v.shuffled(buf[:0], len(rrs))
	for _, i := range order[:n] {
		b = append(b, w.wire[rrs[i].off:rrs[i].end]...)
	}
	return b, uint16(n)
}

// appendSRV appends a shuffled selection of srvs to the answer section and
// their glue, once each, to the additional section, as addSRV does.
func (v *View) appendSRV(b []byte, w *wireRecords, srvs []wireSRV) ([]byte, uint16, uint16) {
	var buf [32]int
	order, n := v.shuffled(buf[:0], len(srvs))
	for _, i := range order[:n] {
		b = append(b, w.wire[srvs[i].rr.off:srvs[i].rr.end]...)
	}
	var extra uint16
	for k, i := range order[:n] {
		g := srvs[i].glue
		if g.none() || seenGlue(srvs, order[:k], g) {
			continue
		}
		b = append(b, w.wire[g.off:g.end]...)
		extra++
	}
	return b, uint16(n), extra
}

func seenGlue(srvs []wireSRV, before []int, g span) bool {
	for _, i := range before {
		if srvs[i].glue == g {
			return true
		}
	}
	return false
}
