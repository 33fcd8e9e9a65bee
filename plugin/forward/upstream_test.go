package forward

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// The behaviours of a fake upstream.
const (
	modeAnswer   = iota // one TXT record holding the upstream's name
	modeDrop            // no reply at all, health checks included
	modeTruncate        // over UDP one record and TC; over TCP five records
	modeSlow            // queries (not health checks) wait for release
	modeOversize        // twenty records, over UDP too, however small the query's buffer
)

// fakeUpstream is a DNS server on 127.0.0.1, over UDP and TCP on one port,
// that records the queries it gets. It answers in lower case whatever case
// it was asked in, as some resolvers do.
type fakeUpstream struct {
	name string
	addr string
	mode atomic.Int32

	mu      sync.Mutex
	queries []seen

	release     chan struct{}
	releaseOnce sync.Once
}

// seen is a query a fake upstream received.
type seen struct {
	name  string
	id    uint16
	proto string
	rd    bool
}

func startUpstream(t testing.TB, name string) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{name: name, release: make(chan struct{})}
	for range 10 {
		u.addr = "127.0.0.1:" + test.FreePort(t)
		pc, err := net.ListenPacket("udp", u.addr)
		if err != nil {
			continue
		}
		ln, err := net.Listen("tcp", u.addr)
		if err != nil {
			pc.Close()
			continue
		}
		u.serve(t, &dns.Server{PacketConn: pc, Handler: u, UDPSize: dns.MaxMsgSize})
		u.serve(t, &dns.Server{Listener: ln, Handler: u})
		t.Cleanup(u.unblock)
		return u
	}
	t.Fatal("no port for a fake upstream")
	return nil
}

func (u *fakeUpstream) serve(t testing.TB, srv *dns.Server) {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
}

// unblock answers the queries modeSlow holds.
func (u *fakeUpstream) unblock() { u.releaseOnce.Do(func() { close(u.release) }) }

// ServeDNS implements dns.Handler.
func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	proto := "udp"
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		proto = "tcp"
	}
	healthCheck := q.Name == "." && q.Qtype == dns.TypeNS
	if !healthCheck {
		u.mu.Lock()
		u.queries = append(u.queries, seen{name: q.Name, id: r.Id, proto: proto, rd: r.RecursionDesired})
		u.mu.Unlock()
	}

	mode := u.mode.Load()
	switch {
	case mode == modeDrop:
		return
	case mode == modeSlow && !healthCheck:
		<-u.release
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Question[0].Name = strings.ToLower(q.Name)
	count := 1
	switch {
	case mode == modeTruncate && proto == "udp":
		m.Truncated = true
	case mode == modeTruncate:
		count = 5
	case mode == modeOversize:
		count = 20
	}
	for i := range count {
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 30},
			Txt: []string{u.name, strings.Repeat("x", i)},
		})
	}
	w.WriteMsg(m)
}

// received returns the queries received so far, health checks left out.
func (u *fakeUpstream) received() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.queries...)
}

// exchange sends m and waits up to 10s, longer than any query may take.
func exchange(t testing.TB, proto, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 10 * time.Second, UDPSize: dns.MaxMsgSize}
	r, _, err := c.Exchange(m, addr)
	require.NoError(t, err)
	return r
}

// answeredBy returns the name of the upstream that answered r, or the
// text of the testanswer plugin.
func answeredBy(r *dns.Msg) string {
	if len(r.Answer) == 0 {
		return dns.RcodeToString[r.Rcode]
	}
	txt, ok := r.Answer[0].(*dns.TXT)
	if !ok {
		return "?"
	}
	return txt.Txt[0]
}

// eventually polls cond until it holds or 10s have passed.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
