package server

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// The packet path answers plain UDP queries without decoding them into a
// dns.Msg: it reads the header and question in place, asks the chain's
// PacketAnswerer for the records, and writes header, question (as the
// client sent it) and records straight into the reply. It takes only
// queries whose answer it can give exactly as the chain would; anything
// unusual (other opcodes, classes, EDNS versions or options, escaped
// names, replies that would need truncating) goes through the chain.

// packetChain is the packet path of one zone's chain: the PacketPassers it
// goes past, and the PacketAnswerer that ends it.
type packetChain struct {
	answerer     plugin.PacketAnswerer
	passers      []plugin.PacketPasser
	server, zone string

	once      sync.Once
	observers []plugin.PacketObserver // resolved on first use, as ServeDNS resolves its series
	limits    []plugin.PacketLimit    // likewise
}

// newPacketChain returns the packet path of the chain whose handlers are
// handlers, outermost first, or nil when it has none.
func newPacketChain(handlers []plugin.Handler, server, zone string) *packetChain {
	c := &packetChain{server: server, zone: zone}
	for _, h := range handlers {
		if a, ok := h.(plugin.PacketAnswerer); ok {
			c.answerer = a
			return c
		}
		p, ok := h.(plugin.PacketPasser)
		if !ok {
			return nil
		}
		c.passers = append(c.passers, p)
	}
	return nil
}

// observe tells the passers of one reply. A panic in one of them is
// recovered by the caller, observePacket. PassPackets runs once: if it
// panics, sync.Once counts it as done, and the passers after the one that
// panicked are never told (their plugins, not the queries, are wrong).
func (c *packetChain) observe(o plugin.PacketObserved) {
	c.once.Do(func() { c.resolve() })
	for _, observe := range c.observers {
		observe(o)
	}
}

// resolve asks the passers, once, for their observers and limits.
func (c *packetChain) resolve() {
	for _, p := range c.passers {
		if o := p.PassPackets(c.server, c.zone); o != nil {
			c.observers = append(c.observers, o)
		}
		if l, ok := p.(plugin.PacketLimiter); ok {
			if f := l.LimitPackets(c.server, c.zone); f != nil {
				c.limits = append(c.limits, f)
			}
		}
	}
}

// observePacket tells the passers of a reply the packet path made, o. A
// panic in one of them is the packet path's, counted and logged as such;
// the reply, made before, is sent all the same: only its observation is
// lost. Handing the query to the chain instead would send it through the
// same passers' ServeDNS.
func (s *Server) observePacket(o observedPacket, took time.Duration) {
	defer s.recoverPacket("the reply goes out unobserved")
	o.chain.observe(plugin.PacketObserved{
		Type: o.qtype, Rcode: o.rcode, IPv6: o.ipv6,
		QuerySize: o.querySize, ReplySize: o.replySize, Took: took,
	})
}

// Header flags and offsets of a DNS message (RFC 1035 section 4.1.1).
const (
	headerLen  = 12
	flagQR     = 1 << 15
	maskOpcode = 0xF << 11
	flagAA     = 1 << 10
	flagRD     = 1 << 8
	flagCD     = 1 << 4
	// optLen is an OPT record without options: root owner, type, class
	// (the UDP size), TTL (extended rcode, version, flags), rdata length.
	optLen = 11
	flagDO = 1 << 15 // of the OPT record's flags
	// maxNameLen is the longest name in wire form (RFC 1035 section 3.1).
	maxNameLen = 255
)

// packetAnswer is a reply the packet path wrote, for the observers. It
// has no more than four fields, so that the compiler keeps it in
// registers: answerPacket returns it through its recover, and a larger one
// costs the packet path a third of its time (47 to 70 ns a query).
type packetAnswer struct {
	chain *packetChain
	qtype uint16
	rcode int
}

// observedPacket is what the observers are told of a reply, a, to the
// query q from client (all but the time it took, known once the batch is
// answered); reply is empty when a limit held it back.
type observedPacket struct {
	packetAnswer
	ipv6                 bool
	querySize, replySize int
}

