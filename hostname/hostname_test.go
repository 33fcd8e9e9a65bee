package hostname

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/test/freeport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstream is a fake DNS server on loopback answering from zone-file
// lines, UDP and TCP on the same port.
type upstream struct {
	mu       sync.Mutex
	records  map[string][]string // "name. TYPE" → RR lines
	truncate bool                // UDP replies are empty and truncated
	queries  int
	addr     string
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{records: map[string][]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:"+freeport.Port(t))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	require.NoError(t, err)
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

func (u *upstream) set(key string, lines ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.records[key] = lines
}

func (u *upstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.queries++
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	lines, ok := u.records[q.Name+" "+dns.TypeToString[q.Qtype]]
	if !ok {
		lines, ok = u.records[q.Name+" CNAME"]
	}
	switch {
	case u.truncate && w.RemoteAddr().Network() == "udp":
		m.Truncated = true
	case lines == nil && ok:
		m.Rcode = dns.RcodeServerFailure
	case !ok && u.records[q.Name+" exists"] == nil:
		m.Rcode = dns.RcodeNameError
	}
	if !m.Truncated {
		for _, l := range lines {
			rr, err := dns.NewRR(l)
			if err == nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	w.WriteMsg(m)
}

func newResolver(t *testing.T, servers ...string) (*Resolver, chan string) {
	changes := make(chan string, 100)
	r := New(servers, nil, func(h string) { changes <- h })
	r.min = 50 * time.Millisecond
	t.Cleanup(r.Stop)
	return r, changes
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResolveFollowsCNAMEsAndRefreshes(t *testing.T) {
	u := startUpstream(t)
	u.set("db.example.com. CNAME", "db.example.com. 1 IN CNAME host1.example.net.", "host1.example.net. 1 IN A 192.0.2.1")
	u.set("host1.example.net. A", "host1.example.net. 1 IN A 192.0.2.1")
	u.set("host1.example.net. AAAA", "host1.example.net. 1 IN AAAA 2001:db8::1")
	// The upstream stops at the alias for AAAA: a second query follows it.
	u.set("db.example.com. AAAA", "db.example.com. 1 IN CNAME host1.example.net.")
	u.set("v4.example.com. A", "v4.example.com. 1 IN A 192.0.2.4")
	u.set("v4.example.com. exists")
	r, changes := newResolver(t, u.addr)
	r.Set([]string{"db.example.com", "v4.example.com", "nx.example.com"})
	r.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.WaitFirstRound(ctx)
	assert.True(t, r.FirstRoundDone())

	a, aaaa, ttl, ok := r.Addresses("db.example.com")
	assert.True(t, ok)
	assert.Equal(t, addrs("192.0.2.1"), a)
	assert.Equal(t, addrs("2001:db8::1"), aaaa)
	assert.Equal(t, uint32(1), ttl)
	got, err := r.Resolve(ctx, "db.example.com")
	require.NoError(t, err)
	assert.Equal(t, addrs("192.0.2.1", "2001:db8::1"), got)

	a, aaaa, _, ok = r.Addresses("v4.example.com")
	assert.True(t, ok)
	assert.Equal(t, addrs("192.0.2.4"), a)
	assert.Empty(t, aaaa)

	_, _, _, ok = r.Addresses("nx.example.com")
	assert.False(t, ok)
	assert.Equal(t, "lookup nx.example.com on "+u.addr+": NXDOMAIN", r.Err("nx.example.com"))
	_, err = r.Resolve(ctx, "nx.example.com")
	assert.EqualError(t, err, "lookup nx.example.com on "+u.addr+": NXDOMAIN")

	// The TTL (1 s, refreshed at 3/4 of it) brings a changed address in.
	for len(changes) > 0 {
		<-changes
	}
	u.set("host1.example.net. A", "host1.example.net. 1 IN A 192.0.2.2")
	u.set("db.example.com. CNAME", "db.example.com. 1 IN CNAME host1.example.net.", "host1.example.net. 1 IN A 192.0.2.2")
	waitFor(t, "the new address", func() bool {
		a, _, _, _ := r.Addresses("db.example.com")
		return len(a) == 1 && a[0] == netip.MustParseAddr("192.0.2.2")
	})
	assert.Equal(t, "db.example.com", <-changes)

	// A failure keeps the last good addresses until their TTL runs out.
	u.set("host1.example.net. A")
	u.set("host1.example.net. AAAA")
	u.set("db.example.com. AAAA")
	u.set("db.example.com. CNAME")
	waitFor(t, "the addresses to go", func() bool {
		_, _, _, ok := r.Addresses("db.example.com")
		return !ok
	})
	assert.Equal(t, "lookup db.example.com on "+u.addr+": SERVFAIL", r.Err("db.example.com"))
}

func TestTruncatedGoesOverTCP(t *testing.T) {
	u := startUpstream(t)
	u.truncate = true
	u.set("big.example.com. A", "big.example.com. 30 IN A 192.0.2.7")
	u.set("big.example.com. exists")
	r, _ := newResolver(t, u.addr)
	r.Set([]string{"big.example.com"})
	r.Start()
	waitFor(t, "a result", r.FirstRoundDone)
	a, _, ttl, ok := r.Addresses("big.example.com")
	assert.True(t, ok)
	assert.Equal(t, addrs("192.0.2.7"), a)
	assert.Equal(t, uint32(30), ttl)
}

func TestServersInOrder(t *testing.T) {
	u := startUpstream(t)
	u.set("x.example.com. A", "x.example.com. 30 IN A 192.0.2.9")
	u.set("x.example.com. exists")
	dead, err := net.ListenPacket("udp", "127.0.0.1:"+freeport.Port(t))
	require.NoError(t, err)
	deadAddr := dead.LocalAddr().String()
	dead.Close() // connection refused
	r, _ := newResolver(t, deadAddr, u.addr)
	r.Set([]string{"x.example.com"})
	r.Start()
	waitFor(t, "a result", r.FirstRoundDone)
	a, _, _, ok := r.Addresses("x.example.com")
	assert.True(t, ok)
	assert.Equal(t, addrs("192.0.2.9"), a)
}

func TestInheritAndNoServers(t *testing.T) {
	u := startUpstream(t)
	u.set("x.example.com. A", "x.example.com. 30 IN A 192.0.2.9")
	u.set("x.example.com. exists")
	old, _ := newResolver(t, u.addr)
	old.Set([]string{"x.example.com"})
	old.Start()
	waitFor(t, "a result", old.FirstRoundDone)
	next, _ := newResolver(t, u.addr)
	next.Set([]string{"x.example.com"})
	next.Inherit(old)
	a, _, _, ok := next.Addresses("x.example.com")
	assert.True(t, ok, "known before the new one starts")
	assert.Equal(t, addrs("192.0.2.9"), a)

	none := New(nil, nil, func(string) {})
	defer none.Stop()
	none.Set([]string{"y.example.com"})
	none.Start()
	waitFor(t, "a result", none.FirstRoundDone)
	assert.Equal(t, "lookup y.example.com: no resolver configured", none.Err("y.example.com"))
}

func TestServersFromFile(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	require.NoError(t, os.WriteFile(path, []byte("search tp.internal\nnameserver 10.96.0.10\nnameserver ::1\noptions ndots:5\n"), 0o644))
	servers, err := ServersFromFile(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.96.0.10:53", "[::1]:53"}, servers)
	require.NoError(t, os.WriteFile(path, []byte("search tp.internal\n"), 0o644))
	_, err = ServersFromFile(path)
	assert.EqualError(t, err, path+": no nameserver")
}
