package prometheus_test

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/cache"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/plugin/forward"
	"github.com/tpdns/tpdns/test"
)

// corednsDashboard are the series that CoreDNS's own dashboard and alerts
// query (coredns-mixin, which kube-prometheus ships as the "CoreDNS"
// dashboard: dashboards/coredns.libsonnet, alerts/*.libsonnet), each with
// the labels its queries group or filter by, or that CoreDNS's README
// gives it.
var corednsDashboard = []struct {
	name   string
	labels []string
}{
	{"coredns_build_info", []string{"version", "revision", "goversion"}}, // the instance variable
	{"coredns_panics_total", nil},
	{"coredns_dns_requests_total", []string{"server", "zone", "proto", "family", "type"}},
	{"coredns_dns_responses_total", []string{"server", "zone", "rcode"}},
	{"coredns_dns_request_duration_seconds_bucket", []string{"server", "zone", "le"}},
	{"coredns_dns_request_size_bytes_bucket", []string{"server", "zone", "proto", "le"}},
	{"coredns_dns_response_size_bytes_bucket", []string{"server", "zone", "proto", "le"}},
	{"coredns_plugin_enabled", []string{"server", "zone", "name"}},
	{"coredns_cache_hits_total", []string{"server", "type"}},
	{"coredns_cache_misses_total", []string{"server"}},
	{"coredns_cache_entries", []string{"server", "type"}},
	{"coredns_forward_requests_total", []string{"to"}},
	{"coredns_forward_responses_total", []string{"to", "rcode"}},
	{"coredns_forward_request_duration_seconds_bucket", []string{"to", "le"}},
	{"coredns_forward_healthcheck_failures_total", []string{"to"}},
	{"coredns_forward_healthcheck_broken_total", nil},
	{"process_resident_memory_bytes", nil},
	{"process_cpu_seconds_total", nil},
	{"go_goroutines", nil},
}

// TestCoreDNSDashboardSeries: a CoreDNS dashboard ports to tpdns by
// renaming coredns_ to tpdns_. After queries (a cache miss and a hit, a
// forward, a forward to an upstream that is not there), every series it
// queries is in /metrics with the labels it uses.
func TestCoreDNSDashboardSeries(t *testing.T) {
	upstream := fakeUpstream(t)
	dead := deadUpstream(t)
	port, metricsPort := test.FreePort(t), test.FreePort(t)
	metrics := "127.0.0.1:" + metricsPort
	test.Start(t, fmt.Sprintf(`
example.org:%[1]s {
    bind 127.0.0.1
    prometheus %[2]s
    errors
    cache 30
    forward . %[3]s
}
dead.example:%[1]s {
    bind 127.0.0.1
    prometheus %[2]s
    forward . %[4]s {
        health_check 50ms
    }
}`, port, metrics, upstream, dead))
	addr := "127.0.0.1:" + port
	for _, proto := range []string{"udp", "tcp", "udp"} { // a miss, then hits
		r := test.Exchange(t, proto, addr, test.Query("www.example.org.", dns.TypeA, 1232))
		require.Len(t, r.Answer, 1)
	}
	r := test.Exchange(t, "udp", addr, test.Query("www.dead.example.", dns.TypeA, 0))
	require.Equal(t, dns.RcodeServerFailure, r.Rcode)

	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := test.Scrape(t, metrics)
		missing = missing[:0]
		for _, s := range corednsDashboard {
			name := s.name
			if rest, ok := strings.CutPrefix(name, "coredns_"); ok {
				name = "tpdns_" + rest
			}
			if !hasSeries(page, name, s.labels) {
				missing = append(missing, fmt.Sprintf("%s%v (CoreDNS's %s)", name, s.labels, s.name))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks what the CoreDNS dashboard queries:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasSeries reports whether page has a series of name with every label
// of labels.
func hasSeries(page, name string, labels []string) bool {
	series := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? `)
	for _, m := range series.FindAllStringSubmatch(page, -1) {
		all := true
		for _, l := range labels {
			all = all && strings.Contains(m[1], l+`="`)
		}
		if all {
			return true
		}
	}
	return false
}

// fakeUpstream answers every A query with 192.0.2.1, over UDP and TCP on
// one loopback port, and returns its address.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	// A port free for both, which no other test process is handed: TCP on
	// the port of a UDP socket of any port may find it taken.
	pc, err := net.ListenPacket("udp", "127.0.0.1:"+test.FreePort(t))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	require.NoError(t, err)
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// deadUpstream returns a loopback address where nothing answers: a UDP
// port that was bound a moment ago.
func deadUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	return addr
}
