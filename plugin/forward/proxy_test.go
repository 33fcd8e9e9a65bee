package forward

import (
	"context"
	"net"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A UDP socket also receives what was not sent in reply to the query:
// late replies to an earlier one, spoofs. Those are skipped.
func TestStrayDatagramsAreSkipped(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:n]) != nil {
			return
		}
		send := func(m *dns.Msg) {
			b, _ := m.Pack()
			pc.WriteTo(b, from)
		}
		pc.WriteTo([]byte{1, 2, 3}, from) // too short

		wrongID := new(dns.Msg)
		wrongID.SetReply(r)
		wrongID.Id++
		send(wrongID)

		otherQuestion := new(dns.Msg)
		otherQuestion.SetReply(r)
		otherQuestion.Question[0].Name = "other.example.org."
		send(otherQuestion)

		notResponse := r.Copy()
		send(notResponse)

		reply := new(dns.Msg)
		reply.SetReply(r)
		reply.Rcode = dns.RcodeNameError
		send(reply)
	}()

	g := newGroup(with(".", []string{pc.LocalAddr().String()}, nil))
	defer g.stop()
	r := new(dns.Msg)
	r.SetQuestion("www.Example.org.", dns.TypeA)
	ret, err := g.forward(context.Background(), r, "udp")
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeNameError, ret.Rcode)
}

// Over TCP a reply that is not the query's is an error: the connection
// is closed, never reused.
func TestTCPMismatchIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		co := &dns.Conn{Conn: c}
		r, err := co.ReadMsg()
		if err != nil {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Id++
		co.WriteMsg(m)
		co.ReadMsg() // until the client closes
	}()

	g := newGroup(with(".", []string{ln.Addr().String()}, func(o *options) { o.maxFails = 0 }))
	defer g.stop()
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeA)
	_, err = g.forward(context.Background(), r, "tcp")
	assert.EqualError(t, err, ln.Addr().String()+": reply does not match the query")
	assert.Equal(t, 0, g.proxies[0].tcp.len())
}

// A pooled TCP connection the upstream has closed is replaced, and the
// query does not fail for it.
func TestClosedPooledConnectionIsReplaced(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			// One reply per connection, then close it.
			co := &dns.Conn{Conn: c}
			if r, err := co.ReadMsg(); err == nil {
				m := new(dns.Msg)
				m.SetReply(r)
				co.WriteMsg(m)
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	g := newGroup(with(".", []string{ln.Addr().String()}, nil))
	defer g.stop()
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeTXT)
	for i := range 2 {
		_, err := g.forward(context.Background(), r, "tcp")
		require.NoError(t, err, "query %d", i)
	}
	assert.Len(t, accepted, 2, "the second query found the pooled connection closed and dialed anew")
}

// A query too large for the pooled buffer is packed in one of its own.
func TestLargeQuery(t *testing.T) {
	u := startUpstream(t, "u1")
	g := newGroup(with(".", []string{u.addr}, nil))
	defer g.stop()
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeTXT)
	r.SetEdns0(4096, false)
	opt := r.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, 3000)})
	for _, network := range []string{"udp", "tcp"} {
		ret, err := g.forward(context.Background(), r, network)
		require.NoError(t, err, network)
		assert.Equal(t, "u1", answeredBy(ret), network)
	}
}
