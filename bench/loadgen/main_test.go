//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve runs a miekg/dns server on a loopback port for the test's
// duration and returns its address.
func serve(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-done)
	})
	return pc.LocalAddr().String()
}

// answer replies NOERROR with an A record, NXDOMAIN to names starting with
// "missing", SERVFAIL to names starting with "fail".
func answer(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg).SetReply(r)
	name := r.Question[0].Name
	switch {
	case strings.HasPrefix(name, "missing"):
		m.Rcode = dns.RcodeNameError
	case strings.HasPrefix(name, "fail"):
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: net.IPv4(10, 0, 0, 1)}}
	}
	w.WriteMsg(m)
}

func mustQueries(t *testing.T, text string) *queries {
	t.Helper()
	q, err := readQueries(strings.NewReader(text), "test.txt", false)
	require.NoError(t, err)
	return q
}

// testConfig is a run of n queries at max rate against addr. The timeout
// is long: a loaded machine (-race) may hold a reply for a while, and a
// late reply would be counted lost.
func testConfig(addr string, q *queries, n int64) config {
	return config{server: addr, queries: q, limit: n, inflight: 100, batch: 16, sockets: 1, timeout: 5 * time.Second}
}

func TestExactCounts(t *testing.T) {
	addr := serve(t, answer)
	q := mustQueries(t, "svc-0.tp.internal A\n; a comment\n\nmissing.tp.internal A\n_db._tcp.svc-1.tp.internal SRV\n")
	for _, sockets := range []int{1, 3} {
		c := testConfig(addr, q, 1000)
		c.sockets = sockets
		r, err := run(c)
		require.NoError(t, err)
		assert.Equal(t, int64(1000), r.sent)
		assert.Equal(t, int64(1000), r.received)
		assert.Zero(t, r.lost)
		assert.Zero(t, r.errors)
		assert.Zero(t, r.late)
		assert.Equal(t, int64(333), r.rcodes[dns.RcodeNameError]) // every third query, from the second
		assert.Equal(t, int64(667), r.rcodes[dns.RcodeSuccess])
		assert.Equal(t, uint64(1000), r.latency.n)
		assert.Positive(t, r.qps())
		assert.Equal(t, time.Duration(-1), r.serverCPU)
	}
}

func TestLostCounted(t *testing.T) {
	var n atomic.Int64
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if n.Add(1)%2 == 0 {
			return // every other query dropped
		}
		answer(w, r)
	})
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 200)
	c.timeout = time.Second // how long the run waits for the dropped ones
	r, err := run(c)
	require.NoError(t, err)
	assert.Equal(t, int64(200), r.sent)
	assert.Equal(t, int64(100), r.received)
	assert.Equal(t, int64(100), r.lost)
	assert.Zero(t, r.errors)
	assert.Zero(t, r.serverDrops) // the handler dropped them, not the socket
	// Half the queries lost: from the median up, the latency is the
	// timeout's (within the histogram's 0.4 %), not the answered ones'.
	assert.Equal(t, uint64(200), r.latency.n)
	assert.InEpsilon(t, time.Second, r.latency.quantile(0.99), 0.004)
	assert.Less(t, r.latency.quantile(0.49), 100*time.Millisecond)
}

func TestErrorsCounted(t *testing.T) {
	var buf bytes.Buffer
	addr := serve(t, answer)
	r, err := run(testConfig(addr, mustQueries(t, "fail.tp.internal A\nsvc-0.tp.internal A\n"), 100))
	require.NoError(t, err)
	assert.Equal(t, int64(100), r.received)
	assert.Equal(t, int64(50), r.errors)
	r.warn(&buf)
	assert.Equal(t, "loadgen: 50 errors: 50 SERVFAIL;\n", buf.String())
}

func TestNotResponse(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		r.Response = false // an echo of the query
		w.WriteMsg(r)
	})
	r, err := run(testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 10))
	require.NoError(t, err)
	assert.Equal(t, int64(10), r.received)
	assert.Equal(t, int64(10), r.errors)
	assert.Equal(t, int64(10), r.notResponse)
}

// A reply whose question is not the query's is not taken for its reply.
func TestQuestionMismatch(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.Question[0].Name = "other.tp.internal."
		w.WriteMsg(m)
	})
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 10)
	c.timeout = time.Second // the wrong replies are in before the run ends: they are counted
	r, err := run(c)
	require.NoError(t, err)
	assert.Zero(t, r.received)
	assert.Equal(t, int64(10), r.lost)
	assert.Equal(t, int64(10), r.late)
}

func TestOpenLoop(t *testing.T) {
	addr := serve(t, answer)
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 0)
	c.rate, c.duration = 2000, 250*time.Millisecond
	start := time.Now()
	r, err := run(c)
	require.NoError(t, err)
	// Query i is due at i/rate: 500 in 250 ms, sent or, when the test's
	// thread fell behind (a loaded machine), skipped.
	assert.InDelta(t, 500, r.sent+r.skipped, 10)
	assert.Greater(t, r.sent, int64(250))
	assert.Equal(t, r.sent, r.received)
	assert.Zero(t, r.lost)
	assert.GreaterOrEqual(t, time.Since(start), c.duration)
	assert.InDelta(t, float64(r.sent)/c.duration.Seconds(), r.qps(), 200)
}

