// Package rrl implements the rrl directive: response rate limiting after
// BIND's RRL and Knot's rrl module, with the syntax of CoreDNS's external
// rrl plugin. It keeps tpdns from being used to amplify floods at a victim
// whose address an attacker puts on its queries: identical UDP responses
// to one client prefix are held to a rate, and every slip-ratio-th held
// back goes out empty and truncated, so that a real client asks again
// over TCP, which is never limited.
package rrl

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tpdns/tpdns/plugin"
)

// config is one rrl block of a server block.
type config struct {
	zones          []string
	window         int64 // nanoseconds
	v4Bits, v6Bits int
	intervals      [kinds]int64 // nanoseconds a response costs; 0 is no limit
	slip           uint32
	tableSize      int
	reportOnly     bool
	exempt         []netip.Prefix
}

// RRL limits the rate of the UDP responses of the chain after it, for
// every zone the chain answers on every server: both the replies written
// through ServeDNS and those the packet path makes past it (it is a
// plugin.PacketLimiter).
type RRL struct {
	Next plugin.Handler
	cfg  *config
	inst *instance

	mu  sync.Mutex // held while lim is made
	lim atomic.Pointer[limiter]
}

// ServeDNS implements plugin.Handler.
func (l *RRL) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	ua, udp := w.RemoteAddr().(*net.UDPAddr)
	if !udp {
		return plugin.NextOrFailure(l.Name(), l.Next, ctx, w, r) // TCP is never limited
	}
	client := ua.AddrPort().Addr().Unmap().WithZone("")
	zone := l.cfg.match(r.Question[0].Name)
	if zone == "" || l.cfg.exempted(client) {
		return plugin.NextOrFailure(l.Name(), l.Next, ctx, w, r)
	}
	lw := &writer{ResponseWriter: w, lim: l.limiterFor(plugin.Server(ctx), plugin.Zone(ctx)), req: r, client: client, zone: zone}
	rcode, err := plugin.NextOrFailure(l.Name(), l.Next, ctx, lw, r)
	if !lw.written && !plugin.ClientWrite(rcode) {
		// The server would write this error reply after us, past the
		// limit: write it here, as it would.
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		_ = lw.WriteMsg(m) // a client that went away needs no reply
	}
	if lw.held && !plugin.ClientWrite(rcode) {
		// Nothing went out and nothing must: tell the server a reply did.
		return dns.RcodeSuccess, err
	}
	return rcode, err
}

// Name implements plugin.Handler.
func (l *RRL) Name() string { return "rrl" }

// PassPackets implements plugin.PacketPasser: rrl observes nothing, it
// limits (LimitPackets).
func (l *RRL) PassPackets(server, zone string) plugin.PacketObserver { return nil }

// LimitPackets implements plugin.PacketLimiter: the replies of the packet
// path are limited as those written through ServeDNS, in the same table.
func (l *RRL) LimitPackets(server, zone string) plugin.PacketLimit {
	return l.limiterFor(server, zone).limitPacket
}

