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
	// Host names outside the zone are resolved by a fake upstream on
	// loopback, never by this machine's resolvers.
	corefile = strings.Replace(corefile, "thirdparty {", "thirdparty {\n        resolver "+startUpstream(t), 1)
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(corefile, "PORT", port)), 0o644))
	addr := "127.0.0.1:" + port
	p := test.StartBinary(t, binaries[name], path, addr)
	// The probe's reply may have come from another process that took the
	// port meanwhile; the banner says this one serves it.
	p.WaitOutput(t, "tp.internal.:"+port+" on 127.0.0.1")
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

// startUpstream serves, over UDP on a free loopback port, the addresses
// of one of the example's Windows hosts (the other does not resolve) and
// returns its address.
func startUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	records := map[string]dns.RR{}
	for _, s := range []string{"winsrv01.corp.example.com. 60 IN A 192.0.2.80", "winsrv01.corp.example.com. 60 IN AAAA 2001:db8::80"} {
		rr, err := dns.NewRR(s)
		require.NoError(t, err)
		records[rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype]] = rr
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if rr, ok := records[q.Name+" "+dns.TypeToString[q.Qtype]]; ok {
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: handler}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
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

// ask sends a query over TCP from client (an address of 127.0.0.0/8).
func ask(t *testing.T, addr, client, name string, qtype uint16) reply {
	t.Helper()
	return askOver(t, "tcp", addr, client, name, qtype)
}

// askOver is ask over proto, "udp" or "tcp".
func askOver(t *testing.T, proto, addr, client, name string, qtype uint16) reply {
	t.Helper()
	local := net.Addr(&net.TCPAddr{IP: net.ParseIP(client)})
	if proto == "udp" {
		local = &net.UDPAddr{IP: net.ParseIP(client)}
	}
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: local}}
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
	downPort := test.FreePort(t) // nothing listens on it
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
	// Agreeing is not enough: both follow the host-name service to the
	// host's addresses, which a stub resolver behind a forwarder needs.
	for _, addr := range []string{tpdns, coredns} {
		assert.Equal(t, []string{
			"dotnet.legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com.",
			"winsrv01.corp.example.com. 10 IN A 192.0.2.80",
		}, ask(t, addr, "127.0.0.1", "dotnet.legacy.tp.internal.", dns.TypeA).Answer, addr)
	}
}

