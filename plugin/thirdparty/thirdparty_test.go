package thirdparty_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/cache"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestMain(m *testing.M) {
	// The snapshot files of the tests' etcd stores (in the user's cache
	// directory by default) go to a directory of their own: no test
	// serves another run's snapshot, and none is left behind.
	cache, err := os.MkdirTemp("", "tpdns-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(cache)
		os.Exit(code)
	}))
}

// registryYAML is the registry the answer tests run against. Clients are
// 127.0.0.1 (the default) or 127.0.0.2.
const registryYAML = `services:
  - name: oracle.finance
    ports:
      - name: db
        port: 1521
    endpoints:
      - 10.0.0.10
      - address: 10.0.0.11
        name: standby
        priority: 10
        weight: 5
      - address: 10.0.0.12
        disabled: true
    connection:
      DB_USER: app
      DB_NAME: orcl
    secrets:
      DB_PASSWORD: s3cret
    secrets_allow: [127.0.0.2/32]
  - name: web
    ports:
      - {name: http, port: 80}
      - {name: https, port: 443}
    endpoints: [192.0.2.20, "2001:db8::20"]
    ttl: 30
  - name: legacy
    ports:
      - {name: api, port: 8080}
    endpoints: [winsrv01.corp.example.com]
  - name: private
    endpoints: [10.1.0.1]
    allow: [127.0.0.2/32]
  - name: big
    endpoints: [%s]
`

func bigEndpoints() string {
	var eps []string
	for i := range 60 {
		eps = append(eps, fmt.Sprintf("10.2.0.%d", i+1))
	}
	return strings.Join(eps, ", ")
}

// start serves the registry on a free port of 127.0.0.1, with next after
// thirdparty answering TXT "next" for whatever it is given.
func start(t testing.TB, registry, properties string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	port := test.FreePort(t)
	// Host names outside the zone are resolved by a fake upstream, never
	// the system's resolver.
	upstream := startUpstream(t, upstreamRecords)
	corefile := fmt.Sprintf(`tp.internal:%[1]s 10.0.0.0/8:%[1]s 2001:db8::/32:%[1]s {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        resolver %[3]s
        %[2]s
    }
    testanswer next
}`, port, properties, upstream.addr)
	inst, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	require.NoError(t, err)
	t.Cleanup(func() { server.Stop(inst) })
	return "127.0.0.1:" + port
}

// exchange sends a query from client (an address of 127.0.0.0/8).
func exchange(t *testing.T, proto, server, client string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second, UDPSize: dns.MaxMsgSize}
	if proto == "tcp" {
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}, Timeout: 2 * time.Second}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(client)}, Timeout: 2 * time.Second}
	}
	r, _, err := c.Exchange(m, server)
	require.NoError(t, err, m.Question[0].String())
	return r
}

