package log

import (
	"encoding/binary"
	"strconv"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// The packet path's log lines: made from the query and the reply as sent,
// the same lines ServeDNS writes for them.

// CheckPackets implements plugin.PacketChecker: a line with {local} (the
// address the query came to, which the packet path does not tell) is
// written by ServeDNS.
func (l *Logger) CheckPackets(server, zone string) plugin.PacketCheck {
	local := false
	for _, r := range l.Rules {
		local = local || r.format.has("{local}")
	}
	if !local {
		return nil
	}
	return func(q *plugin.Packet) bool {
		r := l.matchBytes(q.Name)
		return r == nil || !r.format.has("{local}")
	}
}

// PassPackets implements plugin.PacketPasser.
func (l *Logger) PassPackets(server, zone string) plugin.PacketObserver {
	return func(o plugin.PacketObserved) {
		var buf [256]byte
		q, ok := readQuery(o.Query, buf[:0])
		if !ok {
			return
		}
		rule := l.matchBytes(q.name)
		if rule == nil || rule.classes&classifyPacket(o.Reply) == 0 {
			return
		}
		l.write(func(b []byte) []byte {
			b = append(b, "[INFO] "...)
			return rule.format.appendPacket(b, &o, &q)
		})
	}
}

func (l *Logger) matchBytes(name []byte) *Rule {
	for i := range l.Rules {
		if plugin.InZone(l.Rules[i].Zone, name) {
			return &l.Rules[i]
		}
	}
	return nil
}

// has reports whether f has placeholder p.
func (f format) has(p string) bool {
	for _, seg := range f {
		if seg.placeholder == p {
			return true
		}
	}
	return false
}

// packetQuery is what a log line tells of a query the packet path
// answered.
type packetQuery struct {
	name    []byte // in lower case
	qtype   uint16
	do      bool
	bufsize int
}

// readQuery reads a query the packet path answered: its name (in b's
// memory), type and EDNS0. The packet path took it, so its name is
// uncompressed, without escapes, and at most one OPT record follows the
// question.
func readQuery(q []byte, b []byte) (packetQuery, bool) {
	pq := packetQuery{bufsize: dns.MinMsgSize}
	off := 12
	for off < len(q) && q[off] != 0 {
		l := int(q[off])
		if off+1+l > len(q) {
			return pq, false
		}
		for _, c := range q[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		b = append(b, '.')
		off += 1 + l
	}
	if len(b) == 0 {
		b = append(b, '.')
	}
	off++
	if off+4 > len(q) {
		return pq, false
	}
	pq.name, pq.qtype = b, binary.BigEndian.Uint16(q[off:])
	off += 4
	if opt := q[off:]; len(opt) >= 11 {
		pq.bufsize = max(int(binary.BigEndian.Uint16(opt[3:])), dns.MinMsgSize)
		pq.do = opt[7]&0x80 != 0
	}
	return pq, true
}

// classifyPacket is classify for a reply the packet path made: its
// authority section, when it has one, is the zone's SOA.
func classifyPacket(reply []byte) class {
	if len(reply) < 12 {
		return classError // held back
	}
	rcode := int(reply[3] & 0xF)
	answers, authority := binary.BigEndian.Uint16(reply[6:]), binary.BigEndian.Uint16(reply[8:])
	switch {
	case answers > 0 && rcode == dns.RcodeSuccess:
		return classSuccess
	case answers > 0 && rcode == dns.RcodeNameError:
		return classError
	case rcode == dns.RcodeNameError, rcode == dns.RcodeSuccess && authority > 0:
		return classDenial
	case rcode == dns.RcodeSuccess:
		return classSuccess
	}
	return classError
}

// appendPacket appends the line for the reply o to q.
func (f format) appendPacket(b []byte, o *plugin.PacketObserved, q *packetQuery) []byte {
	for _, seg := range f {
		if seg.placeholder == "" {
			b = append(b, seg.literal...)
			continue
		}
		b = appendPacketValue(b, seg.placeholder, o, q)
	}
	return b
}

func appendPacketValue(b []byte, p string, o *plugin.PacketObserved, q *packetQuery) []byte {
	switch p {
	case "{type}":
		if s, ok := dns.TypeToString[q.qtype]; ok {
			return append(b, s...)
		}
		return strconv.AppendUint(append(b, "TYPE"...), uint64(q.qtype), 10)
	case "{name}":
		return append(b, q.name...)
	case "{class}":
		return append(b, "IN"...)
	case "{proto}":
		return append(b, "udp"...)
	case "{remote}":
		a := o.Client.Addr()
		if a.Is6() {
			return append(a.AppendTo(append(b, '[')), ']')
		}
		return a.AppendTo(b)
	case "{port}":
		return strconv.AppendUint(b, uint64(o.Client.Port()), 10)
	case "{size}":
		return strconv.AppendInt(b, int64(len(o.Query)), 10)
	case "{>id}":
		return strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(o.Query)), 10)
	case "{>opcode}":
		return append(b, '0')
	case "{>do}":
		return strconv.AppendBool(b, q.do)
	case "{>bufsize}":
		return strconv.AppendInt(b, int64(q.bufsize), 10)
	case "{rcode}":
		if len(o.Reply) < 12 {
			return append(b, '-')
		}
		return append(b, dns.RcodeToString[int(o.Reply[3]&0xF)]...)
	case "{rsize}":
		return strconv.AppendInt(b, int64(uncompressedLen(o.Reply)), 10)
	case "{duration}":
		return append(strconv.AppendFloat(b, o.Took.Seconds(), 'f', -1, 64), 's')
	case "{>rflags}":
		if len(o.Reply) < 12 {
			return append(b, '-')
		}
		return appendFlags(b, binary.BigEndian.Uint16(o.Reply[2:]))
	}
	return append(b, '-')
}

