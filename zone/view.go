// Package zone holds the DNS view of one zone: every owner name the
// registry creates, mapped to records prepared when the view is built, so
// that answering a query is a map read, a copy and a shuffle. A View never
// changes after it is built, except that one service's records can be
// replaced (atomically) when the health of its endpoints changes.
package zone

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/internal/parallel"
)

// SOA timers; the minimum (negative-caching TTL) is the view's TTL.
const (
	soaRefresh = 7200
	soaRetry   = 1800
	soaExpire  = 86400
)

// Options are the settings a View is built with.
type Options struct {
	// TTL of answers, unless a service sets its own; also the SOA minimum.
	TTL uint32
	// MaxAnswers caps the address and SRV records of one answer; 0: all.
	MaxAnswers int
	// Serial of the SOA record.
	Serial uint32
	// Up reports whether endpoint i of a service is answered (its health is
	// unknown or healthy); nil answers every enabled endpoint.
	Up func(s *config.Service, i int) bool
	// Held reports whether endpoint i, not up, is answered all the same:
	// the checker-isolation guard holds it (its answers carry EDE 3).
	Held func(s *config.Service, i int) bool
	// Stale reports whether a service is answered from a store that cannot
	// be read (its answers carry EDE 3); nil: none is.
	Stale func(s *config.Service) bool
	// Health says what _health.S.Z tells of endpoint i, when asked; nil
	// tells every endpoint unknown.
	Health func(s *config.Service, i int) EndpointHealth
	// Panic answers every enabled endpoint of a service that has none up,
	// with a TTL of at most PanicTTL, instead of no address at all.
	Panic bool
	// Hosts gives the addresses of host-name endpoints outside the zone,
	// read when a service's records are built; nil knows none.
	Hosts Hosts
}

// Hosts knows the addresses of host names (lower-case, no trailing dot)
// resolved elsewhere; ok is false while host has none.
type Hosts interface {
	Addresses(host string) (a, aaaa []netip.Addr, ttl uint32, ok bool)
}

// PanicTTL is the most a service in panic is cached for: its endpoints are
// all down, and answers should follow their recovery closely.
const PanicTTL = 5

// View is the DNS data of one zone.
type View struct {
	zone       string
	nodes      map[string]*node
	services   map[string]*service // by name; those with records to update
	opts       Options
	soa        dns.RR
	negative   []dns.RR // the authority section of NXDOMAIN and NODATA: the SOA
	ns         dns.RR
	wire       *wireApex // nil: no packet path for this view
	ttl        uint32
	maxAnswers int
}

type kind uint8

const (
	kindEmpty      kind = iota // an empty non-terminal: exists, has no data
	kindApex                   // the zone itself: SOA and NS
	kindService                // Name.zone
	kindEndpoint               // Label.Name.zone
	kindPort                   // _Port._Proto.Name.zone
	kindNameServer             // ns.dns.zone, the SOA and NS target
	kindPTR                    // an endpoint's address in a reverse zone
	kindBrowse                 // DNS-SD: _services._dns-sd._udp.zone, _Port._Proto.zone
	kindInstance               // DNS-SD: Name._Port._Proto.zone, Name one label
	kindHealth                 // _health.Name.zone: the endpoints' health as TXT
)

// node is what one owner name holds.
type node struct {
	kind  kind
	svc   *service // kindService, kindEndpoint, kindPort, kindInstance
	index int      // endpoint or port index
	ptrs  []ptr    // kindPTR, kindBrowse
}

// ptr is a PTR record and the service whose allow list guards it.
type ptr struct {
	rr  dns.RR
	svc *service
}

// Build makes the view of zone (fully qualified, lower-case) for services,
// every enabled endpoint answered as healthy.
func Build(zone string, services []config.Service, opts Options) *View {
	return Rebuild(nil, zone, services, opts)
}

// Rebuild makes the view of zone for services as Build does, taking from
// prev, a view of the same zone built with the same options but for the
// serial, the records of every service whose definition is unchanged:
// after an edit of one service in a large registry, one service's records
// are built, not all. prev may be nil.
func Rebuild(prev *View, zone string, services []config.Service, opts Options) *View {
	v := newView(zone, zone, opts)
	v.addServices(prev, services)
	for i := range services {
		def := &services[i]
		s := v.services[def.Name]
		v.add(s.owner, &node{kind: kindService, svc: s})
		v.add(healthOwner+s.owner, &node{kind: kindHealth, svc: s})
		for j, ep := range def.Endpoints {
			if ep.Label != "" {
				v.add(ep.Label+"."+s.owner, &node{kind: kindEndpoint, svc: s, index: j})
			}
		}
		for j, p := range def.Ports {
			v.add(srvOwner(p, s.owner), &node{kind: kindPort, svc: s, index: j})
		}
	}
	v.addDNSSD(services)
	if _, taken := v.nodes[nameServer(zone)]; !taken {
		v.add(nameServer(zone), &node{kind: kindNameServer})
	}
	v.addEmptyNonTerminals()
	return v
}

