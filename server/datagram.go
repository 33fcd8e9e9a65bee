package server

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// serveDatagram answers the query in datagram q through the chain, as
// miekg/dns's server does: no reply to what is not a query (any reply
// could be used to amplify), FORMERR or NOTIMP to what its MsgAcceptFunc
// rejects, FORMERR to what does not decode.
func (s *Server) serveDatagram(q []byte, w dns.ResponseWriter) {
	if len(q) < headerLen {
		return
	}
	h := dns.Header{
		Id:      binary.BigEndian.Uint16(q),
		Bits:    binary.BigEndian.Uint16(q[2:]),
		Qdcount: binary.BigEndian.Uint16(q[4:]),
		Ancount: binary.BigEndian.Uint16(q[6:]),
		Nscount: binary.BigEndian.Uint16(q[8:]),
		Arcount: binary.BigEndian.Uint16(q[10:]),
	}
	req := new(dns.Msg)
	action := dns.DefaultMsgAcceptFunc(h)
	switch action {
	case dns.MsgIgnore:
		return
	case dns.MsgAccept:
		// A message that does not decode keeps what was read before the
		// error, the question included, and the FORMERR echoes it.
		if req.Unpack(q) == nil {
			s.serveDNS(w, req)
			return
		}
	default:
		req.MsgHdr = msgHdr(h.Id, h.Bits)
	}
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode, req.Rcode = opcode, dns.RcodeNotImplemented
	}
	req.Answer, req.Ns, req.Extra = nil, nil, nil
	_ = w.WriteMsg(req) // a client that went away needs no reply
}

// msgHdr decodes a header's ID and flags (RFC 1035 section 4.1.1).
func msgHdr(id, bits uint16) dns.MsgHdr {
	return dns.MsgHdr{
		Id:                 id,
		Response:           bits&flagQR != 0,
		Opcode:             int(bits>>11) & 0xF,
		Authoritative:      bits&flagAA != 0,
		Truncated:          bits&(1<<9) != 0,
		RecursionDesired:   bits&flagRD != 0,
		RecursionAvailable: bits&(1<<7) != 0,
		Zero:               bits&(1<<6) != 0,
		AuthenticatedData:  bits&(1<<5) != 0,
		CheckingDisabled:   bits&flagCD != 0,
		Rcode:              int(bits & 0xF),
	}
}
