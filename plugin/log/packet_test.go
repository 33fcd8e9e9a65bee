package log

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test"
)

// packetReply is what the packet path would send for q: one A record
// owned by the question (a pointer), and our OPT record when q has one.
func packetReply(t testing.TB, q *dns.Msg) (query, reply []byte) {
	query, err := q.Pack()
	require.NoError(t, err)
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.Compress = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: []byte{192, 0, 2, 1}}}
	if q.IsEdns0() != nil {
		m.SetEdns0(1232, q.IsEdns0().Do())
	}
	reply, err = m.Pack()
	require.NoError(t, err)
	return query, reply
}

// TestPacketLines: the line of a reply the packet path made is the line
// ServeDNS writes for it (the name in lower case, the sizes the chain's
// message had: without our OPT record, names in full).
func TestPacketLines(t *testing.T) {
	logs := test.CaptureLog(t)
	l := logger(t, `log example.org "{remote}:{port} - {>id} {type} {class} {name} {proto} {size} {>do} {>bufsize} {rcode} {>rflags} {rsize} {>opcode} {duration}"`)
	observe := l.(*Logger).PassPackets("dns://:53", "example.org.")

	q := new(dns.Msg)
	q.SetQuestion("WWW.example.org.", dns.TypeA)
	q.Id = 4242
	q.SetEdns0(4096, true)
	query, reply := packetReply(t, q)
	observe(plugin.PacketObserved{Type: dns.TypeA, Client: netip.MustParseAddrPort("[2001:db8::1]:53000"),
		Query: query, Reply: reply, Took: 1500 * time.Microsecond})
	observe(plugin.PacketObserved{Type: dns.TypeA, Client: netip.MustParseAddrPort("192.0.2.7:40000"), Query: query})

	q.SetQuestion("www.example.net.", dns.TypeA) // outside the rule
	query, reply = packetReply(t, q)
	observe(plugin.PacketObserved{Client: netip.MustParseAddrPort("192.0.2.7:40000"), Query: query, Reply: reply})

	assert.Equal(t, ""+
		"[INFO] [2001:db8::1]:53000 - 4242 A IN www.example.org. udp 44 true 4096 NOERROR qr,aa,rd 64 0 0.0015s\n"+
		"[INFO] 192.0.2.7:40000 - 4242 A IN www.example.org. udp 44 true 4096 - - 0 0 0s\n",
		logs.String())
}

// TestPacketLineAllocatesNothing: a line of the packet path is made
// without allocating, into the writer's buffer.
func TestPacketLineAllocatesNothing(t *testing.T) {
	test.CaptureLog(t) // no timestamps
	rules, err := parse(caddyController("log"))
	require.NoError(t, err)
	out := newLineWriter(prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"}))
	out.buf = make([]byte, 0, maxBuffered)
	observe := (&Logger{Rules: rules, out: out}).PassPackets("dns://:53", ".")
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	q.Id = 0
	query, reply := packetReply(t, q)
	o := plugin.PacketObserved{Client: netip.MustParseAddrPort("192.0.2.7:40000"), Query: query, Reply: reply, Took: time.Millisecond}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { observe(o) }))
	line := `[INFO] 192.0.2.7:40000 - 0 "A IN www.example.org. udp 33 false 512" NOERROR qr,aa,rd 64 0.001s` + "\n"
	assert.Equal(t, line, string(out.buf[:len(line)]))
}

// TestWriterDropsAndSays: a writer that falls behind drops lines, counts
// them, and says so in the log.
func TestWriterDropsAndSays(t *testing.T) {
	logs := test.CaptureLog(t)
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	w := newLineWriter(dropped)
	line := func(b []byte) []byte { return append(b, make([]byte, 1<<20)...) }
	for range 6 {
		w.appendLine(line)
	}
	w.start()
	w.stop()
	assert.Len(t, logs.String(), 4*(1<<20+1)+len("[WARNING] log: 2 lines dropped: the log's writer falls behind\n"))
	assert.Contains(t, logs.String(), "[WARNING] log: 2 lines dropped: the log's writer falls behind\n")
	w.appendLine(func(b []byte) []byte { return append(b, "after"...) })
	assert.Contains(t, logs.String(), "after\n", "written at once once stopped")
}

// BenchmarkPacketLine is the cost of a log line on the packet path: made
// from the query and reply in place, appended to the writer's buffer.
func BenchmarkPacketLine(b *testing.B) {
	test.CaptureLog(b)
	rules, err := parse(caddyController("log"))
	require.NoError(b, err)
	out := newLineWriter(prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"}))
	observe := (&Logger{Rules: rules, out: out}).PassPackets("dns://:53", ".")
	q := new(dns.Msg)
	q.SetQuestion("svc4242.team42.tp.internal.", dns.TypeA)
	q.SetEdns0(1232, false)
	query, reply := packetReply(b, q)
	o := plugin.PacketObserved{Client: netip.MustParseAddrPort("192.0.2.7:40000"), Query: query, Reply: reply, Took: 3 * time.Microsecond}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			out.buf = out.buf[:0] // as the writer takes the buffer
		}
		observe(o)
	}
}
