package server_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	_ "github.com/tpdns/tpdns/plugin/timeouts"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// testblock answers like testanswer, but only once the test lets it:
// a query it holds keeps its TCP connection busy.
var block = struct {
	sync.Mutex
	entered chan struct{} // a query came in
	release chan struct{} // closed: answer
}{}

func init() {
	plugin.Register("testblock", func(c *caddy.Controller) (plugin.Plugin, error) {
		c.Next()
		return func(plugin.Handler) plugin.Handler {
			return plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
				block.Lock()
				entered, release := block.entered, block.release
				block.Unlock()
				entered <- struct{}{}
				<-release
				m := new(dns.Msg)
				m.SetReply(r)
				return dns.RcodeSuccess, w.WriteMsg(m)
			})
		}, nil
	})
}

// metric is the value of a tpdns metric of the default registry (which
// the prometheus plugin serves) with these label values; 0 when absent.
func metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// closedTotal is tpdns_tcp_connections_closed_total of addr for reason.
func closedTotal(t *testing.T, addr, reason string) float64 {
	return metric(t, "tpdns_tcp_connections_closed_total", map[string]string{"server": "dns://" + addr, "reason": reason})
}

// openConns is tpdns_tcp_connections of addr.
func openConns(t *testing.T, addr string) float64 {
	return metric(t, "tpdns_tcp_connections", map[string]string{"server": "dns://" + addr})
}

// eventually polls cond every 10 ms until it holds, failing the test after
// 5 seconds.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after 5s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// limitsServer serves example. (testanswer, 40 records of about 50
// bytes: 2 KB), packet.example. (testpacket: the packet path answers),
// and panic.example. (testpanic: a query that reaches the chain panics),
// with the given timeouts block.
func limitsServer(t *testing.T, timeouts string) string {
	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf(`example:%[1]s {
    bind 127.0.0.1
    %[2]s
    testanswer big-answer-record-padding 40
}
packet.example:%[1]s {
    bind 127.0.0.1
    testpacket p
}
panic.example:%[1]s {
    bind 127.0.0.1
    testpanic
}
block.example:%[1]s {
    bind 127.0.0.1
    testblock
}`, port, timeouts))
	return "127.0.0.1:" + port
}

// exchangeWire sends the raw query b over proto and returns the raw reply.
func exchangeWire(t *testing.T, proto, addr string, b []byte) []byte {
	t.Helper()
	c, err := net.Dial(proto, addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
	if proto == "udp" {
		_, err = c.Write(b)
		require.NoError(t, err)
		buf := make([]byte, dns.MaxMsgSize)
		n, err := c.Read(buf)
		require.NoError(t, err)
		return buf[:n]
	}
	_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	require.NoError(t, err)
	return readTCP(t, c)
}

// readTCP reads one reply from a TCP connection.
func readTCP(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var l [2]byte
	_, err := io.ReadFull(c, l[:])
	require.NoError(t, err)
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	return b
}

func unpack(t *testing.T, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(b))
	return m
}

// TestUDPRepliesNeverExceedOurEDNSSize asks for a 2 KB answer with every
// buffer size, on UDP: the reply is truncated to the client's size, and
// never beyond 1232 bytes however much the client says it can take.
func TestUDPRepliesNeverExceedOurEDNSSize(t *testing.T) {
	addr := limitsServer(t, "")
	for _, c := range []struct {
		bufsize uint16 // 0: no EDNS
		limit   int
	}{
		{0, 512}, {100, 512}, {512, 512}, {1000, 1000}, {1232, 1232}, {1233, 1232}, {1452, 1232}, {4096, 1232}, {65535, 1232},
	} {
		q := test.Query("x.example.", dns.TypeTXT, c.bufsize)
		b, err := q.Pack()
		require.NoError(t, err)
		reply := exchangeWire(t, "udp", addr, b)
		assert.LessOrEqual(t, len(reply), c.limit, "bufsize %d", c.bufsize)
		assert.Greater(t, len(reply), c.limit-60, "bufsize %d: filled up to the limit, less than a record", c.bufsize)
		m := unpack(t, reply)
		assert.True(t, m.Truncated, "bufsize %d", c.bufsize)
		if c.bufsize > 0 {
			require.NotNil(t, m.IsEdns0(), "bufsize %d", c.bufsize)
			assert.Equal(t, uint16(1232), m.IsEdns0().UDPSize(), "bufsize %d", c.bufsize)
		}
	}
	// TCP has the whole answer.
	r := test.Exchange(t, "tcp", addr, test.Query("x.example.", dns.TypeTXT, 65535))
	assert.False(t, r.Truncated)
	assert.Len(t, r.Answer, 40)
}

