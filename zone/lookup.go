package zone

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"

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
	// Key is the TSIG key (lower-case, fully qualified) the query was
	// signed with and verified by, matched against secrets_keys; "" when
	// unsigned.
	Key string
	// EDNS says the query has an OPT record: an answer that depends on
	// health then says why it is not the plain one (RFC 8914).
	EDNS bool
	// trusted skips the allow lists: tpdns's own lookups (probes).
	trusted bool
}

// maxChain is how many CNAMEs an answer follows in the zone at most.
const maxChain = 8

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
// reads prepared records: no lock, no map built, nothing parsed, but for
// the first query of a service since its records were built, which makes
// their dns.RR form (see records).
func (v *View) Lookup(q Query, m *dns.Msg) Result {
	n, ok := find(v, q.Name)
	if !ok {
		m.Ns = v.negative
		return NXDomain
	}
	if n.svc != nil && !q.allowed(n.svc) {
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
		rr := n.svc.rrs(n.svc.recs.Load(), v.zone).endpoints[n.index]
		if rr != nil && rr.Header().Rrtype == q.Type {
			m.Answer = append(m.Answer, rr)
		}
	case kindPort:
		if q.Type == dns.TypeSRV {
			recs := n.svc.recs.Load()
			v.addSRV(m, n.svc.rrs(recs, v.zone).ports[n.index], recs.hosts, q)
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
	case kindHealth:
		v.health(n.svc, q, m)
	}
	if q.EDNS && healthAnswer(n.kind, q.Type) {
		if ede := n.svc.recs.Load().ede; ede != nil {
			addEDE(m, ede)
		}
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
			v.alias(s, r, q, m, 0)
			return
		}
		switch q.Type {
		case dns.TypeA:
			m.Answer = v.pick(s.rrs(r, v.zone).a)
		case dns.TypeAAAA:
			m.Answer = v.pick(s.rrs(r, v.zone).aaaa)
		}
	case dns.TypeSRV:
		v.addSRV(m, s.rrs(r, v.zone).srv, r.hosts, q)
	case dns.TypeTXT:
		f := s.rrs(r, v.zone)
		txt := f.txt
		if q.secrets(s) {
			txt = f.txtAll
		}
		m.Answer = append(m.Answer, txt...)
	}
}

func (q Query) allowed(s *service) bool { return q.trusted || allowed(s.allow, q.Client) }

// secrets reports whether q gets the secrets of s: it comes from
// secrets_allow, or is signed with a key of secrets_keys.
func (q Query) secrets(s *service) bool {
	return len(s.secret) > 0 && allowed(s.secret, q.Client) ||
		q.Key != "" && slices.Contains(s.def.SecretsKeys, q.Key)
}

// alias answers a host-name service s: a CNAME to one of its host names,
// rotating over those that have records of the type asked (all when none
// has), followed by that name's records: resolved ones for a name outside
// the zone, the view's own for one inside it.
func (v *View) alias(s *service, r *records, q Query, m *dns.Msg, depth int) {
	list := r.hosts.a
	if q.Type == dns.TypeAAAA {
		list = r.hosts.aaaa
	}
	k := int(s.rotate.Add(1) - 1)
	i := k % len(r.cname)
	if q.Type != dns.TypeCNAME && len(list) > 0 {
		i = list[k%len(list)]
	}
	m.Answer = append(m.Answer, r.cname[i])
	t := r.hosts.targets[i]
	switch {
	case q.Type == dns.TypeCNAME:
	case !t.inZone && q.Type == dns.TypeA:
		m.Answer = append(m.Answer, v.pick(t.a)...)
	case !t.inZone:
		m.Answer = append(m.Answer, v.pick(t.aaaa)...)
	default:
		v.follow(t.name, q, m, depth+1)
	}
}

