package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tpdns/tpdns/plugin"
)

// The defaults of the DNS-over-TCP limits, which the timeouts directive
// changes. The timeouts are CoreDNS's.
const (
	// defaultReadTimeout bounds the wait for a connection's first query.
	defaultReadTimeout = 3 * time.Second
	// defaultIdleTimeout bounds the wait for each query after the first:
	// RFC 7766 section 6.2.3 asks for seconds, not minutes.
	defaultIdleTimeout = 10 * time.Second
	// defaultWriteTimeout bounds the writing of one reply, so that a client
	// that sends queries and never reads the replies cannot hold a
	// connection (miekg/dns's server has the setting but never uses it).
	defaultWriteTimeout = 5 * time.Second
	// defaultMaxTCPQueries is no limit: closing a connection after so many
	// queries drops the replies to those the client pipelined past it
	// (miekg/dns's default of 128 did), and the timeouts already free
	// connections nobody uses. CoreDNS has no limit either.
	defaultMaxTCPQueries = -1
	// defaultMaxConnections bounds the connections open at once, and so
	// the file descriptors and goroutines that clients can make the server
	// hold, far below any sane file limit. At the bound a new connection
	// takes the place of the one idle longest.
	defaultMaxConnections = 1000
)

// withDefaults fills in the limits l leaves unset.
func withDefaults(l plugin.TCPLimits) plugin.TCPLimits {
	if l.ReadTimeout == 0 {
		l.ReadTimeout = defaultReadTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = defaultIdleTimeout
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = defaultWriteTimeout
	}
	if l.MaxQueries == 0 {
		l.MaxQueries = defaultMaxTCPQueries
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = defaultMaxConnections
	}
	return l
}

// The idle marks of a tcpConn: the order in which connections started
// waiting for a query, but for these two.
const (
	busy    = 0              // answering a query: from its last byte read to its reply written
	evicted = math.MaxUint64 // closed to make room for a new connection
)

// tcpServer serves DNS over TCP on one listener. Each connection has a
// goroutine that reads its queries one after another and answers each
// before reading the next, so pipelined queries are answered in order,
// however many (no per-connection limit unless maxtcpqueries sets one).
//
// It keeps at most MaxConnections open. At the bound it closes the
// connection that has waited longest for a query to make room for the new
// one, as RFC 7766 section 6.2.3 allows a server under load (Unbound
// shortens its idle timeout for the same reason); only when every open
// connection is busy answering is the new one refused. So clients that
// open connections and send nothing can hold neither file descriptors nor
// the server's other clients out for long.
type tcpServer struct {
	s      *Server
	ln     net.Listener
	limits plugin.TCPLimits

	open   prometheus.Gauge
	closed [numCloseReasons]prometheus.Counter

	mu       sync.Mutex
	conns    map[*tcpConn]struct{}
	idleSeq  atomic.Uint64
	draining atomic.Int64 // the drain deadline in Unix nanoseconds; 0 until drain
	handlers sync.WaitGroup
	done     chan struct{} // closed when serve has returned
}

// Why the server closed a connection, the values of the reason label of
// tpdns_tcp_connections_closed_total.
const (
	closeRefused = iota
	closeEvicted
	closeReadTimeout
	closeIdleTimeout
	closeWriteTimeout
	closeMaxQueries
	numCloseReasons
)

var closeReasons = [numCloseReasons]string{"refused", "evicted", "read_timeout", "idle_timeout", "write_timeout", "max_queries"}

func newTCPServer(s *Server, ln net.Listener) *tcpServer {
	t := &tcpServer{
		s: s, ln: ln, limits: withDefaults(s.tcp),
		open:  tcpConnections.WithLabelValues(s.label()),
		conns: map[*tcpConn]struct{}{},
		done:  make(chan struct{}),
	}
	for i, reason := range closeReasons {
		t.closed[i] = tcpClosed.WithLabelValues(s.label(), reason)
	}
	return t
}

// serve accepts connections until the listener closes, then waits for
// the connections to end.
func (t *tcpServer) serve(started func()) error {
	defer close(t.done)
	started()
	err := t.accept()
	t.handlers.Wait()
	return err
}

