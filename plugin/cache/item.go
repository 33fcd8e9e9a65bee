package cache

import (
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// kind is the LRU a reply is kept in, and the type label of its metrics.
type kind int

const (
	success kind = iota // NOERROR with data, and delegations
	denial              // NXDOMAIN, NODATA, and SERVFAIL
	kinds
)

func (k kind) String() string {
	if k == success {
		return "success"
	}
	return "denial"
}

// key says which queries a reply answers. The DO and CD bits are part of
// it because they change what an upstream resolver answers.
type key struct {
	name   string // lower case
	qtype  uint16
	qclass uint16
	do, cd bool
}

func keyOf(r *dns.Msg) key {
	q := r.Question[0]
	k := key{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: r.CheckingDisabled}
	if opt := r.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

// item is a reply as kept. Its records are copies no one modifies, with
// TTLs no longer than the item's, so that a client never keeps a record
// longer than the cache would.
type item struct {
	kind              kind
	hdr               dns.MsgHdr
	answer, ns, extra []dns.RR
	stored            time.Time
	ttl               time.Duration // whole seconds

	// view holds the records as last served: they change once a second,
	// and every hit in that second shares them.
	view atomic.Pointer[view]

	// Popularity, for prefetch: hits in a row, each within the prefetch
	// duration of the one before, and the time of the last (Unix ns).
	hits    atomic.Int64
	lastHit atomic.Int64
}

// view is an item's records with their TTLs lowered by age seconds.
type view struct {
	age               uint32
	answer, ns, extra []dns.RR
}

// newItem makes the item that keeps m, the reply to req, or returns nil
// when m is not to be kept. dropped reports a reply that does not answer
// req at all.
func (s *store) newItem(req, m *dns.Msg) (i *item, dropped bool) {
	if !answers(req, m) {
		return nil, true
	}
	if m.Truncated {
		return nil, false
	}
	kind, ttl := s.classify(m)
	ttl = ttl.Truncate(time.Second)
	if ttl <= 0 || inZones(s.kindConfig(kind).disabled, strings.ToLower(req.Question[0].Name)) {
		return nil, false
	}
	secs := uint32(ttl / time.Second)
	i = &item{
		kind:   kind,
		hdr:    m.MsgHdr,
		answer: keepRRs(m.Answer, secs),
		ns:     keepRRs(m.Ns, secs),
		extra:  keepRRs(m.Extra, secs),
		stored: s.now(),
		ttl:    ttl,
	}
	i.view.Store(&view{answer: i.answer, ns: i.ns, extra: i.extra})
	return i, false
}

func (s *store) kindConfig(k kind) kindConfig {
	if k == success {
		return s.success
	}
	return s.denial
}

// classify returns the kind of m and how long it may be kept; 0 when it
// is not to be kept.
func (s *store) classify(m *dns.Msg) (kind, time.Duration) {
	soa := soaOf(m.Ns)
	switch m.Rcode {
	case dns.RcodeSuccess:
		if len(m.Answer) > 0 || soa == nil && hasNS(m.Ns) {
			return success, clamp(minTTL(m), s.success)
		}
		if soa != nil {
			return denial, clamp(negativeTTL(soa), s.denial)
		}
	case dns.RcodeNameError:
		// Without a SOA there is no negative TTL (RFC 2308, section 5).
		if soa != nil {
			return denial, clamp(negativeTTL(soa), s.denial)
		}
	case dns.RcodeServerFailure:
		return denial, s.failTTL
	}
	return success, 0
}

// clamp raises ttl to the minimum TTL of kc, then caps it at the maximum.
func clamp(ttl time.Duration, kc kindConfig) time.Duration {
	return min(max(ttl, kc.minTTL), kc.maxTTL)
}

// minTTL returns the lowest TTL of m's records.
func minTTL(m *dns.Msg) time.Duration {
	lowest := uint32(math.MaxUint32)
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if h := rr.Header(); kept(h.Rrtype) {
				lowest = min(lowest, h.Ttl)
			}
		}
	}
	return time.Duration(lowest) * time.Second
}