// TestHealthFlipAndReload: an endpoint whose listener closes leaves the
// answers of both binaries, and states survive a SIGUSR1 reload of either.
func TestHealthFlipAndReload(t *testing.T) {
	flip, err := net.Listen("tcp", "127.0.0.1:"+test.FreePort(t)) // closed below: no one else may take it
	require.NoError(t, err)
	_, flipPort, _ := net.SplitHostPort(flip.Addr().String())
	kept, err := net.Listen("tcp", "127.0.0.4:"+test.FreePort(t)) // bound again below
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

// leakRegistry has, twice (one per order of the clients, so that each
// order starts on names no one asked before), a service whose secrets
// only 127.0.0.2 may see and a service only 127.0.0.2 may resolve.
const leakRegistry = `services:
  - name: secret-a
    endpoints: [192.0.2.10]
    connection: {DB_USER: app}
    secrets: {DB_PASSWORD: s3cret}
    secrets_allow: [127.0.0.2/32]
  - name: private-a
    endpoints: [192.0.2.20, 192.0.2.21]
    allow: [127.0.0.2/32]
  - name: secret-b
    endpoints: [192.0.2.10]
    connection: {DB_USER: app}
    secrets: {DB_PASSWORD: s3cret}
    secrets_allow: [127.0.0.2/32]
  - name: private-b
    endpoints: [192.0.2.20, 192.0.2.21]
    allow: [127.0.0.2/32]
`

// leakCorefile puts thirdparty behind log, acl, cache and prometheus, as a
// CoreDNS user would write it; METRICS is the prometheus address.
const leakCorefile = `tp.internal:PORT {
    bind 127.0.0.1
    log
    acl {
        allow net 127.0.0.1/32 127.0.0.2/32
        block
    }
    cache
    prometheus METRICS
    thirdparty {
        services services.yaml
        reload 0
    }
}
`

// TestCacheNeverSharesClientAnswers: a cache in the server block never
// hands one client's answer to another (SPEC section 2), in either order
// of the clients: 127.0.0.1 never gets the secret nor the addresses its
// allow refuses, and 127.0.0.2 always gets both, whoever asked first.
func TestCacheNeverSharesClientAnswers(t *testing.T) {
	const privileged, other, outsider = "127.0.0.2", "127.0.0.1", "127.0.0.3"
	refused := reply{Rcode: "REFUSED"}
	txt := func(s string, keys ...string) reply {
		r := reply{Rcode: "NOERROR", AA: true}
		for _, k := range keys {
			r.Answer = append(r.Answer, fmt.Sprintf(`secret-%s.tp.internal. 10 IN TXT "%s"`, s, k))
		}
		return r
	}
	addresses := func(s string) reply {
		return reply{Rcode: "NOERROR", AA: true, Answer: []string{
			fmt.Sprintf("private-%s.tp.internal. 10 IN A 192.0.2.20", s),
			fmt.Sprintf("private-%s.tp.internal. 10 IN A 192.0.2.21", s),
		}}
	}
	want := func(client, s string, qtype uint16) reply {
		switch {
		case client == outsider:
			return refused // by acl
		case qtype == dns.TypeTXT && client == privileged:
			return txt(s, "DB_PASSWORD=s3cret", "DB_USER=app")
		case qtype == dns.TypeTXT:
			return txt(s, "DB_USER=app")
		case client == privileged:
			return addresses(s)
		default:
			return refused // by the service's allow
		}
	}
	orders := map[string][]string{
		"a": {privileged, other, outsider, privileged, other},
		"b": {other, outsider, privileged, other, privileged},
	}
	for _, name := range []string{"tpdns", "coredns"} {
		t.Run(name, func(t *testing.T) {
			metrics := "127.0.0.1:" + test.FreePort(t)
			addr, _ := start(t, name, leakRegistry, strings.ReplaceAll(leakCorefile, "METRICS", metrics))
			queries := 0
			for _, s := range []string{"a", "b"} {
				for _, client := range orders[s] {
					for _, qtype := range []uint16{dns.TypeTXT, dns.TypeA} {
						qname := fmt.Sprintf("secret-%s.tp.internal.", s)
						if qtype == dns.TypeA {
							qname = fmt.Sprintf("private-%s.tp.internal.", s)
						}
						for _, proto := range []string{"udp", "tcp"} {
							got := askOver(t, proto, addr, client, qname, qtype)
							assert.Equal(t, want(client, s, qtype), got, "%s %s from %s over %s", qname, dns.TypeToString[qtype], client, proto)
							if client != outsider {
								queries++
							}
						}
					}
				}
			}

			body := test.Scrape(t, metrics)
			assert.Contains(t, body, name+"_dns_requests_total{")
			if name == "tpdns" {
				// tpdns's cache is in front of thirdparty (SPEC chain
				// order): it was asked every query acl let through, and
				// answered none, so it did see them.
				server := "dns://" + addr
				assert.Contains(t, body, fmt.Sprintf("tpdns_cache_requests_total{server=%q} %d\n", server, queries))
				assert.Contains(t, body, fmt.Sprintf("tpdns_cache_misses_total{server=%q} %d\n", server, queries))
			}
		})
	}
}

// TestIPv6CIDRKey: a reverse zone written as CoreDNS writes it, the IPv6
// CIDR with the port after the prefix length, serves the same PTR records
// in both builds (SPEC section 2.1).
func TestIPv6CIDRKey(t *testing.T) {
	const corefile = `tp.internal:PORT 192.0.2.0/24:PORT 2001:db8::/32:PORT {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        reload 0
    }
}
`
	cases := []struct {
		name string
		want reply
	}{
		{"0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", reply{Rcode: "NOERROR", AA: true, Answer: []string{
			"0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 30 IN PTR 2001-db8--20.web.tp.internal.",
		}}},
		{"20.2.0.192.in-addr.arpa.", reply{Rcode: "NOERROR", AA: true, Answer: []string{
			"20.2.0.192.in-addr.arpa. 30 IN PTR 192-0-2-20.web.tp.internal.",
		}}},
	}
	reg := registry(t)
	for _, name := range []string{"tpdns", "coredns"} {
		addr, _ := start(t, name, reg, corefile)
		for _, c := range cases {
			assert.Equal(t, c.want, ask(t, addr, "127.0.0.1", c.name, dns.TypePTR), "%s: %s PTR", name, c.name)
		}
	}
}

// TestBracketedIPv6KeyRefused: "[2001:db8::/32]:PORT", which CoreDNS
// takes for a zone named "[2001:db8::/32]." that no query reaches, stops
// both builds at start-up with an error naming the key.
func TestBracketedIPv6KeyRefused(t *testing.T) {
	const corefile = `tp.internal:PORT [2001:db8::/32]:PORT {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
    }
}
`
	const why = `is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`
	// How each build names the key: tpdns as written, CoreDNS in the
	// normalized form it hands the plugin, whose setup (at the thirdparty
	// line, 3) refuses it.
	keys := map[string]string{
		"tpdns":   `server block key "[2001:db8::/32]:%[1]s": "[2001:db8::/32]" `,
		"coredns": `plugin/thirdparty: %[2]s:3 - Error during parsing: server block key "dns://[2001:db8::/32].:%[1]s": "[2001:db8::/32]." `,
	}
	for _, name := range []string{"tpdns", "coredns"} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry(t)), 0o644))
		port := test.FreePort(t)
		path := filepath.Join(dir, "Corefile")
		require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(corefile, "PORT", port)), 0o644))
		p := test.StartBinary(t, binaries[name], path, "")
		assert.Equal(t, 1, p.Wait(t), "%s: exit status\n%s", name, p.Output)
		assert.Contains(t, p.Output.String(), fmt.Sprintf(keys[name], port, path)+why, name)
	}
}

