package forward

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/errors"
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts a server on 127.0.0.1 for the root zone whose chain is
// "forward FROM UPSTREAMS { PROPS }" followed by testanswer, which answers
// "next 0" to what forward hands on. It returns the server's address.
func serve(t *testing.T, from string, ups []*fakeUpstream, props ...string) string {
	t.Helper()
	port := test.FreePort(t)
	var to []string
	for _, u := range ups {
		to = append(to, u.addr)
	}
	corefile := fmt.Sprintf(".:%s {\n bind 127.0.0.1\n errors\n forward %s %s {\n  %s\n }\n testanswer next\n}\n",
		port, from, strings.Join(to, " "), strings.Join(props, "\n  "))
	test.Start(t, corefile)
	return "127.0.0.1:" + port
}

func TestAnswerKeepsClientIDAndCase(t *testing.T) {
	u := startUpstream(t, "u1")
	addr := serve(t, ".", []*fakeUpstream{u})
	for _, proto := range []string{"udp", "tcp"} {
		m := test.Query("MiXeD.Example.ORG.", dns.TypeTXT, 0)
		m.Id = 4242
		r := exchange(t, proto, addr, m)
		assert.Equal(t, uint16(4242), r.Id, proto)
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, proto)
		assert.Equal(t, "MiXeD.Example.ORG.", r.Question[0].Name, proto)
		assert.Equal(t, "u1", answeredBy(r), proto)

		got := u.received()
		last := got[len(got)-1]
		assert.Equal(t, "MiXeD.Example.ORG.", last.name, proto+": the upstream is asked in the client's case")
		assert.Equal(t, proto, last.proto)
	}
}

func TestWhatIsForwarded(t *testing.T) {
	u := startUpstream(t, "u1")
	addr := serve(t, "example.org", []*fakeUpstream{u}, "except internal.example.org 10.0.0.0/8")
	for _, c := range []struct {
		name string
		want string
	}{
		{"example.org.", "u1"},
		{"www.Example.ORG.", "u1"},
		{"a.b.example.org.", "u1"},
		{"internal.example.org.", "next 0"},
		{"db.INTERNAL.example.org.", "next 0"},
		{"notinternal.example.org.", "u1"},
		{"example.net.", "next 0"},
		{"org.", "next 0"},
		{"4.3.2.10.in-addr.arpa.", "next 0"},
	} {
		r := exchange(t, "udp", addr, test.Query(c.name, dns.TypeTXT, 0))
		assert.Equal(t, c.want, answeredBy(r), c.name)
	}
}

func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		policy string
		check  func(t *testing.T, order []string)
	}{
		{"sequential", func(t *testing.T, order []string) {
			assert.Equal(t, []string{"u1", "u1", "u1", "u1", "u1", "u1"}, order)
		}},
		{"round_robin", func(t *testing.T, order []string) {
			assert.Equal(t, []string{"u1", "u2", "u3", "u1", "u2", "u3"}, order)
		}},
		{"random", func(t *testing.T, order []string) {
			assert.Subset(t, []string{"u1", "u2", "u3"}, order)
			assert.Subset(t, order, []string{"u1", "u2", "u3"}, "64 queries reach every upstream")
		}},
	} {
		t.Run(c.policy, func(t *testing.T) {
			ups := []*fakeUpstream{startUpstream(t, "u1"), startUpstream(t, "u2"), startUpstream(t, "u3")}
			addr := serve(t, ".", ups, "policy "+c.policy)
			n := 6
			if c.policy == "random" {
				n = 64
			}
			var order []string
			for i := range n {
				r := exchange(t, "udp", addr, test.Query(fmt.Sprintf("q%d.example.org.", i), dns.TypeTXT, 0))
				order = append(order, answeredBy(r))
			}
			c.check(t, order)
		})
	}
}