func rrs(section []dns.RR) []string {
	var out []string
	for _, rr := range section {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

// serialRE finds the SOA serial, which is the time the registry was loaded.
var serialRE = regexp.MustCompile(`^(\S+ \d+ IN SOA \S+ \S+ )\d+( )`)

const soa = "tp.internal. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. SERIAL 7200 1800 86400 10"

// reply is the part of a reply the table compares.
type reply struct {
	rcode             int
	aa                bool
	answer, ns, extra []string
}

func TestAnswers(t *testing.T) {
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "")
	nodata := reply{rcode: dns.RcodeSuccess, aa: true, ns: []string{soa}}
	cases := []struct {
		name   string
		qtype  uint16
		client string
		want   reply
	}{
		{"oracle.finance.tp.internal.", dns.TypeA, "127.0.0.1", reply{aa: true, answer: []string{
			"oracle.finance.tp.internal. 10 IN A 10.0.0.10", "oracle.finance.tp.internal. 10 IN A 10.0.0.11"}}},
		{"ORACLE.Finance.TP.internal.", dns.TypeA, "127.0.0.1", reply{aa: true, answer: []string{
			"ORACLE.Finance.TP.internal. 10 IN A 10.0.0.10", "ORACLE.Finance.TP.internal. 10 IN A 10.0.0.11"}}},
		{"Standby.ORACLE.finance.tp.internal.", dns.TypeSRV, "127.0.0.1", reply{aa: true, ns: []string{
			"tp.internal. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. SERIAL 7200 1800 86400 10"}}},
		{"Nothing.TP.internal.", dns.TypeA, "127.0.0.1", reply{rcode: dns.RcodeNameError, aa: true, ns: []string{
			"TP.internal. 10 IN SOA ns.dns.tp.internal. hostmaster.tp.internal. SERIAL 7200 1800 86400 10"}}},
		{"oracle.finance.tp.internal.", dns.TypeSRV, "127.0.0.1", reply{aa: true, answer: []string{
			"oracle.finance.tp.internal. 10 IN SRV 0 1 1521 10-0-0-10.oracle.finance.tp.internal.",
			"oracle.finance.tp.internal. 10 IN SRV 10 5 1521 standby.oracle.finance.tp.internal.",
		}, extra: []string{
			"10-0-0-10.oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{"_db._tcp.oracle.finance.tp.internal.", dns.TypeSRV, "127.0.0.1", reply{aa: true, answer: []string{
			"_db._tcp.oracle.finance.tp.internal. 10 IN SRV 0 1 1521 10-0-0-10.oracle.finance.tp.internal.",
			"_db._tcp.oracle.finance.tp.internal. 10 IN SRV 10 5 1521 standby.oracle.finance.tp.internal.",
		}, extra: []string{
			"10-0-0-10.oracle.finance.tp.internal. 10 IN A 10.0.0.10",
			"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11",
		}}},
		{"standby.oracle.finance.tp.internal.", dns.TypeA, "127.0.0.1", reply{aa: true, answer: []string{"standby.oracle.finance.tp.internal. 10 IN A 10.0.0.11"}}},
		{"10-0-0-12.oracle.finance.tp.internal.", dns.TypeA, "127.0.0.1", nodata}, // disabled
		{"oracle.finance.tp.internal.", dns.TypeTXT, "127.0.0.1", reply{aa: true, answer: []string{
			`oracle.finance.tp.internal. 10 IN TXT "DB_HOST=oracle.finance.tp.internal"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME=orcl"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PORT=1521"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_USER=app"`,
		}}},
		{"oracle.finance.tp.internal.", dns.TypeTXT, "127.0.0.2", reply{aa: true, answer: []string{
			`oracle.finance.tp.internal. 10 IN TXT "DB_HOST=oracle.finance.tp.internal"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_NAME=orcl"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PASSWORD=s3cret"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_PORT=1521"`,
			`oracle.finance.tp.internal. 10 IN TXT "DB_USER=app"`,
		}}},
		{"oracle.finance.tp.internal.", dns.TypeANY, "127.0.0.1", reply{aa: true, answer: []string{`oracle.finance.tp.internal. 10 IN HINFO "RFC8482" ""`}}},
		{"oracle.finance.tp.internal.", dns.TypeMX, "127.0.0.1", nodata},
		{"finance.tp.internal.", dns.TypeA, "127.0.0.1", nodata},
		{"_tcp.oracle.finance.tp.internal.", dns.TypeSRV, "127.0.0.1", nodata},
		{"web.tp.internal.", dns.TypeAAAA, "127.0.0.1", reply{aa: true, answer: []string{"web.tp.internal. 30 IN AAAA 2001:db8::20"}}},
		{"_https._tcp.web.tp.internal.", dns.TypeSRV, "127.0.0.1", reply{aa: true, answer: []string{
			"_https._tcp.web.tp.internal. 30 IN SRV 0 1 443 192-0-2-20.web.tp.internal.",
			"_https._tcp.web.tp.internal. 30 IN SRV 0 1 443 2001-db8--20.web.tp.internal.",
		}, extra: []string{
			"192-0-2-20.web.tp.internal. 30 IN A 192.0.2.20",
			"2001-db8--20.web.tp.internal. 30 IN AAAA 2001:db8::20",
		}}},
		{"legacy.tp.internal.", dns.TypeA, "127.0.0.1", reply{aa: true, answer: []string{"legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com.", "winsrv01.corp.example.com. 10 IN A 192.0.2.80"}}},
		{"legacy.tp.internal.", dns.TypeSRV, "127.0.0.1", reply{aa: true, answer: []string{"legacy.tp.internal. 10 IN SRV 0 1 8080 winsrv01.corp.example.com."},
			extra: []string{"winsrv01.corp.example.com. 10 IN A 192.0.2.80", "winsrv01.corp.example.com. 10 IN AAAA 2001:db8::80"}}},
		{"private.tp.internal.", dns.TypeA, "127.0.0.1", reply{rcode: dns.RcodeRefused}},
		{"private.tp.internal.", dns.TypeA, "127.0.0.2", reply{aa: true, answer: []string{"private.tp.internal. 10 IN A 10.1.0.1"}}},
		{"10.0.0.10.in-addr.arpa.", dns.TypePTR, "127.0.0.1", reply{aa: true, answer: []string{"10.0.0.10.in-addr.arpa. 10 IN PTR 10-0-0-10.oracle.finance.tp.internal."}}},
		{"0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR, "127.0.0.1", reply{aa: true, answer: []string{
			"0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 30 IN PTR 2001-db8--20.web.tp.internal."}}},
		{"1.0.1.10.in-addr.arpa.", dns.TypePTR, "127.0.0.1", reply{rcode: dns.RcodeRefused}},
		{"tp.internal.", dns.TypeSOA, "127.0.0.1", reply{aa: true, answer: []string{soa}}},
		{"tp.internal.", dns.TypeNS, "127.0.0.1", reply{aa: true, answer: []string{"tp.internal. 10 IN NS ns.dns.tp.internal."}, extra: []string{"ns.dns.tp.internal. 10 IN A 127.0.0.1"}}},
		{"ns.dns.tp.internal.", dns.TypeA, "127.0.0.1", reply{aa: true, answer: []string{"ns.dns.tp.internal. 10 IN A 127.0.0.1"}}},
		{"nope.tp.internal.", dns.TypeA, "127.0.0.1", reply{rcode: dns.RcodeNameError, aa: true, ns: []string{soa}}},
		{"tp.internal.", dns.TypeAXFR, "127.0.0.1", reply{rcode: dns.RcodeRefused}},
	}
	for _, c := range cases {
		for _, proto := range []string{"udp", "tcp"} {
			q := test.Query(c.name, c.qtype, 0)
			r := exchange(t, proto, addr, c.client, q)
			got := reply{rcode: r.Rcode, aa: r.Authoritative, answer: rrs(r.Answer), ns: rrs(r.Ns), extra: rrs(r.Extra)}
			for i := range got.ns {
				got.ns[i] = serialRE.ReplaceAllString(got.ns[i], "${1}SERIAL${2}")
			}
			for i := range got.answer {
				got.answer[i] = serialRE.ReplaceAllString(got.answer[i], "${1}SERIAL${2}")
			}
			assert.Equal(t, c.want, got, "%s %s %s from %s", proto, c.name, dns.TypeToString[c.qtype], c.client)
			assert.Equal(t, c.name, r.Question[0].Name, "question echoed as asked")
		}
	}
}

