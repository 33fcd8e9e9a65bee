package thirdparty_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// fakeUpstream is a DNS server on loopback (UDP and TCP) answering A and
// AAAA from a table, NXDOMAIN for every other name.
type fakeUpstream struct {
	mu    sync.Mutex
	addrs map[string][]string // "name. TYPE" → zone-file lines
	addr  string
}

func startUpstream(t testing.TB, records map[string][]string) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{addrs: records}
	// TCP on the UDP socket's port, which another process may hold: then
	// another port.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			require.Less(t, try, 10, "no port free for both UDP and TCP: %v", err)
		}
	}
	u.addr = pc.LocalAddr().String()
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: u}, {Listener: ln, Handler: u}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return u
}

func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	lines, ok := u.addrs[q.Name+" "+dns.TypeToString[q.Qtype]]
	_, exists := u.addrs[q.Name+" A"]
	_, exists6 := u.addrs[q.Name+" AAAA"]
	if !ok && !exists && !exists6 {
		m.Rcode = dns.RcodeNameError
	}
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err == nil {
			m.Answer = append(m.Answer, rr)
		}
	}
	w.WriteMsg(m)
}

// upstreamRecords is what the fake upstream of the answer tests knows.
var upstreamRecords = map[string][]string{
	"winsrv01.corp.example.com. A":    {"winsrv01.corp.example.com. 300 IN A 192.0.2.80"},
	"winsrv01.corp.example.com. AAAA": {"winsrv01.corp.example.com. 300 IN AAAA 2001:db8::80"},
	// An alias the upstream follows itself.
	"db.corp.example.com. A": {"db.corp.example.com. 300 IN CNAME db-1.corp.example.com.", "db-1.corp.example.com. 300 IN A 127.0.0.7"},
}

const hostRegistry = `services:
  - name: legacy
    ports: [{name: api, port: 8080}]
    endpoints: [winsrv01.corp.example.com]
  - name: pg
    ports: [{name: pg, port: 5432}]
    endpoints: [10.0.0.5]
  - name: alias
    ports: [{name: pg, port: 5432}]
    endpoints: [pg.tp.internal]
  - name: broken
    ports: [{name: api, port: 8080}]
    endpoints: [gone.corp.example.com]
  - name: probed
    ports: [{name: db, port: %d}]
    endpoints: [db.corp.example.com]
    check: {type: tcp, interval: 1s, timeout: 500ms, fall: 1}
  - name: probedgone
    ports: [{name: db, port: %[1]d}]
    endpoints: [gone.corp.example.com]
    check: {type: tcp, interval: 1s, timeout: 500ms, fall: 1}
`

func TestHostNameServices(t *testing.T) {
	u := startUpstream(t, upstreamRecords)
	ln := listen(t, "127.0.0.7:0")
	defer ln.Close()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(hostRegistry, ln.Addr().(*net.TCPAddr).Port)), 0o644))
	port, apiPort := test.FreePort(t), test.FreePort(t)
	corefile := fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        store bolt tpdns.db
        api 127.0.0.1:%s
        resolver %s
    }
}`, port, apiPort, u.addr)
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	addr := "127.0.0.1:" + port
	firstResolution(t, addr)

	for _, c := range []struct {
		name          string
		qtype         uint16
		answer, extra []string
	}{
		{"legacy.tp.internal.", dns.TypeA, []string{"legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com.", "winsrv01.corp.example.com. 10 IN A 192.0.2.80"}, nil},
		{"legacy.tp.internal.", dns.TypeAAAA, []string{"legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com.", "winsrv01.corp.example.com. 10 IN AAAA 2001:db8::80"}, nil},
		{"legacy.tp.internal.", dns.TypeCNAME, []string{"legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com."}, nil},
		{"_api._tcp.legacy.tp.internal.", dns.TypeSRV, []string{"_api._tcp.legacy.tp.internal. 10 IN SRV 0 1 8080 winsrv01.corp.example.com."},
			[]string{"winsrv01.corp.example.com. 10 IN A 192.0.2.80", "winsrv01.corp.example.com. 10 IN AAAA 2001:db8::80"}},
		{"alias.tp.internal.", dns.TypeA, []string{"alias.tp.internal. 10 IN CNAME pg.tp.internal.", "pg.tp.internal. 10 IN A 10.0.0.5"}, nil},
		{"alias.tp.internal.", dns.TypeSRV, []string{"alias.tp.internal. 10 IN SRV 0 1 5432 pg.tp.internal."}, []string{"pg.tp.internal. 10 IN A 10.0.0.5"}},
		{"broken.tp.internal.", dns.TypeA, []string{"broken.tp.internal. 10 IN CNAME gone.corp.example.com."}, nil},
		{"probed.tp.internal.", dns.TypeA, []string{"db.corp.example.com. 1 IN A 127.0.0.7", "probed.tp.internal. 1 IN CNAME db.corp.example.com."}, nil},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			r := exchange(t, proto, addr, "127.0.0.1", test.Query(c.name, c.qtype, 1232))
			assert.Equal(t, dns.RcodeSuccess, r.Rcode)
			assert.Equal(t, c.answer, rrs(r.Answer), "%s %s %s", proto, c.name, dns.TypeToString[c.qtype])
			var extra []dns.RR
			for _, rr := range r.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rr)
				}
			}
			assert.Equal(t, c.extra, rrs(extra), "%s %s %s additional", proto, c.name, dns.TypeToString[c.qtype])
		}
	}

	// The probed host name is dialed at what the upstream resolved; the
	// unresolvable one fails with the resolver's error, as does the one
	// without a check, which stays up.
	token, err := os.ReadFile(filepath.Join(dir, "tpdns.token"))
	require.NoError(t, err)
	health := func(service string) (state, lastError string) {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+apiPort+"/v1/services/"+service, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var doc struct {
			Endpoints []struct {
				Health struct {
					State     string `json:"state"`
					LastError string `json:"last_error"`
				} `json:"health"`
			} `json:"endpoints"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
		require.Len(t, doc.Endpoints, 1)
		return doc.Endpoints[0].Health.State, doc.Endpoints[0].Health.LastError
	}
	nx := "lookup gone.corp.example.com on " + u.addr + ": NXDOMAIN"
	deadline := time.Now().Add(5 * time.Second)
	for {
		s1, e1 := health("probed")
		s2, e2 := health("probedgone")
		if s1 == "healthy" && s2 == "unhealthy" {
			assert.Empty(t, e1)
			assert.Equal(t, nx, e2)
			break
		}
		require.True(t, time.Now().Before(deadline), "probed %s %q, probedgone %s %q", s1, e1, s2, e2)
		time.Sleep(10 * time.Millisecond)
	}
	state, lastError := health("broken")
	assert.Equal(t, "healthy", state)
	assert.Equal(t, nx, lastError)
	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("probedgone.tp.internal.", dns.TypeA, 0))
	assert.Empty(t, r.Answer, "unhealthy: NODATA")
}

