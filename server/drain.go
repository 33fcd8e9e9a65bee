package server

import (
	"net"
	"sync"
	"time"
)

// drainListener hands out connections whose read deadlines it can cap, so a
// stopping server can let its open TCP connections finish the queries
// already sent instead of cutting them off: miekg/dns's own shutdown sets
// every read deadline in the past, which drops a query whose connection was
// accepted but not yet read.
type drainListener struct {
	net.Listener

	mu       sync.Mutex
	conns    map[*drainConn]struct{}
	deadline time.Time // zero until drain
}

func newDrainListener(ln net.Listener) *drainListener {
	return &drainListener{Listener: ln, conns: map[*drainConn]struct{}{}}
}

// Accept implements net.Listener.
func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &drainConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[dc] = struct{}{}
	l.mu.Unlock()
	return dc, nil
}

// drain stops accepting and makes every read, now and later, end by
// deadline at the latest.
func (l *drainListener) drain(deadline time.Time) {
	l.mu.Lock()
	l.deadline = deadline
	conns := make([]*drainConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	l.Listener.Close()
	for _, c := range conns {
		c.SetReadDeadline(deadline)
	}
}

func (l *drainListener) capDeadline(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.deadline.IsZero() && (t.IsZero() || t.After(l.deadline)) {
		return l.deadline
	}
	return t
}

type drainConn struct {
	net.Conn
	l *drainListener
}

// SetReadDeadline implements net.Conn.
func (c *drainConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.l.capDeadline(t))
}

// SetDeadline implements net.Conn.
func (c *drainConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// Close implements net.Conn.
func (c *drainConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
