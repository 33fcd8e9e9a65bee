package test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// dashboardFile is the Grafana dashboard of deploy/grafana.
const dashboardFile = "../deploy/grafana/tpdns.json"

// metricName is a series name of tpdns in a PromQL query.
var metricName = regexp.MustCompile(`\btpdns_[a-zA-Z0-9_]+`)

// dashboardQueries returns every query of the dashboard: the expressions
// of its panels and the queries of its variables.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(b, &dash))
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition" || k == "query") {
					out = append(out, s)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	return out
}

// TestDashboardShape: the dashboard is one Grafana dashboard whose panels
// have distinct ids and each a query per target, on the data source
// variable, and it shows what issue 16 asks for.
func TestDashboardShape(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	assert.Equal(t, "tpdns", dash.UID)
	var ids []int
	for _, p := range dash.Panels {
		assert.NotContains(t, ids, p.ID, p.Title)
		ids = append(ids, p.ID)
		assert.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		var refs []string
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.Expr, p.Title)
			assert.NotContains(t, refs, tg.RefID, p.Title)
			refs = append(refs, tg.RefID)
		}
	}
	all := strings.Join(dashboardQueries(t), "\n")
	for _, want := range []string{
		`sum by (rcode) (rate(tpdns_dns_responses_total`,                                       // qps by rcode
		`histogram_quantile(0.99, sum by (le) (rate(tpdns_dns_request_duration_seconds_bucket`, // latency quantiles
		`sum by (state) (tpdns_thirdparty_endpoints`,                                           // endpoints by state
		`tpdns_thirdparty_health_transitions_total`,
		`tpdns_thirdparty_guard_active`,
		`tpdns_thirdparty_store_up`,
	} {
		assert.Contains(t, all, want)
	}
}

// TestDashboardMetricsExist: every series the dashboard queries is in the
// /metrics of a running server, with a checked service that had a state
// change, queries answered, a registry file reloaded and the API used (a
// series appears with its first use, as in CoreDNS).
func TestDashboardMetricsExist(t *testing.T) {
	port := FreePort(t)
	up, err := net.Listen("tcp", "127.0.0.51:"+port)
	require.NoError(t, err)
	defer up.Close()
	down, err := net.Listen("tcp", "127.0.0.52:"+port)
	require.NoError(t, err)
	dir := t.TempDir()
	registry := fmt.Sprintf(`services:
  - name: oracle.finance
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.51, 127.0.0.52]
    check: {type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 1}
`, port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	dnsAddr, metrics, api := "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t)
	corefile := fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    prometheus %s
    errors
    thirdparty {
        services services.yaml
        reload 100ms
        store bolt tpdns.db
        api %s
    }
}
`, strings.TrimPrefix(dnsAddr, "127.0.0.1:"), metrics, api)
	StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	b, err := os.ReadFile(filepath.Join(dir, "tpdns.token"))
	require.NoError(t, err)
	token := strings.TrimSpace(string(b))
	waitEndpointState(t, api, token, "oracle.finance", "127.0.0.52", "healthy")

	// Queries over both transports, answered and not.
	for _, q := range []struct {
		proto, name string
		qtype       uint16
	}{{"udp", "oracle.finance.tp.internal.", dns.TypeA}, {"tcp", "oracle.finance.tp.internal.", dns.TypeSRV}, {"udp", "nothing.tp.internal.", dns.TypeA}} {
		Exchange(t, q.proto, dnsAddr, Query(q.name, q.qtype, 1232))
	}
	// A state change, and a registry file changed.
	down.Close()
	waitEndpointState(t, api, token, "oracle.finance", "127.0.0.52", "unhealthy")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry+"  - name: extra\n    endpoints: [192.0.2.1]\n"), 0o644))

	var names []string
	for _, q := range dashboardQueries(t) {
		for _, name := range metricName.FindAllString(q, -1) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	require.NotEmpty(t, names)
	var missing []string
	require.Eventually(t, func() bool {
		page := Scrape(t, metrics)
		missing = missing[:0]
		for _, name := range names {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `[{ ]`).MatchString(page) {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0
	}, 5*time.Second, 50*time.Millisecond, "series the dashboard queries and /metrics lacks: %v (of %v)", &missing, names)
}