// limiterFor returns the limiter of server and zone, making it on first
// use: a handler serves one zone of one server.
func (l *RRL) limiterFor(server, zone string) *limiter {
	if lim := l.lim.Load(); lim != nil && lim.server == server && lim.zone == zone {
		return lim
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim := l.lim.Load(); lim != nil && lim.server == server && lim.zone == zone {
		return lim
	}
	lim := newLimiter(l.cfg, server, zone)
	l.inst.add(lim)
	l.lim.Store(lim)
	return lim
}

// limiter is the table and the metrics of one zone of one server.
type limiter struct {
	cfg              *config
	server, zone     string
	table            *table
	dropped, slipped [kinds]prometheus.Counter
}

func newLimiter(cfg *config, server, zone string) *limiter {
	lim := &limiter{cfg: cfg, server: server, zone: zone,
		table: newTable(cfg.tableSize, cfg.window, cfg.intervals, cfg.slip)}
	for k := range kinds {
		lim.dropped[k] = dropped.WithLabelValues(server, zone, k.String())
		lim.slipped[k] = slipped.WithLabelValues(server, zone, k.String())
	}
	return lim
}

// limitPacket is the plugin.PacketLimit of the packet path.
func (lim *limiter) limitPacket(q *plugin.Packet, r plugin.PacketReply) plugin.PacketVerdict {
	client := q.Client.Unmap().WithZone("")
	if lim.cfg.exempted(client) {
		return plugin.PacketSend
	}
	// The name is only read, and only during the call.
	name := unsafe.String(unsafe.SliceData(q.Name), len(q.Name))
	zone := lim.cfg.match(name)
	if zone == "" {
		return plugin.PacketSend
	}
	return lim.decide(client, kindOfPacket(r), q.Type, name, zone)
}

// decide charges the response of kind k to the query for name and qtype
// from client, in zone, to its token's account, and tells what becomes of
// it. name is the delegation's for a referral.
func (lim *limiter) decide(client netip.Addr, k kind, qtype uint16, name, zone string) plugin.PacketVerdict {
	interval := lim.cfg.intervals[k]
	if interval == 0 {
		return plugin.PacketSend
	}
	// The token, as BIND tells identical responses apart.
	switch k {
	case kindNodata:
		qtype = 0
	case kindNXDomain:
		qtype, name = 0, zone
	case kindError:
		qtype, name = 0, ""
	}
	t := lim.table
	limited, slip := t.debit(t.key(lim.cfg.prefix(client), k, qtype, name), k, interval, t.now())
	if !limited {
		return plugin.PacketSend
	}
	verdict := plugin.PacketDrop
	if slip {
		lim.slipped[k].Inc()
		verdict = plugin.PacketSlip
	} else {
		lim.dropped[k].Inc()
	}
	if lim.cfg.reportOnly {
		return plugin.PacketSend
	}
	return verdict
}

// prefix is the client prefix that a, an address without a zone and
// IPv4-mapped addresses made IPv4, belongs to.
func (c *config) prefix(a netip.Addr) netip.Addr {
	bits := c.v6Bits
	if a.Is4() {
		bits = c.v4Bits
	}
	p, _ := a.Prefix(bits) // bits are valid for the family: see parse
	return p.Addr()
}

// exempted reports whether a is in a prefix that is never limited.
func (c *config) exempted(a netip.Addr) bool {
	for _, p := range c.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// match returns the most specific of the zones that contains name, or ""
// when none does. It compares in place, whatever the case of name.
func (c *config) match(name string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		for _, z := range c.zones {
			if len(z) == len(name)-off && strings.EqualFold(z, name[off:]) {
				return z
			}
		}
	}
	if slices.Contains(c.zones, ".") {
		return "."
	}
	return ""
}

// writer is the dns.ResponseWriter rrl hands the chain after it on UDP: it
// sees the reply before it goes out, and sends it, holds it back, or lets
// it slip through truncated.
type writer struct {
	dns.ResponseWriter
	lim     *limiter
	req     *dns.Msg
	client  netip.Addr
	zone    string
	written bool // a reply was written through it
	held    bool // and held back
}

// WriteMsg implements dns.ResponseWriter.
func (w *writer) WriteMsg(m *dns.Msg) error {
	w.written = true
	switch w.verdict(m) {
	case plugin.PacketDrop:
		w.held = true
		return nil
	case plugin.PacketSlip:
		return w.ResponseWriter.WriteMsg(slipMsg(m))
	}
	return w.ResponseWriter.WriteMsg(m)
}

// Write implements dns.ResponseWriter. A raw reply is limited as a message
// is; one that does not decode is passed on, as no reply of ours.
func (w *writer) Write(b []byte) (int, error) {
	w.written = true
	m := new(dns.Msg)
	if m.Unpack(b) != nil {
		return w.ResponseWriter.Write(b)
	}
	switch w.verdict(m) {
	case plugin.PacketDrop:
		w.held = true
		return len(b), nil
	case plugin.PacketSlip:
		s, err := slipMsg(m).Pack()
		if err != nil {
			return 0, err
		}
		return w.ResponseWriter.Write(s)
	}
	return w.ResponseWriter.Write(b)
}

func (w *writer) verdict(m *dns.Msg) plugin.PacketVerdict {
	k := kindOf(m)
	q := w.req.Question[0]
	name := q.Name
	if k == kindReferral {
		name = m.Ns[0].Header().Name
	}
	return w.lim.decide(w.client, k, q.Qtype, name, w.zone)
}

// slipMsg is the reply that slips through instead of m: its header with TC
// set, its question, and its OPT record without options, as the packet
// path makes it; and its TSIG record, which tsig put there for the server
// to sign the reply with.
func slipMsg(m *dns.Msg) *dns.Msg {
	s := &dns.Msg{MsgHdr: m.MsgHdr, Compress: m.Compress, Question: m.Question}
	s.Truncated = true
	for _, rr := range m.Extra {
		switch rr := rr.(type) {
		case *dns.OPT:
			s.Extra = append(s.Extra, &dns.OPT{Hdr: rr.Hdr})
		case *dns.TSIG:
			s.Extra = append(s.Extra, rr)
		}
	}
	return s
}
