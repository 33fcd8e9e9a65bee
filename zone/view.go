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
	"sync"

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
	nodes      map[string]node
	services   map[string]*service // by name; those with records to update
	types      []*browseType       // DNS-SD service types, by owner
	ptrs       [][]ptr             // the lists of the kindPTR nodes
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

// node is what one owner name holds. It is a value in the view's map, not
// a pointer to one: a large registry has millions of names, and one
// allocation each.
type node struct {
	svc *service // kindService, kindEndpoint, kindPort, kindInstance, kindHealth
	// index is the endpoint's or port's; kindPTR: of View.ptrs;
	// kindBrowse: of View.types, or enumeration.
	index int32
	kind  kind
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
	v := newView(zone, zone, opts, nodeCount(services))
	slots, fresh := v.addServices(prev, services)
	// The names need only the services' slots: they go in while the
	// records are built.
	var records sync.WaitGroup
	records.Go(func() { v.prepare(fresh) })
	defer records.Wait()
	// The names whose parents may be empty non-terminals: the parents of
	// the others are a node (an SRV name's, the one found below its
	// service; an instance's, its type).
	tops := make([]string, 0, len(services))
	for i := range services {
		def, s := &services[i], slots[i]
		v.nodes[s.owner] = node{kind: kindService, svc: s}
		tops = append(tops, s.owner)
		for j, p := range def.Ports {
			v.nodes[srvOwner(p, s.owner)] = node{kind: kindPort, svc: s, index: int32(j)}
		}
	}
	tops = append(tops, v.addDNSSD(services, slots)...)
	if _, taken := find(v, nameServer(zone)); !taken {
		v.nodes[nameServer(zone)] = node{kind: kindNameServer}
		tops = append(tops, nameServer(zone))
	}
	v.addEmptyNonTerminals(tops)
	return v
}

// nodeCount is about how many names the map of a view of services holds,
// so that it is made once at its size instead of growing: a service's
// name, and per port its SRV name and the DNS-SD instance.
func nodeCount(services []config.Service) int {
	n := 4
	for i := range services {
		n += 1 + 2*len(services[i].Ports)
	}
	return n
}

// BuildReverse makes the view of the reverse zone rzone: a PTR record for
// every enabled IP endpoint whose address lies in it, pointing at the
// endpoint's name in the forward zone.
func BuildReverse(rzone, forward string, services []config.Service, opts Options) *View {
	v := newView(rzone, forward, opts, 0)
	var names []string
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
			n, ok := v.nodes[name]
			switch {
			case ok && n.kind != kindPTR:
				continue // the apex: an address that is the whole zone answers no PTR
			case !ok:
				n = node{kind: kindPTR, index: int32(len(v.ptrs))}
				v.nodes[name] = n
				v.ptrs = append(v.ptrs, nil)
				names = append(names, name)
			}
			rr := &dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: s.ttl}, Ptr: ep.Label + "." + s.owner}
			v.ptrs[n.index] = append(v.ptrs[n.index], ptr{rr: rr, svc: s})
		}
	}
	v.addEmptyNonTerminals(names)
	return v
}

func newView(zone, nsZone string, opts Options, size int) *View {
	h := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: zone, Rrtype: t, Class: dns.ClassINET, Ttl: opts.TTL}
	}
	v := &View{
		zone:       zone,
		nodes:      make(map[string]node, size),
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
	v.nodes[zone] = node{kind: kindApex}
	return v
}

// addServices adds the slots of the services defs, with the records of
// prev for those it has unchanged, and returns them (slots[i] is defs[i]'s,
// which spares the callers a look-up in a map of every service each) and
// the others, whose records prepare builds.
func (v *View) addServices(prev *View, defs []config.Service) (slots, fresh []*service) {
	v.services = make(map[string]*service, len(defs))
	var same []*service // [i]: prev's service defined as defs[i], or nil
	if prev != nil {
		// Comparing definitions is most of a rebuild after a small edit.
		same = make([]*service, len(defs))
		parallel.Run(len(defs), minPart, func(_, from, to int) {
			for i := from; i < to; i++ {
				same[i] = prev.unchanged(&defs[i])
			}
		})
	}
	slots = make([]*service, len(defs))
	if prev == nil {
		fresh = make([]*service, 0, len(defs))
	}
	for i := range defs {
		def := &defs[i]
		if same != nil && same[i] != nil {
			slots[i] = same[i].copyFor(def)
		} else {
			slots[i] = v.newService(def)
			fresh = append(fresh, slots[i])
		}
		v.services[def.Name] = slots[i]
	}
	return slots, fresh
}

// prepare builds the first records of services, on every processor. The
// connection information depends on the zone (the made <P>_HOST keys) but
// not on health: it is packed once, before.
func (v *View) prepare(services []*service) {
	parallel.Run(len(services), minPart, func(_, from, to int) {
		p := &packer{}
		for _, s := range services[from:to] {
			s.prepareTXT(v.zone, p)
			s.recs.Store(s.build(v.zone, v.opts, p))
		}
	})
}

// unchanged returns the service of v defined exactly as def, or nil.
func (v *View) unchanged(def *config.Service) *service {
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
		p := &packer{}
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
		s.recs.Store(s.build(v.zone, v.opts, &packer{}))
	}
}

// addEmptyNonTerminals adds every name between one of names and the apex
// that holds nothing itself, so that it answers NODATA, not NXDOMAIN. The
// parents of every other node must be nodes or among names.
func (v *View) addEmptyNonTerminals(names []string) {
	for _, name := range names {
		for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
			parent := name[off:]
			if len(parent) <= len(v.zone) {
				break
			}
			if _, ok := find(v, parent); !ok {
				v.nodes[parent] = node{kind: kindEmpty}
			}
		}
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
