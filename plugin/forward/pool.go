package forward

import (
	"net"
	"slices"
	"sync"
	"time"
)

// maxIdleConns bounds the idle connections kept per upstream and
// transport; a connection put back beyond it is closed.
const maxIdleConns = 64

// pool keeps the idle connections to one upstream over one transport, so
// that a query need not open a socket (or, over TCP, a connection) of its
// own. A connection idle for expire is closed; with expire 0 none is kept.
type pool struct {
	network string // "udp" or "tcp"
	addr    string
	expire  time.Duration

	mu     sync.Mutex
	idle   []idleConn // the most recently used last
	closed bool
}

type idleConn struct {
	c     net.Conn
	since time.Time
}

func newPool(network, addr string, expire time.Duration) *pool {
	return &pool{network: network, addr: addr, expire: expire}
}

// get returns an idle connection (cached is true) or a new one.
func (p *pool) get(deadline time.Time) (c net.Conn, cached bool, err error) {
	now := time.Now()
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		last := p.idle[n-1]
		if now.Sub(last.since) < p.expire {
			p.idle[n-1] = idleConn{}
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return last.c, true, nil
		}
		// The most recent has expired, and so have all the others.
		stale := p.idle
		p.idle = nil
		p.mu.Unlock()
		closeAll(stale)
	} else {
		p.mu.Unlock()
	}
	c, err = p.dial(deadline)
	return c, false, err
}

// dial opens a new connection.
func (p *pool) dial(deadline time.Time) (net.Conn, error) {
	d := net.Dialer{Deadline: deadline}
	return d.Dial(p.network, p.addr)
}

// put hands back a connection that has just been used successfully.
func (p *pool) put(c net.Conn) {
	now := time.Now()
	p.mu.Lock()
	if p.closed || p.expire <= 0 || len(p.idle) >= maxIdleConns {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: now})
	p.mu.Unlock()
}

// sweep closes the connections idle since before now-expire.
func (p *pool) sweep(now time.Time) {
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].since) >= p.expire {
		i++
	}
	stale := slices.Clone(p.idle[:i])
	p.idle = slices.Delete(p.idle, 0, i)
	p.mu.Unlock()
	closeAll(stale)
}

// close closes the idle connections, and from now on those put back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	closeAll(idle)
}

// len is the number of idle connections.
func (p *pool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func closeAll(conns []idleConn) {
	for _, ic := range conns {
		ic.c.Close()
	}
}
