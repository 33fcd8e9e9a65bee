package prometheus

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
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
	// handles are the series of this handler's server and zone: a handler
	// serves one zone of one server.
	handles atomic.Pointer[handles]
}

// ServeDNS implements plugin.Handler.
func (m *Metrics) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	start := time.Now()
	size := r.Len() // before a plugin changes r
	rec := &recorder{ResponseWriter: w}
	rcode, err := plugin.NextOrFailure(m.Name(), m.Next, ctx, rec, r)
	if !rec.written && !plugin.ClientWrite(rcode) {
		// The server writes this reply, after us.
		rec.rcode, rec.size = rcode, errorReplyLen(r, rcode)
	}
	tcp, ipv6 := transport(w.RemoteAddr())
	m.handlesFor(plugin.Server(ctx), plugin.Zone(ctx)).report(tcp, plugin.PacketObserved{
		Type: r.Question[0].Qtype, Rcode: rec.rcode, IPv6: ipv6,
		QuerySize: size, ReplySize: rec.size, Took: time.Since(start),
	})
	return rcode, err
}

// PassPackets implements plugin.PacketPasser: it counts the replies of
// the packet path by batch (PassPacketBatches), none one by one.
func (m *Metrics) PassPackets(server, zone string) plugin.PacketObserver { return nil }

// PassPacketBatches implements plugin.PacketBatchPasser: the replies of
// the packet path (UDP only) are counted as the ones that pass through
// ServeDNS, a batch at a time.
func (m *Metrics) PassPacketBatches(server, zone string) plugin.PacketBatchObserver {
	return m.handlesFor(server, zone).reportBatch
}

// Name implements plugin.Handler.
func (m *Metrics) Name() string { return "prometheus" }

// handlesFor returns the series of server and zone.
func (m *Metrics) handlesFor(server, zone string) *handles {
	h := m.handles.Load()
	if h == nil || h.server != server || h.zone != zone {
		h = &handles{server: server, zone: zone}
		m.handles.Store(h)
	}
	return h
}

// transport tells a client's transport and address family, as CoreDNS's
// request.Proto and request.Family do: an IPv4-mapped address is IPv4.
func transport(a net.Addr) (tcp, ipv6 bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return true, a.IP.To4() == nil
	case *net.UDPAddr:
		return false, a.IP.To4() == nil
	}
	return false, false
}

// errorReplyLen is the length of the reply the server writes when the
// chain leaves it rcode to write: header, question, and an OPT record
// (without options) when the query has one.
func errorReplyLen(r *dns.Msg, rcode int) int {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	n := m.Len()
	if r.IsEdns0() != nil {
		n += 11
	}
	return n
}

type recorder struct {
	dns.ResponseWriter
	rcode   int
	size    int
	written bool
}

// WriteMsg implements dns.ResponseWriter: it records the reply as it went
// out (the server's writer adds the OPT record and truncates in place).
func (r *recorder) WriteMsg(m *dns.Msg) error {
	err := r.ResponseWriter.WriteMsg(m)
	r.rcode, r.size, r.written = m.Rcode, r.size+m.Len(), true
	return err
}

// Write implements dns.ResponseWriter.
func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	if len(b) >= 4 {
		r.rcode = int(b[3] & 0xF)
	}
	r.size, r.written = r.size+n, true
	return n, err
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
