// Package thirdparty implements the thirdparty directive: authoritative
// answers for the third-party services of a registry file.
package thirdparty

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/hostname"
	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/registry"
	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/zone"
)

// ThirdParty is one thirdparty directive: its options, the views of its
// zones, and the watch on its registry file. The handlers of every zone
// key of the server block share it.
type ThirdParty struct {
	opts    options
	zones   []string // every zone, forward and reverse
	views   atomic.Pointer[views]
	watch   *watcher
	checker *health.Checker
	states  healthCopy  // what checker published
	sharing *sharing    // health_sharing; nil without
	kube    *kubeWriter // the kubernetes source's writer; nil without
	// storeDown is set while the store cannot be read: its services
	// answer from the last read, stale.
	storeDown atomic.Bool
	guard     guard
	hosts     *hostname.Resolver // host-name endpoints outside the zones
	api       *apiServer
	events    eventHub // the event streams of the API (events.go)

	// reg owns the services: every change to them goes through it, and
	// it publishes each new state to serve.
	reg *registry.Registry

	// mu orders the writers of the views (registry states, health and
	// host-name changes) and guards what they read. Queries never take it.
	mu        sync.Mutex
	conflicts map[string]string // store services not served, as last logged
	// kubeNotServed are the ThirdPartyService objects not served (invalid,
	// or clashing), by namespace/name, and why, as last logged.
	kubeNotServed map[string]string
	defs          map[string]*config.Service // the services served, by name
	down          map[string]bool            // services logged as having no healthy endpoint
	hostUsers     map[string][]string        // host name (resolved) → services with it
	st            store.Store
	ownsStore     bool        // false once handed over to the next configuration
	storeFrom     *ThirdParty // the configuration the store was taken over from
	// snapshots writes the etcd store's snapshot file; nil: none.
	snapshots *store.SnapshotWriter

	cancel     context.CancelFunc // ends the background work
	background sync.WaitGroup
	stopOnce   sync.Once
}

// views maps each zone to its view; a registry change replaces it whole.
type views map[string]*zone.View

// Handler is the thirdparty plugin in one chain.
type Handler struct {
	tp   *ThirdParty
	Next plugin.Handler
}

// ServeDNS implements plugin.Handler.
func (h *Handler) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	z := plugin.MatchZone(h.tp.zones, name)
	if z == "" {
		return plugin.NextOrFailure(h.Name(), h.Next, ctx, w, r)
	}
	switch {
	case r.Opcode != dns.OpcodeQuery:
		return dns.RcodeNotImplemented, nil
	case refused(q.Qclass, q.Qtype):
		return dns.RcodeRefused, nil
	}

	m := reply(r)
	query := zone.Query{Name: name, Type: q.Qtype, Client: addrOf(w.RemoteAddr()), Local: addrOf(w.LocalAddr()), Key: tsigKey(ctx, w, r), EDNS: r.IsEdns0() != nil}
	switch (*h.tp.views.Load())[z].Lookup(query, m) {
	case zone.Refused:
		if !query.EDNS {
			return dns.RcodeRefused, nil
		}
		// RFC 8914: the client is not in the service's allow.
		m.Rcode = dns.RcodeRefused
		m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT},
			Option: []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeProhibited}}})
	case zone.NXDomain:
		if plugin.MatchZone(h.tp.opts.fall, name) != "" { // fallthrough
			return plugin.NextOrFailure(h.Name(), h.Next, ctx, w, r)
		}
		m.Rcode = dns.RcodeNameError
	}
	if q.Name != name {
		inQuestionCase(m, q.Name)
	}
	// A cache in front must not keep these answers: they depend on the
	// client (allow, secrets_allow) and on health, are shuffled per query,
	// and cost less to make than to look up.
	if nc, ok := w.(interface{ DoNotCache() }); ok {
		nc.DoNotCache()
	}
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(h.Name(), err)
	}
	return m.Rcode, nil
}

// AnswerPacket implements plugin.PacketAnswerer: it answers from the wire
// form of the views what ServeDNS would answer, and leaves the rest (names
// outside its zones, refused queries, fallthrough) to ServeDNS.
func (h *Handler) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	z := plugin.MatchZone(h.tp.zones, q.Name)
	if z == "" || refused(dns.ClassINET, q.Type) { // the packet path takes class IN only
		return b, plugin.PacketReply{}, false
	}
	out, r, ok := (*h.tp.views.Load())[z].AppendWire(b, q.Name, q.Type, q.Client)
	if !ok || r.Rcode == dns.RcodeNameError && plugin.MatchZone(h.tp.opts.fall, q.Name) != "" {
		return b, plugin.PacketReply{}, false
	}
	return out, plugin.PacketReply(r), true
}

// refused reports whether a query of qclass and qtype is refused: other
// classes than IN (and ANY), and zone transfers, which thirdparty does
// not serve.
func refused(qclass, qtype uint16) bool {
	return qclass != dns.ClassINET && qclass != dns.ClassANY || qtype == dns.TypeAXFR || qtype == dns.TypeIXFR
}

// reply starts the answer to r. It is SetReply without copying the
// question, which the answer only reads.
func reply(r *dns.Msg) *dns.Msg {
	m := &dns.Msg{Question: r.Question[:1:1]}
	m.Id = r.Id
	m.Response = true
	m.Opcode = r.Opcode
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	m.Authoritative = true
	return m
}

// Name implements plugin.Handler.
func (h *Handler) Name() string { return "thirdparty" }

// Ready implements CoreDNS's ready.Readiness, which its ready plugin looks
// for among the handlers of a chain (tpdns asks the plugin itself).
func (h *Handler) Ready() bool { return h.tp.Ready() }

// addrOf returns the IP of a UDP or TCP address without allocating.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