// appendFlags appends the header flags of a reply, as flags lists them.
func appendFlags(b []byte, bits uint16) []byte {
	start := len(b)
	for _, f := range [...]struct {
		bit  uint16
		name string
	}{
		{1 << 15, "qr"}, {1 << 10, "aa"}, {1 << 9, "tc"}, {1 << 8, "rd"},
		{1 << 7, "ra"}, {1 << 6, "z"}, {1 << 5, "ad"}, {1 << 4, "cd"},
	} {
		if bits&f.bit != 0 {
			if len(b) > start {
				b = append(b, ',')
			}
			b = append(b, f.name...)
		}
	}
	return b
}

// uncompressedLen is the length of reply without its OPT record and with
// every name written in full: what ServeDNS logs as {rsize}, the length of
// the message the plugin wrote, before the server compressed it and added
// the OPT record. In a reply the packet path made only owner names are
// compressed.
func uncompressedLen(reply []byte) int {
	if len(reply) < 12 {
		return 0
	}
	records := int(binary.BigEndian.Uint16(reply[6:])) + int(binary.BigEndian.Uint16(reply[8:])) + int(binary.BigEndian.Uint16(reply[10:]))
	off, n := 12, 12
	nameLen, end := expandedName(reply, off)
	if end < 0 {
		return len(reply)
	}
	off, n = end+4, n+nameLen+4
	for range records {
		nameLen, end := expandedName(reply, off)
		if end < 0 || end+10 > len(reply) {
			return len(reply)
		}
		rdlen := int(binary.BigEndian.Uint16(reply[end+8:]))
		if binary.BigEndian.Uint16(reply[end:]) != dns.TypeOPT {
			n += nameLen + 10 + rdlen
		}
		off = end + 10 + rdlen
	}
	return n
}

// expandedName returns the length in full of the name at off in msg, and
// where it ends there; end is -1 for a name that does not read.
func expandedName(msg []byte, off int) (n, end int) {
	end = -1
	for hops := 0; off < len(msg); {
		l := int(msg[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return n + 1, end
		case l&0xC0 == 0xC0:
			if off+1 >= len(msg) || hops > 10 {
				return 0, -1
			}
			if end < 0 {
				end = off + 2
			}
			off, hops = int(binary.BigEndian.Uint16(msg[off:])&0x3FFF), hops+1
		default:
			n += 1 + l
			off += 1 + l
		}
	}
	return 0, -1
}
