package server_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/test"
)

// maxUDPPayload is the most an IPv4 UDP datagram can carry.
const maxUDPPayload = 65507

// FuzzServer sends raw packets to a running server over loopback UDP, each
// followed by a well-formed probe: the probe must still be answered, and
// whatever the server sends back must be a DNS message.
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
	f.Add([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\xff\xff"))

	c, err := net.Dial("udp", addr)
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	probe := test.Query("probe.example.org.", dns.TypeA, 0)
	buf := make([]byte, dns.MaxMsgSize)

	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > maxUDPPayload {
			t.Skip("does not fit a datagram")
		}
		if _, err := c.Write(packet); err != nil {
			t.Fatal(err)
		}
		probe.Id = dns.Id()
		b, err := probe.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			if err := c.SetReadDeadline(deadline); err != nil {
				t.Fatal(err)
			}
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no answer to the probe after %x: %v", packet, err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatalf("reply to %x does not decode: %v", packet, err)
			}
			if m.Id == probe.Id && len(m.Question) == 1 && m.Question[0].Name == probe.Question[0].Name {
				return
			}
		}
	})
}
