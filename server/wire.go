package server

import (
	"encoding/binary"
	"errors"
	"log"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// serveWire answers the query in wire form q, from a datagram or a TCP
// connection, through the chain. It decides what the chain never sees,
// as miekg/dns's server would but stricter: no reply to what is not a
// query (any reply could be used to amplify), NOTIMP to every opcode but
// QUERY (NOTIFY and UPDATE included: tpdns takes no zone transfers or
// updates, and a forwarding chain must not pass them upstream), FORMERR
// to a header miekg/dns rejects and to a message that does not decode or
// holds fewer records than its header counts (miekg/dns stops reading
// there without an error, so ARCOUNT 1 with no OPT record would pass as a
// query without EDNS; Knot and BIND answer FORMERR).
func (s *Server) serveWire(q []byte, w dns.ResponseWriter) {
	s = s.current()
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
	action := acceptMsg(h)
	switch action {
	case dns.MsgIgnore:
		return
	case dns.MsgAccept:
		// A message that does not decode keeps what was read before the
		// error, the question included, and the FORMERR echoes it.
		if req.Unpack(q) == nil && complete(req, h) {
			s.serveDNS(s.verify(q, req, w), req)
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

// acceptMsg is miekg/dns's DefaultMsgAcceptFunc, but NOTIMP for every
// opcode other than QUERY, and it lets through a query with no question
// and only additional records: RFC 7873 section 5.4's request for a server
// cookie, which serveDNS answers.
func acceptMsg(h dns.Header) dns.MsgAcceptAction {
	if h.Bits&flagQR != 0 {
		return dns.MsgIgnore
	}
	if int(h.Bits&maskOpcode>>11) != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if h.Qdcount == 0 && h.Ancount == 0 && h.Nscount == 0 && h.Arcount > 0 && h.Arcount <= 2 {
		return dns.MsgAccept
	}
	return dns.DefaultMsgAcceptFunc(h)
}

// complete reports whether m holds as many records as its header h counts.
func complete(m *dns.Msg, h dns.Header) bool {
	return len(m.Question) == int(h.Qdcount) && len(m.Answer) == int(h.Ancount) &&
		len(m.Ns) == int(h.Nscount) && len(m.Extra) == int(h.Arcount)
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

// verify checks the TSIG record of a signed query q (req decoded) with the
// listener's keys, and returns the writer that tells the chain the result
// (TsigStatus) and signs a reply that carries a TSIG record; w itself for
// an unsigned query. Without keys every signature is unknown (BADKEY).
func (s *Server) verify(q []byte, req *dns.Msg, w dns.ResponseWriter) dns.ResponseWriter {
	sig := req.IsTsig()
	if sig == nil {
		return w
	}
	tw := &tsigWriter{ResponseWriter: w, keys: s.tsig, requestMAC: sig.MAC, status: dns.ErrSecret}
	if s.tsig != nil {
		tw.status = dns.TsigVerifyWithProvider(q, s.tsig, "", false)
	}
	return tw
}

// tsigWriter is the writer of a signed query: it knows the result of the
// verification and signs the reply, as miekg/dns's server does.
type tsigWriter struct {
	dns.ResponseWriter
	keys       plugin.TSIGKeys
	requestMAC string
	status     error
}

// TsigStatus implements dns.ResponseWriter.
func (w *tsigWriter) TsigStatus() error { return w.status }

// WriteMsg implements dns.ResponseWriter: a reply with a TSIG record (the
// tsig plugin adds it) is signed with the query's key when the query's
// signature was good, or only its time was off (BADTIME); otherwise (an
// unknown key, a bad MAC, a record an upstream sent) the record goes out
// unsigned, with no MAC, as RFC 8945 section 5.3.2 says.
func (w *tsigWriter) WriteMsg(m *dns.Msg) error {
	sig := m.IsTsig()
	if sig == nil {
		return w.ResponseWriter.WriteMsg(m)
	}
	if w.status == nil || errors.Is(w.status, dns.ErrTime) {
		b, _, err := dns.TsigGenerateWithProvider(m, w.keys, w.requestMAC, false)
		if err == nil {
			_, err = w.ResponseWriter.Write(b)
			return err
		}
		log.Printf("[ERROR] signing a reply with TSIG key %s: %v; it goes unsigned", sig.Hdr.Name, err)
	}
	sig.MAC, sig.MACSize, sig.TimeSigned = "", 0, 0
	return w.ResponseWriter.WriteMsg(m)
}