func TestLargeAnswersAreTruncatedOverUDPOnly(t *testing.T) {
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "")
	for _, c := range []struct {
		proto   string
		bufsize uint16
		tc      bool
	}{
		{"udp", 0, true},
		{"udp", 4096, false},
		{"tcp", 0, false},
	} {
		r := exchange(t, c.proto, addr, "127.0.0.1", test.Query("big.tp.internal.", dns.TypeA, c.bufsize))
		assert.Equal(t, c.tc, r.Truncated, "%s bufsize %d", c.proto, c.bufsize)
		if c.tc {
			assert.Less(t, len(r.Answer), 60)
		} else {
			assert.Len(t, r.Answer, 60, "%s bufsize %d", c.proto, c.bufsize)
		}
	}
}

// TestTCPAnswersAreCompressed reads a TCP reply's bytes: its names point
// back at the question, as over UDP, so that a 60-record answer costs 16
// bytes a record rather than the owner name each time.
func TestTCPAnswersAreCompressed(t *testing.T) {
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "")
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"big.tp.internal.", dns.TypeA}, {"oracle.finance.tp.internal.", dns.TypeSRV}} {
		conn, err := dns.DialTimeout("tcp", addr, 2*time.Second)
		require.NoError(t, err)
		require.NoError(t, conn.WriteMsg(test.Query(q.name, q.qtype, 0)))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
		raw := make([]byte, dns.MaxMsgSize)
		n, err := conn.Read(raw)
		conn.Close()
		require.NoError(t, err)
		var r dns.Msg
		require.NoError(t, r.Unpack(raw[:n]))
		require.NotEmpty(t, r.Answer)
		r.Compress = true
		compressed, err := r.Pack()
		require.NoError(t, err)
		assert.Equal(t, len(compressed), n, "%s %s: as long as the same reply compressed", q.name, dns.TypeToString[q.qtype])
		r.Compress = false
		plain, err := r.Pack()
		require.NoError(t, err)
		assert.Less(t, n, len(plain))
	}
}

