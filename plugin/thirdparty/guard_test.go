package thirdparty_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// guardMetric is tpdns_thirdparty_guard_active.
func guardMetric(t *testing.T) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "tpdns_thirdparty_guard_active" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// edeOf returns the extended error of a reply, or nil.
func edeOf(m *dns.Msg) *dns.EDNS0_EDE {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

// TestGuard: when every checked endpoint fails at once (tpdns cut off),
// the answers stay as they were, with EDE 3, and the guard says so; when
// one service of five fails, it leaves DNS and the guard stays down
// (SPEC section 7; issue 16's first "must show").
func TestGuard(t *testing.T) {
	_ = testutil.ToFloat64 // the gauge is read from the default gatherer
	logs := test.CaptureLog(t)
	port := test.FreePort(t)
	var (
		registry  strings.Builder
		listeners = map[string]net.Listener{}
	)
	registry.WriteString("services:\n")
	for s := range 5 {
		a, b := fmt.Sprintf("127.0.0.%d", 21+2*s), fmt.Sprintf("127.0.0.%d", 22+2*s)
		listeners[a], listeners[b] = listen(t, a+":"+port), listen(t, b+":"+port)
		fmt.Fprintf(&registry, `  - name: svc%d
    ports: [{name: db, port: %s}]
    endpoints: [%s, %s]
    check: {type: tcp, interval: 1s, timeout: 200ms, rise: 1, fall: 1}
`, s, port, a, b)
	}
	t.Cleanup(func() {
		for _, ln := range listeners {
			ln.Close()
		}
	})
	_, addr, _ := healthServer(t, t.TempDir(), registry.String(), "guard 50 1m")
	ask := func(name string) *dns.Msg {
		return exchange(t, "udp", addr, "127.0.0.1", test.Query(name, dns.TypeA, 1232))
	}
	all := func(s int) []string {
		return []string{fmt.Sprintf("127.0.0.%d", 21+2*s), fmt.Sprintf("127.0.0.%d", 22+2*s)}
	}
	for s := range 5 {
		waitAddresses(t, addr, fmt.Sprintf("svc%d.tp.internal.", s), all(s), 10*time.Second)
	}
	mark := 0 // where the log of the step under test starts
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String()[mark:], what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A first probe can fail (a reset on a loaded machine), which the
	// guard may hold in the answers: start from every endpoint healthy
	// and the guard down.
	for s := range 5 {
		for _, a := range all(s) {
			ep := fmt.Sprintf("svc%d %s:%s ", s, a, port)
			deadline := time.Now().Add(10 * time.Second)
			for {
				text := logs.String()
				last := strings.LastIndex(text, ep)
				if last >= 0 && (strings.HasPrefix(text[last+len(ep):], "unknown -> healthy") || strings.HasPrefix(text[last+len(ep):], "unhealthy -> healthy")) {
					break
				}
				require.True(t, time.Now().Before(deadline), "%s not healthy:\n%s", ep, text)
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); guardMetric(t) != 0; {
		require.True(t, time.Now().Before(deadline), "the guard stays up")
		time.Sleep(10 * time.Millisecond)
	}

	// tpdns cut off: every listener closed at once.
	mark = len(logs.String())
	for _, ln := range listeners {
		ln.Close()
	}
	waitLog("[WARNING] plugin/thirdparty: guard: ")
	assert.Regexp(t, `\[WARNING\] plugin/thirdparty: guard: \d+ of \d+ healthy endpoints \(\d services\) failed within one check interval: tpdns itself may be cut off`, logs.String())
	assert.Equal(t, 1.0, guardMetric(t))
	// Every endpoint fails within its interval (1s), and is held.
	waitLog("svc4 127.0.0.30:" + port + " healthy -> unhealthy")
	for s := range 5 {
		waitLog(fmt.Sprintf("svc%d 127.0.0.%d:%s healthy -> unhealthy", s, 21+2*s, port))
		waitLog(fmt.Sprintf("svc%d 127.0.0.%d:%s healthy -> unhealthy", s, 22+2*s, port))
	}
	for s := range 5 {
		m := ask(fmt.Sprintf("svc%d.tp.internal.", s))
		assert.Equal(t, all(s), addressesOf(m), "svc%d: answered as before", s)
		assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer}, edeOf(m), "svc%d", s)
	}
	assert.Regexp(t, `\[INFO\] plugin/thirdparty: svc0 127\.0\.0\.21:`+port+` healthy -> unhealthy after 1 failure: dial tcp 127\.0\.0\.21:`+port+`: \S`, logs.String())

	// Back: the guard lifts as soon as at most half of them fail.
	for a := range listeners {
		listeners[a] = listen(t, a+":"+port)
	}
	waitLog("[WARNING] plugin/thirdparty: guard lifted after")
	assert.Equal(t, 0.0, guardMetric(t))

	// One service of five fails: its own fault, not held.
	for _, a := range all(3) {
		listeners[a].Close()
	}
	waitAddresses(t, addr, "svc3.tp.internal.", nil, 10*time.Second)
	m := ask("svc3.tp.internal.")
	assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "no healthy endpoint"}, edeOf(m))
	assert.Equal(t, 0.0, guardMetric(t))
	waitLog("[WARNING] plugin/thirdparty: service svc3 has no healthy endpoint left (2 enabled)")
	waitAddresses(t, addr, "svc2.tp.internal.", all(2), 10*time.Second)
	assert.Equal(t, 1, strings.Count(logs.String()[mark:], "[WARNING] plugin/thirdparty: guard:"), "one activation")

	// _health.S.Z tells why.
	h := exchange(t, "udp", addr, "127.0.0.1", test.Query("_health.svc3.tp.internal.", dns.TypeTXT, 1232))
	require.Len(t, h.Answer, 2)
	txt := h.Answer[0].(*dns.TXT).Txt
	assert.Equal(t, []string{"address=127.0.0.27", "state=unhealthy"}, txt[:2])
	assert.Regexp(t, `^checked=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, txt[2])
	assert.Equal(t, "error=dial tcp 127.0.0.27:"+port+": connect: connection refused", txt[3])

	// And it comes back, said once.
	for _, a := range all(3) {
		listeners[a] = listen(t, a+":"+port)
	}
	waitLog("[WARNING] plugin/thirdparty: service svc3 has a healthy endpoint again (1 of 2)")
}

// addressesOf returns the A records' addresses of m, sorted.
func addressesOf(m *dns.Msg) []string {
	var out []string
	for _, rr := range rrs(m.Answer) {
		out = append(out, strings.Fields(rr)[4])
	}
	return out
}
