// Package clients runs the client matrix: tpdns's answers resolved by the
// resolver libraries that workloads really use (glibc, musl, Go pure and
// cgo, Python, Node, Java), each in a private mount namespace whose
// /etc/resolv.conf looks like a Kubernetes pod's, once with tpdns as the
// name server and once behind the stock-CoreDNS build forwarding the zone,
// as a cluster DNS does.
//
// It needs root (port 53, unshare -m); outside CI a machine without root or
// without a stack's tools skips that part, in CI (CI set) it fails:
// scripts/test-deps.sh installs the tools.
package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

const (
	tpdnsIP   = "127.0.0.153" // tpdns, the name server of the first position
	corednsIP = "127.0.0.154" // stock CoreDNS forwarding tp.internal to tpdns

	bigEndpoints = 80 // big's A answer: over 512 bytes and over the 1232 of EDNS0
	bigTXTKeys   = 12 // bigtxt's TXT answer, the same

	// nxdomainWithin is how soon a name that does not exist must fail:
	// below the first timeout of every stack (glibc and musl wait 5 s), so
	// that a lost answer cannot pass for NXDOMAIN.
	nxdomainWithin = 4 * time.Second
)

// registry is the services file; BIG and BIGTXT are filled in by services.
const registry = `services:
  - name: pg
    ports:
      - name: db
        port: 5432
    endpoints: [10.0.0.5, "2001:db8::5"]
    connection:
      DB_NAME: app
      DB_USER: app
  - name: big
    endpoints:
BIG
  - name: bigtxt
    connection:
BIGTXT
  - name: alias
    endpoints: [pg.tp.internal]
  - name: dotnet.legacy
    ports:
      - name: api
        port: 8080
    endpoints: [winsrv01.corp.example.com]
    connection:
      API_PATH: /api/v2
`

func bigAddrs() []string {
	var out []string
	for i := 1; i <= bigEndpoints; i++ {
		out = append(out, "10.1.0."+strconv.Itoa(i))
	}
	return out
}

// bigTXT is bigtxt's connection keys as TXT values, 120-odd octets each.
func bigTXT() []string {
	var out []string
	for i := range bigTXTKeys {
		out = append(out, fmt.Sprintf("KEY_%02d=%s", i, strings.Repeat(fmt.Sprintf("value-%02d.", i), 12)))
	}
	return out
}

func services() string {
	var big, txt strings.Builder
	for _, a := range bigAddrs() {
		fmt.Fprintf(&big, "      - %s\n", a)
	}
	for _, kv := range bigTXT() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&txt, "      %s: %q\n", k, v)
	}
	r := strings.Replace(registry, "BIG\n", big.String(), 1)
	return strings.Replace(r, "BIGTXT\n", txt.String(), 1)
}

var (
	pgAddrs = []string{"10.0.0.5", "2001:db8::5"}
	pgSRV   = []string{"0 1 5432 10-0-0-5.pg.tp.internal", "0 1 5432 2001-db8--5.pg.tp.internal"}
	// pgTXT is pg's connection keys and the two made for its port db.
	pgTXT = []string{"DB_HOST=pg.tp.internal", "DB_NAME=app", "DB_PORT=5432", "DB_USER=app"}
	// The fake upstream's addresses of winsrv01.corp.example.com.
	winsrvAddrs = []string{"192.0.2.80", "2001:db8::80"}
)

// A column of the matrix: one query, the kind of lookup that makes it, and
// the exact answer (in any order; nil: the name does not exist).
type column struct {
	name, title string
	kind        string // host (both families), a, aaaa, srv, txt, nxdomain
	query       string
	want        []string
}

