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

// answer replies by the query name: nx.* NXDOMAIN, empty.* NODATA, fail.*
// SERVFAIL left to the server, anything else one A record.
var answer = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch strings.ToLower(dns.SplitDomainName(r.Question[0].Name)[0]) {
	case "nx":
		m.Rcode = dns.RcodeNameError
	case "empty":
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
		"[INFO] 10.240.0.1:40212 4242 A IN www.example.org. udp 33 false 512 NOERROR qr,aa,rd 64 QUERY 127.0.0.1\n"+
		"[INFO] 10.240.0.1:40212 4242 A IN NX.example.org. tcp 43 true 1232 NXDOMAIN qr,aa,rd 32 QUERY 127.0.0.1\n"+
		"[INFO] 10.240.0.1:40212 4242 A IN fail.example.org. udp 34 false 512 SERVFAIL - 0 QUERY 127.0.0.1\n",
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
		{"log", []string{"www", "nx", "empty", "fail"}},
		{"log {\n class success\n}", []string{"www"}},
		{"log {\n class denial\n}", []string{"nx", "empty"}},
		{"log {\n class error\n}", []string{"fail"}},
		{"log {\n class denial error\n}", []string{"nx", "empty", "fail"}},
	} {
		logs := test.CaptureLog(t)
		l := logger(t, c.corefile+"\n")
		for _, label := range []string{"www", "nx", "empty", "fail"} {
			r := new(dns.Msg)
			r.SetQuestion(label+".example.", dns.TypeA)
			l.ServeDNS(context.Background(), &dnstest.Writer{}, r)
		}
		var logged []string
		for _, label := range []string{"www", "nx", "empty", "fail"} {
			if strings.Contains(logs.String(), `"A IN `+label+`.example. `) {
				logged = append(logged, label)
			}
		}
		assert.Equal(t, c.logged, logged, c.corefile)
	}
}
