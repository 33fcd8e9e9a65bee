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
		// The server writes this reply after us: log what it will be.
		rec.rcode = rcode
	}
	if rule.classes&classify(rec) != 0 {
		stdlog.Print("[INFO] " + rule.format.line(rec, r))
	}
	return rcode, err
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

// recorder remembers the reply written through it.
type recorder struct {
	dns.ResponseWriter
	start time.Time
	msg   *dns.Msg
	rcode int
	size  int
}

// WriteMsg implements dns.ResponseWriter.
func (r *recorder) WriteMsg(m *dns.Msg) error {
	err := r.ResponseWriter.WriteMsg(m)
	r.msg, r.rcode, r.size = m, m.Rcode, m.Len()
	return err
}

// Write implements dns.ResponseWriter.
func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.size = n
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

// classify sorts a reply: NXDOMAIN and NODATA are denials, other NOERROR
// replies successes, every other code an error.
func classify(rec *recorder) class {
	switch rec.rcode {
	case dns.RcodeNameError:
		return classDenial
	case dns.RcodeSuccess:
		if rec.msg != nil && len(rec.msg.Answer) == 0 && !isDelegation(rec.msg) {
			return classDenial
		}
		return classSuccess
	}
	return classError
}

func isDelegation(m *dns.Msg) bool {
	for _, rr := range m.Ns {
		if rr.Header().Rrtype == dns.TypeNS {
			return true
		}
	}
	return false
}
