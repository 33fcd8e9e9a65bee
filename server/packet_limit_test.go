package server

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// limiter is a passer that limits: it gives each reply the next of
// verdicts, and remembers what it was asked.
type limiter struct {
	passer
	verdicts []plugin.PacketVerdict
	asked    []string
}

func (l *limiter) LimitPackets(server, zone string) plugin.PacketLimit {
	return func(q *plugin.Packet, r plugin.PacketReply) plugin.PacketVerdict {
		l.asked = append(l.asked, server+" "+zone+" "+string(q.Name)+" "+q.Client.String()+" "+dns.TypeToString[q.Type]+" "+dns.RcodeToString[r.Rcode])
		v := l.verdicts[0]
		l.verdicts = l.verdicts[1:]
		return v
	}
}

// A limit sends the reply as made, cuts it to an empty truncated one (with
// the OPT record of a query with EDNS), or holds it back: an empty reply,
// still answered by the packet path (the chain must not answer it) and
// still observed.
func TestPacketPathLimits(t *testing.T) {
	l := &limiter{verdicts: []plugin.PacketVerdict{plugin.PacketSend, plugin.PacketSlip, plugin.PacketSlip, plugin.PacketDrop}}
	s := packetServer(l, &answerer{})
	client := netip.MustParseAddrPort("192.0.2.99:5353")
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	q.Id, q.CheckingDisabled = 4711, true
	m := new(dns.Msg)

	query := pack(t, q)
	reply, a, ok := s.answerPacket(&packetReader{}, query, client, nil)
	require.True(t, ok)
	require.NoError(t, m.Unpack(reply))
	assert.False(t, m.Truncated)
	assert.Len(t, m.Answer, 1)
	s.observePacket(observed(a, query, client, reply), 0)

	reply, a, ok = s.answerPacket(&packetReader{}, query, client, nil)
	require.True(t, ok)
	require.NoError(t, m.Unpack(reply))
	assert.Equal(t, dns.MsgHdr{Id: 4711, Response: true, Authoritative: true, Truncated: true, RecursionDesired: true, CheckingDisabled: true}, m.MsgHdr)
	assert.Equal(t, q.Question, m.Question)
	assert.Empty(t, m.Answer)
	assert.Empty(t, m.Ns)
	assert.Empty(t, m.Extra)
	s.observePacket(observed(a, query, client, reply), 0)

	q.SetEdns0(4096, true)
	query = pack(t, q)
	reply, _, ok = s.answerPacket(&packetReader{}, query, client, nil)
	require.True(t, ok)
	require.NoError(t, m.Unpack(reply))
	assert.True(t, m.Truncated)
	assert.Empty(t, m.Answer)
	require.Len(t, m.Extra, 1)
	require.NotNil(t, m.IsEdns0())
	assert.Equal(t, uint16(ednsSize), m.IsEdns0().UDPSize())
	assert.True(t, m.IsEdns0().Do())
	assert.Empty(t, m.IsEdns0().Option)

	reply, a, ok = s.answerPacket(&packetReader{}, query, client, nil)
	require.True(t, ok, "held back, not declined")
	assert.Empty(t, reply)
	s.observePacket(observed(a, query, client, reply), 0)

	assert.Equal(t, []string{
		"dns://127.0.0.1:53 example. a.example. 192.0.2.99 A NOERROR",
		"dns://127.0.0.1:53 example. a.example. 192.0.2.99 A NOERROR",
		"dns://127.0.0.1:53 example. a.example. 192.0.2.99 A NOERROR",
		"dns://127.0.0.1:53 example. a.example. 192.0.2.99 A NOERROR",
	}, l.asked)
	// Observed as sent: the whole reply, the slip, and nothing (the
	// query without EDNS is 27 bytes, with it 38).
	assert.Equal(t, []string{
		"dns://127.0.0.1:53 example. A NOERROR ipv6=false 27 43 0s",
		"dns://127.0.0.1:53 example. A NOERROR ipv6=false 27 27 0s",
		"dns://127.0.0.1:53 example. A NOERROR ipv6=false 38 0 0s",
	}, l.seen, "observed")

	// A query the answerer declines is never limited: the chain answers it.
	q.SetQuestion("b.example.", dns.TypeA)
	_, _, ok = s.answerPacket(&packetReader{}, pack(t, q), client, nil)
	assert.False(t, ok)
	assert.Len(t, l.asked, 4)
}
