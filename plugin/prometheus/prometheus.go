package prometheus

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

// Metrics counts the queries that reach it and the replies they get.
type Metrics struct {
	Next plugin.Handler
	// handles are the series of this handler's server and zone, resolved
	// once: a handler serves one zone of one server.
	handles atomic.Pointer[handles]
}

// handles are the metric series of one server and zone, by query type and
// response code.
type handles struct {
	server, zone string
	requests     map[uint16]prometheus.Counter
	durations    map[uint16]prometheus.Observer
	responses    map[int]prometheus.Counter
	otherRequest prometheus.Counter
	otherDur     prometheus.Observer
}

func newHandles(server, zone string) *handles {
	h := &handles{
		server: server, zone: zone,
		requests:     make(map[uint16]prometheus.Counter, len(monitored)),
		durations:    make(map[uint16]prometheus.Observer, len(monitored)),
		responses:    make(map[int]prometheus.Counter, len(dns.RcodeToString)),
		otherRequest: requests.WithLabelValues(server, zone, "other"),
		otherDur:     duration.WithLabelValues(server, zone, "other"),
	}
	for t, name := range monitored {
		h.requests[t] = requests.WithLabelValues(server, zone, name)
		h.durations[t] = duration.WithLabelValues(server, zone, name)
	}
	for rc, name := range dns.RcodeToString {
		h.responses[rc] = responses.WithLabelValues(server, zone, name)
	}
	return h
}

// ServeDNS implements plugin.Handler.
func (m *Metrics) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	rcode, err := plugin.NextOrFailure(m.Name(), m.Next, ctx, rec, r)
	if !rec.written && !plugin.ClientWrite(rcode) {
		rec.rcode = rcode // the server writes this reply
	}
	m.handlesFor(plugin.Server(ctx), plugin.Zone(ctx)).observe(r.Question[0].Qtype, rec.rcode, time.Since(start))
	return rcode, err
}

// handlesFor returns the series of server and zone, resolving them on first
// use.
func (m *Metrics) handlesFor(server, zone string) *handles {
	h := m.handles.Load()
	if h == nil || h.server != server || h.zone != zone {
		h = newHandles(server, zone)
		m.handles.Store(h)
	}
	return h
}

// observe counts one query of type qtype answered rcode after took.
func (h *handles) observe(qtype uint16, rcode int, took time.Duration) {
	if c, ok := h.requests[qtype]; ok {
		c.Inc()
		h.durations[qtype].Observe(took.Seconds())
	} else {
		h.otherRequest.Inc()
		h.otherDur.Observe(took.Seconds())
	}
	if c, ok := h.responses[rcode]; ok {
		c.Inc()
	} else {
		responses.WithLabelValues(h.server, h.zone, "other").Inc()
	}
}

// PassPackets implements plugin.PacketPasser: the replies of the packet
// path are counted as the ones that pass through ServeDNS.
func (m *Metrics) PassPackets(server, zone string) plugin.PacketObserver {
	return m.handlesFor(server, zone).observe
}

// Name implements plugin.Handler.
func (m *Metrics) Name() string { return "prometheus" }

type recorder struct {
	dns.ResponseWriter
	rcode   int
	written bool
}

func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.rcode, r.written = m.Rcode, true
	return r.ResponseWriter.WriteMsg(m)
}

// monitored are the query types counted by name; the others are "other",
// so that a client cannot make up label values.
var monitored = map[uint16]string{
	dns.TypeA: "A", dns.TypeAAAA: "AAAA", dns.TypeCNAME: "CNAME", dns.TypeSRV: "SRV", dns.TypeTXT: "TXT",
	dns.TypePTR: "PTR", dns.TypeSOA: "SOA", dns.TypeNS: "NS", dns.TypeMX: "MX", dns.TypeANY: "ANY",
	dns.TypeHTTPS: "HTTPS", dns.TypeSVCB: "SVCB", dns.TypeDS: "DS", dns.TypeDNSKEY: "DNSKEY",
	dns.TypeCAA: "CAA", dns.TypeHINFO: "HINFO", dns.TypeAXFR: "AXFR", dns.TypeIXFR: "IXFR",
}

// exporter serves /metrics on one address.
type exporter struct {
	addr string
	ep   *reuse.Endpoint
}

func (e *exporter) start(c *caddy.Controller) error {
	ln, err := reuse.Listen(c, e.addr)
	if err != nil {
		return plugin.Error("prometheus", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	e.ep = reuse.Serve(ln, mux, "prometheus", nil)
	return nil
}

func (e *exporter) stop() error {
	if e.ep == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.ep.Stop(ctx)
	e.ep = nil
	return err
}
