package rrl

import (
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// kind is the kind of a response, as BIND's RRL tells them apart; each has
// its own allowance, and its own idea of which responses are identical.
type kind uint8

const (
	// kindAnswer is a response with records in its answer section.
	// Identical: same name and type.
	kindAnswer kind = iota
	// kindNodata is NOERROR with no answer (and no delegation).
	// Identical: same name, whatever the type.
	kindNodata
	// kindNXDomain is NXDOMAIN. Identical: same zone, whatever the name
	// and type, so that random names under a zone share one account.
	kindNXDomain
	// kindReferral is NOERROR with no answer and NS records in the
	// authority section. Identical: same delegation and type.
	kindReferral
	// kindError is every other rcode. Identical: all of them.
	kindError
	kinds
)

// String is the kind as the metrics' kind label shows it.
func (k kind) String() string {
	return [...]string{"response", "nodata", "nxdomain", "referral", "error"}[k]
}

// kindOf classifies a reply the chain wrote.
func kindOf(m *dns.Msg) kind {
	switch {
	case len(m.Answer) > 0:
		return kindAnswer
	case m.Rcode == dns.RcodeNameError:
		return kindNXDomain
	case m.Rcode != dns.RcodeSuccess:
		return kindError
	case len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS:
		return kindReferral
	}
	return kindNodata
}

// kindOfPacket classifies a reply the packet path made. It cannot see a
// delegation, which no packet answerer makes (thirdparty delegates
// nothing).
func kindOfPacket(r plugin.PacketReply) kind {
	switch {
	case r.Answer > 0:
		return kindAnswer
	case r.Rcode == dns.RcodeNameError:
		return kindNXDomain
	case r.Rcode != dns.RcodeSuccess:
		return kindError
	}
	return kindNodata
}
