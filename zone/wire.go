package zone

import (
	"encoding/binary"
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

// span is a packed record: wire[off:end] of its records.
type span struct{ off, end uint32 }

func (s span) none() bool { return s.end == 0 }

// wireRecords are the records of one service in wire form.
//
// The lists are parts of two arrays, found by their lengths, rather than
// slices of their own: a view has one of these per service, and their
// headers and the array of the ports were a third of its size.
type wireRecords struct {
	wire []byte // every record back to back; spans index into it
	// spans are one per endpoint (owner: the question, an endpoint name;
	// none when not answered), then a, then aaaa (owner: the question, a
	// service name).
	spans []span
	// srvs are srv (every port of every answered endpoint, owner: the
	// question, a service name), then the answered endpoints of each port.
	srvs     []wireSRV
	eps, na  int32 // endpoints, and a of spans
	answered int32 // endpoints, in each port's list
	// The TXT records are the service's (service.txt): they do not
	// depend on health, and every build of its records shares them.
}

// endpoint is the span of endpoint i.
func (w *wireRecords) endpoint(i int32) span { return w.spans[i] }

// a are the A records of the answered endpoints.
func (w *wireRecords) a() []span { return w.spans[w.eps : w.eps+w.na] }

// aaaa are the AAAA records of the answered endpoints.
func (w *wireRecords) aaaa() []span { return w.spans[w.eps+w.na:] }

// srv are the SRV records of every port of every answered endpoint.
func (w *wireRecords) srv() []wireSRV { return w.srvs[:len(w.srvs)/2] }

// port are the SRV records of port i (owner: the question, the port's
// name) of every answered endpoint.
func (w *wireRecords) port(i int32) []wireSRV {
	at := int32(len(w.srvs)/2) + i*w.answered
	return w.srvs[at : at+w.answered]
}

// wireSet is n records packed back to back: wire[off:end].
type wireSet struct {
	span
	n uint16
}

// wireSRV is an SRV record and the address record of its target; records
// of one list with the same target share the glue span.
type wireSRV struct{ rr, glue span }

// wireApex is the view's own record without its owner, the apex: the SOA
// (an answer, and the authority section of negative answers).
type wireApex struct {
	soa     []byte
	zoneLen int // of the zone's name in wire form
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
	n, found := find(v, name)
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
			b, r.Answer = v.appendShuffled(b, w, w.a())
		case dns.TypeAAAA:
			b, r.Answer = v.appendShuffled(b, w, w.aaaa())
		case dns.TypeSRV:
			b, r.Answer, r.Extra = v.appendSRV(b, w, w.srv())
		case dns.TypeTXT:
			t := &n.svc.txt
			txt := t.txt
			if len(n.svc.secret) > 0 && allowed(n.svc.secret, client) {
				txt = t.txtAll
			}
			if !txt.none() {
				b = append(b, t.wire[txt.off:txt.end]...)
				r.Answer = txt.n
			}
		}
	case kindEndpoint:
		recs := n.svc.recs.Load()
		w := recs.wire
		if w == nil {
			return b, r, false
		}
		if ep := w.endpoint(n.index); !ep.none() && w.rrtype(ep) == qtype {
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
			b, r.Answer, r.Extra = v.appendSRV(b, w, w.port(n.index))
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
