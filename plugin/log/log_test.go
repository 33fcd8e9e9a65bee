package log

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/dnstest"
)

// answer replies by the query name: nx.* NXDOMAIN, empty.* NODATA (an SOA
// record), bare.* NOERROR with no records at all, fail.* SERVFAIL left to
// the server, anything else one A record.
var answer = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch strings.ToLower(dns.SplitDomainName(r.Question[0].Name)[0]) {
	case "nx":
		m.Rcode = dns.RcodeNameError
	case "empty":
		soa, _ := dns.NewRR("example. 60 IN SOA ns.example. hostmaster.example. 1 7200 1800 86400 60")
		m.Ns = append(m.Ns, soa)
	case "bare":
	case "fail":
		return dns.RcodeServerFailure, nil
	default:
		rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
	}
	return m.Rcode, w.WriteMsg(m)
})

func logger(t *testing.T, corefile string) plugin.Handler {
	rules, err := parse(caddyController(corefile))
	require.NoError(t, err)
	return &Logger{Next: answer, Rules: rules}
}

func TestLogLines(t *testing.T) {
	logs := test.CaptureLog(t)
	l := logger(t, `log example.org "{remote}:{port} {>id} {type} {class} {name} {proto} {size} {>do} {>bufsize} {rcode} {>rflags} {rsize} {>opcode} {local}"`)

	for _, q := range []struct {
		name string
		tcp  bool
		edns bool
	}{
		{"www.example.org.", false, false},
		{"NX.example.org.", true, true},
		{"fail.example.org.", false, false},
		{"www.example.net.", false, false}, // outside the rule: not logged
	} {
		r := new(dns.Msg)
		r.SetQuestion(q.name, dns.TypeA)
		r.Id = 4242
		if q.edns {
			r.SetEdns0(1232, true)
		}
		l.ServeDNS(context.Background(), &dnstest.Writer{TCP: q.tcp}, r)
	}
	assert.Equal(t, ""+
		"[INFO] 10.240.0.1:40212 4242 A IN www.example.org. udp 33 false 512 NOERROR qr,aa,rd 64 0 127.0.0.1\n"+
		"[INFO] 10.240.0.1:40212 4242 A IN nx.example.org. tcp 43 true 65535 NXDOMAIN qr,aa,rd 32 0 127.0.0.1\n"+
		"[INFO] 10.240.0.1:40212 4242 A IN fail.example.org. udp 34 false 512 SERVFAIL qr,rd 34 0 127.0.0.1\n",
		logs.String())
}

func TestDefaultFormat(t *testing.T) {
	logs := test.CaptureLog(t)
	l := logger(t, "log")
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeAAAA)
	r.Id = 7
	l.ServeDNS(context.Background(), &dnstest.Writer{}, r)
	assert.Regexp(t, `^\[INFO\] 10\.240\.0\.1:40212 - 7 "AAAA IN example\.org\. udp 29 false 512" NOERROR qr,aa,rd 56 \d+(\.\d+)?(e-\d+)?s\n$`, logs.String())
}

func TestClasses(t *testing.T) {
	for _, c := range []struct {
		corefile string
		logged   []string
	}{
		{"log", []string{"www", "nx", "empty", "bare", "fail"}},
		{"log {\n class success\n}", []string{"www", "bare"}},
		{"log {\n class denial\n}", []string{"nx", "empty"}},
		{"log {\n class error\n}", []string{"fail"}},
		{"log {\n class denial error\n}", []string{"nx", "empty", "fail"}},
	} {
		logs := test.CaptureLog(t)
		l := logger(t, c.corefile+"\n")
		for _, label := range []string{"www", "nx", "empty", "bare", "fail"} {
			r := new(dns.Msg)
			r.SetQuestion(label+".example.", dns.TypeA)
			l.ServeDNS(context.Background(), &dnstest.Writer{}, r)
		}
		var logged []string
		for _, label := range []string{"www", "nx", "empty", "bare", "fail"} {
			if strings.Contains(logs.String(), `"A IN `+label+`.example. `) {
				logged = append(logged, label)
			}
		}
		assert.Equal(t, c.logged, logged, c.corefile)
	}
}

// TestClassify sorts replies as CoreDNS's response.Typify and Classify do.
func TestClassify(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		require.NoError(t, err)
		return r
	}
	a := rr("www.example. 60 IN A 192.0.2.1")
	soa := rr("example. 60 IN SOA ns.example. hostmaster.example. 1 7200 1800 86400 60")
	ns := rr("sub.example. 60 IN NS ns.sub.example.")
	msg := func(qtype uint16, rcode int, answer, authority []dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.", qtype)
		m.Response, m.Rcode, m.Answer, m.Ns = true, rcode, answer, authority
		return m
	}
	update := msg(dns.TypeSOA, dns.RcodeSuccess, nil, nil)
	update.Opcode = dns.OpcodeUpdate
	for name, c := range map[string]struct {
		m    *dns.Msg
		want class
	}{
		"answer":               {msg(dns.TypeA, dns.RcodeSuccess, []dns.RR{a}, nil), classSuccess},
		"referral":             {msg(dns.TypeA, dns.RcodeSuccess, nil, []dns.RR{ns}), classSuccess},
		"no records":           {msg(dns.TypeA, dns.RcodeSuccess, nil, nil), classSuccess},
		"NODATA":               {msg(dns.TypeA, dns.RcodeSuccess, nil, []dns.RR{soa}), classDenial},
		"NXDOMAIN":             {msg(dns.TypeA, dns.RcodeNameError, nil, []dns.RR{soa}), classDenial},
		"NXDOMAIN with answer": {msg(dns.TypeA, dns.RcodeNameError, []dns.RR{a}, nil), classError},
		"SERVFAIL":             {msg(dns.TypeA, dns.RcodeServerFailure, nil, nil), classError},
		"REFUSED":              {msg(dns.TypeA, dns.RcodeRefused, nil, nil), classError},
		"AXFR":                 {msg(dns.TypeAXFR, dns.RcodeSuccess, []dns.RR{soa}, nil), classError},
		"update":               {update, classError},
		"no reply":             {nil, classError},
	} {
		assert.Equal(t, c.want, classify(c.m), name)
	}
}
