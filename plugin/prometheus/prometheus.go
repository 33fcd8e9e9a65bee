package prometheus

import (
	"context"
	"net/http"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

// Metrics counts the queries that reach it and the replies they get.
type Metrics struct {
	Next plugin.Handler
}

// ServeDNS implements plugin.Handler.
func (m *Metrics) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	rcode, err := plugin.NextOrFailure(m.Name(), m.Next, ctx, rec, r)
	if !rec.written && !plugin.ClientWrite(rcode) {
		rec.rcode = rcode // the server writes this reply
	}
	server, zone, qtype := plugin.Server(ctx), plugin.Zone(ctx), typeLabel(r.Question[0].Qtype)
	requests.WithLabelValues(server, zone, qtype).Inc()
	responses.WithLabelValues(server, zone, rcodeLabel(rec.rcode)).Inc()
	duration.WithLabelValues(server, zone, qtype).Observe(time.Since(start).Seconds())
	return rcode, err
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

func typeLabel(t uint16) string {
	if s, ok := monitored[t]; ok {
		return s
	}
	return "other"
}

func rcodeLabel(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "other"
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
