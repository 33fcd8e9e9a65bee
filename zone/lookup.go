package zone

import (
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// Query is a question to a View.
type Query struct {
	// Name is lower-case and fully qualified, inside the view's zone.
	Name string
	Type uint16
	// Client is the address the query came from: allow and secrets_allow
	// are matched against it.
	Client netip.Addr
	// Local is the address the query came to, answered for ns.dns.<zone>.
	Local netip.Addr
}

// Result is how a lookup ended.
type Result uint8

const (
	// Answered means the name exists: m has its records, or none and the
	// SOA in the authority section (NODATA).
	Answered Result = iota
	// NXDomain means the name does not exist; m has the SOA in the
	// authority section.
	NXDomain
	// Refused means the client is outside the allow list of the service
	// that owns the name; m is untouched.
	Refused
)

// Lookup answers q into m, a reply already set up from the query. It
// reads prepared records only: no lock, no map built, nothing parsed.
func (v *View) Lookup(q Query, m *dns.Msg) Result {
	n, ok := v.nodes[q.Name]
	if !ok {
		m.Ns = v.negative
		return NXDomain
	}
	if n.svc != nil && !allowed(n.svc.allow, q.Client) {
		return Refused
	}
	if q.Type == dns.TypeANY && n.kind != kindEmpty {
		m.Answer = append(m.Answer, v.hinfo(q.Name))
		return Answered
	}
	switch n.kind {
	case kindApex:
		switch q.Type {
		case dns.TypeSOA:
			m.Answer = append(m.Answer, v.soa)
		case dns.TypeNS:
			m.Answer = append(m.Answer, v.ns)
			m.Extra = v.nsGlue(q, m.Extra)
		}
	case kindService:
		v.service(n.svc, q, m)
	case kindEndpoint:
		rr := n.svc.recs.Load().endpoints[n.index]
		if rr != nil && rr.Header().Rrtype == q.Type {
			m.Answer = append(m.Answer, rr)
		}
	case kindPort:
		if q.Type == dns.TypeSRV {
			v.addSRV(m, n.svc.recs.Load().ports[n.index])
		}
	case kindNameServer:
		if rr := addressRecord(q, v.ttl); rr != nil {
			m.Answer = append(m.Answer, rr)
		}
	case kindPTR:
		if result := v.ptr(n, q, m); result != Answered {
			return result
		}
	case kindBrowse:
		v.browse(n, q, m)
	case kindInstance:
		v.instance(n, q, m)
	}
	if len(m.Answer) == 0 {
		m.Ns = v.negative
	}
	return Answered
}

func (v *View) service(s *service, q Query, m *dns.Msg) {
	r := s.recs.Load()
	switch q.Type {
	case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME:
		if len(r.cname) > 0 {
			m.Answer = append(m.Answer, r.cname[int(s.rotate.Add(1)-1)%len(r.cname)])
			return
		}
		switch q.Type {
		case dns.TypeA:
			m.Answer = v.pick(r.a)
		case dns.TypeAAAA:
			m.Answer = v.pick(r.aaaa)
		}
	case dns.TypeSRV:
		v.addSRV(m, r.srv)
	case dns.TypeTXT:
		txt := r.txt
		if allowed(s.secret, q.Client) && len(s.secret) > 0 {
			txt = r.txtAll
		}
		m.Answer = append(m.Answer, txt...)
	}
}

// ptr answers a PTR node with the records of the services that allow the
// client; when some exist but none is allowed, the query is refused.
func (v *View) ptr(n *node, q Query, m *dns.Msg) Result {
	if q.Type != dns.TypePTR {
		return Answered
	}
	for _, p := range n.ptrs {
		if allowed(p.svc.allow, q.Client) {
			m.Answer = append(m.Answer, p.rr)
		}
	}
	if len(m.Answer) == 0 && len(n.ptrs) > 0 {
		return Refused
	}
	return Answered
}

// pick returns a shuffled copy of rrs, cut to the view's MaxAnswers.
func (v *View) pick(rrs []dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	var buf [32]int // the order of a typical handful stays on the stack
	order, n := v.shuffled(buf[:0], len(rrs))
	out := make([]dns.RR, n)
	for k, i := range order[:n] {
		out[k] = rrs[i]
	}
	return out
}

// addSRV answers a shuffled selection of srvs, the targets' addresses in
// the additional section.
func (v *View) addSRV(m *dns.Msg, srvs []srvRR) {
	if len(srvs) == 0 {
		return
	}
	var buf [32]int
	order, n := v.shuffled(buf[:0], len(srvs))
	m.Answer = make([]dns.RR, 0, n)
	m.Extra = make([]dns.RR, 0, n)
	for _, i := range order[:n] {
		m.Answer = append(m.Answer, srvs[i].rr)
		if g := srvs[i].glue; g != nil && !containsRR(m.Extra, g) {
			m.Extra = append(m.Extra, g)
		}
	}
}

// shuffled appends to order a random order of n records, and returns it
// with how many of them an answer holds.
func (v *View) shuffled(order []int, n int) ([]int, int) {
	for i := range n {
		order = append(order, i)
	}
	for i := n - 1; i > 0; i-- {
		j := rand.IntN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	if v.maxAnswers > 0 && n > v.maxAnswers {
		n = v.maxAnswers
	}
	return order, n
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, r := range rrs {
		if r == rr {
			return true
		}
	}
	return false
}

// hinfo is the RFC 8482 answer to ANY.
func (v *View) hinfo(name string) dns.RR {
	return &dns.HINFO{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: v.ttl}, Cpu: "RFC8482", Os: ""}
}

// nsGlue appends to extra the address of the name server, the address the
// query came to, so that a resolver need not ask for it (and a forwarder
// that does not follow NS targets still has it).
func (v *View) nsGlue(q Query, extra []dns.RR) []dns.RR {
	g := Query{Name: v.ns.(*dns.NS).Ns, Type: dns.TypeA, Local: q.Local}
	if q.Local.Is6() && !q.Local.Is4In6() {
		g.Type = dns.TypeAAAA
	}
	if rr := addressRecord(g, v.ttl); rr != nil {
		extra = append(extra, rr)
	}
	return extra
}

// addressRecord is the A or AAAA record of the server's own address, when
// its family is the one asked for.
func addressRecord(q Query, ttl uint32) dns.RR {
	h := dns.RR_Header{Name: q.Name, Rrtype: q.Type, Class: dns.ClassINET, Ttl: ttl}
	switch {
	case q.Type == dns.TypeA && (q.Local.Is4() || q.Local.Is4In6()):
		return &dns.A{Hdr: h, A: net.IP(q.Local.Unmap().AsSlice())}
	case q.Type == dns.TypeAAAA && q.Local.Is6() && !q.Local.Is4In6():
		return &dns.AAAA{Hdr: h, AAAA: net.IP(q.Local.AsSlice())}
	}
	return nil
}