// TestOpcodesOtherThanQueryGetNotImp sends every opcode but QUERY, over UDP
// and TCP, to a zone whose chain panics and one the packet path answers:
// NOTIMP, with the opcode echoed, and the chain never runs (nothing is
// forwarded, no panic).
func TestOpcodesOtherThanQueryGetNotImp(t *testing.T) {
	addr := limitsServer(t, "")
	panics := metric(t, "tpdns_panics_total", nil)
	for opcode := 1; opcode < 16; opcode++ {
		for _, name := range []string{"x.panic.example.", "x.packet.example."} {
			for _, proto := range []string{"udp", "tcp"} {
				q := test.Query(name, dns.TypeSOA, 0)
				q.Opcode = opcode
				if opcode == dns.OpcodeUpdate {
					// An update's records are in the authority section.
					rr, err := dns.NewRR(name + " 60 IN A 192.0.2.1")
					require.NoError(t, err)
					q.Ns = []dns.RR{rr, rr}
				}
				b, err := q.Pack()
				require.NoError(t, err)
				m := unpack(t, exchangeWire(t, proto, addr, b))
				what := fmt.Sprintf("%s %s %s", dns.OpcodeToString[opcode], name, proto)
				assert.Equal(t, "NOTIMP", dns.RcodeToString[m.Rcode], what)
				assert.Equal(t, opcode, m.Opcode, what)
				assert.Equal(t, q.Id, m.Id, what)
				assert.True(t, m.Response, what)
				assert.Empty(t, m.Answer, what)
			}
		}
	}
	assert.Equal(t, panics, metric(t, "tpdns_panics_total", nil), "no query reached the chain")
}

// TestSectionsShorterThanTheirCountsGetFormerr: a header that counts more
// records than the message holds (ARCOUNT 1 and no OPT record, the case
// miekg/dns lets through) is FORMERR over UDP and TCP, on both paths.
func TestSectionsShorterThanTheirCountsGetFormerr(t *testing.T) {
	addr := limitsServer(t, "")
	for _, name := range []string{"x.example.", "x.packet.example."} {
		valid, err := test.Query(name, dns.TypeTXT, 0).Pack()
		require.NoError(t, err)
		edns, err := test.Query(name, dns.TypeTXT, 1232).Pack()
		require.NoError(t, err)
		for what, q := range map[string][]byte{
			"ARCOUNT 1, no OPT":  withCount(valid, 10, 1),
			"ARCOUNT 2, one OPT": withCount(edns, 10, 2),
			"ANCOUNT 1, none":    withCount(valid, 6, 1),
			"NSCOUNT 1, none":    withCount(valid, 8, 1),
		} {
			for _, proto := range []string{"udp", "tcp"} {
				m := unpack(t, exchangeWire(t, proto, addr, q))
				assert.Equal(t, "FORMERR", dns.RcodeToString[m.Rcode], "%s %s %s", what, name, proto)
				assert.Equal(t, binary.BigEndian.Uint16(q), m.Id)
				require.Len(t, m.Question, 1, "the question echoed")
				assert.Equal(t, name, m.Question[0].Name)
			}
		}
		// The query as it should be is answered.
		assert.Equal(t, dns.RcodeSuccess, unpack(t, exchangeWire(t, "udp", addr, valid)).Rcode)
	}
}

// withCount returns a copy of b with the 16-bit count at off set to n.
func withCount(b []byte, off int, n uint16) []byte {
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint16(b[off:], n)
	return b
}

// cookieQuery is a query with a COOKIE option of the bytes given.
func cookieQuery(t *testing.T, name string, cookie []byte) []byte {
	q := test.Query(name, dns.TypeTXT, 1232)
	q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: cookie}}
	b, err := q.Pack()
	require.NoError(t, err)
	return b
}

// replyCookie is the COOKIE option of m, decoded.
func replyCookie(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	opt := m.IsEdns0()
	require.NotNil(t, opt)
	var cookies [][]byte
	for _, o := range opt.Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			b, err := hex.DecodeString(c.Cookie)
			require.NoError(t, err)
			cookies = append(cookies, b)
		}
	}
	require.Len(t, cookies, 1, "one COOKIE option")
	return cookies[0]
}

