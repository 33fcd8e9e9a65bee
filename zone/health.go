package zone

import (
	"fmt"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// healthOwner is the label before a service's name that tells its
// endpoints' health.
const healthOwner = "_health."

// EndpointHealth is what _health.S.Z tells of one endpoint.
type EndpointHealth struct {
	// State is healthy, unhealthy, unknown or disabled.
	State string
	// Checked is when it was last probed; zero before the first probe.
	Checked time.Time
	// Error is why the last probe failed; "" when it did not.
	Error string
}

// maxTXTString is the longest character-string a TXT record holds.
const maxTXTString = 255

// health answers _health.S.Z: one TXT record per endpoint, its strings
// address=, port= (its own port only), state=, checked= (once probed) and
// error= (when there is one), made when asked since they change with every
// probe.
func (v *View) health(s *service, q Query, m *dns.Msg) {
	if q.Type != dns.TypeTXT {
		return
	}
	def := s.def
	h := dns.RR_Header{Name: healthOwner + s.owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: healthTTL(def, s.ttl)}
	for i, ep := range def.Endpoints {
		eh := EndpointHealth{State: "unknown"}
		if v.opts.Health != nil {
			eh = v.opts.Health(def, i)
		}
		strs := []string{"address=" + ep.Address}
		if ep.Port != 0 {
			strs = append(strs, "port="+strconv.Itoa(int(ep.Port)))
		}
		strs = append(strs, "state="+eh.State)
		if !eh.Checked.IsZero() {
			strs = append(strs, "checked="+eh.Checked.UTC().Format(time.RFC3339))
		}
		if eh.Error != "" {
			strs = append(strs, txtString("error="+eh.Error))
		}
		m.Answer = append(m.Answer, &dns.TXT{Hdr: h, Txt: strs})
	}
}

// txtString is s in miekg/dns's presentation form (a backslash starts an
// escape), cut to what one character-string holds.
func txtString(s string) string {
	if len(s) > maxTXTString {
		s = s[:maxTXTString]
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b = append(b, '\\', c)
		case c < ' ' || c > '~':
			b = fmt.Appendf(b, "\\%03d", c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// addEDE adds ede to the OPT record of m, which it adds when m has none.
func addEDE(m *dns.Msg, ede *dns.EDNS0_EDE) {
	opt := m.IsEdns0()
	if opt == nil {
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(dns.MinMsgSize)
		m.Extra = append(m.Extra, opt)
	}
	opt.Option = append(opt.Option, ede)
}

// healthAnswer reports whether a query of qtype at a node of kind gets an
// answer that follows health, and so the records' ede.
func healthAnswer(kind kind, qtype uint16) bool {
	switch kind {
	case kindService, kindPort, kindEndpoint, kindInstance:
		return qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeSRV || qtype == dns.TypeCNAME
	}
	return false
}
