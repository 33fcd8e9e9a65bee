package server_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tpdns/tpdns/test"
)

// maxUDPPayload is the most an IPv4 UDP datagram can carry.
const maxUDPPayload = 65507

// FuzzServer sends raw packets to a running server over loopback UDP, each
// followed by two well-formed probes, one the chain answers and one the
// packet path answers: both must still be answered, and whatever the server
// sends back must be a DNS message. The zone packet.example has a packet
// path that panics for names whose first label is panic or panic-all (and a
// chain that panics for panic-all): the process must live through those.
func FuzzServer(f *testing.F) {
	log.SetOutput(io.Discard) // the log plugin would print every input
	f.Cleanup(func() { log.SetOutput(os.Stderr) })

	port := test.FreePort(f)
	test.Start(f, fmt.Sprintf(`
.:%[1]s {
    bind 127.0.0.1
    errors
    log
    whoami
}
example.org:%[1]s {
    bind 127.0.0.1
    log . {combined}
    testanswer fuzz 30
}
packet.example:%[1]s {
    bind 127.0.0.1
    testpacket fuzz
}`, port))
	addr := "127.0.0.1:" + port

	valid, _ := test.Query("www.example.org.", dns.TypeA, 0).Pack()
	edns, _ := test.Query("www.example.org.", dns.TypeTXT, 1232).Pack()
	f.Add(valid)
	f.Add(edns)
	f.Add(valid[:5])                                                       // truncated header
	f.Add(append(append([]byte{}, valid[:12]...), 0xC0, 12, 0, 1, 0, 1))   // compression loop
	f.Add(append(append([]byte{}, valid[:12]...), 0xC0, 0x20, 0, 1, 0, 1)) // pointer past the end
	f.Add(append(append([]byte{}, valid[:12]...), 63, 'x', 0, 0, 1, 0, 1)) // label past the end
	for _, name := range []string{"panic.packet.example.", "panic-all.packet.example.", "x.panic.packet.example."} {
		for _, bufsize := range []uint16{0, 1232} {
			b, _ := test.Query(name, dns.TypeTXT, bufsize).Pack()
			f.Add(b)
		}
	}
	f.Add([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\xff\xff"))

	probes := []*dns.Msg{test.Query("probe.example.org.", dns.TypeA, 0), test.Query("probe.packet.example.", dns.TypeTXT, 0)}
	buf := make([]byte, dns.MaxMsgSize)

	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > maxUDPPayload {
			t.Skip("does not fit a datagram")
		}
		// A socket per input: the chain may answer an input after the
		// probes, and its late reply must not be taken for the next
		// input's.
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The replies awaited: the probes', and SERVFAIL to a query that
		// makes the chain panic.
		waiting := map[uint16]string{}
		servfail := panicAllQuery(packet)
		var before float64
		if servfail != nil {
			before = panicsTotal(t)
			waiting[servfail.Id] = servfail.Question[0].Name
		}
		if _, err := c.Write(packet); err != nil {
			t.Fatal(err)
		}
		for _, probe := range probes {
			probe.Id = dns.Id()
			for waiting[probe.Id] != "" {
				probe.Id = dns.Id()
			}
			b, err := probe.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			waiting[probe.Id] = probe.Question[0].Name
		}
		deadline := time.Now().Add(2 * time.Second)
		for len(waiting) > 0 {
			if err := c.SetReadDeadline(deadline); err != nil {
				t.Fatal(err)
			}
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no answer to %v after %x: %v", waiting, packet, err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatalf("reply to %x does not decode: %v", packet, err)
			}
			name, ok := waiting[m.Id]
			if !ok || len(m.Question) != 1 || m.Question[0].Name != name {
				continue
			}
			delete(waiting, m.Id)
			if servfail != nil && m.Id == servfail.Id {
				if m.Rcode != dns.RcodeServerFailure {
					t.Fatalf("reply to %x, which makes the chain panic, is %s, not SERVFAIL", packet, dns.RcodeToString[m.Rcode])
				}
				// Counted before the reply was written.
				if after := panicsTotal(t); after < before+1 {
					t.Fatalf("tpdns_panics_total went from %v to %v for %x", before, after, packet)
				}
			}
		}
	})
}

// panicAllQuery returns the query in packet when the server takes it as
// one (as serveWire and serveDNS decide) and testpacket's chain panics for it: a
// name in packet.example. whose first label is panic-all. Whether the
// packet path panicked first or declined it, the reply is SERVFAIL.
func panicAllQuery(packet []byte) *dns.Msg {
	if len(packet) < 12 {
		return nil
	}
	h := dns.Header{
		Id: binary.BigEndian.Uint16(packet), Bits: binary.BigEndian.Uint16(packet[2:]),
		Qdcount: binary.BigEndian.Uint16(packet[4:]), Ancount: binary.BigEndian.Uint16(packet[6:]),
		Nscount: binary.BigEndian.Uint16(packet[8:]), Arcount: binary.BigEndian.Uint16(packet[10:]),
	}
	m := new(dns.Msg)
	if h.Bits&0x7800 != 0 || dns.DefaultMsgAcceptFunc(h) != dns.MsgAccept || m.Unpack(packet) != nil || len(m.Question) != 1 {
		return nil // not a query (any opcode but QUERY), or one that does not decode
	}
	if len(m.Answer) != int(h.Ancount) || len(m.Ns) != int(h.Nscount) || len(m.Extra) != int(h.Arcount) {
		return nil // FORMERR: fewer records than counted
	}
	opts := 0
	for _, rr := range m.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			opts++
			if opt.Version() != 0 || !validCookies(opt) {
				return nil
			}
		}
	}
	if opts > 1 {
		return nil
	}
	name := strings.ToLower(m.Question[0].Name)
	if !strings.HasPrefix(name, "panic-all.") || !dns.IsSubDomain("packet.example.", name) {
		return nil
	}
	return m
}

// validCookies reports whether opt's first COOKIE option, if any, has a
// valid length (RFC 7873 section 5.2.2); otherwise the reply is FORMERR.
func validCookies(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			l := len(c.Cookie) / 2
			return len(c.Cookie)%2 == 0 && (l == 8 || l >= 16 && l <= 40)
		}
	}
	return true
}

// panicsTotal is tpdns_panics_total, read from the default registry, which
// the prometheus plugin serves.
func panicsTotal(t *testing.T) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tpdns_panics_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no tpdns_panics_total")
	return 0
}