// TestCookies: a client cookie, alone or with a server cookie of any valid
// length, gets the client cookie back with a server cookie in RFC 9018's
// form (version 1, the time); a COOKIE option of another length gets
// FORMERR. Over UDP and TCP, for a zone the packet path answers and one
// only the chain answers.
func TestCookies(t *testing.T) {
	addr := limitsServer(t, "")
	client := []byte("\x01\x02\x03\x04\x05\x06\x07\x08")
	for _, name := range []string{"x.example.", "x.packet.example."} {
		for _, proto := range []string{"udp", "tcp"} {
			for _, serverLen := range []int{0, 8, 16, 32} {
				what := fmt.Sprintf("%s %s server cookie of %d", name, proto, serverLen)
				sent := append(append([]byte(nil), client...), make([]byte, serverLen)...)
				before := uint32(time.Now().Unix())
				m := unpack(t, exchangeWire(t, proto, addr, cookieQuery(t, name, sent)))
				after := uint32(time.Now().Unix())
				assert.Equal(t, dns.RcodeSuccess, m.Rcode, what)
				assert.NotEmpty(t, m.Answer, what)
				got := replyCookie(t, m)
				require.Len(t, got, 24, what)
				assert.Equal(t, client, got[:8], what)
				assert.Equal(t, []byte{1, 0, 0, 0}, got[8:12], "%s: version 1, reserved", what)
				stamp := binary.BigEndian.Uint32(got[12:16])
				assert.True(t, before <= stamp && stamp <= after, "%s: timestamp %d not in [%d, %d]", what, stamp, before, after)
			}
			for _, l := range []int{0, 1, 7, 9, 15, 41, 64} {
				m := unpack(t, exchangeWire(t, proto, addr, cookieQuery(t, name, make([]byte, l))))
				what := fmt.Sprintf("%s %s cookie of %d bytes", name, proto, l)
				assert.Equal(t, "FORMERR", dns.RcodeToString[m.Rcode], what)
				assert.Empty(t, m.Answer, what)
				require.NotNil(t, m.IsEdns0(), what)
				assert.Empty(t, m.IsEdns0().Option, "%s: no cookie back", what)
			}
		}
	}

	// The packet path answers a query with a cookie as one without; a
	// malformed cookie is the chain's.
	text := func(b []byte) string { return unpack(t, b).Answer[0].(*dns.TXT).Txt[0] }
	noCookie, err := test.Query("x.packet.example.", dns.TypeTXT, 1232).Pack()
	require.NoError(t, err)
	assert.Equal(t, "p packet", text(exchangeWire(t, "udp", addr, noCookie)))
	assert.Equal(t, "p packet", text(exchangeWire(t, "udp", addr, cookieQuery(t, "x.packet.example.", client))))
	assert.Empty(t, unpack(t, exchangeWire(t, "udp", addr, noCookie)).IsEdns0().Option, "no cookie without one")

	// The same client cookie from the same address in the same second:
	// the same server cookie, from a secret that outlives the query.
	for range 10 {
		first := unpack(t, exchangeWire(t, "udp", addr, cookieQuery(t, "x.example.", client)))
		second := unpack(t, exchangeWire(t, "tcp", addr, cookieQuery(t, "x.example.", client)))
		a, b := replyCookie(t, first), replyCookie(t, second)
		if binary.BigEndian.Uint32(a[12:]) == binary.BigEndian.Uint32(b[12:]) {
			assert.Equal(t, a, b)
			break
		}
	}
}

// TestCookieOnlyQuery: RFC 7873 section 5.4's request for a server cookie,
// a query with no question and a COOKIE option, gets NOERROR and the
// cookie; without a cookie a query with no question is FORMERR.
func TestCookieOnlyQuery(t *testing.T) {
	addr := limitsServer(t, "")
	for _, proto := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.Id = dns.Id()
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
		b, err := q.Pack()
		require.NoError(t, err)
		m := unpack(t, exchangeWire(t, proto, addr, b))
		assert.Equal(t, dns.RcodeSuccess, m.Rcode, proto)
		assert.Equal(t, q.Id, m.Id, proto)
		assert.Empty(t, m.Question, proto)
		assert.Equal(t, "0102030405060708", hex.EncodeToString(replyCookie(t, m)[:8]), proto)

		q.IsEdns0().Option = nil
		b, err = q.Pack()
		require.NoError(t, err)
		assert.Equal(t, "FORMERR", dns.RcodeToString[unpack(t, exchangeWire(t, proto, addr, b)).Rcode], proto)
	}
}

// TestTwoOPTRecordsGetFormerr (RFC 6891 section 6.1.1).
func TestTwoOPTRecordsGetFormerr(t *testing.T) {
	addr := limitsServer(t, "")
	q := test.Query("x.example.", dns.TypeTXT, 1232)
	q.Extra = append(q.Extra, q.Extra[0])
	b, err := q.Pack()
	require.NoError(t, err)
	for _, proto := range []string{"udp", "tcp"} {
		assert.Equal(t, "FORMERR", dns.RcodeToString[unpack(t, exchangeWire(t, proto, addr, b)).Rcode], proto)
	}
}