// TestTSIGSecretsKeys: a query signed with a key of secrets_keys gets the
// secrets in both builds (tpdns's tsig and CoreDNS's own), whatever cache
// is in the block; an unsigned one does not; a bad signature gets NOTAUTH
// with BADSIG and no data (SPEC sections 2 and 3).
func TestTSIGSecretsKeys(t *testing.T) {
	const secret = "jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM="
	const wrong = "Tm90IHRoZSBzZWNyZXQgYXQgYWxsLCAzMiBieXRlcyE="
	const registry = `services:
  - name: vault
    connection: {DB_USER: app}
    secrets: {DB_PASSWORD: s3cret}
    secrets_keys: [app-finance]
`
	const corefile = `tp.internal:PORT {
    bind 127.0.0.1
    tsig {
        secret app-finance. ` + secret + `
    }
    cache
    thirdparty {
        services services.yaml
        reload 0
    }
}
`
	for _, name := range []string{"tpdns", "coredns"} {
		addr, _ := start(t, name, registry, corefile)
		for _, proto := range []string{"udp", "tcp"} {
			ask := func(key string) (*dns.Msg, []string) {
				q := test.Query("vault.tp.internal.", dns.TypeTXT, 1232)
				c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
				if key != "" {
					q.SetTsig("app-finance.", dns.HmacSHA256, 300, time.Now().Unix())
					c.TsigSecret = map[string]string{"app-finance.": key}
				}
				m, _, err := c.Exchange(q, addr)
				if key == secret {
					require.NoError(t, err, "%s over %s: the reply verifies", name, proto)
				}
				require.NotNil(t, m, "%s over %s: %v", name, proto, err)
				var strs []string
				for _, rr := range m.Answer {
					strs = append(strs, rr.(*dns.TXT).Txt...)
				}
				return m, strs
			}
			for range 2 { // the second time, a cache would answer
				_, strs := ask("")
				assert.Equal(t, []string{"DB_USER=app"}, strs, "%s over %s: unsigned", name, proto)
				m, strs := ask(secret)
				assert.Equal(t, []string{"DB_PASSWORD=s3cret", "DB_USER=app"}, strs, "%s over %s: signed", name, proto)
				assert.NotNil(t, m.IsTsig(), "%s over %s: the reply is signed", name, proto)
			}
			m, strs := ask(wrong)
			assert.Equal(t, dns.RcodeNotAuth, m.Rcode, "%s over %s: bad signature", name, proto)
			assert.Empty(t, strs)
			if assert.NotNil(t, m.IsTsig(), "%s over %s", name, proto) {
				assert.Equal(t, uint16(dns.RcodeBadSig), m.IsTsig().Error, "%s over %s", name, proto)
			}
		}
	}
}
