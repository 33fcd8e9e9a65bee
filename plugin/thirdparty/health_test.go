package thirdparty_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// healthServer serves a registry from dir on a free port and returns the
// instance (for reloads) and its address.
func healthServer(t *testing.T, dir, registry, properties string) (*test.Instance, string, func(string) string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	port := test.FreePort(t)
	corefile := func(props string) string {
		return fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  reload 0\n  %s\n }\n}\n", port, props)
	}
	inst := test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile(properties))})
	return inst, "127.0.0.1:" + port, corefile
}

// addresses returns the A records of name, sorted.
func addresses(t *testing.T, addr, name string) []string {
	r := exchange(t, "udp", addr, "127.0.0.1", test.Query(name, dns.TypeA, 0))
	var out []string
	for _, rr := range rrs(r.Answer) {
		out = append(out, strings.Fields(rr)[4])
	}
	return out
}

// waitAddresses polls until name has the addresses want, failing after
// within; it returns how long it took.
func waitAddresses(t *testing.T, addr, name string, want []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := addresses(t, addr, name)
		if assert.ObjectsAreEqual(want, got) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: %v after %s, want %v", name, got, within, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	return ln
}

func TestUnhealthyEndpointsLeaveAndReturn(t *testing.T) {
	port := test.FreePort(t)
	a := listen(t, "127.0.0.11:"+port)
	defer a.Close()
	b := listen(t, "127.0.0.12:"+port)
	registry := fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.11, 127.0.0.12]
    check: {type: tcp, interval: 200ms, timeout: 100ms, rise: 2, fall: 2}
`, port)
	_, addr, _ := healthServer(t, t.TempDir(), registry, "")
	waitAddresses(t, addr, "db.tp.internal.", []string{"127.0.0.11", "127.0.0.12"}, time.Second)

	b.Close()
	limit := 2*200*time.Millisecond + 100*time.Millisecond + 500*time.Millisecond // interval × fall + timeout + slack
	took := waitAddresses(t, addr, "db.tp.internal.", []string{"127.0.0.11"}, limit)
	t.Logf("left the answers after %s (limit %s)", took, limit)
	assert.NoError(t, testutil.GatherAndCompare(prometheus.DefaultGatherer, strings.NewReader(`
# HELP tpdns_thirdparty_endpoints Endpoints of each service, by health state.
# TYPE tpdns_thirdparty_endpoints gauge
tpdns_thirdparty_endpoints{service="db",state="disabled"} 0
tpdns_thirdparty_endpoints{service="db",state="healthy"} 1
tpdns_thirdparty_endpoints{service="db",state="unhealthy"} 1
tpdns_thirdparty_endpoints{service="db",state="unknown"} 0
`), "tpdns_thirdparty_endpoints"))

	b = listen(t, "127.0.0.12:"+port)
	defer b.Close()
	limit = 2*200*time.Millisecond + 100*time.Millisecond + 500*time.Millisecond // interval × rise + timeout + slack
	took = waitAddresses(t, addr, "db.tp.internal.", []string{"127.0.0.11", "127.0.0.12"}, limit)
	t.Logf("back in the answers after %s (limit %s)", took, limit)

	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("127-0-0-12.db.tp.internal.", dns.TypeA, 0))
	assert.Len(t, r.Answer, 1)
}

func TestDownAtStartIsGoneAfterTheFirstProbe(t *testing.T) {
	port := test.FreePort(t) // 127.0.0.13 does not listen on it
	up := listen(t, "127.0.0.14:"+port)
	defer up.Close()
	registry := fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.13, 127.0.0.14]
    check: {type: tcp, interval: 1h, timeout: 1s, fall: 3}
`, port)
	_, addr, _ := healthServer(t, t.TempDir(), registry, "")
	// With an interval of an hour only the first probe runs: it alone
	// must take the endpoint out, not fall = 3 of them.
	waitAddresses(t, addr, "db.tp.internal.", []string{"127.0.0.14"}, 2*time.Second)
}

func TestStateSurvivesReloadAndRegistryEdit(t *testing.T) {
	port := test.FreePort(t) // 127.0.0.15 does not listen on it
	registry := func(extra string) string {
		return fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.15, 127.0.0.16]
    check: {type: tcp, interval: 1h, timeout: 1s}
%s`, port, extra)
	}
	up := listen(t, "127.0.0.16:"+port)
	defer up.Close()
	dir := t.TempDir()
	inst, addr, corefile := healthServer(t, dir, registry(""), "")
	waitAddresses(t, addr, "db.tp.internal.", []string{"127.0.0.16"}, 2*time.Second)

	// The endpoint recovers, but no probe runs for an hour: only a checker
	// that forgot its state would put it back now.
	back := listen(t, "127.0.0.15:"+port)
	defer back.Close()

	require.NoError(t, inst.Reload(corefile("ttl 20")))
	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, []string{"db.tp.internal. 20 IN A 127.0.0.16"}, rrs(r.Answer), "after a Corefile reload")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry("  - name: web\n    endpoints: [192.0.2.1]\n")), 0o644))
	require.NoError(t, inst.Reload(corefile("ttl 20")))
	assert.Equal(t, []string{"127.0.0.16"}, addresses(t, addr, "db.tp.internal."), "after an unrelated registry edit")
	assert.Equal(t, []string{"192.0.2.1"}, addresses(t, addr, "web.tp.internal."))
}

func TestPanic(t *testing.T) {
	port := test.FreePort(t) // 127.0.0.17 does not listen on it
	registry := fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.17, 127.0.0.18, {address: 127.0.0.19, disabled: true}]
    connection: {DB_NAME: orcl}
    ttl: 30
    check: {type: tcp, interval: 1h, timeout: 1s}
`, port)
	for _, c := range []struct {
		panic bool
		a     []string
		srv   int
	}{
		{false, nil, 0},
		{true, []string{"db.tp.internal. 5 IN A 127.0.0.17", "db.tp.internal. 5 IN A 127.0.0.18"}, 2},
	} {
		props := ""
		if c.panic {
			props = "panic"
		}
		_, addr, _ := healthServer(t, t.TempDir(), registry, props)
		// Until both are probed (and found down), both are answered with
		// the service's TTL of 30.
		var r *dns.Msg
		deadline := time.Now().Add(2 * time.Second)
		for {
			r = exchange(t, "udp", addr, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeA, 0))
			if len(r.Answer) == 0 || r.Answer[0].Header().Ttl != 30 {
				break
			}
			require.True(t, time.Now().Before(deadline), "the endpoints were not probed within 2s")
			time.Sleep(5 * time.Millisecond)
		}
		assert.Equal(t, c.a, rrs(r.Answer), "panic %v", c.panic)
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, "NODATA, never NXDOMAIN")
		r = exchange(t, "udp", addr, "127.0.0.1", test.Query("_db._tcp.db.tp.internal.", dns.TypeSRV, 0))
		assert.Len(t, r.Answer, c.srv)
		r = exchange(t, "udp", addr, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeTXT, 0))
		assert.Contains(t, rrs(r.Answer), `db.tp.internal. 30 IN TXT "DB_NAME=orcl"`, "TXT does not depend on health")
		assert.Len(t, r.Answer, 3, "DB_HOST, DB_NAME, DB_PORT")
	}
}
