package thirdparty

import (
	"strings"

	"github.com/miekg/dns"
)

// inQuestionCase gives each owner name in m that ends in a suffix of the
// question's name (a whole number of labels) that suffix in the case the
// client asked in, qname: the answer to "Web.TP.internal." is owned by
// "Web.TP.internal.", its SOA by "TP.internal.", as Knot and BIND answer
// a query in mixed case (DNS 0x20) and as the packet path does, whose
// records point at the question. The records of the views, and some of
// their slices, are shared: what it renames is copied.
func inQuestionCase(m *dns.Msg, qname string) {
	for _, section := range []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra} {
		renamed := false
		for i, rr := range *section {
			owner := rr.Header().Name
			named := withCaseOf(owner, qname)
			if named == owner {
				continue
			}
			if !renamed {
				*section, renamed = append([]dns.RR(nil), *section...), true
			}
			rr = dns.Copy(rr)
			rr.Header().Name = named
			(*section)[i] = rr
		}
	}
}

// withCaseOf returns name with its longest suffix that is also a suffix of
// qname, label for label and ignoring case, in qname's case.
func withCaseOf(name, qname string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		suffix := qname[off:]
		if len(suffix) > len(name) {
			continue
		}
		start := len(name) - len(suffix)
		if (start == 0 || name[start-1] == '.') && strings.EqualFold(name[start:], suffix) {
			if name[start:] == suffix {
				return name
			}
			return name[:start] + suffix
		}
	}
	return name
}