// BuildReverse makes the view of the reverse zone rzone: a PTR record for
// every enabled IP endpoint whose address lies in it, pointing at the
// endpoint's name in the forward zone.
func BuildReverse(rzone, forward string, services []config.Service, opts Options) *View {
	v := newView(rzone, forward, opts)
	for i := range services {
		def := &services[i]
		// Only for the allow list and TTL: PTR records do not follow
		// health, so the service has no records to update.
		s := v.newService(def)
		s.owner = owner(def.Name, forward)
		for _, ep := range def.Endpoints {
			if ep.IsHost() || ep.Disabled {
				continue
			}
			name, err := dns.ReverseAddr(ep.IP.Unmap().String())
			if err != nil || !dns.IsSubDomain(rzone, name) {
				continue
			}
			n := v.nodes[name]
			if n == nil {
				n = &node{kind: kindPTR}
				v.add(name, n)
			}
			rr := &dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: s.ttl}, Ptr: ep.Label + "." + s.owner}
			n.ptrs = append(n.ptrs, ptr{rr: rr, svc: s})
		}
	}
	v.addEmptyNonTerminals()
	return v
}

func newView(zone, nsZone string, opts Options) *View {
	h := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: zone, Rrtype: t, Class: dns.ClassINET, Ttl: opts.TTL}
	}
	v := &View{
		zone:       zone,
		nodes:      map[string]*node{},
		services:   map[string]*service{},
		ttl:        opts.TTL,
		maxAnswers: opts.MaxAnswers,
		opts:       opts,
		soa: &dns.SOA{Hdr: h(dns.TypeSOA), Ns: nameServer(nsZone), Mbox: "hostmaster." + nsZone,
			Serial: opts.Serial, Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: opts.TTL},
		ns: &dns.NS{Hdr: h(dns.TypeNS), Ns: nameServer(nsZone)},
	}
	// Full to capacity, so that appending to a reply's authority section
	// copies it instead of writing into the one the view shares.
	v.negative = []dns.RR{v.soa}
	v.packApex()
	v.add(zone, &node{kind: kindApex})
	return v
}

// addServices adds the services defs with their records, taken from prev
// for those it has unchanged.
func (v *View) addServices(prev *View, defs []config.Service) {
	var all []*service // those to build
	for i := range defs {
		def := &defs[i]
		if old := prev.unchanged(def); old != nil {
			v.services[def.Name] = old.copyFor(def)
			continue
		}
		s := v.newService(def)
		v.services[def.Name] = s
		all = append(all, s)
	}
	// The connection information depends on the zone (the made <P>_HOST
	// keys) but not on health: prepared once, with the first records.
	parallel.Run(len(all), minPart, func(_, from, to int) {
		p := newPacker()
		for _, s := range all[from:to] {
			s.prepareTXT(v.zone)
			s.recs.Store(s.build(v.zone, v.opts, p))
		}
	})
}

// unchanged returns the service of v defined exactly as def, or nil; v may
// be nil.
func (v *View) unchanged(def *config.Service) *service {
	if v == nil {
		return nil
	}
	if s := v.services[def.Name]; s != nil && reflect.DeepEqual(s.def, def) {
		return s
	}
	return nil
}

func (v *View) newService(def *config.Service) *service {
	s := &service{def: def, owner: owner(def.Name, v.zone), ttl: v.ttl}
	if def.TTL != nil {
		s.ttl = *def.TTL
	}
	s.allow = def.Allow
	s.secret = def.SecretsAllow
	return s
}

// buildAll builds the records of services, on every processor: each
// service's are its own.
func (v *View) buildAll(services []*service) {
	parallel.Run(len(services), minPart, func(_, from, to int) {
		p := newPacker()
		for _, s := range services[from:to] {
			s.recs.Store(s.build(v.zone, v.opts, p))
		}
	})
}

// minPart is the fewest services worth a goroutine of their own.
const minPart = 1000

// UpdateAll rebuilds the records of every service, as Update does one.
func (v *View) UpdateAll() {
	v.buildAll(slices.Collect(maps.Values(v.services)))
}

// Update rebuilds the records of the service named name (relative to the
// zone) from the health its endpoints have now, and swaps them in. The rest
// of the view is untouched; queries in flight see the old records or the
// new, never a mix.
func (v *View) Update(name string) {
	if s, ok := v.services[name]; ok {
		s.recs.Store(s.build(v.zone, v.opts, newPacker()))
	}
}

func (v *View) add(name string, n *node) { v.nodes[name] = n }

// addEmptyNonTerminals adds every name between an owner and the apex that
// holds nothing itself, so that it answers NODATA, not NXDOMAIN.
func (v *View) addEmptyNonTerminals() {
	var missing []string
	for name := range v.nodes {
		for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
			parent := name[off:]
			if len(parent) <= len(v.zone) {
				break
			}
			if _, ok := v.nodes[parent]; !ok {
				missing = append(missing, parent)
			}
		}
	}
	empty := &node{kind: kindEmpty}
	for _, name := range missing {
		v.nodes[name] = empty
	}
}

// Serial returns the serial of the view's SOA record.
func (v *View) Serial() uint32 { return v.soa.(*dns.SOA).Serial }

func owner(name, zone string) string {
	if zone == "." {
		return name + "."
	}
	return name + "." + zone
}

func nameServer(zone string) string { return owner("ns.dns", zone) }

// allowed reports whether client may see what a list of prefixes guards;
// an empty list allows everyone.
func allowed(list []netip.Prefix, client netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	client = client.Unmap()
	for _, p := range list {
		if p.Contains(client) {
			return true
		}
	}
	return false
}