// negativeTTL is the TTL of a denial (RFC 2308, section 5).
func negativeTTL(soa *dns.SOA) time.Duration {
	return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
}

func soaOf(ns []dns.RR) *dns.SOA {
	for _, rr := range ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

func hasNS(ns []dns.RR) bool {
	for _, rr := range ns {
		if rr.Header().Rrtype == dns.TypeNS {
			return true
		}
	}
	return false
}

// kept reports whether records of type t are kept with a reply: OPT and
// TSIG belong to one message, and the server adds its own OPT.
func kept(t uint16) bool { return t != dns.TypeOPT && t != dns.TypeTSIG }

// answers reports whether m is a reply to req's question.
func answers(req, m *dns.Msg) bool {
	if !m.Response || len(m.Question) != 1 {
		return false
	}
	q, a := req.Question[0], m.Question[0]
	return a.Qtype == q.Qtype && a.Qclass == q.Qclass && strings.EqualFold(a.Name, q.Name)
}

// keepRRs copies the records to keep, with TTLs at most ttl.
func keepRRs(rrs []dns.RR, ttl uint32) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if !kept(rr.Header().Rrtype) {
			continue
		}
		rr = dns.Copy(rr)
		rr.Header().Ttl = min(rr.Header().Ttl, ttl)
		out = append(out, rr)
	}
	return out
}

// servfail reports whether i keeps a SERVFAIL.
func (i *item) servfail() bool { return i.hdr.Rcode == dns.RcodeServerFailure }

// hit counts a hit at now and returns the hits in a row, each no more than
// window after the one before (as CoreDNS counts them).
func (i *item) hit(now time.Time, window time.Duration) int {
	t := now.UnixNano()
	last := i.lastHit.Swap(t)
	if last == 0 || t-last > int64(window) {
		i.hits.Store(1)
		return 1
	}
	return int(i.hits.Add(1))
}

// reply builds the answer to r from i, age seconds after it was stored:
// the stored header with r's ID, the question as r asked it, and records
// shared with the other replies of that second. Only the slices are new,
// so the server may trim or extend them.
func (i *item) reply(r *dns.Msg, do bool, age uint32) *dns.Msg {
	v := i.at(age)
	m := &dns.Msg{MsgHdr: i.hdr, Question: r.Question}
	m.Id = r.Id
	m.Opcode = r.Opcode
	m.Response = true
	m.Authoritative = false // a cache is not the authority
	m.Truncated = false
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	m.AuthenticatedData = i.hdr.AuthenticatedData && (do || r.AuthenticatedData)

	if n := len(v.answer) + len(v.ns) + len(v.extra); n > 0 {
		rrs := make([]dns.RR, n)
		a := copy(rrs, v.answer)
		b := a + copy(rrs[a:], v.ns)
		copy(rrs[b:], v.extra)
		m.Answer, m.Ns, m.Extra = section(rrs[:a:a]), section(rrs[a:b:b]), section(rrs[b:])
	}
	return m
}

func section(rrs []dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	return rrs
}

// at returns i's records age seconds after it was stored.
func (i *item) at(age uint32) *view {
	v := i.view.Load()
	if v.age == age {
		return v
	}
	nv := &view{age: age, answer: aged(i.answer, age), ns: aged(i.ns, age), extra: aged(i.extra, age)}
	if age > v.age { // a query that was slow to get here must not bring back younger TTLs
		i.view.Store(nv)
	}
	return nv
}

// aged copies rrs with their TTLs lowered by age, down to 0.
func aged(rrs []dns.RR, age uint32) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	out := make([]dns.RR, len(rrs))
	for j, rr := range rrs {
		out[j] = dns.Copy(rr)
		h := out[j].Header()
		h.Ttl -= min(h.Ttl, age)
	}
	return out
}
