package zone

import (
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
)

// service is the slot of one service in a View: its definition, and the
// records prepared from it, which are replaced whole (atomically) when the
// health of an endpoint changes, without touching any other service.
type service struct {
	def    *config.Service
	owner  string // Name.zone.
	ttl    uint32
	allow  []netip.Prefix // empty: everyone
	secret []netip.Prefix
	recs   atomic.Pointer[records]
	// rotate picks the host name a CNAME answer points at.
	rotate atomic.Uint32
	// txt is the TXT records in wire form: the same whatever the health,
	// packed once, before the first records, which all share them.
	txt wireTXT
}

// copyFor is s for def, an equal definition of another registry state,
// with the same records: the new view holds no pointer into the state it
// replaces, so that the state can be collected.
func (s *service) copyFor(def *config.Service) *service {
	c := &service{def: def, owner: s.owner, ttl: s.ttl, allow: def.Allow, secret: def.SecretsAllow, txt: s.txt}
	c.recs.Store(s.recs.Load())
	return c
}

// records are the answers of one service for one set of endpoint states:
// which endpoints are answered, and for how long, decided when they are
// built and packed in wire form for the packet path. The dns.RR form that
// Lookup answers from is made from the same decisions when a query first
// needs it: most services of a large registry are never asked through the
// chain, and keeping both forms of each doubled the view. Records are
// never modified after they are built, but for that cache.
type records struct {
	ttl uint32 // of the answers that follow health
	// answered[i] says whether endpoint i is answered; nil: every enabled
	// one is, the usual case, which needs no copy.
	answered []bool
	cname    []dns.RR // host-name services: one per answered host name
	hosts    *hostSet // the targets of cname; nil for IP services
	// wire is the records packed for the packet path; nil when they do
	// not pack, or carry an ede, and Lookup answers alone.
	wire *wireRecords
	// ede says why the address and SRV answers are not the plain ones
	// (RFC 8914): no endpoint up, all answered in panic, or some held up
	// by the guard; nil when they are.
	ede *dns.EDNS0_EDE
	rrs atomic.Pointer[rrRecords] // made by rrs
}

// rrRecords are records in dns.RR form.
type rrRecords struct {
	a, aaaa []dns.RR // owner Name.zone, answered endpoints
	srv     []srvRR  // every port of every answered endpoint
	ports   [][]srvRR
	// endpoints[i] is the A or AAAA record of endpoint i (owner
	// Label.Name.zone) while it is answered; nil otherwise.
	endpoints []dns.RR
	// txt is one TXT record per key of the connection, sorted by key;
	// txtAll the same for the connection and the secrets.
	txt, txtAll []dns.RR
	// instances[p] are ports[p] owned by the DNS-SD instance name, and
	// instanceTXT[p] and instanceTXTAll[p] its TXT record; nil for a port
	// whose instance is not browsable.
	instances                   [][]srvRR
	instanceTXT, instanceTXTAll []dns.RR
}

// The extended errors of answers that depend on health (SPEC section 4).
var (
	edeDown  = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "no healthy endpoint"}
	edePanic = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "panic: no healthy endpoint, all answered"}
	edeStale = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer} // guard held, or store unreachable
)

// srvRR is an SRV record and the address records of its target.
type srvRR struct {
	rr   dns.RR
	glue dns.RR // nil for host-name targets, whose glue is in records.hosts
}

// hostSet is the targets of a host-name service's CNAMEs, in their order;
// a and aaaa index those that can answer that family, which a CNAME
// rotates over first.
type hostSet struct {
	targets []*hostTarget
	a, aaaa []int
}

// hostTarget is a host name a host-name service points at, and its address
// records: those resolved outside the zone, or none in the zone, whose
// names are followed in the view at query time.
type hostTarget struct {
	name    string // fully qualified
	inZone  bool
	a, aaaa []dns.RR
}

// newTarget makes the target for host name ep, with the addresses hosts
// knows of it when it lies outside zone, their TTL capped by ttl.
func newTarget(ep config.Endpoint, zone string, ttl uint32, hosts Hosts) *hostTarget {
	t := &hostTarget{name: dns.Fqdn(ep.Address), inZone: dns.IsSubDomain(zone, dns.Fqdn(ep.Address))}
	if t.inZone || hosts == nil {
		return t
	}
	a, aaaa, rttl, ok := hosts.Addresses(ep.Address)
	if !ok {
		return t
	}
	h := dns.RR_Header{Name: t.name, Class: dns.ClassINET, Ttl: min(rttl, ttl)}
	for _, ip := range a {
		h.Rrtype = dns.TypeA
		t.a = append(t.a, &dns.A{Hdr: h, A: net.IP(ip.Unmap().AsSlice())})
	}
	for _, ip := range aaaa {
		h.Rrtype = dns.TypeAAAA
		t.aaaa = append(t.aaaa, &dns.AAAA{Hdr: h, AAAA: net.IP(ip.AsSlice())})
	}
	return t
}

