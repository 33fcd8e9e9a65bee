package thirdparty

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the API's connection limits.
const (
	// defaultAPIReadHeaderTimeout bounds how long a client may take to send
	// a request's headers, from the connection's start or its first byte.
	defaultAPIReadHeaderTimeout = 5 * time.Second
	// defaultAPIIdleTimeout is how long a keep-alive connection may wait
	// for its next request.
	defaultAPIIdleTimeout = 60 * time.Second
	// defaultAPIMaxConnections caps the API's open connections: ample for
	// CI jobs, tpdnsctl and hosts that heartbeat (past it, the connection
	// idle longest is closed, not a new client refused), and it bounds
	// the API's share of the process's fds and its memory (~25 MB).
	defaultAPIMaxConnections = 512

	// surgeConnections is a surge: so many connections open at once take
	// tens of MB (a goroutine and buffers each). When all but a 16th of
	// them have closed, and stayed closed for surgeQuiet, that memory is
	// given back to the system at once, not at the runtime's pace
	// (minutes: a collection every two, and the buffers the HTTP server
	// pools outlive one).
	surgeConnections = 128
	surgeQuiet       = time.Second

	// slowHeaders is how long a request's headers may take before, at
	// the cap, its connection may be closed for a new one.
	slowHeaders = time.Second
)

// apiLimits are the connection limits of an API server.
type apiLimits struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	maxConnections    int
}

var defaultAPILimits = apiLimits{
	readHeaderTimeout: defaultAPIReadHeaderTimeout,
	idleTimeout:       defaultAPIIdleTimeout,
	maxConnections:    defaultAPIMaxConnections,
}

// Why the API closed a connection, the reason label of
// tpdns_thirdparty_api_connections_closed_total.
const (
	closedLimit         = "max_connections"     // at the cap: to make room, or the new one when there is none
	closedHeaderTimeout = "read_header_timeout" // a request's headers took too long
	closedIdleTimeout   = "idle_timeout"        // no next request on a keep-alive connection
	closedUnauthorized  = "unauthenticated"     // after a 401
)

// limitedListener keeps the open connections of an API server at most
// max. At the cap, a new connection closes the one that has been idle
// longest (accepted or kept alive, with no request begun on it) to make
// room, or else one whose request's headers have been coming for over a
// second, or is closed itself when every connection is in a request. So a
// client holding idle connections can neither exhaust the process's file
// descriptors nor lock the API's users out: what it holds goes first. The
// timeouts of the HTTP server (read_header_timeout, idle_timeout) bound
// the rest.
type limitedListener struct {
	net.Listener
	max    int
	open   prometheus.Gauge
	closed *prometheus.CounterVec // by reason

	mu    sync.Mutex
	conns map[*limitedConn]struct{}
	peak  int         // the most open at once since memory was last given back
	quiet *time.Timer // armed when a surge ended
}

func newLimitedListener(ln net.Listener, max int, server string) *limitedListener {
	return &limitedListener{
		Listener: ln,
		max:      max,
		open:     apiConnections.WithLabelValues(server),
		closed:   apiConnectionsClosed.MustCurryWith(prometheus.Labels{"server": server}),
		conns:    map[*limitedConn]struct{}{},
	}
}

// limitedConn is a connection of a limitedListener, with what the listener
// needs to pick one to close and to tell why one was closed.
type limitedConn struct {
	net.Conn
	l    *limitedListener
	once sync.Once

	// state and since are the HTTP state and when it began; l.mu guards
	// them.
	state http.ConnState
	since time.Time
	// read is set when bytes were read in the state: a request has begun,
	// at begun (UnixNano).
	read  atomic.Bool
	begun atomic.Int64
	// timed is set when a read deadline is in force (an abort of a read,
	// which net/http makes with a deadline in the past, is not one).
	timed atomic.Bool
	// why is the reason it was closed, when the API closed it.
	why atomic.Pointer[string]
}

// Accept returns the next connection, making room for it under the cap.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l, state: http.StateNew, since: time.Now()}
		l.mu.Lock()
		var victim *limitedConn
		if len(l.conns) >= l.max {
			if victim = l.idlest(); victim == nil {
				l.mu.Unlock()
				c.Close()
				l.closed.WithLabelValues(closedLimit).Inc()
				continue
			}
			delete(l.conns, victim)
		}
		l.conns[lc] = struct{}{}
		l.peak = max(l.peak, len(l.conns))
		l.mu.Unlock()
		if victim != nil {
			victim.closeFor(closedLimit)
		} else {
			l.open.Inc()
		}
		return lc, nil
	}
}