func TestMaxAnswers(t *testing.T) {
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "max_answers 5")
	seen := map[string]bool{}
	for range 20 {
		r := exchange(t, "udp", addr, "127.0.0.1", test.Query("big.tp.internal.", dns.TypeA, 0))
		require.Len(t, r.Answer, 5)
		assert.False(t, r.Truncated)
		for _, rr := range r.Answer {
			seen[rr.String()] = true
		}
	}
	assert.Greater(t, len(seen), 5, "a random subset each time")
}

func TestOddClasses(t *testing.T) {
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "")
	q := test.Query("web.tp.internal.", dns.TypeA, 0)
	q.Question[0].Qclass = dns.ClassCHAOS
	r := exchange(t, "udp", addr, "127.0.0.1", q)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)

	q.Question[0].Qclass = dns.ClassANY
	r = exchange(t, "udp", addr, "127.0.0.1", q)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)
	assert.Equal(t, []string{"web.tp.internal. 30 IN A 192.0.2.20"}, rrs(r.Answer))

	q.Question[0].Qclass = 4242
	r = exchange(t, "udp", addr, "127.0.0.1", q)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
}

func TestFallthrough(t *testing.T) {
	txt := func(r *dns.Msg) string {
		if len(r.Answer) == 0 {
			return dns.RcodeToString[r.Rcode]
		}
		return r.Answer[0].(*dns.TXT).Txt[0]
	}
	addr := start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "fallthrough legacy.tp.internal")
	for name, want := range map[string]string{
		"x.legacy.tp.internal.": "next 0",   // unknown, inside the fallthrough zone
		"nope.tp.internal.":     "NXDOMAIN", // unknown, outside it
		"big.tp.internal.":      "NOERROR",  // known names never fall through (NODATA for TXT)
	} {
		r := exchange(t, "udp", addr, "127.0.0.1", test.Query(name, dns.TypeTXT, 0))
		assert.Equal(t, want, txt(r), name)
	}
	addr = start(t, fmt.Sprintf(registryYAML, bigEndpoints()), "fallthrough")
	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("nope.tp.internal.", dns.TypeTXT, 0))
	assert.Equal(t, "next 0", txt(r))
	r = exchange(t, "udp", addr, "127.0.0.1", test.Query("99.9.9.10.in-addr.arpa.", dns.TypeTXT, 0))
	assert.Equal(t, "next 0", txt(r))
}

func TestBrokenRegistryStopsStartup(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: Bad_Name\n    ports: 5\n"), 0o644))
	corefile := "tp.internal:0 {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n }\n}\n"
	_, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin/thirdparty: services "+filepath.Join(dir, "services.yaml")+" is invalid:\n"+filepath.Join(dir, "services.yaml")+":2: ")
	assert.Contains(t, err.Error(), "\n"+filepath.Join(dir, "services.yaml")+":3: services[0].ports: ")
}