func observed(a packetAnswer, q []byte, client netip.Addr, reply []byte) observedPacket {
	return observedPacket{a, client.Is6() && !client.Is4In6(), len(q), len(reply)}
}

// packetReader reads queries for the packet path; one per UDP loop, never
// shared, so that reading a query allocates nothing.
type packetReader struct {
	name   [maxNameLen]byte // the question's name in presentation form
	labels [maxNameLen / 2]uint8
	packet plugin.Packet
}

// answerPacket makes the reply to the query q from client in the memory of
// reply, when the packet path can answer q; otherwise ok is false and the
// chain must. An empty reply with ok true is one a limit (rrl) holds back:
// it is observed, and nothing is sent. A panic, in the answerer or in the
// reading of q, is recovered here, for this query alone: it is counted and
// logged (see packetPanicked) and ok is false, so that the chain answers q
// as if the packet path had declined it.
func (s *Server) answerPacket(rd *packetReader, q []byte, client netip.Addr, reply []byte) (out []byte, a packetAnswer, ok bool) {
	// The results are set only when readPacket returns: after a panic they
	// are still zero, ok false. One defer, outside any loop, is open-coded:
	// no allocation.
	defer s.recoverPacket("the query goes to the chain")
	return s.readPacket(rd, q, client, reply)
}

// recoverPacket, deferred, recovers from a panic in the packet path and
// counts and logs it; then says what becomes of the query.
func (s *Server) recoverPacket(then string) {
	if rec := recover(); rec != nil {
		s.packetPanicked(rec, then)
	}
}

// readPacket is answerPacket without the recover.
func (s *Server) readPacket(rd *packetReader, q []byte, client netip.Addr, reply []byte) (out []byte, a packetAnswer, ok bool) {
	if len(q) < headerLen+5 {
		return reply, a, false
	}
	flags := binary.BigEndian.Uint16(q[2:])
	if flags&(flagQR|maskOpcode) != 0 || binary.BigEndian.Uint16(q[4:]) != 1 ||
		binary.BigEndian.Uint16(q[6:]) != 0 || binary.BigEndian.Uint16(q[8:]) != 0 {
		return reply, a, false
	}
	additional := binary.BigEndian.Uint16(q[10:])
	if additional > 1 {
		return reply, a, false
	}
	nameLen, labels, end := rd.readName(q)
	if end < 0 || end+4 > len(q) || binary.BigEndian.Uint16(q[end+2:]) != dns.ClassINET {
		return reply, a, false
	}
	questionEnd := end + 4
	limit, edns, do := dns.MinMsgSize, false, false
	if additional == 1 {
		size, dnssecOK, ok := readOPT(q[questionEnd:])
		if !ok {
			return reply, a, false
		}
		limit, edns, do = min(max(int(size), dns.MinMsgSize), ednsSize), true, dnssecOK
	} else if questionEnd != len(q) {
		return reply, a, false
	}

	name := rd.name[:nameLen]
	zone := s.matchBytes(name, rd.labels[:labels])
	if zone == nil || zone.packet == nil {
		return reply, a, false
	}
	qtype := binary.BigEndian.Uint16(q[end:])
	rd.packet = plugin.Packet{Name: name, Type: qtype, Client: client}
	reply = append(reply[:0], q[:questionEnd]...)
	reply, r, ok := zone.packet.answerer.AnswerPacket(reply, &rd.packet)
	if !ok {
		return reply[:0], a, false
	}
	if edns {
		reply = append(reply, 0, 0, byte(dns.TypeOPT), ednsSize>>8, ednsSize&0xFF, 0, 0, 0, 0, 0, 0)
		if do {
			reply[len(reply)-4] = flagDO >> 8
		}
		r.Extra++
	}
	if len(reply) > limit {
		return reply[:0], a, false // the chain truncates
	}
	binary.BigEndian.PutUint16(reply[2:], flagQR|flagAA|flags&(flagRD|flagCD)|uint16(r.Rcode))
	binary.BigEndian.PutUint16(reply[6:], r.Answer)
	binary.BigEndian.PutUint16(reply[8:], r.Ns)
	binary.BigEndian.PutUint16(reply[10:], r.Extra)
	reply = zone.packet.limit(reply, &rd.packet, r, questionEnd, edns)
	return reply, packetAnswer{zone.packet, qtype, r.Rcode}, true
}

