// Package conformance runs one table of DNS cases against tpdns and
// against stock CoreDNS built with the thirdparty plugin, and requires the
// same answers from both.
package conformance

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// binaries are tpdns and the CoreDNS build, by name.
var binaries = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance")
	if err != nil {
		panic(err)
	}
	for name, args := range map[string][]string{
		"tpdns":   {"build", "-o", filepath.Join(dir, "tpdns"), "github.com/tpdns/tpdns/cmd/tpdns"},
		"coredns": {"build", "-tags", "coredns", "-o", filepath.Join(dir, "coredns"), "github.com/tpdns/tpdns/coredns/cmd/coredns"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", name, err)
			os.Exit(1)
		}
		binaries[name] = filepath.Join(dir, name)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start runs one of the binaries on corefile (written next to the example
// registry) and returns the DNS address and the process.
func start(t *testing.T, name, registry, corefile string) (string, *test.Process) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	port := test.FreePort(t)
	path := filepath.Join(dir, "Corefile")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(corefile, "PORT", port)), 0o644))
	addr := "127.0.0.1:" + port
	p := test.StartBinary(t, binaries[name], path, addr)
	t.Cleanup(func() {
		if t.Failed() {
			state := "running"
			if err := p.Cmd.Process.Signal(syscall.Signal(0)); err != nil {
				state = err.Error()
			}
			t.Logf("%s on %s (%s):\n%s", name, addr, state, p.Output)
		}
	})
	return addr, p
}

const corefile = `tp.internal:PORT 192.0.2.0/24:PORT 8.b.d.0.1.0.0.2.ip6.arpa:PORT 10.0.0.0/8:PORT {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        reload 0
    }
}
`

// reply is what both binaries must agree on: rcode, AA, and the sections
// as sorted zone-file lines (the order is shuffled per query), without the
// SOA serial (the time each loaded the registry) or OPT.
type reply struct {
	Rcode             string
	AA                bool
	Answer, Ns, Extra []string
}

var serial = regexp.MustCompile(`(IN\s+SOA\s+\S+\s+\S+\s+)\d+`)

func ask(t *testing.T, addr, client, name string, qtype uint16) reply {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	require.NoError(t, err, "%s %s", name, dns.TypeToString[qtype])
	lines := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			out = append(out, serial.ReplaceAllString(strings.Join(strings.Fields(rr.String()), " "), "${1}SERIAL"))
		}
		slices.Sort(out)
		return out
	}
	return reply{dns.RcodeToString[r.Rcode], r.Authoritative, lines(r.Answer), lines(r.Ns), lines(r.Extra)}
}