// idlest returns the connection idle longest; when none is, the oldest
// one that has been sending its request's headers for over slowHeaders
// (a client that trickles them holds its place until
// read_header_timeout otherwise); nil when there is neither. The caller
// holds l.mu.
func (l *limitedListener) idlest() *limitedConn {
	var idle, slow *limitedConn
	cutoff := time.Now().Add(-slowHeaders).UnixNano()
	for c := range l.conns {
		if c.state != http.StateNew && c.state != http.StateIdle {
			continue // answering a request
		}
		switch {
		case !c.read.Load():
			if idle == nil || c.since.Before(idle.since) {
				idle = c
			}
		case c.begun.Load() < cutoff:
			if slow == nil || c.begun.Load() < slow.begun.Load() {
				slow = c
			}
		}
	}
	if idle != nil {
		return idle
	}
	return slow
}

// track follows the HTTP state of the listener's connections; chained to
// the server's ConnState.
func (l *limitedListener) track(c net.Conn, s http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	if s == http.StateClosed || s == http.StateHijacked {
		lc.release()
		return
	}
	l.mu.Lock()
	lc.state, lc.since = s, time.Now()
	lc.read.Store(false)
	l.mu.Unlock()
}

// closeFor closes c, a connection taken out of the count already (its
// place goes to a new one), and counts why.
func (c *limitedConn) closeFor(reason string) {
	c.why.Store(&reason)
	c.Conn.Close()
	c.l.closed.WithLabelValues(reason).Inc()
}

// release takes c out of the count, once.
func (c *limitedConn) release() {
	c.once.Do(func() {
		l := c.l
		l.mu.Lock()
		_, counted := l.conns[c]
		delete(l.conns, c)
		if l.peak >= surgeConnections && len(l.conns) <= l.peak/16 && l.quiet == nil {
			l.quiet = time.AfterFunc(surgeQuiet, l.giveBack)
		}
		l.mu.Unlock()
		if counted {
			l.open.Dec()
		}
	})
}

// giveBack returns the memory of a surge of connections to the system,
// unless the connections came back meanwhile.
func (l *limitedListener) giveBack() {
	l.mu.Lock()
	l.quiet = nil
	if len(l.conns) > l.peak/16 {
		l.mu.Unlock()
		return
	}
	l.peak = len(l.conns)
	l.mu.Unlock()
	// Two collections: the HTTP server's pooled buffers survive one.
	runtime.GC()
	debug.FreeOSMemory()
}

// Read notes that a request has begun, and counts a read that a timeout
// of the server ended as the reason the connection closes.
func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.read.Load() {
		c.begun.Store(time.Now().UnixNano())
		c.read.Store(true)
	}
	if err != nil && c.timed.Load() && errors.Is(err, os.ErrDeadlineExceeded) && c.why.Load() == nil {
		reason := closedHeaderTimeout
		c.l.mu.Lock()
		if c.state == http.StateIdle && !c.read.Load() {
			reason = closedIdleTimeout
		}
		c.l.mu.Unlock()
		if c.why.CompareAndSwap(nil, &reason) {
			c.l.closed.WithLabelValues(reason).Inc()
		}
	}
	return n, err
}

// SetReadDeadline notes whether a timeout is in force.
func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.timed.Store(t.After(time.Now()))
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline notes whether a timeout is in force.
func (c *limitedConn) SetDeadline(t time.Time) error {
	c.timed.Store(t.After(time.Now()))
	return c.Conn.SetDeadline(t)
}

// Close closes the connection and takes it out of the count.
func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// configure sets the server's timeouts and follows its connections.
func (l *limitedListener) configure(lim apiLimits) func(*http.Server) {
	return func(srv *http.Server) {
		srv.ReadHeaderTimeout = lim.readHeaderTimeout
		srv.IdleTimeout = lim.idleTimeout
		prev := srv.ConnState
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			if prev != nil {
				prev(c, s)
			}
			l.track(c, s)
		}
	}
}
