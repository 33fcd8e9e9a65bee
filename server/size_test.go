package server

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
)

// sizedAnswerer answers with n bytes of padding, as if records.
type sizedAnswerer struct {
	plugin.HandlerFunc
	n int
}

func (a sizedAnswerer) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	return append(b, make([]byte, a.n)...), plugin.PacketReply{}, true
}

// TestPacketPathNeverExceedsOurEDNSSize: whatever the client's buffer, the
// packet path sends at most 1232 bytes, and leaves a larger reply to the
// chain, which truncates it.
func TestPacketPathNeverExceedsOurEDNSSize(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	overhead := len(pack(t, q)) + optLen // the reply's header, question and OPT
	for _, c := range []struct {
		bufsize uint16
		n       int
		ok      bool
	}{
		{bufsize: 65535, n: ednsSize - overhead, ok: true},
		{bufsize: 65535, n: ednsSize - overhead + 1},
		{bufsize: 4096, n: ednsSize - overhead + 1},
		{bufsize: 1232, n: ednsSize - overhead, ok: true},
		{bufsize: 1000, n: 1000 - overhead, ok: true},
		{bufsize: 1000, n: 1000 - overhead + 1},
	} {
		s := packetServer(sizedAnswerer{n: c.n})
		q.SetEdns0(c.bufsize, false)
		reply, _, ok := s.answerPacket(&packetReader{}, pack(t, q), netip.MustParseAddrPort("192.0.2.99:5353"), nil)
		assert.Equal(t, c.ok, ok, "%d bytes of records, bufsize %d", c.n, c.bufsize)
		if ok {
			assert.LessOrEqual(t, len(reply), min(int(c.bufsize), ednsSize))
		}
		q.Extra = nil
	}
}