func TestBadResolver(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services: []\n"), 0o644))
	_, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Quiet: true, Contents: []byte(
		"tp.internal:0 {\n thirdparty {\n  services services.yaml\n  resolver 127.0.0.1:5353 no-such.conf\n }\n}\n")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Corefile:4 - Error during parsing: resolver: "no-such.conf" is not IP, IP:PORT or a resolv.conf file`)
}

// TestHostNamesSurviveReload checks that a reloaded configuration answers
// with the addresses the previous one resolved, even when the upstream no
// longer answers, and that a changed address is followed.
func TestHostNamesSurviveReload(t *testing.T) {
	u := startUpstream(t, map[string][]string{"winsrv01.corp.example.com. A": {"winsrv01.corp.example.com. 1 IN A 192.0.2.80"}})
	registry := "services:\n  - name: legacy\n    endpoints: [winsrv01.corp.example.com]\n"
	inst, addr, corefile := healthServer(t, t.TempDir(), registry, "resolver "+u.addr)
	want := []string{"legacy.tp.internal. 10 IN CNAME winsrv01.corp.example.com.", "winsrv01.corp.example.com. 1 IN A 192.0.2.80"}
	firstResolution(t, addr)
	r := exchange(t, "udp", addr, "127.0.0.1", test.Query("legacy.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, want, rrs(r.Answer))

	// A changed address is followed within the refresh bound.
	u.mu.Lock()
	u.addrs["winsrv01.corp.example.com. A"] = []string{"winsrv01.corp.example.com. 1 IN A 192.0.2.81"}
	u.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = exchange(t, "udp", addr, "127.0.0.1", test.Query("legacy.tp.internal.", dns.TypeA, 0))
		if len(r.Answer) == 2 && r.Answer[1].(*dns.A).A.String() == "192.0.2.81" {
			break
		}
		require.True(t, time.Now().Before(deadline), "still %v", rrs(r.Answer))
		time.Sleep(50 * time.Millisecond)
	}

	// The upstream stops giving addresses; the reload starts from the
	// cache (the last good addresses live until their TTL runs out).
	u.mu.Lock()
	u.addrs["winsrv01.corp.example.com. A"] = nil
	u.mu.Unlock()
	require.NoError(t, inst.Reload(corefile("resolver "+u.addr+"\n ttl 20")))
	r = exchange(t, "udp", addr, "127.0.0.1", test.Query("legacy.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, []string{"legacy.tp.internal. 20 IN CNAME winsrv01.corp.example.com.", "winsrv01.corp.example.com. 1 IN A 192.0.2.81"}, rrs(r.Answer))
}

// firstResolution waits until legacy.tp.internal answers with its host's
// address: a start waits only 2 s for the first resolution, which a loaded
// machine can exceed.
func firstResolution(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := exchange(t, "udp", addr, "127.0.0.1", test.Query("legacy.tp.internal.", dns.TypeA, 0))
		if len(r.Answer) == 2 {
			return
		}
		require.True(t, time.Now().Before(deadline), "legacy.tp.internal never answered its host's address: %v", rrs(r.Answer))
		time.Sleep(10 * time.Millisecond)
	}
}
