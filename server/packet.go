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
// PacketCheckers whether it may, asks the PacketAnswerer for the records,
// and writes header, question (as the client sent it) and records straight
// into the reply. It takes only queries whose answer it can give exactly
// as the chain would; anything unusual (other opcodes, classes, EDNS
// versions, options whose decoding may fail, escaped names, replies that
// would need truncating) goes through the chain.

// packetChain is the packet path of one zone's chain: the PacketPassers it
// goes past, and the PacketAnswerer that ends it.
type packetChain struct {
	answerer     plugin.PacketAnswerer
	passers      []plugin.PacketPasser
	server, zone string

	once      sync.Once
	checks    []plugin.PacketCheck    // resolved on first use, as ServeDNS resolves its series
	observers []plugin.PacketObserver // likewise
	limits    []plugin.PacketLimit    // likewise
	batch     batchObservers          // likewise (packetbatch.go)
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

// check tells whether every checker of the chain lets the packet path
// answer q.
func (c *packetChain) check(q *plugin.Packet) bool {
	c.once.Do(func() { c.resolve() })
	for _, check := range c.checks {
		if !check(q) {
			return false
		}
	}
	return true
}

// resolve asks the passers, once, for their checks, observers and limits.
func (c *packetChain) resolve() {
	for _, p := range c.passers {
		if ch, ok := p.(plugin.PacketChecker); ok {
			if f := ch.CheckPackets(c.server, c.zone); f != nil {
				c.checks = append(c.checks, f)
			}
		}
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
	o.chain.observe(packetObserved(o, took))
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
// query from client (all but the time it took, known once the batch is
// answered); reply is empty when a limit held it back. query and reply
// are the reader's buffers, valid until it reads the next batch.
type observedPacket struct {
	packetAnswer
	client       netip.AddrPort
	query, reply []byte
}

func observed(a packetAnswer, q []byte, client netip.AddrPort, reply []byte) observedPacket {
	return observedPacket{a, client, q, reply}
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
func (s *Server) answerPacket(rd *packetReader, q []byte, client netip.AddrPort, reply []byte) (out []byte, a packetAnswer, ok bool) {
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
func (s *Server) readPacket(rd *packetReader, q []byte, client netip.AddrPort, reply []byte) (out []byte, a packetAnswer, ok bool) {
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
	var opt ednsQuery
	limit := dns.MinMsgSize
	if additional == 1 {
		if !opt.read(q[questionEnd:]) {
			return reply, a, false
		}
		limit = min(max(int(opt.size), dns.MinMsgSize), ednsSize)
	} else if questionEnd != len(q) {
		return reply, a, false
	}

	name := rd.name[:nameLen]
	zone := s.matchBytes(name, rd.labels[:labels])
	if zone == nil || zone.packet == nil {
		return reply, a, false
	}
	qtype := binary.BigEndian.Uint16(q[end:])
	rd.packet = plugin.Packet{Name: name, Type: qtype, Client: client.Addr(), DO: opt.do, CD: flags&flagCD != 0}
	if !zone.packet.check(&rd.packet) {
		return reply, a, false
	}
	reply = append(reply[:0], q[:questionEnd]...)
	reply, r, ok := zone.packet.answerer.AnswerPacket(reply, &rd.packet)
	if !ok {
		return reply[:0], a, false
	}
	optAt := -1 // where the OPT record starts in reply
	if opt.present {
		optAt = len(reply)
		reply = opt.appendReply(reply, client.Addr())
		r.Extra++
	}
	if len(reply) > limit {
		return reply[:0], a, false // the chain truncates
	}
	binary.BigEndian.PutUint16(reply[2:], flagQR|flagAA|flags&(flagRD|flagCD)|uint16(r.Rcode))
	binary.BigEndian.PutUint16(reply[6:], r.Answer)
	binary.BigEndian.PutUint16(reply[8:], r.Ns)
	binary.BigEndian.PutUint16(reply[10:], r.Extra)
	reply = zone.packet.limit(reply, &rd.packet, r, questionEnd, optAt)
	return reply, packetAnswer{zone.packet, qtype, r.Rcode}, true
}

// readName reads the question's name of q into rd.name, in presentation
// form and lower case, and the offset of each label into rd.labels. It
// returns the name's length, the labels', and where the name ends in q;
// end is -1 for a name the packet path leaves to the chain: compressed, or
// with characters that presentation form escapes.
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
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
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

// ednsQuery is what the packet path reads of a query's OPT record.
type ednsQuery struct {
	present bool
	size    uint16 // the client's UDP payload size
	do      bool
	cookie  []byte // the client cookie (8 bytes, in the query); nil without one
}

// read reads the OPT record that ends a query. It returns false unless it
// is a version 0 OPT record, last in the message, whose options the chain
// would decode without error: it ignores options it does not know, as the
// chain does, and keeps the first COOKIE option's client cookie, which
// must have a valid length (the chain answers FORMERR otherwise).
func (e *ednsQuery) read(b []byte) bool {
	if len(b) < optLen || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != dns.TypeOPT || b[5] != 0 || b[6] != 0 {
		return false
	}
	rdata := b[optLen:]
	if int(binary.BigEndian.Uint16(b[9:])) != len(rdata) {
		return false
	}
	for len(rdata) > 0 {
		if len(rdata) < 4 {
			return false
		}
		code, l := binary.BigEndian.Uint16(rdata), int(binary.BigEndian.Uint16(rdata[2:]))
		if l > len(rdata)-4 {
			return false
		}
		switch code {
		case dns.EDNS0COOKIE:
			if e.cookie == nil {
				if !cookieValid(l) {
					return false
				}
				e.cookie = rdata[4 : 4+clientCookieLen]
			}
		case dns.EDNS0LLQ, dns.EDNS0UL, dns.EDNS0SUBNET, dns.EDNS0EXPIRE, dns.EDNS0TCPKEEPALIVE,
			dns.EDNS0EDE, dns.EDNS0REPORTING, dns.EDNS0ZONEVERSION:
			// Options whose decoding checks their length or contents:
			// the chain decides what a malformed one gets.
			return false
		}
		rdata = rdata[4+l:]
	}
	e.present = true
	e.size = binary.BigEndian.Uint16(b[3:])
	e.do = binary.BigEndian.Uint16(b[7:])&flagDO != 0
	return true
}

// appendReply appends the reply's OPT record, as the chain's
// responseWriter makes it: our UDP size, the query's DO bit, and a server
// cookie for client when the query had a client cookie.
func (e *ednsQuery) appendReply(b []byte, client netip.Addr) []byte {
	rdlen := 0
	if e.cookie != nil {
		rdlen = 4 + clientCookieLen + serverCookieLen
	}
	var do byte
	if e.do {
		do = flagDO >> 8
	}
	b = append(b, 0, 0, byte(dns.TypeOPT), ednsSize>>8, ednsSize&0xFF, 0, 0, do, 0, 0, byte(rdlen))
	if e.cookie != nil {
		b = append(b, 0, dns.EDNS0COOKIE, 0, clientCookieLen+serverCookieLen)
		b = append(b, e.cookie...)
		b = appendServerCookie(b, cookieSecret, e.cookie, client.Unmap(), uint32(time.Now().Unix()))
	}
	return b
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
// question ends in reply, optAt where its OPT record starts (-1: none).
func (c *packetChain) limit(reply []byte, q *plugin.Packet, r plugin.PacketReply, questionEnd, optAt int) []byte {
	c.once.Do(func() { c.resolve() })
	for _, l := range c.limits {
		switch l(q, r) {
		case plugin.PacketDrop:
			return reply[:0]
		case plugin.PacketSlip:
			return slipPacket(reply, questionEnd, optAt)
		}
	}
	return reply
}

// slipPacket cuts reply to its header and question, and the OPT record
// (which ends it) when it has one at optAt, and sets TC, in place: the
// empty truncated reply that sends a client over to TCP. The chain's slip
// (rrl's) makes the same reply.
func slipPacket(reply []byte, questionEnd, optAt int) []byte {
	const flagTC = 1 << 9
	var extra uint16
	out := reply[:questionEnd]
	if optAt >= 0 {
		out, extra = append(out, reply[optAt:]...), 1
	}
	binary.BigEndian.PutUint16(out[2:], binary.BigEndian.Uint16(out[2:])|flagTC)
	binary.BigEndian.PutUint16(out[6:], 0)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], extra)
	return out
}
