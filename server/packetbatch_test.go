package server

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/logcapture"
)

// batchPasser tells what its batch observer is told, a batch a line, and
// counts the replies its per-reply observer is told of.
type batchPasser struct {
	plugin.Handler
	batches []string
	replies int
}

func (p *batchPasser) PassPackets(string, string) plugin.PacketObserver {
	return func(plugin.PacketObserved) { p.replies++ }
}

func (p *batchPasser) PassPacketBatches(server, zone string) plugin.PacketBatchObserver {
	return func(batch []plugin.PacketObserved) {
		line := server + " " + zone + ":"
		for _, o := range batch {
			line += fmt.Sprintf(" %s/%d/%d/%s", dns.TypeToString[o.Type], o.QuerySize, o.ReplySize, o.Took)
		}
		p.batches = append(p.batches, line)
	}
}

// panicBatchPasser's batch observer panics.
type panicBatchPasser struct{ plugin.Handler }

func (panicBatchPasser) PassPackets(string, string) plugin.PacketObserver { return nil }
func (panicBatchPasser) PassPacketBatches(string, string) plugin.PacketBatchObserver {
	return func([]plugin.PacketObserved) { panic("batch observer") }
}

// reply is an observation of a reply of chain c to a query of qtype:
// queries of 30 bytes and more, replies of 100 and more, by n.
func reply(c *packetChain, qtype uint16, n int) observedPacket {
	return observed(packetAnswer{c, qtype, dns.RcodeSuccess}, make([]byte, 30+n), netip.MustParseAddrPort("192.0.2.1:5353"), make([]byte, 100+n))
}

// TestObserveBatch: each chain's batch observers are told, once a batch,
// of its replies in the order read, which took the batch's time; a chain
// without batch observers is passed over, and the per-reply observers are
// observePacket's.
func TestObserveBatch(t *testing.T) {
	a, b := &batchPasser{}, &batchPasser{}
	ca := newPacketChain([]plugin.Handler{a, recordAnswerer{}}, "dns://127.0.0.1:53", "a.example.")
	cb := newPacketChain([]plugin.Handler{b, recordAnswerer{}}, "dns://127.0.0.1:53", "b.example.")
	cn := newPacketChain([]plugin.Handler{&passer{}, recordAnswerer{}}, "dns://127.0.0.1:53", "n.example.")
	s := newServer("127.0.0.1:53", true)

	batch := []observedPacket{
		reply(ca, dns.TypeA, 1), reply(cb, dns.TypeSRV, 2), reply(cn, dns.TypeA, 3),
		reply(ca, dns.TypeTXT, 4), reply(cb, dns.TypeA, 5), reply(ca, dns.TypeAAAA, 6),
	}
	buf := make([]plugin.PacketObserved, len(batch))
	s.observeBatch(batch, 5*time.Millisecond, buf)
	assert.Equal(t, []string{"dns://127.0.0.1:53 a.example.: A/31/101/5ms TXT/34/104/5ms AAAA/36/106/5ms"}, a.batches)
	assert.Equal(t, []string{"dns://127.0.0.1:53 b.example.: SRV/32/102/5ms A/35/105/5ms"}, b.batches)
	assert.Zero(t, a.replies+b.replies, "the per-reply observers are observePacket's")

	s.observeBatch(batch[1:2], time.Millisecond, buf)
	assert.Len(t, a.batches, 1, "no batch of a.example. without its replies")
	assert.Equal(t, "dns://127.0.0.1:53 b.example.: SRV/32/102/1ms", b.batches[1])

}

// countingBatchPasser counts the replies its batch observer is told of.
type countingBatchPasser struct {
	plugin.Handler
	replies int
}

func (p *countingBatchPasser) PassPackets(string, string) plugin.PacketObserver { return nil }
func (p *countingBatchPasser) PassPacketBatches(string, string) plugin.PacketBatchObserver {
	return func(batch []plugin.PacketObserved) { p.replies += len(batch) }
}

// TestObserveBatchAllocatesNothing: observing by batch costs the server no
// allocation, in the buffer it is given.
func TestObserveBatchAllocatesNothing(t *testing.T) {
	var p countingBatchPasser
	c := newPacketChain([]plugin.Handler{&p, recordAnswerer{}}, "dns://127.0.0.1:53", "example.")
	other := newPacketChain([]plugin.Handler{&passer{}, recordAnswerer{}}, "dns://127.0.0.1:53", "other.")
	s := newServer("127.0.0.1:53", true)
	batch := []observedPacket{reply(c, dns.TypeA, 0), reply(other, dns.TypeA, 0), reply(c, dns.TypeA, 0)}
	buf := make([]plugin.PacketObserved, len(batch))
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.observeBatch(batch, time.Millisecond, buf) }))
	assert.Equal(t, 2*101, p.replies)
}

// TestObserveBatchRecovers: a batch observer that panics is the packet
// path's panic: counted, logged once, and the server goes on.
func TestObserveBatchRecovers(t *testing.T) {
	logs := logcapture.Capture(t)
	c := newPacketChain([]plugin.Handler{panicBatchPasser{}, recordAnswerer{}}, "dns://127.0.0.1:53", "example.")
	s := newServer("127.0.0.1:53", true)
	before := testutil.ToFloat64(panics)
	batch := []observedPacket{reply(c, dns.TypeA, 0)}
	for range 2 {
		assert.NotPanics(t, func() { s.observeBatch(batch, time.Millisecond, make([]plugin.PacketObserved, 1)) })
	}
	assert.Equal(t, before+2, testutil.ToFloat64(panics))
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "[ERROR]"), out)
	assert.Contains(t, out, packetPanicLog+"batch observer (the replies go out unobserved; later panics here are only counted, in tpdns_panics_total)\n")
}
