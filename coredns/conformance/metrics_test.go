package conformance

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// metricsCorefile is corefile with prometheus on METRICS.
const metricsCorefile = `tp.internal:PORT 192.0.2.0/24:PORT {
    bind 127.0.0.1
    prometheus METRICS
    thirdparty {
        services services.yaml
        reload 0
    }
}
`

// series is one line of a /metrics page: its name without the namespace,
// its labels and its value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

var seriesLine = regexp.MustCompile(`^(\w+)\{([^}]*)\} (\S+)$`)
var labelPair = regexp.MustCompile(`(\w+)="([^"]*)"`)

// scrapeDNS returns the <namespace>_dns_* series of addr's /metrics, but
// CoreDNS's zone "dropped": the queries no server block serves, which
// CoreDNS counts there (the start-up probe of the test is one) and tpdns
// does not count.
func scrapeDNS(t *testing.T, addr, namespace string) []series {
	t.Helper()
	var out []series
	for line := range strings.Lines(test.Scrape(t, addr)) {
		m := seriesLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || !strings.HasPrefix(m[1], namespace+"_dns_") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, line)
		s := series{name: strings.TrimPrefix(m[1], namespace+"_"), labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		if s.labels["zone"] == "dropped" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// sumBy adds up the values of the series called name by the labels keep
// (the others, and the server's port, summed over), as
// "label=value,...".
func sumBy(all []series, name string, keep ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range all {
		if s.name != name {
			continue
		}
		var key []string
		for _, l := range keep {
			v := s.labels[l]
			if l == "server" {
				v = v[:strings.LastIndex(v, ":")+1] + "PORT"
			}
			key = append(key, l+"="+v)
		}
		out[strings.Join(key, ",")] += s.value
	}
	return out
}

// TestMetricsLikeCoreDNS: for the same queries, tpdns's tpdns_dns_* series
// have the label values and counts of the CoreDNS build's coredns_dns_*
// (CoreDNS's view label, and the plugin label of responses_total, summed
// over; SPEC section 6 does not have them). tpdns answers the UDP queries on
// its packet path, the TCP ones through the chain: both count alike.
func TestMetricsLikeCoreDNS(t *testing.T) {
	reg := registry(t)
	scrapes := map[string][]series{}
	for _, name := range []string{"tpdns", "coredns"} {
		metrics := "127.0.0.1:" + test.FreePort(t)
		addr, _ := start(t, name, reg, strings.ReplaceAll(metricsCorefile, "METRICS", metrics))
		queries := 0
		for _, proto := range []string{"udp", "tcp"} {
			for _, q := range []struct {
				client, name string
				qtype        uint16
			}{
				{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeA},
				{"127.0.0.1", "web.tp.internal.", dns.TypeAAAA},
				{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeTXT},
				{"127.0.0.1", "_https._tcp.web.tp.internal.", dns.TypeSRV},
				{"127.0.0.1", "nope.tp.internal.", dns.TypeA},
				{"127.0.0.1", "web.tp.internal.", dns.TypeNAPTR}, // type "other"
				{"127.0.0.1", "private.tp.internal.", dns.TypeA}, // REFUSED by allow
				{"127.0.0.1", "20.2.0.192.in-addr.arpa.", dns.TypePTR},
			} {
				askOver(t, proto, addr, q.client, q.name, q.qtype)
				queries++
			}
		}
		// Each query is counted just after its reply: wait for the last.
		namespace := name
		deadline := time.Now().Add(5 * time.Second)
		for {
			scrapes[name] = scrapeDNS(t, metrics, namespace)
			total := 0.0
			for _, v := range sumBy(scrapes[name], "dns_requests_total") {
				total += v
			}
			if int(total) == queries {
				break
			}
			require.True(t, time.Now().Before(deadline), "%s counted %v of %d queries", name, total, queries)
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, c := range []struct {
		name string
		keep []string
	}{
		{"dns_requests_total", []string{"server", "zone", "proto", "family", "type"}},
		{"dns_responses_total", []string{"server", "zone", "rcode"}},
		{"dns_request_duration_seconds_count", []string{"server", "zone"}},
		{"dns_request_size_bytes_count", []string{"server", "zone", "proto"}},
		{"dns_request_size_bytes_sum", []string{"server", "zone", "proto"}},
		{"dns_response_size_bytes_count", []string{"server", "zone", "proto"}},
	} {
		want, got := sumBy(scrapes["coredns"], c.name, c.keep...), sumBy(scrapes["tpdns"], c.name, c.keep...)
		require.NotEmpty(t, want, c.name)
		assert.Equal(t, want, got, "%s: CoreDNS's %v, tpdns's %v", c.name, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
	}
	// tpdns has the type on the durations too (SPEC section 6): A, AAAA,
	// TXT, SRV and other in tp.internal., PTR in the reverse zone.
	assert.Len(t, sumBy(scrapes["tpdns"], "dns_request_duration_seconds_count", "zone", "type"), 6)
}
