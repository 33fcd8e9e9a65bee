package server

import (
	"net"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size tpdns advertises in its OPT records: the
// value the DNS flag day 2020 settled on, which avoids IP fragmentation.
const ednsSize = 1232

// responseWriter is the one place every reply passes through on its way
// out, whichever plugin wrote it. It makes the reply fit the transport:
// an OPT record when the query had one (and none when it did not), and on
// UDP truncation to the client's buffer size with TC set.
type responseWriter struct {
	dns.ResponseWriter
	req     *dns.Msg
	written bool
}

// WriteMsg implements dns.ResponseWriter.
func (w *responseWriter) WriteMsg(m *dns.Msg) error {
	w.written = true
	size := dns.MaxMsgSize
	if reqOpt := w.req.IsEdns0(); reqOpt != nil {
		opt := m.IsEdns0()
		if opt == nil {
			opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			m.Extra = append(m.Extra, opt)
		}
		opt.SetUDPSize(ednsSize)
		opt.SetDo(reqOpt.Do())
		if isUDP(w.ResponseWriter) {
			size = max(int(reqOpt.UDPSize()), dns.MinMsgSize)
		}
	} else {
		removeOPT(m)
		if isUDP(w.ResponseWriter) {
			size = dns.MinMsgSize
		}
	}
	m.Truncate(size)
	// Truncate turns compression off for a reply that fits without it,
	// which over TCP is nearly every reply.
	m.Compress = true
	return w.ResponseWriter.WriteMsg(m)
}

// Write implements dns.ResponseWriter; raw writes are passed through as
// they are, and the plugin that makes them is responsible for their size.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

func isUDP(w dns.ResponseWriter) bool {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	return !tcp
}

// removeOPT drops OPT records a plugin copied from elsewhere (an upstream
// reply) when the client did not use EDNS0 (RFC 6891 section 7).
func removeOPT(m *dns.Msg) {
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}