func TestDownUpstreamIsSkipped(t *testing.T) {
	logs := test.CaptureLog(t)
	u1, u2 := startUpstream(t, "u1"), startUpstream(t, "u2")
	addr := serve(t, ".", []*fakeUpstream{u1, u2}, "policy sequential", "health_check 50ms", "max_fails 2")
	query := func() (string, time.Duration) {
		start := time.Now()
		r := exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeTXT, 0))
		return answeredBy(r), time.Since(start)
	}
	by, _ := query()
	require.Equal(t, "u1", by)
	failures := healthcheckFailures.WithLabelValues(u1.addr)
	failed := testutil.ToFloat64(failures) // a port, and its series, may be reused

	u1.mode.Store(modeDrop)
	by, took := query()
	assert.Equal(t, "u2", by, "the next upstream answers the query the first one drops")
	assert.Less(t, took, 2*tryTimeout, "one try of u1, then u2")

	eventually(t, func() bool { return strings.Contains(logs.String(), "upstream "+u1.addr+" is down") }, "u1 fails 2 health checks")
	assert.GreaterOrEqual(t, testutil.ToFloat64(failures), failed+2)
	before := len(u1.received())
	by, took = query()
	assert.Equal(t, "u2", by)
	assert.Less(t, took, tryTimeout, "a down upstream is not tried")
	assert.Len(t, u1.received(), before, "a down upstream gets no query")

	u1.mode.Store(modeAnswer)
	eventually(t, func() bool { by, _ := query(); return by == "u1" }, "u1 is back once a health check passes")
	assert.Contains(t, logs.String(), "[INFO] plugin/forward: upstream "+u1.addr+" is up again")
}

func TestAllDownAnswersServfailInTime(t *testing.T) {
	logs := test.CaptureLog(t)
	u1, u2 := startUpstream(t, "u1"), startUpstream(t, "u2")
	u1.mode.Store(modeDrop)
	u2.mode.Store(modeDrop)
	addr := serve(t, ".", []*fakeUpstream{u1, u2}, "health_check 50ms")
	query := func() time.Duration {
		start := time.Now()
		r := exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeA, 0))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		return time.Since(start)
	}

	assert.Less(t, query(), queryTimeout+time.Second, "both upstreams up but silent")
	for _, u := range []*fakeUpstream{u1, u2} {
		eventually(t, func() bool { return strings.Contains(logs.String(), "upstream "+u.addr+" is down") }, u.name+" is down")
	}

	broken := testutil.ToFloat64(healthcheckBroken)
	before := len(u1.received()) + len(u2.received())
	assert.Less(t, query(), queryTimeout+time.Second, "both upstreams down")
	assert.Equal(t, broken+1, testutil.ToFloat64(healthcheckBroken))
	assert.Equal(t, before+2, len(u1.received())+len(u2.received()), "when all are down each is tried anyway")
	assert.Regexp(t, `\[ERROR\] plugin/errors: 2 www.example.org. A: plugin/forward: 127.0.0.1:\d+: .*i/o timeout`, logs.String())
}

func TestTruncatedReplyIsAskedOverTCP(t *testing.T) {
	for _, c := range []struct {
		mode    int32
		client  string
		bufsize uint16
		props   string
		protos  []string // as the upstream sees them
		answers int
	}{
		{mode: modeTruncate, client: "udp", bufsize: 4096, protos: []string{"udp", "tcp"}, answers: 5},
		{mode: modeTruncate, client: "tcp", protos: []string{"tcp"}, answers: 5},
		{mode: modeTruncate, client: "tcp", props: "prefer_udp", protos: []string{"udp", "tcp"}, answers: 5},
		{mode: modeTruncate, client: "udp", bufsize: 4096, props: "force_tcp", protos: []string{"tcp"}, answers: 5},
		{mode: modeTruncate, client: "udp", bufsize: 4096, props: "force_tcp\n prefer_udp", protos: []string{"tcp"}, answers: 5},
		// A datagram larger than the query's buffer (512 octets without
		// EDNS0) stands for a truncated reply.
		{mode: modeOversize, client: "tcp", props: "prefer_udp", protos: []string{"udp", "tcp"}, answers: 20},
	} {
		name := fmt.Sprintf("%s %d %s", c.client, c.bufsize, c.props)
		u := startUpstream(t, "u1")
		u.mode.Store(c.mode)
		addr := serve(t, ".", []*fakeUpstream{u}, c.props)
		r := exchange(t, c.client, addr, test.Query("big.example.org.", dns.TypeTXT, c.bufsize))
		assert.False(t, r.Truncated, name)
		assert.Len(t, r.Answer, c.answers, name)
		var protos []string
		for _, q := range u.received() {
			protos = append(protos, q.proto)
		}
		assert.Equal(t, c.protos, protos, name)
	}
}