var columns = []column{
	{"short", "short name", "host", "pg", pgAddrs},
	{"fqdn", "FQDN", "host", "pg.tp.internal", pgAddrs},
	{"bigA", "A > 512 B", "a", "big.tp.internal", bigAddrs()},
	{"srv", "SRV", "srv", "_db._tcp.pg.tp.internal", pgSRV},
	// TXT: every stack's API must give exactly the KEY=value list, one per
	// element (Go's LookupTXT joins a record's strings with nothing, JNDI
	// with spaces: one record per key is what makes that work).
	{"txt", "TXT", "txt", "pg.tp.internal", pgTXT},
	{"bigTXT", "TXT > 512 B", "txt", "bigtxt.tp.internal", bigTXT()},
	{"alias", "host name in zone", "host", "alias.tp.internal", pgAddrs},
	{"dotnet", "host name out of zone", "host", "dotnet.legacy.tp.internal", winsrvAddrs},
	{"aaaa", "AAAA", "aaaa", "pg.tp.internal", []string{"2001:db8::5"}},
	{"nxdomain", "NXDOMAIN", "nxdomain", "nope.tp.internal", nil},
}

// A stack is a row: one resolver API of one program. ops maps a column's
// kind to the program's OP for it; a kind it lacks is n/a. An nxdomain
// column uses the host OP, or the txt OP of a stack without one.
type stack struct {
	name, title string
	program     string
	ops         map[string]string
	noSearch    string // why the short name is n/a: the API ignores the search list
	needs       string // a module the program must be able to import, see prepare
}

var stacks = []stack{
	{name: "glibc", title: "glibc (getaddrinfo; res_query)", program: "c-glibc",
		ops: map[string]string{"host": "gai", "a": "gai4", "aaaa": "gai6", "srv": "srv", "txt": "txt"}},
	{name: "musl", title: "musl (getaddrinfo; res_query), static", program: "c-musl",
		ops: map[string]string{"host": "gai", "a": "gai4", "aaaa": "gai6", "srv": "srv", "txt": "txt"}},
	{name: "go", title: "Go, pure (CGO_ENABLED=0)", program: "go-pure",
		ops: map[string]string{"host": "host", "a": "ip4", "aaaa": "ip6", "srv": "srv", "txt": "txt"}},
	{name: "go-cgo", title: "Go, cgo (netdns=cgo; SRV, TXT are Go's own)", program: "go-cgo",
		ops: map[string]string{"host": "host", "a": "ip4", "aaaa": "ip6", "srv": "srv", "txt": "txt"}},
	{name: "python", title: "Python socket.getaddrinfo (glibc)", program: "python",
		ops: map[string]string{"host": "gai", "a": "gai4", "aaaa": "gai6"}},
	{name: "dnspython", title: "Python dnspython", program: "python", needs: "dns.resolver",
		ops: map[string]string{"host": "dp-host", "a": "dp-a", "aaaa": "dp-aaaa", "srv": "dp-srv", "txt": "dp-txt"}},
	{name: "node", title: "Node dns.lookup (glibc getaddrinfo)", program: "node",
		ops: map[string]string{"host": "lookup", "a": "lookup4", "aaaa": "lookup6"}},
	{name: "c-ares", title: "Node dns.resolve* (c-ares)", program: "node",
		ops:      map[string]string{"host": "cares-host", "a": "resolve4", "aaaa": "resolve6", "srv": "resolveSrv", "txt": "resolveTxt"},
		noSearch: "Node's dns.resolve* sends the name as given (ares_query), without the search list"},
	{name: "java", title: "Java InetAddress (glibc getaddrinfo)", program: "java",
		ops: map[string]string{"host": "inet", "a": "inet4", "aaaa": "inet6"}},
	{name: "jndi", title: "Java JNDI (DnsContextFactory)", program: "java",
		ops: map[string]string{"srv": "jndi-srv", "txt": "jndi-txt"}},
}

// op is the program's OP for column c, "" when the cell is n/a.
func (s stack) op(c column) string {
	if c.name == "short" && s.noSearch != "" {
		return ""
	}
	if c.kind == "nxdomain" {
		if op := s.ops["host"]; op != "" {
			return op
		}
		return s.ops["txt"]
	}
	return s.ops[c.kind]
}

// A program is one process per position that makes the lookups of its
// stacks: argv, with ID OP NAME triples appended.
type program struct {
	argv    []string
	env     []string
	missing string         // why it cannot run here (a tool not installed)
	stderr  *regexp.Regexp // what its standard error must show, if anything
	modules map[string]bool
}