// cases cover every row of SPEC section 4 on the example registry plus the
// services registryExtra adds.
var cases = []struct {
	client, name string
	qtype        uint16
}{
	{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeA},
	{"127.0.0.1", "ORACLE.Finance.tp.internal.", dns.TypeA},
	{"127.0.0.1", "web.tp.internal.", dns.TypeAAAA},
	{"127.0.0.1", "dotnet.legacy.tp.internal.", dns.TypeA},
	{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeSRV},
	{"127.0.0.1", "_https._tcp.web.tp.internal.", dns.TypeSRV},
	{"127.0.0.1", "_api._tcp.dotnet.legacy.tp.internal.", dns.TypeSRV},
	{"127.0.0.1", "standby.oracle.finance.tp.internal.", dns.TypeA},
	{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeTXT},
	{"127.0.0.2", "oracle.finance.tp.internal.", dns.TypeTXT},
	{"127.0.0.1", "20.2.0.192.in-addr.arpa.", dns.TypePTR},
	{"127.0.0.1", "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR},
	{"127.0.0.1", "tp.internal.", dns.TypeSOA},
	{"127.0.0.1", "tp.internal.", dns.TypeNS},
	{"127.0.0.1", "web.tp.internal.", dns.TypeMX},
	{"127.0.0.1", "nope.tp.internal.", dns.TypeA},
	{"127.0.0.1", "finance.tp.internal.", dns.TypeA},
	{"127.0.0.1", "_tcp.web.tp.internal.", dns.TypeSRV},
	{"127.0.0.1", "down.tp.internal.", dns.TypeA},
	{"127.0.0.1", "down.tp.internal.", dns.TypeTXT},
	{"127.0.0.1", "private.tp.internal.", dns.TypeA},
	{"127.0.0.2", "private.tp.internal.", dns.TypeA},
	{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeANY},
	{"127.0.0.1", "1.0.0.10.in-addr.arpa.", dns.TypePTR},
}

// registryExtra adds what the example lacks: a service with no endpoint up
// (its only one is checked, on a port nothing listens on), and one with an
// allow list.
const registryExtra = `
  - name: down
    ports: [{name: db, port: DOWNPORT}]
    endpoints: [127.0.0.1]
    connection: {STATE: down}
    check: {type: tcp, interval: 1h, timeout: 1s}
  - name: private
    endpoints: [10.0.0.1]
    allow: [127.0.0.2/32]
`

func registry(t *testing.T) string {
	example, err := os.ReadFile("../../examples/services.yaml")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, downPort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	extra := strings.ReplaceAll(registryExtra, "DOWNPORT", downPort)
	return strings.ReplaceAll(string(example), "secrets_allow: [127.0.0.0/8]", "secrets_allow: [127.0.0.2/32]") + extra
}

func TestBothBinariesAnswerAlike(t *testing.T) {
	reg := registry(t)
	tpdns, _ := start(t, "tpdns", reg, corefile)
	coredns, _ := start(t, "coredns", reg, corefile)
	// Until its first probe, "down" is unknown and answered: wait for both.
	for _, addr := range []string{tpdns, coredns} {
		deadline := time.Now().Add(5 * time.Second)
		for len(ask(t, addr, "127.0.0.1", "down.tp.internal.", dns.TypeA).Answer) > 0 {
			require.True(t, time.Now().Before(deadline), "%s: down.tp.internal never went down", addr)
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, c := range cases {
		want := ask(t, tpdns, c.client, c.name, c.qtype)
		got := ask(t, coredns, c.client, c.name, c.qtype)
		assert.Equal(t, want, got, "%s %s from %s", c.name, dns.TypeToString[c.qtype], c.client)
	}
}

// TestHealthFlipAndReload: an endpoint whose listener closes leaves the
// answers of both binaries, and states survive a SIGUSR1 reload of either.
func TestHealthFlipAndReload(t *testing.T) {
	flip, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, flipPort, _ := net.SplitHostPort(flip.Addr().String())
	kept, err := net.Listen("tcp", "127.0.0.4:0")
	require.NoError(t, err)
	keptAddr := kept.Addr().String()
	_, keptPort, _ := net.SplitHostPort(keptAddr)
	kept.Close() // down at start
	reg := fmt.Sprintf(`services:
  - name: flip
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.1]
    check: {type: tcp, interval: 200ms, timeout: 100ms, fall: 1}
  - name: kept
    ports: [{name: db, port: %s}]
    endpoints: [127.0.0.4]
    check: {type: tcp, interval: 1h, timeout: 1s}
`, flipPort, keptPort)

	addrs := map[string]string{}
	procs := map[string]*test.Process{}
	for _, name := range []string{"tpdns", "coredns"} {
		addrs[name], procs[name] = start(t, name, reg, corefile)
	}
	count := func(name, service string) int {
		return len(ask(t, addrs[name], "127.0.0.1", service+".tp.internal.", dns.TypeA).Answer)
	}
	wait := func(name, service string, want int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for count(name, service) != want {
			require.True(t, time.Now().Before(deadline), "%s: %s has not %d addresses within 3s", name, service, want)
			time.Sleep(10 * time.Millisecond)
		}
	}
	for name := range addrs {
		wait(name, "flip", 1)
		wait(name, "kept", 0) // its first probe found it down
	}
	flip.Close()
	for name := range addrs {
		wait(name, "flip", 0)
	}

	// kept comes back, but is not probed again for an hour: after a reload
	// it is still out of the answers only if the state was carried over (a
	// fresh checker would probe it at once and find it up).
	back, err := net.Listen("tcp", keptAddr)
	require.NoError(t, err)
	defer back.Close()
	for name, p := range procs {
		p.Signal(t, syscall.SIGUSR1)
		p.WaitOutput(t, "Reloading complete")
		assert.Equal(t, 0, count(name, "kept"), "%s: the state of kept survives the reload", name)
		assert.Equal(t, 0, count(name, "flip"), name)
	}
}

// TestCoreDNSMetricsNamespace: in the CoreDNS build the plugin's metrics
// take CoreDNS's namespace, beside CoreDNS's own.
func TestCoreDNSMetricsNamespace(t *testing.T) {
	metrics := "127.0.0.1:" + test.FreePort(t)
	addr, _ := start(t, "coredns", registry(t), strings.Replace(corefile, "bind 127.0.0.1", "bind 127.0.0.1\n    prometheus "+metrics, 1))
	ask(t, addr, "127.0.0.1", "web.tp.internal.", dns.TypeA)
	resp, err := http.Get("http://" + metrics + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `coredns_thirdparty_endpoints{service="web",state="healthy"} 3`)
	assert.Contains(t, string(body), "coredns_thirdparty_registry_generation ")
	assert.Contains(t, string(body), "coredns_dns_requests_total{")
	assert.NotContains(t, string(body), "tpdns_")
}