func TestServerCPU(t *testing.T) {
	addr := serve(t, answer) // in this process: its CPU time is the server's
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 2000)
	c.pid = os.Getpid()
	r, err := run(c)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r.serverCPU, time.Duration(0))
	var buf bytes.Buffer
	r.print(&buf)
	assert.Regexp(t, `^sent=2000 received=2000 lost=0 errors=0 qps=\d+ p50_us=[0-9.]+ p99_us=[0-9.]+ p999_us=[0-9.]+ server_cpu_us=[0-9.]+\n$`, buf.String())
}

func TestRunErrors(t *testing.T) {
	q := mustQueries(t, "svc-0.tp.internal A\n")
	tests := []struct {
		change func(*config)
		err    string
	}{
		{func(c *config) { c.server = "127.0.0.1" }, "-s 127.0.0.1: address 127.0.0.1: missing port in address"},
		{func(c *config) { c.inflight = 0 }, "-inflight 0: want 1 to 65536 (65536 IDs per socket)"},
		{func(c *config) { c.batch = 0 }, "-batch 0: want 1 to 1024"},
		{func(c *config) { c.sockets = 0 }, "-sockets 0: want 1 to 256"},
		{func(c *config) { c.rate = -1 }, "-rate -1: want 0 (max) or more"},
		{func(c *config) { c.limit, c.duration = 0, 0 }, "-l 0s: want a positive duration or -n"},
		{func(c *config) { c.timeout = 0 }, "-timeout 0s: want more than 0"},
		{func(c *config) { c.pid = -1; c.pid = 1 << 30 }, "-pid: open /proc/1073741824/stat: no such file or directory"},
	}
	for _, tc := range tests {
		c := testConfig("127.0.0.1:53", q, 1)
		tc.change(&c)
		_, err := run(c)
		assert.EqualError(t, err, tc.err)
	}
}

func TestReadQueries(t *testing.T) {
	q, err := readQueries(strings.NewReader("  svc-0.tp.internal.  a \n;x\n_db._tcp.svc-0.tp.internal SRV\n"), "q.txt", true)
	require.NoError(t, err)
	require.Equal(t, 2, q.len())
	for i, want := range []dns.Question{{Name: "svc-0.tp.internal.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "_db._tcp.svc-0.tp.internal.", Qtype: dns.TypeSRV, Qclass: dns.ClassINET}} {
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(q.query(i)))
		assert.Equal(t, []dns.Question{want}, m.Question)
		assert.True(t, m.RecursionDesired)
		require.NotNil(t, m.IsEdns0())
		assert.Equal(t, uint16(1232), m.IsEdns0().UDPSize())
		// The question section alone: what a reply repeats.
		plain, err := new(dns.Msg).SetQuestion(want.Name, want.Qtype).Pack()
		require.NoError(t, err)
		assert.Equal(t, plain[headerLen:], q.question(i))
	}

	for _, tc := range []struct{ text, err string }{
		{"", "q.txt: no queries"},
		{"; only a comment\n", "q.txt: no queries"},
		{"svc A\nsvc\n", `q.txt:2: want NAME TYPE, got "svc"`},
		{"svc A IN\n", `q.txt:1: want NAME TYPE, got "svc A IN"`},
		{"svc NOPE\n", `q.txt:1: unknown type "NOPE"`},
		{"a..b A\n", `q.txt:1: "a..b" is not a domain name`},
	} {
		_, err := readQueries(strings.NewReader(tc.text), "q.txt", false)
		assert.EqualError(t, err, tc.err, tc.text)
	}
}

func TestHistogram(t *testing.T) {
	// Every bucket's value lies in its bucket, and values are kept within 1/256.
	for _, v := range []uint64{0, 1, 511, 512, 513, 1000, 4095, 65_537, 1_000_000, 123_456_789, 1 << 40, 1<<63 + 5} {
		i := bucket(v)
		assert.Equal(t, i, bucket(value(i)), v)
		assert.InEpsilon(t, float64(v)+1, float64(value(i))+1, 1.0/256, v)
	}
	var h histogram
	assert.Zero(t, h.quantile(0.5))
	for v := 1; v <= 1000; v++ {
		h.add(time.Duration(v) * time.Microsecond)
	}
	h.add(-1) // counted as 0
	assert.InEpsilon(t, 500*time.Microsecond, h.quantile(0.5), 0.005)
	assert.InEpsilon(t, 990*time.Microsecond, h.quantile(0.99), 0.005)
	assert.InEpsilon(t, 999*time.Microsecond, h.quantile(0.999), 0.005)
	assert.InEpsilon(t, 1000*time.Microsecond, h.quantile(1), 0.005)
	assert.Zero(t, h.quantile(0))
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses: fields count from the last ')'.
	stat := "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 100 1000 10\n"
	d, err := parseStat([]byte(stat))
	require.NoError(t, err)
	assert.Equal(t, 287*clockTick, d)
	_, err = parseStat([]byte("1234 (x) S 1 2"))
	assert.EqualError(t, err, "/proc/PID/stat: 5 fields")
	self, err := os.ReadFile(filepath.Join("/proc", "self", "stat"))
	require.NoError(t, err)
	_, err = parseStat(self)
	assert.NoError(t, err)
}