// missing skips t for a tool this machine lacks, or fails it in CI.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: scripts/test-deps.sh installs it (make test runs it)", why)
	}
	t.Skipf("%s; scripts/test-deps.sh installs it", why)
}

func TestClientMatrix(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the client matrix needs root (port 53, unshare -m); CI runs as root")
		}
		t.Skip("the client matrix needs root (port 53, unshare -m)")
	}
	for _, tool := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" not found (util-linux, mount)")
		}
	}
	dir := t.TempDir()
	tpdnsBin, corednsBin, programs := prepare(t, dir)

	upstream := fakeUpstream(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(services()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Corefile.tpdns"), fmt.Appendf(nil, `tp.internal:53 {
    bind %s
    log
    thirdparty {
        services services.yaml
        resolver %s
    }
}
`, tpdnsIP, upstream), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Corefile.coredns"), fmt.Appendf(nil, `tp.internal:53 {
    bind %s
    log
    forward . %s
}
`, corednsIP, tpdnsIP), 0o644))
	tpdns := test.StartBinary(t, tpdnsBin, filepath.Join(dir, "Corefile.tpdns"), tpdnsIP+":53")
	coredns := test.StartBinary(t, corednsBin, filepath.Join(dir, "Corefile.coredns"), corednsIP+":53")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tpdns:\n%s\ncoredns:\n%s", tpdns.Output, coredns.Output)
		}
	})
	checkAnswers(t)

	positions := []struct{ name, title, server string }{
		{"direct", "tpdns as the name server", tpdnsIP},
		{"coredns", "behind stock CoreDNS (forward)", corednsIP},
	}
	for _, pos := range positions {
		t.Run(pos.name, func(t *testing.T) {
			t.Parallel()
			resolv := filepath.Join(dir, "resolv."+pos.name+".conf")
			// A Kubernetes pod's, with the cluster's zone as the search list.
			conf := "nameserver " + pos.server + "\nsearch tp.internal\noptions ndots:5\n"
			require.NoError(t, os.WriteFile(resolv, []byte(conf), 0o644))
			runs := runPrograms(programs, resolv)
			m := matrix{}
			for _, s := range stacks {
				t.Run(s.name, func(t *testing.T) { runStack(t, s, programs[s.program], runs[s.program], m) })
			}
			t.Logf("%s:\n%s", pos.title, m.markdown())
		})
	}
}

// checkAnswers makes sure, over TCP, that the registry gives the answers
// the matrix is about: the big ones over 512 bytes, and over the 1232 of
// EDNS0 too, so that every stack must retry over TCP to see them whole;
// and the out-of-zone host name resolved through the fake upstream (the
// background resolution may still be under way, so it is polled).
func checkAnswers(t *testing.T) {
	t.Helper()
	server := tpdnsIP + ":53"
	for _, q := range []struct {
		name  string
		qtype uint16
		n     int
	}{{"big.tp.internal.", dns.TypeA, bigEndpoints}, {"bigtxt.tp.internal.", dns.TypeTXT, bigTXTKeys}} {
		r := test.Exchange(t, "tcp", server, test.Query(q.name, q.qtype, 0))
		require.Len(t, r.Answer, q.n, "%s", r)
		require.Greater(t, r.Len(), 1232, "%s %s is meant to be too big for UDP", q.name, dns.TypeToString[q.qtype])
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := test.Exchange(t, "udp", server, test.Query("dotnet.legacy.tp.internal.", dns.TypeA, 0))
		if len(r.Answer) == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "dotnet.legacy.tp.internal has no address from the fake upstream within 5s:\n%s", r)
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeUpstream is the resolver tpdns resolves out-of-zone host names
// through: it answers winsrv01.corp.example.com A and AAAA, NXDOMAIN for
// anything else, over UDP and TCP on 127.0.0.1.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	addr := "127.0.0.1:" + test.FreePort(t)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		q := r.Question[0]
		if !strings.EqualFold(q.Name, "winsrv01.corp.example.com.") {
			m.Rcode = dns.RcodeNameError
		} else {
			for _, a := range winsrvAddrs {
				ip := netip.MustParseAddr(a)
				switch {
				case q.Qtype == dns.TypeA && ip.Is4():
					m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: ip.AsSlice()})
				case q.Qtype == dns.TypeAAAA && ip.Is6():
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 300}, AAAA: ip.AsSlice()})
				}
			}
		}
		w.WriteMsg(m)
	})
	for _, proto := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: addr, Net: proto, Handler: h}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("fake upstream on %s %s: %v", proto, addr, err)
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return addr
}

// prepare builds tpdns, the CoreDNS build and the programs, all at once,
// into dir.
func prepare(t *testing.T, dir string) (tpdnsBin, corednsBin string, programs map[string]*program) {
	t.Helper()
	testdata, err := filepath.Abs("testdata")
	require.NoError(t, err)
	corednsModule, err := filepath.Abs("../../coredns")
	require.NoError(t, err)
	tpdnsBin = filepath.Join(dir, "tpdns")
	corednsBin = filepath.Join(dir, "coredns")

	programs = map[string]*program{
		"c-glibc": {argv: []string{filepath.Join(dir, "resolve-glibc")}},
		"c-musl":  {argv: []string{filepath.Join(dir, "resolve-musl")}},
		"go-pure": {argv: []string{filepath.Join(dir, "goresolve-pure")},
			env:    []string{"GORESOLVE_PREFER_GO=1", "GODEBUG=netdns=go+1"},
			stderr: regexp.MustCompile(`go package net: using the Go DNS resolver`)},
		"go-cgo": {argv: []string{filepath.Join(dir, "goresolve-cgo")},
			env:    []string{"GODEBUG=netdns=cgo+2"},
			stderr: regexp.MustCompile(`go package net: hostLookupOrder\(pg\) = cgo`)},
		"python": {argv: []string{"/usr/bin/python3", "-I", filepath.Join(testdata, "resolve.py")}},
		"node":   {argv: []string{"node", filepath.Join(testdata, "resolve.js")}},
		"java":   {argv: []string{"java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", filepath.Join(dir, "java"), "Resolve"}},
	}
	type build struct {
		what     string
		tools    []string // what must be installed; none missing or the build is skipped
		programs []string // the programs it is for
		cmd      *exec.Cmd
	}
	goBuild := func(cgo string, out string) *exec.Cmd {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), "./testdata/goresolve")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		return cmd
	}
	// Without the symbol table and DWARF: linking the CoreDNS build takes
	// half the time (tracebacks still name functions).
	coredns := exec.Command("go", "build", "-tags", "coredns", "-ldflags=-s -w", "-o", corednsBin, "./cmd/coredns")
	coredns.Dir = corednsModule
	builds := []build{
		{"tpdns", nil, nil, exec.Command("go", "build", "-ldflags=-s -w", "-o", tpdnsBin, "github.com/tpdns/tpdns/cmd/tpdns")},
		{"the CoreDNS build", nil, nil, coredns},
		{"resolve.c with gcc", []string{"gcc"}, []string{"c-glibc"},
			exec.Command("gcc", "-O", "-Wall", "-Werror", "-o", filepath.Join(dir, "resolve-glibc"), filepath.Join(testdata, "resolve.c"), "-lresolv")},
		{"resolve.c with musl-gcc", []string{"musl-gcc"}, []string{"c-musl"},
			exec.Command("musl-gcc", "-static", "-O", "-Wall", "-Werror", "-o", filepath.Join(dir, "resolve-musl"), filepath.Join(testdata, "resolve.c"))},
		{"goresolve", nil, []string{"go-pure"}, goBuild("0", "goresolve-pure")},
		{"goresolve with cgo", []string{"gcc"}, []string{"go-cgo"}, goBuild("1", "goresolve-cgo")},
		{"Resolve.java", []string{"javac", "java"}, []string{"java"},
			exec.Command("javac", "-d", filepath.Join(dir, "java"), filepath.Join(testdata, "Resolve.java"))},
		{"python3", []string{"/usr/bin/python3"}, []string{"python"}, nil},
		{"node", []string{"node"}, []string{"node"}, nil},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(builds))
	for i, b := range builds {
		var lacks []string
		for _, tool := range b.tools {
			if _, err := exec.LookPath(tool); err != nil {
				lacks = append(lacks, tool)
			}
		}
		if len(lacks) > 0 {
			for _, p := range b.programs {
				programs[p].missing = strings.Join(lacks, ", ") + " not found"
			}
			continue
		}
		if b.cmd == nil {
			continue
		}
		wg.Go(func() {
			if out, err := b.cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("building %s: %v\n%s", b.what, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// The stacks that need a module: dnspython is its own Debian package.
	if p := programs["python"]; p.missing == "" {
		p.modules = map[string]bool{}
		for _, s := range stacks {
			if s.program == "python" && s.needs != "" {
				p.modules[s.needs] = exec.Command("/usr/bin/python3", "-I", "-c", "import "+s.needs).Run() == nil
			}
		}
	}
	return tpdnsBin, corednsBin, programs
}

// result is one line a program prints: one lookup.
type result struct {
	ID       string   `json:"id"`
	OK       bool     `json:"ok"`
	NotFound bool     `json:"notfound"`
	Err      string   `json:"err"`
	Values   []string `json:"values"`
	TC       bool     `json:"tc"` // res_query's answer had TC set
	MS       int64    `json:"ms"`
}

// run is what one program printed in one position.
type run struct {
	results        map[string]result
	stdout, stderr string
	err            error
}

// runPrograms runs every program that can run here, all at once, each in
// a private mount namespace with resolv bind-mounted on /etc/resolv.conf,
// and each with every lookup of its stacks.
func runPrograms(programs map[string]*program, resolv string) map[string]*run {
	runs := map[string]*run{}
	var wg sync.WaitGroup
	for name, p := range programs {
		if p.missing != "" {
			continue
		}
		var args []string
		for _, s := range stacks {
			if s.program != name || (s.needs != "" && !p.modules[s.needs]) {
				continue
			}
			for _, c := range columns {
				if op := s.op(c); op != "" {
					args = append(args, s.name+"/"+c.name, op, c.query)
				}
			}
		}
		r := &run{results: map[string]result{}}
		runs[name] = r
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			argv := append([]string{"--mount", "--propagation", "private", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv}, p.argv...)
			cmd := exec.CommandContext(ctx, "unshare", append(argv, args...)...)
			cmd.Env = append(os.Environ(), p.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			r.err = cmd.Run()
			r.stdout, r.stderr = stdout.String(), stderr.String()
			for line := range strings.Lines(r.stdout) {
				var res result
				if err := json.Unmarshal([]byte(line), &res); err != nil {
					r.err = fmt.Errorf("unreadable line %q: %v", line, err)
					return
				}
				r.results[res.ID] = res
			}
		})
	}
	wg.Wait()
	return runs
}

// limits are the cells musl before 1.2.4 cannot get whole: it takes the
// truncated UDP answer as it is and never retries over TCP.
var limits = map[string]bool{"bigA": true, "bigTXT": true}

func runStack(t *testing.T, s stack, p *program, r *run, m matrix) {
	if p.missing != "" {
		m.set(s, nil, "not installed")
		missing(t, s.title+": "+p.missing)
	}
	if s.needs != "" && !p.modules[s.needs] {
		m.set(s, nil, "not installed")
		missing(t, s.title+": /usr/bin/python3 cannot import "+s.needs+" (python3-dnspython)")
	}
	require.NoError(t, r.err, "%s\nstdout:\n%s\nstderr:\n%s", s.title, r.stdout, r.stderr)
	if p.stderr != nil {
		require.Regexp(t, p.stderr, r.stderr, "the resolver Go chose")
	}
	limited := false
	if s.name == "musl" {
		v := muslVersion(t)
		limited = v.Compare("1.2.4") < 0
		t.Logf("musl %s", v)
	}
	for _, c := range columns {
		if s.op(c) == "" {
			if c.name == "short" && s.noSearch != "" {
				t.Logf("short name n/a: %s", s.noSearch)
			}
			m.set(s, &c, "n/a")
			continue
		}
		res, ok := r.results[s.name+"/"+c.name]
		status := "pass"
		if !t.Run(c.name, func(t *testing.T) {
			require.True(t, ok, "%s printed no result for %s:\n%s", s.title, c.query, r.stderr)
			if c.want == nil {
				assert.False(t, res.OK, "%s resolved: %q", c.query, res.Values)
				assert.True(t, res.NotFound, "%s must fail as not found, failed with %q", c.query, res.Err)
				assert.Less(t, res.MS, nxdomainWithin.Milliseconds(), "%s failed only after %d ms", c.query, res.MS)
				return
			}
			require.True(t, res.OK, "%s %s failed: %s", c.kind, c.query, res.Err)
			got, want := normalize(c.kind, res.Values), normalize(c.kind, c.want)
			if limited && limits[c.name] {
				// Documented limit: a part of the answer, never nothing,
				// never anything that is not in it.
				assert.NotEmpty(t, got)
				assert.Less(t, len(got), len(want), "musl before 1.2.4 cannot get the whole answer (retrying over TCP came in 1.2.4)")
				assert.Subset(t, want, got)
				assert.Equal(t, slices.Compact(slices.Clone(got)), got, "no value twice")
				if c.kind == "txt" {
					assert.True(t, res.TC, "res_query returns the truncated answer")
				}
				status = fmt.Sprintf("limit (%d of %d)", len(got), len(c.want))
				t.Logf("limit: musl %s got %d of the %d records", c.query, len(got), len(c.want))
				return
			}
			assert.Equal(t, want, got, "%s %s", c.kind, c.query)
		}) {
			status = "FAIL"
		}
		m.set(s, &c, status)
	}
}

// normalize sorts values and writes them in one form: addresses as netip
// prints them, SRV targets lower case without the final dot.
func normalize(kind string, values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		switch kind {
		case "host", "a", "aaaa":
			if ip, err := netip.ParseAddr(v); err == nil {
				v = ip.String()
			}
		case "srv":
			v = strings.TrimSuffix(strings.ToLower(v), ".")
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// muslVersion asks musl's dynamic loader, which prints its version when run
// by itself.
func muslVersion(t *testing.T) version {
	t.Helper()
	loaders, _ := filepath.Glob("/lib/ld-musl-*.so.1")
	require.NotEmpty(t, loaders, "no musl loader /lib/ld-musl-*.so.1 (the musl package) to ask the version")
	out, _ := exec.Command(loaders[0]).CombinedOutput()
	v := regexp.MustCompile(`Version (\d+\.\d+\.\d+)`).FindSubmatch(out)
	require.NotNil(t, v, "%s printed no version:\n%s", loaders[0], out)
	return version(v[1])
}

type version string

// Compare compares dotted versions number by number.
func (v version) Compare(w string) int {
	a, b := strings.Split(string(v), "."), strings.Split(w, ".")
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// matrix is a position's outcome, cell by cell ("stack/column"), for the
// README.
type matrix map[string]string

// set records status for column c of stack s, or for all its columns when c
// is nil.
func (m matrix) set(s stack, c *column, status string) {
	if c != nil {
		m[s.name+"/"+c.name] = status
		return
	}
	for _, c := range columns {
		m[s.name+"/"+c.name] = status
	}
}

func (m matrix) markdown() string {
	var b strings.Builder
	b.WriteString("| stack |")
	for _, c := range columns {
		b.WriteString(" " + c.title + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(columns)) + "\n")
	for _, s := range stacks {
		b.WriteString("| " + s.title + " |")
		for _, c := range columns {
			status := m[s.name+"/"+c.name]
			if status == "" {
				status = "not run"
			}
			b.WriteString(" " + status + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