// TestTCPPipelining writes 500 queries on one connection before reading
// any reply: every one is answered, in order, and the connection stays
// open (miekg/dns's server closed it after 128, dropping replies).
func TestTCPPipelining(t *testing.T) {
	addr := limitsServer(t, "")
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	const n = 500
	var queries []byte
	for i := range n {
		q := test.Query(fmt.Sprintf("q%d.packet.example.", i), dns.TypeTXT, 0)
		q.Id = uint16(i)
		b, err := q.Pack()
		require.NoError(t, err)
		queries = binary.BigEndian.AppendUint16(queries, uint16(len(b)))
		queries = append(queries, b...)
	}
	// Written while read: the replies must not fill the buffers first.
	written := make(chan error, 1)
	go func() {
		_, err := c.Write(queries)
		written <- err
	}()
	for i := range n {
		m := unpack(t, readTCP(t, c))
		require.Equal(t, uint16(i), m.Id)
		require.Equal(t, fmt.Sprintf("q%d.packet.example.", i), m.Question[0].Name)
	}
	require.NoError(t, <-written)
	b, err := test.Query("last.packet.example.", dns.TypeTXT, 0).Pack()
	require.NoError(t, err)
	_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	require.NoError(t, err)
	assert.Equal(t, "last.packet.example.", unpack(t, readTCP(t, c)).Question[0].Name)
}

// waitClosed reads c until the server closes it and returns how long that
// took from start.
func waitClosed(t *testing.T, c net.Conn, start time.Time) time.Duration {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closes the connection")
	return time.Since(start)
}

// TestTCPReadAndIdleTimeouts: a connection that sends nothing is closed
// after the read timeout, one that sent a query after the idle timeout;
// each is counted.
func TestTCPReadAndIdleTimeouts(t *testing.T) {
	addr := limitsServer(t, "timeouts {\n read 1s\n idle 2s\n }")
	readBefore, idleBefore := closedTotal(t, addr, "read_timeout"), closedTotal(t, addr, "idle_timeout")

	start := time.Now()
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	chatty, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer chatty.Close()
	b, err := test.Query("x.packet.example.", dns.TypeTXT, 0).Pack()
	require.NoError(t, err)
	_, err = chatty.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	require.NoError(t, err)
	require.NoError(t, chatty.SetReadDeadline(time.Now().Add(2*time.Second)))
	readTCP(t, chatty)
	answered := time.Now()

	took := waitClosed(t, silent, start)
	assert.True(t, took >= time.Second && took < 2*time.Second, "closed after %v, read timeout 1s", took)
	took = waitClosed(t, chatty, answered)
	assert.True(t, took >= 1900*time.Millisecond && took < 3*time.Second, "closed %v after its reply, idle timeout 2s", took)
	eventually(t, func() bool {
		return closedTotal(t, addr, "read_timeout") == readBefore+1 && closedTotal(t, addr, "idle_timeout") == idleBefore+1
	}, "one read and one idle timeout counted")
	eventually(t, func() bool { return openConns(t, addr) == 0 }, "no connection open")
}

// TestTCPMaxQueries: maxtcpqueries closes a connection after so many.
func TestTCPMaxQueries(t *testing.T) {
	addr := limitsServer(t, "timeouts {\n maxtcpqueries 3\n }")
	before := closedTotal(t, addr, "max_queries")
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	b, err := test.Query("x.packet.example.", dns.TypeTXT, 0).Pack()
	require.NoError(t, err)
	for range 3 {
		_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
		require.NoError(t, err)
		readTCP(t, c)
	}
	waitClosed(t, c, time.Now())
	eventually(t, func() bool { return closedTotal(t, addr, "max_queries") == before+1 }, "counted")
}