// An open loop that falls behind its schedule sends one batch and skips
// the rest, rather than a burst the server's socket may not hold.
func TestOpenLoopSkips(t *testing.T) {
	addr := serve(t, answer)
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 0)
	c.rate, c.duration = 10_000, time.Second
	require.NoError(t, c.check())
	e := newEngine(c)
	defer e.close()
	s, err := dial(netip.MustParseAddrPort(addr), 0)
	require.NoError(t, err)
	e.socks = append(e.socks, s)
	e.start = time.Now()

	n, err := e.send(0) // query 0 is due at once
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.send(int64(50 * time.Microsecond)) // the next at 100 µs
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = e.send(int64(10 * time.Millisecond)) // 100 more due: one batch goes
	require.NoError(t, err)
	assert.Equal(t, c.batch, n)
	assert.Equal(t, int64(100-c.batch), e.r.skipped)
	assert.Equal(t, 10*time.Millisecond-100*time.Microsecond, e.r.lag)
	n, err = e.send(int64(10*time.Millisecond + 50*time.Microsecond)) // back on schedule
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = e.send(int64(10*time.Millisecond + 100*time.Microsecond))
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	var buf bytes.Buffer
	e.r.warn(&buf)
	assert.Equal(t, "loadgen: the sends fell up to 9.9ms behind their schedule (loadgen did not get its CPU); 84 queries skipped rather than sent in a burst\n", buf.String())
}

// Against a port nobody listens on, sends fail now and then (the kernel
// reports the ICMP errors of earlier ones): those queries are sent again,
// and every query sent is lost.
func TestNoServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	c := testConfig(addr, mustQueries(t, "svc-0.tp.internal A\n"), 100) // one line: a resend goes back past its start
	c.timeout = 50 * time.Millisecond
	r, err := run(c)
	require.NoError(t, err)
	assert.Equal(t, int64(100), r.sent)
	assert.Equal(t, int64(100), r.lost)
	assert.Zero(t, r.received)
	assert.Zero(t, r.qps())
	assert.Equal(t, int64(-1), r.serverDrops) // no socket to count at
}

func TestSocketDrops(t *testing.T) {
	// A socket nobody reads, with the smallest buffer: most of what it is
	// sent is dropped, and counted.
	full, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer full.Close()
	require.NoError(t, full.SetReadBuffer(1))
	addr := full.LocalAddr().(*net.UDPAddr).AddrPort()
	before, found := socketDrops(addr)
	require.True(t, found)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	require.NoError(t, err)
	defer c.Close()
	for range 100 {
		_, err := c.Write([]byte("query"))
		require.NoError(t, err)
	}
	after, _ := socketDrops(addr)
	assert.Greater(t, after-before, int64(50))

	_, found = socketDrops(netip.MustParseAddrPort("127.0.0.1:1")) // nobody there
	assert.False(t, found)
}

func TestParseDrops(t *testing.T) {
	// 127.0.0.1:53 (bytes 7F 00 00 01 in a little-endian word), [::]:53 and
	// another port; the machine's order decides which word is which.
	word := func(b [4]byte) string {
		return strings.ToUpper(hex.EncodeToString(binary.BigEndian.AppendUint32(nil, binary.NativeEndian.Uint32(b[:]))))
	}
	loop := word([4]byte{127, 0, 0, 1})
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		" 1: " + loop + ":0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 100 2 0000000000000000 7\n" +
		" 2: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 101 2 0000000000000000 5\n" +
		" 3: " + loop + ":0036 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 102 2 0000000000000000 100\n"
	drops, found := parseDrops(strings.NewReader(table), netip.MustParseAddrPort("127.0.0.1:53"))
	assert.True(t, found)
	assert.Equal(t, int64(12), drops)
	_, found = parseDrops(strings.NewReader(table), netip.MustParseAddrPort("127.0.0.1:54"))
	assert.True(t, found)
	_, found = parseDrops(strings.NewReader(table), netip.MustParseAddrPort("127.0.0.1:55"))
	assert.False(t, found)

	ip, ok := procAddr([]byte(strings.Repeat("0", 24) + word([4]byte{0, 0, 0, 1}))) // ::1
	assert.True(t, ok)
	assert.Equal(t, netip.MustParseAddr("::1"), ip)
}
