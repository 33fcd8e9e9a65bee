package server

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// notUDPConn hides a *net.UDPConn behind net.PacketConn, as a socket the
// batched server cannot take.
type notUDPConn struct{ net.PacketConn }

// TestPacketConnServer serves a socket the batched UDP server cannot take
// (everywhere outside Linux): the same checks and sizes as on Linux.
func TestPacketConnServer(t *testing.T) {
	s := newServer("127.0.0.1:0", true)
	s.zones["example."] = &zoneConfig{
		chain: plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
			m := new(dns.Msg)
			m.SetReply(r)
			for i := range 40 {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{"big-answer-record-padding " + strconv.Itoa(i)},
				})
			}
			return dns.RcodeSuccess, w.WriteMsg(m)
		}),
		ctx: context.Background(),
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	require.Nil(t, newUDPServer(s, notUDPConn{pc}))
	served := make(chan error, 1)
	go func() { served <- s.ServePacket(notUDPConn{pc}) }()
	defer func() {
		require.NoError(t, s.Stop())
		require.NoError(t, <-served)
	}()

	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: dns.MaxMsgSize}
	exchange := func(q *dns.Msg) *dns.Msg {
		r, _, err := c.Exchange(q, pc.LocalAddr().String())
		require.NoError(t, err)
		return r
	}
	q := new(dns.Msg)
	q.SetQuestion("x.example.", dns.TypeTXT)
	q.SetEdns0(65535, false)
	r := exchange(q)
	assert.True(t, r.Truncated)
	r.Compress = true // as it was sent
	packed, err := r.Pack()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(packed), ednsSize)

	q.Opcode = dns.OpcodeNotify
	assert.Equal(t, dns.RcodeNotImplemented, exchange(q).Rcode)

	q = new(dns.Msg)
	q.SetQuestion("x.example.", dns.TypeTXT)
	b, err := q.Pack()
	require.NoError(t, err)
	b[11] = 1 // ARCOUNT 1, no OPT record
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write(b)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, dns.MaxMsgSize)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	require.NoError(t, r.Unpack(buf[:n]))
	assert.Equal(t, dns.RcodeFormatError, r.Rcode)
}
