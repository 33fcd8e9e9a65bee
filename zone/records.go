package zone

import (
	"maps"
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
	// txt and txtAll are the records of records.txt and records.txtAll,
	// the same whatever the health; set before the first build.
	txt, txtAll []dns.RR
	// instanceTXT[p] and instanceTXTAll[p] are the DNS-SD TXT records of
	// port p's instance; nil when it has none.
	instanceTXT, instanceTXTAll []dns.RR
}

// copyFor is s for def, an equal definition of another registry state,
// with the same records: the new view holds no pointer into the state it
// replaces, so that the state can be collected.
func (s *service) copyFor(def *config.Service) *service {
	c := &service{def: def, owner: s.owner, ttl: s.ttl, allow: def.Allow, secret: def.SecretsAllow,
		txt: s.txt, txtAll: s.txtAll, instanceTXT: s.instanceTXT, instanceTXTAll: s.instanceTXTAll}
	c.recs.Store(s.recs.Load())
	return c
}

// prepareTXT prepares the TXT records of s in zone: the connection
// information with the keys made for its ports, references expanded.
func (s *service) prepareTXT(zone string) {
	connection, secrets := s.def.TXT(zone)
	h := dns.RR_Header{Name: s.owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: s.ttl}
	s.txt = txtRecords(h, connection)
	s.txtAll = s.txt
	if len(secrets) > 0 {
		s.txtAll = txtRecords(h, connection, secrets)
	}
	s.prepareInstanceTXT(zone, connection, secrets)
}

// records are the prepared answers of one service for one set of endpoint
// states. They are never modified after they are built.
type records struct {
	a, aaaa []dns.RR // owner Name.zone, healthy endpoints
	cname   []dns.RR // host-name services: one per healthy host name
	hosts   *hostSet // the targets of cname; nil for IP services
	srv     []srvRR  // every port of every healthy endpoint
	ports   [][]srvRR
	// endpoints[i] is the A or AAAA record of endpoint i (owner
	// Label.Name.zone) while it is answered; nil otherwise.
	endpoints []dns.RR
	// txt is one TXT record per key of the connection, sorted by key;
	// txtAll the same for the connection and the secrets.
	txt, txtAll []dns.RR
	// instances[p] are ports[p] owned by the DNS-SD instance name.
	instances [][]srvRR
	// wire is the same records packed for the packet path; nil when they
	// do not pack, or carry an ede, and Lookup answers alone.
	wire *wireRecords
	// ede says why the address and SRV answers are not the plain ones
	// (RFC 8914): no endpoint up, all answered in panic, or some held up
	// by the guard; nil when they are.
	ede *dns.EDNS0_EDE
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

// build prepares the records of s for the endpoints opts.Up answers, in
// both forms (p packs the wire form).
// Disabled endpoints are never answered. A service with endpoints of which
// none is up answers none, or with opts.Panic all enabled ones, briefly.
func (s *service) build(zone string, opts Options, p *packer) *records {
	def := s.def
	r := &records{endpoints: make([]dns.RR, len(def.Endpoints)), ports: make([][]srvRR, len(def.Ports))}
	answered := make([]bool, len(def.Endpoints))
	ttl, anyUp, anyEnabled, anyHeld := healthTTL(def, s.ttl), false, false, false
	for i, ep := range def.Endpoints {
		if ep.Disabled {
			continue
		}
		anyEnabled = true
		switch {
		case opts.Up == nil || opts.Up(def, i):
			answered[i] = true
		case opts.Held != nil && opts.Held(def, i):
			answered[i], anyHeld = true, true
		}
		anyUp = anyUp || answered[i]
	}
	switch {
	case opts.Panic && anyEnabled && !anyUp:
		for i, ep := range def.Endpoints {
			answered[i] = !ep.Disabled
		}
		ttl = min(ttl, PanicTTL)
		r.ede = edePanic
	case anyEnabled && !anyUp:
		r.ede = edeDown
	case anyHeld, opts.Stale != nil && opts.Stale(def):
		r.ede = edeStale
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	portOwners := make([]string, len(def.Ports))
	for p, port := range def.Ports {
		portOwners[p] = srvOwner(port, s.owner)
	}
	for i, ep := range def.Endpoints {
		if !answered[i] {
			continue
		}
		target := s.endpointOwner(ep)
		var addr, glue dns.RR
		switch {
		case ep.IsHost():
			host := newTarget(ep, zone, ttl, opts.Hosts)
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
			r.cname = append(r.cname, &dns.CNAME{Hdr: hdr(s.owner, dns.TypeCNAME), Target: target})
		case ep.IP.Is4() || ep.IP.Is4In6():
			ip := net.IP(ep.IP.Unmap().AsSlice())
			r.a = append(r.a, &dns.A{Hdr: hdr(s.owner, dns.TypeA), A: ip})
			addr = &dns.A{Hdr: hdr(target, dns.TypeA), A: ip}
		default:
			ip := net.IP(ep.IP.AsSlice())
			r.aaaa = append(r.aaaa, &dns.AAAA{Hdr: hdr(s.owner, dns.TypeAAAA), AAAA: ip})
			addr = &dns.AAAA{Hdr: hdr(target, dns.TypeAAAA), AAAA: ip}
		}
		r.endpoints[i], glue = addr, addr
		for p, port := range def.Ports {
			number := port.Number
			if ep.Port != 0 {
				number = ep.Port
			}
			rr := srvRR{rr: &dns.SRV{Hdr: hdr(s.owner, dns.TypeSRV), Priority: ep.Priority, Weight: ep.Weight, Port: number, Target: target}, glue: glue}
			r.srv = append(r.srv, rr)
			portRR := rr
			portRR.rr = &dns.SRV{Hdr: hdr(portOwners[p], dns.TypeSRV), Priority: ep.Priority, Weight: ep.Weight, Port: number, Target: target}
			r.ports[p] = append(r.ports[p], portRR)
		}
	}
	// Connection information does not depend on health, nor its TTL.
	r.txt, r.txtAll = s.txt, s.txtAll
	r.instances = s.instanceSRV(r.ports)
	if r.ede == nil {
		r.wire = s.wireForm(r, p)
	}
	return r
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
	return "_" + p.Name + "._" + p.Protocol + "." + owner
}

// txtRecords builds one TXT record per key, its one string KEY=value, in
// the order of the keys (RFC 1464), or nil when there is nothing to say.
// One string per record is the one form every client reads as KEY=value:
// Go's net.LookupTXT joins a record's strings without a separator, JNDI
// with spaces.
func txtRecords(h dns.RR_Header, sources ...map[string]string) []dns.RR {
	strs := txtStrings(sources...)
	if len(strs) == 0 {
		return nil
	}
	rrs := make([]dns.RR, len(strs))
	for i, s := range strs {
		rrs[i] = &dns.TXT{Hdr: h, Txt: []string{s}}
	}
	return rrs
}

// txtStrings are the KEY=value strings of sources, sorted by key (RFC 6763
// section 6 asks no order; sorted answers compare and cache well), in the
// presentation form miekg/dns packs from, where a backslash starts an
// escape.
func txtStrings(sources ...map[string]string) []string {
	values := map[string]string{}
	for _, m := range sources {
		maps.Copy(values, m)
	}
	var strs []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		strs = append(strs, strings.ReplaceAll(k+"="+values[k], `\`, `\\`))
	}
	return strs
}
