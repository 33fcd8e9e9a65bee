package forward

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test/dnstest"
)

// closed reports whether c has been closed.
func closed(c net.Conn) bool {
	_, err := c.Write([]byte{0})
	return err != nil && !isTimeout(err)
}

func TestPool(t *testing.T) {
	u := startUpstream(t, "u1")
	p := newPool("udp", u.addr, time.Hour)
	deadline := time.Now().Add(time.Second)

	c1, cached, err := p.get(deadline)
	require.NoError(t, err)
	assert.False(t, cached)
	p.put(c1)
	c2, cached, err := p.get(deadline)
	require.NoError(t, err)
	assert.True(t, cached)
	assert.Same(t, c1, c2, "an idle connection is reused")
	p.put(c2)

	p.sweep(time.Now())
	assert.Equal(t, 1, p.len(), "not idle for expire yet")
	p.sweep(time.Now().Add(time.Hour))
	assert.Equal(t, 0, p.len())
	assert.True(t, closed(c2), "swept connections are closed")

	// An expired connection is not handed out: it and all older go.
	stale, _, err := p.get(deadline)
	require.NoError(t, err)
	p.idle = append(p.idle, idleConn{c: stale, since: time.Now().Add(-2 * time.Hour)})
	c3, cached, err := p.get(deadline)
	require.NoError(t, err)
	assert.False(t, cached)
	assert.True(t, closed(stale))

	for range maxIdleConns + 1 {
		c, err := p.dial(deadline)
		require.NoError(t, err)
		p.put(c)
	}
	assert.Equal(t, maxIdleConns, p.len(), "idle connections are bounded")

	p.close()
	assert.Equal(t, 0, p.len())
	p.put(c3)
	assert.True(t, closed(c3), "after close, connections put back are closed")
}

func TestPoolWithoutExpireKeepsNothing(t *testing.T) {
	u := startUpstream(t, "u1")
	p := newPool("tcp", u.addr, 0)
	c, _, err := p.get(time.Now().Add(time.Second))
	require.NoError(t, err)
	p.put(c)
	assert.Equal(t, 0, p.len())
	assert.True(t, closed(c))
}

// The connections of a group are closed once idle for expire, and on
// shutdown.
func TestGroupClosesIdleConnections(t *testing.T) {
	u := startUpstream(t, "u1")
	for _, c := range []struct {
		name   string
		expire time.Duration
		wait   func(g *group)
	}{
		{"expire", 50 * time.Millisecond, func(*group) {}},
		{"shutdown", time.Hour, func(g *group) { g.stop() }},
	} {
		g := newGroup(with(".", []string{u.addr}, func(o *options) { o.expire = c.expire }))
		g.start()
		f := &Forward{group: g}
		r := new(dns.Msg)
		r.SetQuestion("example.org.", dns.TypeTXT)
		w := &dnstest.Writer{TCP: true}
		_, err := f.ServeDNS(context.Background(), w, r)
		require.NoError(t, err, c.name)
		assert.Equal(t, "u1", answeredBy(w.Msg), c.name)
		assert.Equal(t, 1, g.proxies[0].tcp.len(), c.name)

		c.wait(g)
		eventually(t, func() bool { return g.proxies[0].tcp.len() == 0 }, c.name)
		g.stop()
	}
}
