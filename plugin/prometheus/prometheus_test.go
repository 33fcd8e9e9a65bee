package prometheus_test

import (
	"fmt"
	"regexp"
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
	_ "github.com/tpdns/tpdns/plugin/prometheus"
	_ "github.com/tpdns/tpdns/plugin/thirdparty" // its metrics are linted too
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrapeFor scrapes addr until every line of want is in the body, and
// returns it: a query is counted just after its reply is sent, so a scrape
// right after the reply may not count it yet. On failure it shows the
// tpdns_dns_ lines only.
func scrapeFor(t *testing.T, addr string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := test.Scrape(t, addr)
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return body
		}
		if time.Now().After(deadline) {
			t.Errorf("missing from /metrics:\n%s\nits tpdns_dns_ series:\n%s", strings.Join(missing, "\n"), dnsLines(body, ""))
			return body
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dnsLines returns the lines of body for the tpdns_dns_ series that
// contain has, without the histograms' buckets.
func dnsLines(body, has string) string {
	var out []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "tpdns_dns_") && !strings.Contains(line, "_bucket{") && strings.Contains(line, has) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

func TestCountsQueriesExactly(t *testing.T) {
	port, metricsPort := test.FreePort(t), test.FreePort(t)
	metrics := "127.0.0.1:" + metricsPort
	inst := test.Start(t, fmt.Sprintf(`
example.org:%[1]s {
    bind 127.0.0.1
    prometheus %[2]s
    testanswer hi
}
fail.example.org:%[1]s {
    bind 127.0.0.1
    prometheus %[2]s
}`, port, metrics))
	addr := "127.0.0.1:" + port
	for range 3 {
		test.Exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeA, 0))
	}
	for range 2 {
		test.Exchange(t, "tcp", addr, test.Query("www.example.org.", dns.TypeTXT, 0))
	}
	test.Exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeNAPTR, 0))
	test.Exchange(t, "udp", addr, test.Query("x.fail.example.org.", dns.TypeA, 1232)) // no plugin after prometheus: SERVFAIL

	server := "dns://127.0.0.1:" + port
	body := scrapeFor(t, metrics,
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="udp",server=%q,type="A",zone="example.org."} 3`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="tcp",server=%q,type="TXT",zone="example.org."} 2`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="udp",server=%q,type="other",zone="example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="udp",server=%q,type="A",zone="fail.example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_responses_total{rcode="NOERROR",server=%q,zone="example.org."} 6`, server),
		fmt.Sprintf(`tpdns_dns_responses_total{rcode="SERVFAIL",server=%q,zone="fail.example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_request_duration_seconds_count{server=%q,type="A",zone="example.org."} 3`, server),
		fmt.Sprintf(`tpdns_dns_request_duration_seconds_count{server=%q,type="TXT",zone="example.org."} 2`, server),
		// www.example.org. A without EDNS is 33 bytes, its reply (one TXT
		// record, "hi 0") 33+17; x.fail.example.org. A with EDNS 47, and
		// the SERVFAIL the server writes, with its OPT record, 47.
		fmt.Sprintf(`tpdns_dns_request_size_bytes_sum{proto="udp",server=%q,zone="example.org."} %d`, server, 3*33+33),
		fmt.Sprintf(`tpdns_dns_request_size_bytes_count{proto="tcp",server=%q,zone="example.org."} 2`, server),
		fmt.Sprintf(`tpdns_dns_response_size_bytes_sum{proto="tcp",server=%q,zone="example.org."} %d`, server, 2*50),
		fmt.Sprintf(`tpdns_dns_request_size_bytes_sum{proto="udp",server=%q,zone="fail.example.org."} 47`, server),
		fmt.Sprintf(`tpdns_dns_response_size_bytes_sum{proto="udp",server=%q,zone="fail.example.org."} 47`, server),
	)
	assert.Regexp(t, regexp.MustCompile(`(?m)^go_goroutines \d+$`), body, "the Go collector")
	assert.Regexp(t, regexp.MustCompile(`(?m)^process_open_fds \d+$`), body, "the process collector")
	assert.Regexp(t, regexp.MustCompile(`(?m)^tpdns_build_info\{goversion="go[^"]+",revision="[^"]+",version="[^"]+"\} 1$`), body)

	// A series exists once used, not before: only the types, rcodes and
	// transports asked for and answered.
	series := dnsLines(body, server)
	assert.Equal(t, 4, strings.Count(series, "tpdns_dns_requests_total{"), series)
	assert.Equal(t, 2, strings.Count(series, "tpdns_dns_responses_total{"), series)
	assert.Equal(t, 4, strings.Count(series, "tpdns_dns_request_duration_seconds_count{"), series)
	assert.Equal(t, 3, strings.Count(series, "tpdns_dns_request_size_bytes_count{"), series)
	assert.Equal(t, 3, strings.Count(series, "tpdns_dns_response_size_bytes_count{"), series)

	// The same port after a reload: served from the copied listener.
	require.NoError(t, inst.Reload(fmt.Sprintf("example.org:%s {\n bind 127.0.0.1\n prometheus %s\n testanswer hi\n}", port, metrics)))
	test.Exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeA, 0))
	scrapeFor(t, metrics, fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="udp",server=%q,type="A",zone="example.org."} 4`, server))
}

// TestCountsThePacketPath: a query the packet path answers counts in the
// same series, with the same labels, as one the chain answers.
func TestCountsThePacketPath(t *testing.T) {
	port, metricsPort := test.FreePort(t), test.FreePort(t)
	metrics := "127.0.0.1:" + metricsPort
	test.Start(t, fmt.Sprintf(`
example.org:%[1]s {
    bind 127.0.0.1
    prometheus %[2]s
    testpacket hi
}`, port, metrics))
	addr := "127.0.0.1:" + port
	// x.example.org. TXT without EDNS is 31 bytes; the packet path's reply
	// ("hi packet", the owner a pointer) 31+22, the chain's ("hi chain")
	// 31+21.
	r := test.Exchange(t, "udp", addr, test.Query("x.example.org.", dns.TypeTXT, 0))
	require.Len(t, r.Answer, 1)
	require.Equal(t, []string{"hi packet"}, r.Answer[0].(*dns.TXT).Txt)
	r = test.Exchange(t, "tcp", addr, test.Query("x.example.org.", dns.TypeTXT, 0))
	require.Equal(t, []string{"hi chain"}, r.Answer[0].(*dns.TXT).Txt)

	server := "dns://127.0.0.1:" + port
	scrapeFor(t, metrics,
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="udp",server=%q,type="TXT",zone="example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{family="1",proto="tcp",server=%q,type="TXT",zone="example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_responses_total{rcode="NOERROR",server=%q,zone="example.org."} 2`, server),
		fmt.Sprintf(`tpdns_dns_request_duration_seconds_count{server=%q,type="TXT",zone="example.org."} 2`, server),
		fmt.Sprintf(`tpdns_dns_request_size_bytes_sum{proto="udp",server=%q,zone="example.org."} 31`, server),
		fmt.Sprintf(`tpdns_dns_request_size_bytes_sum{proto="tcp",server=%q,zone="example.org."} 31`, server),
		fmt.Sprintf(`tpdns_dns_response_size_bytes_sum{proto="udp",server=%q,zone="example.org."} 53`, server),
		fmt.Sprintf(`tpdns_dns_response_size_bytes_sum{proto="tcp",server=%q,zone="example.org."} 52`, server),
	)
}

func TestMetricNamesLintClean(t *testing.T) {
	problems, err := testutil.GatherAndLint(prometheus.DefaultGatherer)
	require.NoError(t, err)
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "tpdns_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