// build decides the records of s for the endpoints opts.Up answers, and
// packs them with p. Disabled endpoints are never answered. A service with
// endpoints of which none is up answers none, or with opts.Panic all
// enabled ones, briefly. The addresses of host names are read now: a
// change of them builds the records again.
func (s *service) build(zone string, opts Options, p *packer) *records {
	def := s.def
	r := &records{ttl: healthTTL(def, s.ttl)}
	var buf [64]bool
	answered := buf[:0]
	anyUp, anyEnabled, anyHeld := false, false, false
	for i, ep := range def.Endpoints {
		ok := false
		if !ep.Disabled {
			anyEnabled = true
			switch {
			case opts.Up == nil || opts.Up(def, i):
				ok = true
			case opts.Held != nil && opts.Held(def, i):
				ok, anyHeld = true, true
			}
		}
		answered = append(answered, ok)
		anyUp = anyUp || ok
	}
	switch {
	case opts.Panic && anyEnabled && !anyUp:
		for i, ep := range def.Endpoints {
			answered[i] = !ep.Disabled
		}
		r.ttl = min(r.ttl, PanicTTL)
		r.ede = edePanic
	case anyEnabled && !anyUp:
		r.ede = edeDown
	case anyHeld, opts.Stale != nil && opts.Stale(def):
		r.ede = edeStale
	}
	for i, ep := range def.Endpoints {
		if answered[i] == ep.Disabled {
			r.answered = slices.Clone(answered)
			break
		}
	}
	for i, ep := range def.Endpoints {
		if !answered[i] || !ep.IsHost() {
			continue
		}
		host := newTarget(ep, zone, r.ttl, opts.Hosts)
		if r.hosts == nil {
			r.hosts = &hostSet{}
		}
		hs := r.hosts
		if host.inZone || len(host.a) > 0 {
			hs.a = append(hs.a, len(hs.targets))
		}
		if host.inZone || len(host.aaaa) > 0 {
			hs.aaaa = append(hs.aaaa, len(hs.targets))
		}
		hs.targets = append(hs.targets, host)
		r.cname = append(r.cname, &dns.CNAME{Hdr: dns.RR_Header{Name: s.owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: r.ttl}, Target: host.name})
	}
	if r.ede == nil {
		r.wire = s.wireForm(r, p)
	}
	return r
}

// answers reports whether r answers endpoint i of def, the definition r
// was built from.
func (r *records) answers(def *config.Service, i int) bool {
	if r.answered == nil {
		return !def.Endpoints[i].Disabled
	}
	return r.answered[i]
}

// rrs returns the records r of s in dns.RR form, made on the first call;
// zone is the view's. Two queries may make them at once: one form is kept.
func (s *service) rrs(r *records, zone string) *rrRecords {
	if f := r.rrs.Load(); f != nil {
		return f
	}
	r.rrs.CompareAndSwap(nil, s.rrForm(r, zone))
	return r.rrs.Load()
}

