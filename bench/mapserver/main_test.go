package main

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test/dnstest"
)

const testZone = `$ORIGIN tp.internal.
$TTL 10
@ IN SOA ns.dns.tp.internal. hostmaster.tp.internal. 1 7200 1800 86400 10
@ IN NS ns.dns.tp.internal.
svc-0 IN A 10.0.0.1
svc-0 IN A 10.0.0.2
_db._tcp.svc-0 IN SRV 0 1 5432 10-0-0-1.svc-0
10-0-0-1.svc-0 IN A 10.0.0.1
svc-0 IN TXT "DB_NAME=app0" "DB_USER=user0"
`

func TestServeDNS(t *testing.T) {
	z, err := load(strings.NewReader(testZone), "tp.internal.", "test.zone")
	require.NoError(t, err)
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
		extra   int
		ns      int
	}{
		{"svc-0.tp.internal.", dns.TypeA, dns.RcodeSuccess, 2, 0, 0},
		{"SVC-0.tp.internal.", dns.TypeA, dns.RcodeSuccess, 2, 0, 0},
		{"svc-0.tp.internal.", dns.TypeTXT, dns.RcodeSuccess, 1, 0, 0},
		{"_db._tcp.svc-0.tp.internal.", dns.TypeSRV, dns.RcodeSuccess, 1, 1, 0},
		{"svc-0.tp.internal.", dns.TypeAAAA, dns.RcodeSuccess, 0, 0, 1},   // NODATA
		{"_tcp.svc-0.tp.internal.", dns.TypeA, dns.RcodeSuccess, 0, 0, 1}, // empty non-terminal
		{"missing.tp.internal.", dns.TypeA, dns.RcodeNameError, 0, 0, 1},
		{"example.org.", dns.TypeA, dns.RcodeRefused, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+dns.TypeToString[tc.qtype], func(t *testing.T) {
			w := &dnstest.Writer{}
			z.ServeDNS(w, new(dns.Msg).SetQuestion(tc.name, tc.qtype))
			require.NotNil(t, w.Msg)
			assert.Equal(t, tc.rcode, w.Msg.Rcode)
			assert.Len(t, w.Msg.Answer, tc.answers)
			assert.Len(t, w.Msg.Extra, tc.extra)
			assert.Len(t, w.Msg.Ns, tc.ns)
			assert.Equal(t, tc.rcode != dns.RcodeRefused, w.Msg.Authoritative)
			assert.Equal(t, tc.name, w.Msg.Question[0].Name)
		})
	}
}

func TestServeDNSEDNS0(t *testing.T) {
	z, err := load(strings.NewReader(testZone), "tp.internal.", "test.zone")
	require.NoError(t, err)
	w := &dnstest.Writer{}
	z.ServeDNS(w, new(dns.Msg).SetQuestion("svc-0.tp.internal.", dns.TypeA).SetEdns0(1232, false))
	require.NotNil(t, w.Msg.IsEdns0())
	assert.Equal(t, uint16(1232), w.Msg.IsEdns0().UDPSize())
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		zone, err string
	}{
		{"svc IN A 10.0.0.1\n", "test.zone: no SOA record for tp.internal."},
		{"$ORIGIN tp.internal.\n@ 10 IN SOA ns. h. 1 2 3 4 5\nexample.org. 10 IN A 10.0.0.1\n", "test.zone: example.org. is outside tp.internal."},
	}
	for _, tc := range tests {
		_, err := load(strings.NewReader(tc.zone), "tp.internal.", "test.zone")
		assert.EqualError(t, err, tc.err)
	}
	_, err := load(strings.NewReader("svc IN A nonsense\n"), "tp.internal.", "test.zone")
	assert.ErrorContains(t, err, "test.zone")
}