func TestEditedRegistryIsServedWithinReloadPlusOneSecond(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services.yaml")
	require.NoError(t, os.WriteFile(path, []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port := test.FreePort(t)
	corefile := "tp.internal:" + port + " {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  reload 200ms\n }\n}\n"
	inst, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	require.NoError(t, err)
	defer server.Stop(inst)
	addr := "127.0.0.1:" + port

	require.NoError(t, os.WriteFile(path, []byte("services:\n  - name: db\n    endpoints: [10.0.0.2]\n"), 0o644))
	deadline := time.Now().Add(200*time.Millisecond + time.Second)
	for {
		r := exchange(t, "udp", addr, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeA, 0))
		if got := rrs(r.Answer); len(got) == 1 && strings.HasSuffix(got[0], "10.0.0.2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edited registry was not served within reload + 1s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStableRegistryIsNotReadAgain: a poll reads the registry file only
// when stat says it changed. An edit that keeps the file's size and puts
// its old modification time back is not seen (so the poll did not read
// it); the same file touched is.
func TestStableRegistryIsNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services.yaml")
	old := time.Now().Add(-time.Hour)
	write := func(address string, mtime time.Time) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, []byte("services:\n  - name: db\n    endpoints: ["+address+"]\n"), 0o644))
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}
	write("10.0.0.1", old)
	port := test.FreePort(t)
	corefile := "tp.internal:" + port + " {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  reload 50ms\n }\n}\n"
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	addr := "127.0.0.1:" + port
	answer := func() []string {
		return rrs(exchange(t, "udp", addr, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeA, 0)).Answer)
	}
	require.Equal(t, []string{"db.tp.internal. 10 IN A 10.0.0.1"}, answer())

	write("10.0.0.2", old)
	// A change nothing shows cannot be waited for: ten polls go by.
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, []string{"db.tp.internal. 10 IN A 10.0.0.1"}, answer(), "the stable file was read again")

	now := time.Now()
	require.NoError(t, os.Chtimes(path, now, now))
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(answer(), []string{"db.tp.internal. 10 IN A 10.0.0.2"}) {
		require.True(t, time.Now().Before(deadline), "the touched file was not read")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestACacheInFrontKeepsNothing: answers that depend on the client must
// not be served to another one from a cache.
func TestACacheInFrontKeepsNothing(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(registryYAML, bigEndpoints())), 0o644))
	port := test.FreePort(t)
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n cache 300\n thirdparty {\n  services services.yaml\n }\n}\n", port)
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	addr := "127.0.0.1:" + port

	r := exchange(t, "udp", addr, "127.0.0.2", test.Query("oracle.finance.tp.internal.", dns.TypeTXT, 0))
	assert.Contains(t, rrs(r.Answer), `oracle.finance.tp.internal. 10 IN TXT "DB_PASSWORD=s3cret"`, "127.0.0.2 is in secrets_allow")
	r = exchange(t, "udp", addr, "127.0.0.1", test.Query("oracle.finance.tp.internal.", dns.TypeTXT, 0))
	assert.NotContains(t, strings.Join(rrs(r.Answer), "\n"), "s3cret", "not from the cache to another client")

	r = exchange(t, "udp", addr, "127.0.0.2", test.Query("private.tp.internal.", dns.TypeA, 0))
	assert.Len(t, r.Answer, 1)
	r = exchange(t, "udp", addr, "127.0.0.1", test.Query("private.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, dns.RcodeRefused, r.Rcode, "allow is not bypassed by the cache")
}

// TestTXTRecordPerKey: a TXT set larger than the client's size is truncated over
// UDP and whole over TCP, one record per key in key order, each one
// KEY=value string, and Go's resolver (which joins a record's strings)
// reads exactly those.
func TestTXTRecordPerKey(t *testing.T) {
	var conn, want []string
	for i := range 40 { // over 1232 octets, the EDNS size of Go's resolver
		kv := fmt.Sprintf("KEY_%02d=%s", i, strings.Repeat("v", 30))
		conn = append(conn, "      "+strings.Replace(kv, "=", ": ", 1))
		want = append(want, kv)
	}
	registry := "services:\n  - name: conf\n    connection:\n" + strings.Join(conn, "\n") +
		"\n    secrets:\n      A_SECRET: s3cret\n    secrets_allow: [127.0.0.2/32]\n"
	addr := start(t, registry, "")
	strs := func(r *dns.Msg) []string {
		var out []string
		for _, rr := range r.Answer {
			txt := rr.(*dns.TXT)
			assert.Len(t, txt.Txt, 1, "one string per record")
			assert.Equal(t, uint32(10), txt.Hdr.Ttl)
			out = append(out, txt.Txt...)
		}
		return out
	}

	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("conf.tp.internal.", dns.TypeTXT, 0))
	assert.True(t, r.Truncated, "over 512 octets")
	assert.Less(t, len(r.Answer), len(want))
	assert.Equal(t, want[:len(r.Answer)], strs(r), "whole records only, in key order")

	r = exchange(t, "tcp", addr, "127.0.0.1", test.Query("conf.tp.internal.", dns.TypeTXT, 0))
	assert.False(t, r.Truncated)
	assert.Equal(t, want, strs(r))
	// Over UDP never more than the server's EDNS size, 1232 octets,
	// whatever the client's.
	r = exchange(t, "udp", addr, "127.0.0.1", test.Query("conf.tp.internal.", dns.TypeTXT, 4096))
	assert.True(t, r.Truncated, "over 1232 octets")
	assert.Less(t, len(r.Answer), len(want))
	assert.Equal(t, want[:len(r.Answer)], strs(r), "whole records only, in key order")
	r = exchange(t, "tcp", addr, "127.0.0.2", test.Query("conf.tp.internal.", dns.TypeTXT, 0))
	assert.Equal(t, append([]string{"A_SECRET=s3cret"}, want...), strs(r), "secrets for secrets_allow")

	// Go's resolver: its EDNS size is 1232, so UDP is truncated and it asks
	// again over TCP.
	var networks []string
	var mu sync.Mutex
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		mu.Lock()
		networks = append(networks, network)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := resolver.LookupTXT(ctx, "conf.tp.internal.")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	mu.Lock()
	assert.Contains(t, networks, "tcp", "the truncated answer was asked again over TCP")
	mu.Unlock()
}