// follow appends the A or AAAA records the view has for name, an in-zone
// CNAME target, following further host-name services; a loop, too long a
// chain, a name that does not exist or that the client may not see ends
// the answer at the CNAME.
func (v *View) follow(name string, q Query, m *dns.Msg, depth int) {
	if depth >= maxChain || ownsOne(m.Answer, name) {
		return
	}
	n, ok := find(v, name)
	if !ok || n.svc != nil && !q.allowed(n.svc) {
		return
	}
	switch n.kind {
	case kindService:
		r := n.svc.recs.Load()
		switch {
		case len(r.cname) > 0:
			v.alias(n.svc, r, q, m, depth)
		case q.Type == dns.TypeA:
			m.Answer = append(m.Answer, v.pick(n.svc.rrs(r, v.zone).a)...)
		default:
			m.Answer = append(m.Answer, v.pick(n.svc.rrs(r, v.zone).aaaa)...)
		}
	case kindEndpoint:
		if rr := n.svc.rrs(n.svc.recs.Load(), v.zone).endpoints[n.index]; rr != nil && rr.Header().Rrtype == q.Type {
			m.Answer = append(m.Answer, rr)
		}
	case kindNameServer:
		if rr := addressRecord(Query{Name: name, Type: q.Type, Local: q.Local}, v.ttl); rr != nil {
			m.Answer = append(m.Answer, rr)
		}
	}
}

func ownsOne(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if rr.Header().Name == name {
			return true
		}
	}
	return false
}

// hostGlue appends the addresses of the host-name SRV target t: resolved
// ones, or the view's own A and AAAA of an in-zone name that holds them.
func (v *View) hostGlue(extra []dns.RR, t *hostTarget, q Query) []dns.RR {
	if t == nil {
		return extra
	}
	if !t.inZone {
		extra = append(extra, t.a...)
		return append(extra, t.aaaa...)
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := dns.Msg{}
		q.Type = qtype
		// Glue is the target's own addresses, never a chain.
		if n, ok := find(v, t.name); ok && n.kind == kindService && len(n.svc.recs.Load().cname) > 0 {
			return extra
		}
		v.follow(t.name, q, &m, 0)
		extra = append(extra, m.Answer...)
	}
	return extra
}

// Addresses returns the addresses name, in the zone, has in the view,
// following host-name services as answers do, for tpdns's own use (the
// probes of in-zone host-name endpoints): allow lists do not apply.
func (v *View) Addresses(name string) []netip.Addr {
	var out []netip.Addr
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := dns.Msg{}
		v.follow(dns.Fqdn(name), Query{Name: dns.Fqdn(name), Type: qtype, trusted: true}, &m, 0)
		for _, rr := range m.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, netip.AddrFrom4([4]byte(rr.A.To4())))
			case *dns.AAAA:
				ip, _ := netip.AddrFromSlice(rr.AAAA)
				out = append(out, ip)
			}
		}
	}
	return out
}

// ptr answers a PTR node with the records of the services that allow the
// client; when some exist but none is allowed, the query is refused.
func (v *View) ptr(n node, q Query, m *dns.Msg) Result {
	if q.Type != dns.TypePTR {
		return Answered
	}
	ptrs := v.ptrs[n.index]
	for _, p := range ptrs {
		if allowed(p.svc.allow, q.Client) {
			m.Answer = append(m.Answer, p.rr)
		}
	}
	if len(m.Answer) == 0 && len(ptrs) > 0 {
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
func (v *View) addSRV(m *dns.Msg, srvs []srvRR, hosts *hostSet, q Query) {
	if len(srvs) == 0 {
		return
	}
	var buf [32]int
	order, n := v.shuffled(buf[:0], len(srvs))
	m.Answer = make([]dns.RR, 0, n)
	m.Extra = make([]dns.RR, 0, n)
	for k, i := range order[:n] {
		m.Answer = append(m.Answer, srvs[i].rr)
		if g := srvs[i].glue; g != nil && !containsRR(m.Extra, g) {
			m.Extra = append(m.Extra, g)
		}
		if hosts != nil && !seenTarget(srvs, order[:k], srvs[i].rr) {
			m.Extra = v.hostGlue(m.Extra, hosts.target(srvs[i].rr.(*dns.SRV).Target), q)
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

// seenTarget reports whether an SRV record before has the target of rr.
func seenTarget(srvs []srvRR, before []int, rr dns.RR) bool {
	for _, i := range before {
		if srvs[i].rr.(*dns.SRV).Target == rr.(*dns.SRV).Target {
			return true
		}
	}
	return false
}

// target returns the target named name (fully qualified).
func (hs *hostSet) target(name string) *hostTarget {
	for _, t := range hs.targets {
		if t.name == name {
			return t
		}
	}
	return nil
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
