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
// right after the reply may not count it yet.
func scrapeFor(t *testing.T, addr string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body, all := test.Scrape(t, addr), true
		for _, w := range want {
			all = all && strings.Contains(body, w+"\n")
		}
		if all || time.Now().After(deadline) {
			for _, w := range want {
				assert.Contains(t, body, w+"\n")
			}
			return body
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	test.Exchange(t, "udp", addr, test.Query("x.fail.example.org.", dns.TypeA, 0)) // no plugin after prometheus: SERVFAIL

	server := "dns://127.0.0.1:" + port
	body := scrapeFor(t, metrics,
		fmt.Sprintf(`tpdns_dns_requests_total{server=%q,type="A",zone="example.org."} 3`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{server=%q,type="TXT",zone="example.org."} 2`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{server=%q,type="other",zone="example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_requests_total{server=%q,type="A",zone="fail.example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_responses_total{rcode="NOERROR",server=%q,zone="example.org."} 6`, server),
		fmt.Sprintf(`tpdns_dns_responses_total{rcode="SERVFAIL",server=%q,zone="fail.example.org."} 1`, server),
		fmt.Sprintf(`tpdns_dns_request_duration_seconds_count{server=%q,type="A",zone="example.org."} 3`, server),
	)
	assert.Regexp(t, regexp.MustCompile(`(?m)^go_goroutines \d+$`), body, "the Go collector")
	assert.Regexp(t, regexp.MustCompile(`(?m)^process_open_fds \d+$`), body, "the process collector")

	// The same port after a reload: served from the copied listener.
	require.NoError(t, inst.Reload(fmt.Sprintf("example.org:%s {\n bind 127.0.0.1\n prometheus %s\n testanswer hi\n}", port, metrics)))
	test.Exchange(t, "udp", addr, test.Query("www.example.org.", dns.TypeA, 0))
	scrapeFor(t, metrics, fmt.Sprintf(`tpdns_dns_requests_total{server=%q,type="A",zone="example.org."} 4`, server))
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