// readName reads the question's name of q into rd.name, in presentation
// form, and the offset of each label into rd.labels. It returns the name's
// length, the labels', and where the name ends in q; end is -1 for a name
// the packet path leaves to the chain: compressed, with upper-case letters,
// or with characters that presentation form escapes.
func (rd *packetReader) readName(q []byte) (n, labels, end int) {
	off := headerLen
	for {
		if off >= len(q) {
			return 0, 0, -1
		}
		l := int(q[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(q) || n+l+1 >= len(rd.name) {
			return 0, 0, -1
		}
		rd.labels[labels] = uint8(n)
		labels++
		for _, c := range q[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				// Upper case too: the chain answers with owner names in
				// lower case, where records packed for the packet path
				// point at the question, in the client's case.
				return 0, 0, -1
			}
			rd.name[n] = c
			n++
		}
		rd.name[n] = '.'
		n++
		off += l
	}
	if n == 0 {
		rd.name[0] = '.'
		n = 1
	}
	return n, labels, off
}

// readOPT reads the OPT record that ends a query: its UDP size and DO bit.
// ok is false unless it is a version 0 OPT record, last in the message,
// whose options (if any) the chain would ignore too: padding.
func readOPT(b []byte) (size uint16, do, ok bool) {
	if len(b) < optLen || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != dns.TypeOPT || b[5] != 0 || b[6] != 0 {
		return 0, false, false
	}
	rdata := b[optLen:]
	if int(binary.BigEndian.Uint16(b[9:])) != len(rdata) {
		return 0, false, false
	}
	for len(rdata) > 0 {
		if len(rdata) < 4 {
			return 0, false, false
		}
		code, l := binary.BigEndian.Uint16(rdata), int(binary.BigEndian.Uint16(rdata[2:]))
		// Padding only: its decoding cannot fail, so the chain would
		// answer it as if absent. A cookie (which dig sends) goes to the
		// chain, which checks it and answers with a server cookie.
		if code != dns.EDNS0PADDING || l > len(rdata)-4 {
			return 0, false, false
		}
		rdata = rdata[4+l:]
	}
	return binary.BigEndian.Uint16(b[3:]), binary.BigEndian.Uint16(b[7:])&flagDO != 0, true
}

// matchBytes is match for a name the packet path read: labels are the
// offsets of its labels.
func (s *Server) matchBytes(name []byte, labels []uint8) *zoneConfig {
	for _, off := range labels {
		if z, ok := s.zones[string(name[off:])]; ok {
			return z
		}
	}
	return s.zones["."]
}

// limit lets the chain's limits (rrl) decide the fate of the reply the
// packet path made to q, r: it returns reply as it is, reply cut to a
// truncated one (a slip), or reply[:0] when nothing is to be sent. The
// first limit that holds the reply back decides. questionEnd is where the
// question ends in reply; edns tells that reply ends with our OPT record.
func (c *packetChain) limit(reply []byte, q *plugin.Packet, r plugin.PacketReply, questionEnd int, edns bool) []byte {
	c.once.Do(func() { c.resolve() })
	for _, l := range c.limits {
		switch l(q, r) {
		case plugin.PacketDrop:
			return reply[:0]
		case plugin.PacketSlip:
			return slipPacket(reply, questionEnd, edns)
		}
	}
	return reply
}

// slipPacket cuts reply to its header and question, and the OPT record
// when it has one (edns: the last optLen bytes, which hold no options),
// and sets TC, in place: the empty truncated reply that sends a client
// over to TCP. The chain's slip (rrl's) makes the same reply.
func slipPacket(reply []byte, questionEnd int, edns bool) []byte {
	const flagTC = 1 << 9
	var extra uint16
	out := reply[:questionEnd]
	if edns {
		out, extra = append(out, reply[len(reply)-optLen:]...), 1
	}
	binary.BigEndian.PutUint16(out[2:], binary.BigEndian.Uint16(out[2:])|flagTC)
	binary.BigEndian.PutUint16(out[6:], 0)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], extra)
	return out
}
