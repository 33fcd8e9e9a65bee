package prometheus

import (
	"context"
	"net"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"

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
		for name, vec := range map[string]*prometheus.HistogramVec{"request": requestSize, "response": responseSize} {
			var m dto.Metric
			assert.NoError(t, vec.WithLabelValues(server, "example.org.", proto).(prometheus.Histogram).Write(&m))
			assert.Equal(t, n, float64(m.GetHistogram().GetSampleCount()), name+" "+proto)
			assert.Equal(t, 29*n, m.GetHistogram().GetSampleSum(), name+" "+proto)
		}
	}
}
