// Package tsig implements the tsig directive: TSIG (RFC 8945) keys, the
// verification of signed queries and the signing of their replies, and the
// query types or opcodes that must be signed. Its syntax is CoreDNS's.
package tsig

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// TSIG is the tsig plugin in one chain. The server has verified a signed
// query before the chain runs (w.TsigStatus), and signs the reply when it
// carries a TSIG record; the plugin decides what to answer.
type TSIG struct {
	zones      []string
	types      map[uint16]bool // must be signed
	opcodes    map[int]bool
	allTypes   bool
	allOpcodes bool
	Next       plugin.Handler
}

// Name implements plugin.Handler.
func (t *TSIG) Name() string { return "tsig" }

// ServeDNS implements plugin.Handler.
func (t *TSIG) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	q := r.Question[0]
	if plugin.MatchZone(t.zones, strings.ToLower(q.Name)) == "" {
		return plugin.NextOrFailure(t.Name(), t.Next, ctx, w, r)
	}
	sig := r.IsTsig()
	if sig == nil {
		if t.allTypes || t.types[q.Qtype] || t.allOpcodes || t.opcodes[r.Opcode] {
			requestsRefused.WithLabelValues(plugin.Server(ctx)).Inc()
			return dns.RcodeRefused, nil
		}
		return plugin.NextOrFailure(t.Name(), t.Next, ctx, w, r)
	}

	// The plugins after this one see the query without its TSIG record,
	// as in CoreDNS; the reply gets one back, which the server signs.
	r.Extra = r.Extra[:len(r.Extra)-1]
	sw := &signingWriter{ResponseWriter: w, req: sig}
	if err := w.TsigStatus(); err != nil {
		sw.status = tsigError(err)
		verifications.WithLabelValues(plugin.Server(ctx), dns.RcodeToString[sw.status]).Inc()
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotAuth)
		return dns.RcodeSuccess, sw.WriteMsg(m)
	}
	verifications.WithLabelValues(plugin.Server(ctx), "NOERROR").Inc()
	ctx = plugin.WithTSIGKey(ctx, strings.ToLower(sig.Hdr.Name))
	rcode, err := plugin.NextOrFailure(t.Name(), t.Next, ctx, sw, r)
	if !plugin.ClientWrite(rcode) {
		// The server would write this error unsigned: write it here.
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		return dns.RcodeSuccess, errors.Join(err, sw.WriteMsg(m))
	}
	return rcode, err
}

// tsigError is the TSIG error of a failed verification (RFC 8945 section
// 5.2): an unknown key or algorithm, a bad MAC, or a time outside the fudge.
func tsigError(err error) int {
	switch {
	case errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	}
	return dns.RcodeBadSig
}

// signingWriter puts a TSIG record at the end of the reply, for the
// server to sign: with the error of a failed verification, unsigned for
// BADKEY and BADSIG as RFC 8945 section 5.3.2 says.
type signingWriter struct {
	dns.ResponseWriter
	req    *dns.TSIG
	status int
}

// WriteMsg implements dns.ResponseWriter.
func (w *signingWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() == nil {
		rr := &dns.TSIG{
			Hdr:       dns.RR_Header{Name: w.req.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
			Algorithm: w.req.Algorithm,
			Fudge:     w.req.Fudge,
			OrigId:    m.Id,
			Error:     uint16(w.status),
		}
		rr.TimeSigned = uint64(time.Now().Unix())
		if w.status == dns.RcodeBadTime {
			// RFC 8945 section 5.2.3: the client's time signed, and the
			// server's time in the other data.
			rr.TimeSigned = w.req.TimeSigned
			b := make([]byte, 8)
			binary.BigEndian.PutUint64(b, uint64(time.Now().Unix()))
			rr.OtherData, rr.OtherLen = hex.EncodeToString(b[2:]), 6
		}
		m.Extra = append(m.Extra, rr)
	}
	return w.ResponseWriter.WriteMsg(m)
}