// TestTCPMaxConnections: at max_connections a new connection takes the
// place of the one idle longest; when every one is busy answering, the
// new one is refused. Both counted, and the gauge never passes the bound.
func TestTCPMaxConnections(t *testing.T) {
	addr := limitsServer(t, "timeouts {\n max_connections 2\n read 1m\n idle 1m\n }")
	evicted, refused := closedTotal(t, addr, "evicted"), closedTotal(t, addr, "refused")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	ask := func(c net.Conn, name string) *dns.Msg {
		b, err := test.Query(name, dns.TypeTXT, 0).Pack()
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
		_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
		require.NoError(t, err)
		return unpack(t, readTCP(t, c))
	}

	first := dial()
	eventually(t, func() bool { return openConns(t, addr) == 1 }, "first open")
	second := dial()
	eventually(t, func() bool { return openConns(t, addr) == 2 }, "second open")
	ask(first, "a.packet.example.") // the first is now the one idle least
	third := dial()
	assert.Equal(t, "c.packet.example.", ask(third, "c.packet.example.").Question[0].Name)
	waitClosed(t, second, time.Now())
	assert.Equal(t, "a.packet.example.", ask(first, "a.packet.example.").Question[0].Name, "the first is still open")
	assert.Equal(t, evicted+1, closedTotal(t, addr, "evicted"))
	assert.Equal(t, 2.0, openConns(t, addr))

	// Both busy: a third connection is refused.
	block.Lock()
	block.entered, block.release = make(chan struct{}, 2), make(chan struct{})
	block.Unlock()
	replies := make(chan *dns.Msg, 2)
	for _, c := range []net.Conn{first, third} {
		go func() {
			b, _ := test.Query("x.block.example.", dns.TypeA, 0).Pack()
			c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				replies <- nil
				return
			}
			r := make([]byte, binary.BigEndian.Uint16(l[:]))
			io.ReadFull(c, r)
			m := new(dns.Msg)
			m.Unpack(r)
			replies <- m
		}()
	}
	<-block.entered
	<-block.entered
	fourth := dial()
	waitClosed(t, fourth, time.Now())
	assert.Equal(t, refused+1, closedTotal(t, addr, "refused"))
	close(block.release)
	for range 2 {
		m := <-replies
		require.NotNil(t, m, "the busy connections are answered")
		assert.Equal(t, "x.block.example.", m.Question[0].Name)
	}
	assert.Equal(t, 2.0, openConns(t, addr))
}

// TestTCPWriteTimeout: a client that sends queries and never reads the
// replies is closed once a reply has waited the write timeout.
func TestTCPWriteTimeout(t *testing.T) {
	port := test.FreePort(t)
	addr := "127.0.0.1:" + port
	test.Start(t, fmt.Sprintf("example:%s {\n bind 127.0.0.1\n timeouts {\n write 1s\n }\n testanswer %s 1000\n}\n", port, strings.Repeat("x", 50)))
	before := closedTotal(t, addr, "write_timeout")
	d := net.Dialer{}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
	b, err := test.Query("x.example.", dns.TypeTXT, 0).Pack()
	require.NoError(t, err)
	framed := append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	// Each reply is about 60 KB: a few hundred fill any socket buffers.
	// Writing stops when the server closes the connection.
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(20*time.Second)))
	for i := 0; i < 2000; i++ {
		if _, err := c.Write(framed); err != nil {
			break
		}
		if closedTotal(t, addr, "write_timeout") == before+1 {
			break
		}
	}
	eventually(t, func() bool { return closedTotal(t, addr, "write_timeout") == before+1 }, "a write timeout counted")
	eventually(t, func() bool { return openConns(t, addr) == 0 }, "the connection closed")
}

// TestTimeoutsMustAgreeOnAListener: two blocks on one address that set a
// limit differently are a configuration error.
func TestTimeoutsMustAgreeOnAListener(t *testing.T) {
	port := test.FreePort(t)
	for _, c := range []struct{ a, b, err string }{
		{"read 5s", "read 6s", "timeouts: read is 5s in one server block and 6s in another on the same listener"},
		{"max_connections 0", "max_connections 10", "timeouts: max_connections is 0 in one server block and 10 in another on the same listener"},
		{"maxtcpqueries -1", "maxtcpqueries 5", "timeouts: maxtcpqueries is -1 in one server block and 5 in another on the same listener"},
	} {
		corefile := fmt.Sprintf("a.example:%[1]s {\n bind 127.0.0.1\n timeouts {\n %[2]s\n }\n whoami\n}\nb.example:%[1]s {\n bind 127.0.0.1\n timeouts {\n %[3]s\n }\n whoami\n}\n", port, c.a, c.b)
		err := server.Validate(server.Input{Filename: "Corefile", Contents: []byte(corefile)})
		assert.EqualError(t, err, "Corefile: 127.0.0.1:"+port+": "+c.err)
	}
	// The same limit in both, or in one only, is fine.
	corefile := fmt.Sprintf("a.example:%[1]s {\n bind 127.0.0.1\n timeouts {\n read 5s\n }\n whoami\n}\nb.example:%[1]s {\n bind 127.0.0.1\n timeouts {\n read 5s\n idle 1m\n }\n whoami\n}\n", port)
	assert.NoError(t, server.Validate(server.Input{Filename: "Corefile", Contents: []byte(corefile)}))
}
