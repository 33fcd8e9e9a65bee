package prometheus

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tpdns/tpdns/plugin"
)

// handles are the series of one server and zone. As in CoreDNS, a series
// exists once it has been used: each is made on its first observation and
// kept here, so that later queries find it by index, without a lookup by
// labels, a lock or an allocation.
type handles struct {
	server, zone string

	requests      [2][2][numTypes]atomic.Pointer[prometheus.Counter]  // by proto, family, type
	durations     [numTypes]atomic.Pointer[histogram]                 // by type
	responses     [len(rcodeNames)]atomic.Pointer[prometheus.Counter] // by rcode
	requestSizes  [2]atomic.Pointer[histogram]                        // by proto
	responseSizes [2]atomic.Pointer[histogram]                        // by proto
}

// The label values of proto and family, as CoreDNS's: by index, [0] for
// UDP and IPv4.
var (
	protoNames  = [2]string{"udp", "tcp"}
	familyNames = [2]string{"1", "2"}
)

// monitoredTypes are the query types CoreDNS counts by name; the others
// are "other", so that a client cannot make up label values.
var monitoredTypes = [...]uint16{
	dns.TypeAAAA, dns.TypeA, dns.TypeCNAME, dns.TypeDNSKEY, dns.TypeDS, dns.TypeMX, dns.TypeNSEC3,
	dns.TypeNSEC, dns.TypeNS, dns.TypePTR, dns.TypeRRSIG, dns.TypeSOA, dns.TypeSRV, dns.TypeTXT,
	dns.TypeHTTPS, dns.TypeSVCB, dns.TypeIXFR, dns.TypeAXFR, dns.TypeANY,
}

// numTypes is how many values the type label has: the monitored types and
// "other".
const numTypes = len(monitoredTypes) + 1

// typeIndex maps a query type below 256 (every monitored one is) to its
// index in typeNames; 0 is "other".
var (
	typeIndex [256]uint8
	typeNames [numTypes]string
)

// rcodeNames are the rcodes' label values by rcode, "other" past the last
// one miekg/dns names (as CoreDNS, which says "RCODE" and the number, a
// value may not be made up by a reply).
var rcodeNames [dns.RcodeBadCookie + 2]string

func init() {
	typeNames[0] = "other"
	for i, t := range monitoredTypes {
		typeIndex[t] = uint8(i + 1)
		typeNames[i+1] = dns.TypeToString[t]
	}
	for rc := range rcodeNames {
		name, ok := dns.RcodeToString[rc]
		if !ok {
			name = "other"
		}
		rcodeNames[rc] = name
	}
}

func typeOf(qtype uint16) int {
	if qtype < uint16(len(typeIndex)) {
		return int(typeIndex[qtype])
	}
	return 0
}

func rcodeOf(rcode int) int {
	if rcode < 0 || rcode >= len(rcodeNames) {
		return len(rcodeNames) - 1 // "other"
	}
	return rcode
}

func index(b bool) int {
	if b {
		return 1
	}
	return 0
}

// report counts one reply, over TCP or UDP.
func (h *handles) report(tcp bool, o plugin.PacketObserved) {
	proto, t := index(tcp), typeOf(o.Type)
	h.request(proto, index(o.IPv6), t).Inc()
	h.duration(t).observe(nanoseconds(o.Took), 1)
	h.requestSize(proto).observe(uint64(o.QuerySize), 1)
	h.responseSize(proto).observe(uint64(o.ReplySize), 1)
	h.response(rcodeOf(o.Rcode)).Inc()
}

// reportBatch counts the replies of one batch of the packet path (UDP),
// which share their Took: it counts them on the stack first, then adds to
// each series used once, so that the memory the readers share is written
// once a batch, not once a reply.
func (h *handles) reportBatch(batch []plugin.PacketObserved) {
	if len(batch) == 0 {
		return
	}
	var (
		requests            [2][numTypes]uint32 // by family, type
		rcodes              [len(rcodeNames)]uint32
		reqSizes, respSizes tally
	)
	reqSeries, respSeries := h.requestSize(0), h.responseSize(0)
	for i := range batch {
		o := &batch[i]
		requests[index(o.IPv6)][typeOf(o.Type)]++
		rcodes[rcodeOf(o.Rcode)]++
		reqSizes.observe(reqSeries, uint64(o.QuerySize))
		respSizes.observe(respSeries, uint64(o.ReplySize))
	}
	took := nanoseconds(batch[0].Took)
	for family, types := range requests {
		for t, n := range types {
			if n > 0 {
				h.request(0, family, t).Add(float64(n))
			}
		}
	}
	for t := range numTypes {
		if n := requests[0][t] + requests[1][t]; n > 0 {
			h.duration(t).observe(took, uint64(n))
		}
	}
	for rc, n := range rcodes {
		if n > 0 {
			h.response(rc).Add(float64(n))
		}
	}
	reqSizes.add(reqSeries)
	respSizes.add(respSeries)
}

// nanoseconds is d as a histogram of durations counts it.
func nanoseconds(d time.Duration) uint64 { return uint64(max(d, 0)) }

// The series by index, each made on first use. Two queries may make the
// same one at once: the vectors return the same series to both.

func (h *handles) request(proto, family, t int) prometheus.Counter {
	p := &h.requests[proto][family][t]
	if c := p.Load(); c != nil {
		return *c
	}
	c := requests.WithLabelValues(h.server, h.zone, protoNames[proto], familyNames[family], typeNames[t])
	p.Store(&c)
	return c
}

func (h *handles) duration(t int) *histogram {
	p := &h.durations[t]
	if o := p.Load(); o != nil {
		return o
	}
	o := duration.with(h.server, h.zone, typeNames[t])
	p.Store(o)
	return o
}

func (h *handles) response(rc int) prometheus.Counter {
	p := &h.responses[rc]
	if c := p.Load(); c != nil {
		return *c
	}
	c := responses.WithLabelValues(h.server, h.zone, rcodeNames[rc])
	p.Store(&c)
	return c
}

func (h *handles) requestSize(proto int) *histogram {
	p := &h.requestSizes[proto]
	if o := p.Load(); o != nil {
		return o
	}
	o := requestSize.with(h.server, h.zone, protoNames[proto])
	p.Store(o)
	return o
}

func (h *handles) responseSize(proto int) *histogram {
	p := &h.responseSizes[proto]
	if o := p.Load(); o != nil {
		return o
	}
	o := responseSize.with(h.server, h.zone, protoNames[proto])
	p.Store(o)
	return o
}