func TestMaxConcurrentDefault(t *testing.T) {
	assert.EqualValues(t, 1000, defaultOptions().maxConcurrent, "the README says 1000")
}

func TestMaxConcurrent(t *testing.T) {
	logs := test.CaptureLog(t)
	u := startUpstream(t, "u1")
	u.mode.Store(modeSlow)
	addr := serve(t, ".", []*fakeUpstream{u}, "max_concurrent 1")
	rejects := testutil.ToFloat64(maxConcurrentRejects)

	first := make(chan *dns.Msg, 1)
	go func() {
		c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
		r, _, _ := c.Exchange(test.Query("slow.example.org.", dns.TypeTXT, 0), addr)
		first <- r
	}()
	eventually(t, func() bool { return len(u.received()) == 1 }, "the first query reaches the upstream")

	start := time.Now()
	r := exchange(t, "udp", addr, test.Query("second.example.org.", dns.TypeTXT, 0))
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
	assert.Less(t, time.Since(start), time.Second, "refused at once")
	assert.Equal(t, rejects+1, testutil.ToFloat64(maxConcurrentRejects))
	assert.Len(t, u.received(), 1, "the refused query is not forwarded")
	for range 5 {
		r = exchange(t, "udp", addr, test.Query("more.example.org.", dns.TypeTXT, 0))
		assert.Equal(t, dns.RcodeRefused, r.Rcode)
	}
	assert.Equal(t, rejects+6, testutil.ToFloat64(maxConcurrentRejects))
	assert.Equal(t, "[WARNING] plugin/forward: .: max_concurrent 1 reached; queries refused since the last warning: 1\n", logs.String(),
		"one warning for the first, none for the next within rejectLogEvery, and nothing for the errors plugin")

	u.unblock()
	r = <-first
	require.NotNil(t, r)
	assert.Equal(t, "u1", answeredBy(r))
	r = exchange(t, "udp", addr, test.Query("third.example.org.", dns.TypeTXT, 0))
	assert.Equal(t, "u1", answeredBy(r), "the slot is free again")
}

func TestMetrics(t *testing.T) {
	u := startUpstream(t, "u1")
	addr := serve(t, ".", []*fakeUpstream{u})
	// A test run again may find its upstream's port, and series, reused.
	requestsTo := requests.WithLabelValues(u.addr)
	noerror := responses.WithLabelValues(u.addr, "NOERROR")
	sent, received := testutil.ToFloat64(requestsTo), testutil.ToFloat64(noerror)
	observed := histogramCount(t, "tpdns_forward_request_duration_seconds", u.addr, "NOERROR")

	for i := range 3 {
		exchange(t, "udp", addr, test.Query(fmt.Sprintf("q%d.example.org.", i), dns.TypeTXT, 0))
	}
	assert.Equal(t, sent+3, testutil.ToFloat64(requestsTo))
	assert.Equal(t, received+3, testutil.ToFloat64(noerror))
	assert.Equal(t, observed+3, histogramCount(t, "tpdns_forward_request_duration_seconds", u.addr, "NOERROR"))

	u.mode.Store(modeTruncate)
	exchange(t, "udp", addr, test.Query("big.example.org.", dns.TypeTXT, 4096))
	assert.Equal(t, sent+5, testutil.ToFloat64(requestsTo), "the TCP retry is a request of its own")
	assert.Equal(t, received+5, testutil.ToFloat64(noerror))

}

// histogramCount returns the number of observations of the series of the
// histogram name with the labels to and rcode.
func histogramCount(t *testing.T, name, to, rcode string) uint64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["to"] == to && labels["rcode"] == rcode {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestReload(t *testing.T) {
	u1, u2 := startUpstream(t, "u1"), startUpstream(t, "u2")
	port := test.FreePort(t)
	corefile := ".:" + port + " {\n bind 127.0.0.1\n forward . %s\n}\n"
	inst := test.Start(t, fmt.Sprintf(corefile, u1.addr))
	addr := "127.0.0.1:" + port
	assert.Equal(t, "u1", answeredBy(exchange(t, "tcp", addr, test.Query("a.example.org.", dns.TypeTXT, 0))))
	require.NoError(t, inst.Reload(fmt.Sprintf(corefile, u2.addr)))
	assert.Equal(t, "u2", answeredBy(exchange(t, "tcp", addr, test.Query("a.example.org.", dns.TypeTXT, 0))))
}
