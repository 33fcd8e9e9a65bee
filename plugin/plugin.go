// Package plugin defines what every tpdns plugin shares: the Handler
// interface (the same method set as CoreDNS's, so a tpdns plugin can be
// wired into stock CoreDNS), the helpers a handler uses to hand a query on,
// and the directive table the server builds its chains from.
package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Handler answers a query or hands it to the next handler in its chain.
//
// ServeDNS returns the response code and an error. When the code is one the
// client has not been sent yet (see ClientWrite), the server writes a reply
// with that code; otherwise the handler has written the reply itself.
type Handler interface {
	ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error)
	Name() string
}

// HandlerFunc adapts an ordinary function to a Handler named "handlerfunc".
type HandlerFunc func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error)

// ServeDNS calls f.
func (f HandlerFunc) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	return f(ctx, w, r)
}

// Name implements Handler.
func (f HandlerFunc) Name() string { return "handlerfunc" }

// Plugin builds a handler that passes what it does not answer to next. A
// directive's setup returns one; the server calls it once per zone the
// server block serves.
type Plugin func(next Handler) Handler

// ErrNoNextPlugin is returned by NextOrFailure at the end of a chain.
var ErrNoNextPlugin = errors.New("no next plugin found")

// NextOrFailure hands the query to next, or answers SERVFAIL when the chain
// ends here. name is the calling plugin's, used in the error.
func NextOrFailure(name string, next Handler, ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if next == nil {
		return dns.RcodeServerFailure, Error(name, ErrNoNextPlugin)
	}
	return next.ServeDNS(ctx, w, r)
}

// ClientWrite reports whether a handler that returned rcode has already
// written its reply. For SERVFAIL, REFUSED, FORMERR and NOTIMP it has not:
// the server writes that reply.
func ClientWrite(rcode int) bool {
	switch rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeFormatError, dns.RcodeNotImplemented:
		return false
	}
	return true
}

// Error prefixes err with the plugin's name, as CoreDNS does:
// "plugin/log: ...".
func Error(name string, err error) error {
	return fmt.Errorf("plugin/%s: %w", name, err)
}
