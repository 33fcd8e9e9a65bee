package prometheus

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

// from is a writer whose client is addr.
type from struct {
	dnstest.Writer
	addr net.Addr
}

func (w *from) RemoteAddr() net.Addr { return w.addr }

// TestLabels checks the label values of one query each: proto and family
// as CoreDNS's (an IPv4-mapped client is family 1), types CoreDNS does not
// name and rcodes miekg/dns does not name as "other", the size of a reply
// written raw.
func TestLabels(t *testing.T) {
	server := "dns://" + t.Name()
	ctx := plugin.WithServer(context.Background(), server, "example.org.")
	for _, c := range []struct {
		client           net.Addr
		qtype            uint16
		rcode            int
		raw              bool
		proto, family, t string
		rcodeName        string
	}{
		{&net.UDPAddr{IP: net.ParseIP("192.0.2.1")}, dns.TypeA, dns.RcodeSuccess, false, "udp", "1", "A", "NOERROR"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1")}, dns.TypeAAAA, dns.RcodeNameError, false, "tcp", "2", "AAAA", "NXDOMAIN"},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.1")}, dns.TypeRRSIG, 12, false, "udp", "1", "RRSIG", "other"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1")}, dns.TypeCAA, dns.RcodeRefused, true, "udp", "2", "other", "REFUSED"},
	} {
		m := &Metrics{Next: plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
			reply := new(dns.Msg)
			reply.SetRcode(r, c.rcode)
			if c.raw {
				b, _ := reply.Pack()
				_, err := w.Write(b)
				return c.rcode, err
			}
			return c.rcode, w.WriteMsg(reply)
		})}
		r := new(dns.Msg)
		r.SetQuestion("example.org.", c.qtype)
		m.ServeDNS(ctx, &from{addr: c.client}, r)

		assert.Equal(t, 1.0, testutil.ToFloat64(requests.WithLabelValues(server, "example.org.", c.proto, c.family, c.t)), c.client)
		assert.Equal(t, 1.0, testutil.ToFloat64(responses.WithLabelValues(server, "example.org.", c.rcodeName)), c.client)
	}
	// Every query and reply is 29 bytes, header and question: three over
	// UDP (one written raw), one over TCP.
	for proto, n := range map[string]float64{"udp": 3, "tcp": 1} {
		for name, vec := range map[string]*histogramVec{"request": requestSize, "response": responseSize} {
			count, sum, _ := vec.with(server, "example.org.", proto).read(sizeBuckets)
			assert.Equal(t, uint64(n), count, name+" "+proto)
			assert.Equal(t, uint64(29*n), sum, name+" "+proto)
		}
	}
}

// series returns the tpdns_dns_ series of server in the default registry,
// a line each, without the server label: name, labels, then the counter's
// value or the histogram's count, sum and buckets.
func series(t *testing.T, server string) []string {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	var out []string
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "tpdns_dns_") {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			line := f.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "server" {
					if l.GetValue() != server {
						continue metrics
					}
					continue
				}
				line += fmt.Sprintf(" %s=%s", l.GetName(), l.GetValue())
			}
			if c := m.GetCounter(); c != nil {
				line += fmt.Sprint(" ", c.GetValue())
			}
			if h := m.GetHistogram(); h != nil {
				line += fmt.Sprint(" count=", h.GetSampleCount(), " sum=", h.GetSampleSum())
				for _, b := range h.GetBucket() {
					line += fmt.Sprintf(" %g:%d", b.GetUpperBound(), b.GetCumulativeCount())
				}
			}
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// TestReportBatchCountsAsReport: the packet path's replies counted by the
// batch make the same series, with the same values, as counted one by one.
func TestReportBatchCountsAsReport(t *testing.T) {
	took := 3 * time.Millisecond
	batch := []plugin.PacketObserved{
		{Type: dns.TypeA, Rcode: dns.RcodeSuccess, QuerySize: 40, ReplySize: 56, Took: took},
		{Type: dns.TypeSRV, Rcode: dns.RcodeNameError, IPv6: true, QuerySize: 45, ReplySize: 120, Took: took},
		{Type: dns.TypeTXT, Rcode: dns.RcodeSuccess, QuerySize: 100, ReplySize: 600, Took: took},
		{Type: dns.TypeA, Rcode: dns.RcodeSuccess, IPv6: true, QuerySize: 40, ReplySize: 0, Took: took}, // held back
		{Type: dns.TypeCAA, Rcode: 30, QuerySize: 99999, ReplySize: 70000, Took: took},                  // other, other, above every bucket
		{Type: dns.TypeA, Rcode: dns.RcodeSuccess, QuerySize: 41, ReplySize: 57, Took: took},
	}
	one := &handles{server: "dns://" + t.Name() + "/one", zone: "example."}
	batched := &handles{server: "dns://" + t.Name() + "/batch", zone: "example."}
	for _, o := range batch {
		one.report(false, o)
	}
	batched.reportBatch(batch)
	want := series(t, one.server)
	assert.Len(t, want, 14, "5 requests, 3 responses, 4 durations, a histogram of each size")
	assert.Equal(t, want, series(t, batched.server))

	batched.reportBatch(nil)
	assert.Equal(t, want, series(t, batched.server), "an empty batch counts nothing")
	assert.Zero(t, testing.AllocsPerRun(100, func() { batched.reportBatch(batch) }))
}
