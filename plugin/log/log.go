// Package log implements the log directive: one line per query, in
// CoreDNS's format, for the names and response classes chosen.
package log

import (
	"context"
	stdlog "log"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// Logger logs the queries that match one of its Rules and the replies Next
// gives them.
type Logger struct {
	Next  plugin.Handler
	Rules []Rule
	// out writes the lines from a goroutine of its own; without one, each
	// line is printed at once.
	out *lineWriter
}

// Rule logs the queries for names under Zone whose reply is in one of its
// classes.
type Rule struct {
	Zone    string
	format  format
	classes class
}

// ServeDNS implements plugin.Handler.
func (l *Logger) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	rule := l.match(r.Question[0].Name)
	if rule == nil {
		return plugin.NextOrFailure(l.Name(), l.Next, ctx, w, r)
	}
	rec := &recorder{ResponseWriter: w, start: time.Now()}
	rcode, err := plugin.NextOrFailure(l.Name(), l.Next, ctx, rec, r)
	if !plugin.ClientWrite(rcode) && rec.msg == nil {
		// The server writes this reply after us: log it as CoreDNS's log
		// does, as the bare reply with that rcode (without the OPT record
		// the server adds).
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		rec.msg, rec.rcode, rec.size = m, rcode, m.Len()
	}
	if rule.classes&classify(rec.msg) != 0 {
		line := rule.format.line(rec, r)
		l.write(func(b []byte) []byte { return append(append(b, "[INFO] "...), line...) })
	}
	return rcode, err
}

// write writes the line that line appends to a buffer.
func (l *Logger) write(line func(b []byte) []byte) {
	if l.out == nil {
		_, _ = stdlog.Writer().Write(newline(line(appendHeader(nil))))
		return
	}
	l.out.appendLine(line)
}

// Name implements plugin.Handler.
func (l *Logger) Name() string { return "log" }

func (l *Logger) match(name string) *Rule {
	for i := range l.Rules {
		if dns.IsSubDomain(l.Rules[i].Zone, name) {
			return &l.Rules[i]
		}
	}
	return nil
}

// recorder remembers the reply written through it, as CoreDNS's
// dnstest.Recorder: the size is the message's as the plugin wrote it,
// before the server's writer adds the OPT record or truncates it (the
// flags, read after, are as sent); replies written more than once (a zone
// transfer) add up.
type recorder struct {
	dns.ResponseWriter
	start time.Time
	msg   *dns.Msg
	rcode int
	size  int
}

// WriteMsg implements dns.ResponseWriter.
func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.msg, r.rcode, r.size = m, m.Rcode, r.size+m.Len()
	return r.ResponseWriter.WriteMsg(m)
}

// Write implements dns.ResponseWriter.
func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	if err == nil {
		r.size += n
	}
	if m := new(dns.Msg); m.Unpack(b) == nil {
		r.msg, r.rcode = m, m.Rcode
	}
	return n, err
}

// class is a set of response classes, as in CoreDNS.
type class uint8

const (
	classSuccess class = 1 << iota
	classDenial
	classError
	classAll = classSuccess | classDenial | classError
)

var classNames = map[string]class{"all": classAll, "success": classSuccess, "denial": classDenial, "error": classError}

// classify sorts a reply as CoreDNS's response.Typify and Classify do:
// NOERROR with answers, or a referral, or neither answers nor SOA, is a
// success; NXDOMAIN without answers and NOERROR with an SOA and no answers
// (NODATA) are denials; anything else is an error, zone transfers, updates
// and NOTIFY included, and no reply at all.
func classify(m *dns.Msg) class {
	if m == nil || m.Opcode == dns.OpcodeUpdate || m.Opcode == dns.OpcodeNotify {
		return classError
	}
	if len(m.Question) > 0 && (m.Question[0].Qtype == dns.TypeAXFR || m.Question[0].Qtype == dns.TypeIXFR) {
		return classError
	}
	if len(m.Answer) > 0 {
		if m.Rcode == dns.RcodeSuccess {
			return classSuccess
		}
		if m.Rcode == dns.RcodeNameError {
			return classError
		}
	}
	soa := false
	for _, rr := range m.Ns {
		soa = soa || rr.Header().Rrtype == dns.TypeSOA
	}
	switch {
	case m.Rcode == dns.RcodeSuccess && soa, m.Rcode == dns.RcodeNameError:
		return classDenial
	case m.Rcode == dns.RcodeSuccess:
		return classSuccess
	}
	return classError
}