// rrForm makes the dns.RR form of r, the records of s in zone.
func (s *service) rrForm(r *records, zone string) *rrRecords {
	def := s.def
	f := &rrRecords{endpoints: make([]dns.RR, len(def.Endpoints)), ports: make([][]srvRR, len(def.Ports))}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: r.ttl}
	}
	portOwners := make([]string, len(def.Ports))
	for p, port := range def.Ports {
		portOwners[p] = srvOwner(port, s.owner)
	}
	for i, ep := range def.Endpoints {
		if !r.answers(def, i) {
			continue
		}
		target := s.endpointOwner(ep)
		var addr dns.RR
		switch {
		case ep.IsHost():
		case ep.IP.Is4() || ep.IP.Is4In6():
			ip := net.IP(ep.IP.Unmap().AsSlice())
			f.a = append(f.a, &dns.A{Hdr: hdr(s.owner, dns.TypeA), A: ip})
			addr = &dns.A{Hdr: hdr(target, dns.TypeA), A: ip}
		default:
			ip := net.IP(ep.IP.AsSlice())
			f.aaaa = append(f.aaaa, &dns.AAAA{Hdr: hdr(s.owner, dns.TypeAAAA), AAAA: ip})
			addr = &dns.AAAA{Hdr: hdr(target, dns.TypeAAAA), AAAA: ip}
		}
		f.endpoints[i] = addr
		for p, port := range def.Ports {
			number := port.Number
			if ep.Port != 0 {
				number = ep.Port
			}
			f.srv = append(f.srv, srvRR{rr: &dns.SRV{Hdr: hdr(s.owner, dns.TypeSRV), Priority: ep.Priority, Weight: ep.Weight, Port: number, Target: target}, glue: addr})
			f.ports[p] = append(f.ports[p], srvRR{rr: &dns.SRV{Hdr: hdr(portOwners[p], dns.TypeSRV), Priority: ep.Priority, Weight: ep.Weight, Port: number, Target: target}, glue: addr})
		}
	}
	// Connection information does not depend on health, nor its TTL.
	connection, secrets := def.TXT(zone)
	h := dns.RR_Header{Name: s.owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: s.ttl}
	f.txt = txtRecords(h, txtPairs(connection))
	f.txtAll = f.txt
	if len(secrets) > 0 {
		f.txtAll = txtRecords(h, txtPairs(connection, secrets))
	}
	f.instanceTXT, f.instanceTXTAll = s.instanceTXT(zone, connection, secrets)
	f.instances = instanceSRV(f.ports, f.instanceTXT)
	return f
}

// healthTTL is the TTL of the answers of def that follow health: ttl, but
// for a checked service at most the time its check takes to notice an
// endpoint is down (interval × fall), so that no client keeps one longer.
func healthTTL(def *config.Service, ttl uint32) uint32 {
	c := def.Check
	if c.Type == config.CheckNone || c.Type == "" {
		return ttl
	}
	notice := uint32(min(c.Interval*time.Duration(c.Fall)/time.Second, math.MaxUint32))
	return min(ttl, max(notice, 1))
}

// endpointOwner is the name an SRV record of ep points at: Label.Name.zone,
// or the host name itself.
func (s *service) endpointOwner(ep config.Endpoint) string {
	if ep.IsHost() {
		return dns.Fqdn(ep.Address)
	}
	return ep.Label + "." + s.owner
}

// srvOwner is _Name._Protocol.owner.
func srvOwner(p config.Port, owner string) string {
	return srvPrefix(p) + owner
}

// srvPrefix is the labels an SRV owner adds before a name: "_Name._Protocol.".
func srvPrefix(p config.Port) string { return "_" + p.Name + "._" + p.Protocol + "." }

// srvPrefixLen is len(srvPrefix(p)), without making it.
func srvPrefixLen(p config.Port) int { return len(p.Name) + len(p.Protocol) + 4 }

// txtRecords builds one TXT record per pair, its one string KEY=value, in
// the order of the pairs (RFC 1464), or nil when there is nothing to say.
// One string per record is the one form every client reads as KEY=value:
// Go's net.LookupTXT joins a record's strings without a separator, JNDI
// with spaces.
func txtRecords(h dns.RR_Header, pairs []string) []dns.RR {
	if len(pairs) == 0 {
		return nil
	}
	rrs := make([]dns.RR, len(pairs))
	for i, s := range pairs {
		rrs[i] = &dns.TXT{Hdr: h, Txt: []string{txtPresentation(s)}}
	}
	return rrs
}

// txtPairs are the KEY=value strings of sources, in key order.
func txtPairs(sources ...map[string]string) []string {
	keys := sortedKeys(nil, sources...)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + txtValue(k, sources...)
	}
	return pairs
}

// sortedKeys appends the keys of sources to keys, sorted (RFC 6763
// section 6 asks no order; sorted answers compare and cache well), each
// once.
func sortedKeys(keys []string, sources ...map[string]string) []string {
	for _, m := range sources {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// txtValue is the value of key in the last of sources that has it: a key
// of the secrets wins over the connection's.
func txtValue(key string, sources ...map[string]string) string {
	for i := len(sources) - 1; i >= 0; i-- {
		if v, ok := sources[i][key]; ok {
			return v
		}
	}
	return ""
}

// txtPresentation is a TXT string in the presentation form miekg/dns
// packs from, where a backslash starts an escape.
func txtPresentation(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }
