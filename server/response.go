package server

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size tpdns advertises in its OPT records: the
// value the DNS flag day 2020 settled on, which avoids IP fragmentation.
// It is also the most tpdns sends in one datagram, whatever size the client
// advertises: a reply that is larger is truncated (TC set) and the client
// asks again over TCP. Larger UDP replies would only fragment, and make
// tpdns a better amplifier for queries with a spoofed source.
const ednsSize = 1232

// maxMACLen is the longest MAC of a TSIG record, HMAC-SHA512's.
const maxMACLen = 64

// responseWriter is the one place every reply passes through on its way
// out, whichever plugin wrote it. It makes the reply fit the transport:
// an OPT record when the query had one (and none when it did not), with
// the server's cookie when the query had a client cookie, and on UDP
// truncation to the client's buffer size, ednsSize at most, with TC set.
type responseWriter struct {
	dns.ResponseWriter
	req *dns.Msg
	// cookie is the query's client cookie; nil when it had none.
	cookie  []byte
	written bool
}

// WriteMsg implements dns.ResponseWriter.
func (w *responseWriter) WriteMsg(m *dns.Msg) error {
	w.written = true
	// A TSIG record must stay last (RFC 8945 section 5.3), after the OPT
	// record, and its MAC, added when it is signed, must fit.
	sig := m.IsTsig()
	if sig != nil {
		m.Extra = m.Extra[:len(m.Extra)-1]
	}
	if reqOpt := w.req.IsEdns0(); reqOpt != nil {
		opt := m.IsEdns0()
		if opt == nil {
			opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			m.Extra = append(m.Extra, opt)
		}
		opt.SetUDPSize(ednsSize)
		opt.SetDo(reqOpt.Do())
		w.setCookie(opt)
	} else {
		removeOPT(m)
	}
	limit := w.limit()
	if sig != nil {
		limit -= dns.Len(sig) + maxMACLen
	}
	m.Truncate(limit)
	// Truncate turns compression off for a reply that fits without it,
	// which over TCP is nearly every reply.
	m.Compress = true
	if sig != nil {
		m.Extra = append(m.Extra, sig)
	}
	return w.ResponseWriter.WriteMsg(m)
}

// limit is the most the reply may take: over UDP the client's buffer size
// (512 without EDNS0, at least 512 with it), ednsSize at most.
func (w *responseWriter) limit() int {
	if !isUDP(w.ResponseWriter) {
		return dns.MaxMsgSize
	}
	if opt := w.req.IsEdns0(); opt != nil {
		return min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsSize)
	}
	return dns.MinMsgSize
}

// setCookie puts the client's cookie and ours in opt in place of any
// COOKIE option a plugin copied from elsewhere (an upstream's reply).
func (w *responseWriter) setCookie(opt *dns.OPT) {
	n := 0
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0COOKIE {
			n++
		}
	}
	if n == 0 && w.cookie == nil {
		return
	}
	// A new slice: the options may be shared with a message a plugin
	// keeps.
	options := make([]dns.EDNS0, 0, len(opt.Option)-n+1)
	for _, o := range opt.Option {
		if o.Option() != dns.EDNS0COOKIE {
			options = append(options, o)
		}
	}
	if w.cookie != nil {
		cookie := append(make([]byte, 0, clientCookieLen+serverCookieLen), w.cookie...)
		cookie = appendServerCookie(cookie, cookieSecret, w.cookie, clientAddr(w.RemoteAddr()), uint32(time.Now().Unix()))
		options = append(options, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(cookie)})
	}
	opt.Option = options
}

// Write implements dns.ResponseWriter. Raw writes pass through as they are,
// but for a UDP reply over the limit, which is decoded and truncated as
// WriteMsg would.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.written = true
	if isUDP(w.ResponseWriter) && len(b) > w.limit() {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return 0, fmt.Errorf("a reply of %d bytes, over the UDP limit, does not decode: %w", len(b), err)
		}
		return len(b), w.WriteMsg(m)
	}
	return w.ResponseWriter.Write(b)
}

func isUDP(w dns.ResponseWriter) bool {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	return !tcp
}

// clientAddr is the IP address of a client's net.Addr, IPv4 unmapped.
func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
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