// accept accepts connections until the listener closes. Other errors
// (out of file descriptors, a connection reset before it was accepted)
// are waited out with a back-off, as net/http waits out temporary ones.
func (t *tcpServer) accept() error {
	var backoff time.Duration
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.draining.Load() != 0 || errors.Is(err, net.ErrClosed) {
				return nil
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Printf("[ERROR] Accepting on %s: %v; retrying in %v", printableAddr(t.s.addr), err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if c := t.admit(conn); c != nil {
			t.handlers.Go(func() { t.serveConn(c) })
		}
	}
}

// admit counts conn in, making room for it when MaxConnections are open;
// nil when there is none, and conn is closed.
func (t *tcpServer) admit(conn net.Conn) *tcpConn {
	c := &tcpConn{Conn: conn, t: t}
	c.idle.Store(t.idleSeq.Add(1))
	t.mu.Lock()
	var old *tcpConn
	if t.limits.MaxConnections > 0 && len(t.conns) >= t.limits.MaxConnections {
		if old = t.evictLocked(); old == nil {
			t.mu.Unlock()
			t.closed[closeRefused].Inc()
			conn.Close()
			return nil
		}
	}
	t.conns[c] = struct{}{}
	t.mu.Unlock()
	t.open.Inc()
	if old != nil {
		t.closed[closeEvicted].Inc()
		old.Conn.Close() // its goroutine's read fails, and it returns
	}
	return c
}

// evictLocked takes the connection idle longest out of the open ones and
// returns it; nil when none is idle.
func (t *tcpServer) evictLocked() *tcpConn {
	// A connection that turns busy while it is chosen is left alone, and
	// another chosen; a few tries are enough.
	for range 3 {
		var oldest *tcpConn
		var since uint64
		for c := range t.conns {
			if seq := c.idle.Load(); seq != busy && seq != evicted && (oldest == nil || seq < since) {
				oldest, since = c, seq
			}
		}
		if oldest == nil {
			return nil
		}
		if oldest.idle.CompareAndSwap(since, evicted) {
			delete(t.conns, oldest)
			t.open.Dec()
			return oldest
		}
	}
	return nil
}

// forget counts c out, unless it was evicted (and counted out) already.
func (t *tcpServer) forget(c *tcpConn) {
	t.mu.Lock()
	_, ok := t.conns[c]
	delete(t.conns, c)
	t.mu.Unlock()
	if ok {
		t.open.Dec()
	}
}

// serveConn answers the queries of c until the client closes it, a limit
// closes it, or the server stops.
func (t *tcpServer) serveConn(c *tcpConn) {
	defer c.close()
	w := &tcpWriter{c: c}
	timeout, timedOut := t.limits.ReadTimeout, closeReadTimeout
	for n := 0; ; n++ {
		if t.limits.MaxQueries > 0 && n == t.limits.MaxQueries {
			t.closed[closeMaxQueries].Inc()
			return
		}
		q, err := c.readQuery(timeout)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && t.draining.Load() == 0 && c.idle.Load() != evicted {
				t.closed[timedOut].Inc()
			}
			return
		}
		t.s.serveWire(q, w)
		if w.timedOut {
			t.closed[closeWriteTimeout].Inc()
			return
		}
		if w.closed {
			return
		}
		c.idle.Store(t.idleSeq.Add(1))
		timeout, timedOut = t.limits.IdleTimeout, closeIdleTimeout
	}
}

// drain stops accepting and makes every read, now and later, end by
// deadline at the latest: a stopping server lets its open connections
// finish the queries already sent instead of cutting them off.
func (t *tcpServer) drain(deadline time.Time) {
	t.draining.Store(deadline.UnixNano())
	t.ln.Close()
	t.mu.Lock()
	conns := make([]*tcpConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Conn.SetReadDeadline(deadline)
	}
}

// stop drains the connections for tcpDrainGrace and waits, until ctx
// ends, for them to end.
func (t *tcpServer) stop(ctx context.Context) {
	t.drain(time.Now().Add(tcpDrainGrace))
	select {
	case <-t.done:
	case <-ctx.Done():
	}
}

// tcpConn is one connection of a tcpServer.
type tcpConn struct {
	net.Conn
	t *tcpServer
	// idle is the order in which the connection began waiting for its
	// next query (a query that trickles in counts as waited for), busy
	// while it answers one, evicted once the server chose to close it.
	idle   atomic.Uint64
	length [2]byte
}

// readQuery reads the next query, waiting timeout at most for all of it.
func (c *tcpConn) readQuery(timeout time.Duration) ([]byte, error) {
	seq := c.idle.Load()
	if seq == evicted {
		return nil, net.ErrClosed
	}
	c.setReadDeadline(time.Now().Add(timeout))
	if _, err := io.ReadFull(c.Conn, c.length[:]); err != nil {
		return nil, err
	}
	q := make([]byte, binary.BigEndian.Uint16(c.length[:]))
	if _, err := io.ReadFull(c.Conn, q); err != nil {
		return nil, err
	}
	if !c.idle.CompareAndSwap(seq, busy) {
		return nil, net.ErrClosed // evicted as the query came in
	}
	return q, nil
}

// setReadDeadline sets the read deadline, no later than a drain's.
func (c *tcpConn) setReadDeadline(d time.Time) {
	if drain := c.t.draining.Load(); drain != 0 {
		d = time.Unix(0, min(d.UnixNano(), drain))
	}
	c.Conn.SetReadDeadline(d)
	// A drain that began just before the line above set its own deadline,
	// which this one may have replaced.
	if drain := c.t.draining.Load(); drain != 0 && d.UnixNano() > drain {
		c.Conn.SetReadDeadline(time.Unix(0, drain))
	}
}

func (c *tcpConn) close() {
	c.t.forget(c)
	c.Conn.Close()
}

// tcpWriter is the dns.ResponseWriter of a connection's queries.
type tcpWriter struct {
	c        *tcpConn
	closed   bool // by the handler
	timedOut bool // a reply could not be written within the write timeout
}

// The methods of dns.ResponseWriter.

func (w *tcpWriter) LocalAddr() net.Addr  { return w.c.LocalAddr() }
func (w *tcpWriter) RemoteAddr() net.Addr { return w.c.RemoteAddr() }

func (w *tcpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Write writes the reply b with its length, in one write.
func (w *tcpWriter) Write(b []byte) (int, error) {
	if len(b) > dns.MaxMsgSize {
		return 0, dns.ErrBuf
	}
	framed := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(framed, uint16(len(b)))
	copy(framed[2:], b)
	w.c.SetWriteDeadline(time.Now().Add(w.c.t.limits.WriteTimeout))
	if _, err := w.c.Conn.Write(framed); err != nil {
		w.timedOut = errors.Is(err, os.ErrDeadlineExceeded)
		return 0, err
	}
	return len(b), nil
}

// Close closes the connection once the query is answered.
func (w *tcpWriter) Close() error {
	w.closed = true
	return nil
}

func (w *tcpWriter) TsigStatus() error   { return nil }
func (w *tcpWriter) TsigTimersOnly(bool) {}
func (w *tcpWriter) Hijack()             {}
