package server

import (
	"context"
	"fmt"
	"github.com/tpdns/tpdns/test/logcapture"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

// panicAnswerer panics with the query's name, as an answerer with a bug for
// some names would.
type panicAnswerer struct{ plugin.HandlerFunc }

func (panicAnswerer) AnswerPacket(b []byte, q *plugin.Packet) ([]byte, plugin.PacketReply, bool) {
	panic("boom: " + string(q.Name))
}

// panicPasser's observer panics.
type panicPasser struct{ plugin.Handler }

func (panicPasser) PassPackets(string, string) plugin.PacketObserver {
	return func(plugin.PacketObserved) { panic("observer") }
}

const packetPanicLog = `[ERROR] Recovered from panic in the packet path of server "127.0.0.1:53": `

// TestPacketPathRecoversFromPanics checks that a panic in the packet path
// is the query's alone: the query is declined (so that the chain answers
// it), the panic counted, and each place of a panic logged once, with its
// stack, however many queries hit it and whatever their panics' values.
func TestPacketPathRecoversFromPanics(t *testing.T) {
	logs := logcapture.Capture(t)
	s := packetServer(&passer{}, panicAnswerer{})
	before := testutil.ToFloat64(panics)

	for i, name := range []string{"a.example.", "b.example.", "a.example."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		reply, a, ok := s.answerPacket(&packetReader{}, pack(t, q), netip.MustParseAddrPort("192.0.2.99:5353"), make([]byte, 0, 512))
		assert.False(t, ok, name)
		assert.Empty(t, reply, name)
		assert.Equal(t, packetAnswer{}, a, name)
		assert.Equal(t, before+float64(i+1), testutil.ToFloat64(panics), name)
	}
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "[ERROR]"), out)
	assert.True(t, strings.HasPrefix(out, packetPanicLog+"boom: a.example. (the query goes to the chain; later panics here are only counted, in tpdns_panics_total)\n"), out)
	assert.Contains(t, out, "server.panicAnswerer.AnswerPacket(", "the stack, down to the answerer")

	// An observer that panics is another place: logged once too. The
	// reply it observes is not the worse for it.
	s = packetServer(panicPasser{}, recordAnswerer{})
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	for range 2 {
		query, client := pack(t, q), netip.MustParseAddrPort("192.0.2.99:5353")
		reply, a, ok := s.answerPacket(&packetReader{}, query, client, nil)
		require.True(t, ok)
		assert.NotPanics(t, func() { s.observePacket(observed(a, query, client, reply), time.Millisecond) })
	}
	assert.Equal(t, before+5, testutil.ToFloat64(panics))
	out = logs.String()
	assert.Equal(t, 2, strings.Count(out, "[ERROR]"), out)
	assert.Contains(t, out, packetPanicLog+"observer (the reply goes out unobserved; later panics here are only counted, in tpdns_panics_total)\n")
}

// TestChainPanicsAreCounted checks that the chain's recover counts too, and
// still answers SERVFAIL.
func TestChainPanicsAreCounted(t *testing.T) {
	logs := logcapture.Capture(t)
	s := newServer("127.0.0.1:53", true)
	s.zones["example."] = &zoneConfig{
		chain: plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) { panic("chain") }),
		ctx:   context.Background(),
	}
	before := testutil.ToFloat64(panics)
	w := &dnstest.Writer{}
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	s.serveDNS(w, q)
	require.NotNil(t, w.Msg)
	assert.Equal(t, dns.RcodeServerFailure, w.Msg.Rcode)
	assert.Equal(t, before+1, testutil.ToFloat64(panics))
	assert.Equal(t, `[ERROR] Recovered from panic in server "127.0.0.1:53": chain`+"\n", logs.String())
}

func TestPanicSitesAreBounded(t *testing.T) {
	var p panicSites
	for i := range maxPanicSites {
		assert.True(t, p.first([panicStackDepth]uintptr{uintptr(i)}), fmt.Sprint(i))
		assert.False(t, p.first([panicStackDepth]uintptr{uintptr(i)}), fmt.Sprint(i))
	}
	assert.False(t, p.first([panicStackDepth]uintptr{maxPanicSites}), "one place too many")
}
