package rrl

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// pathsRegistry is what the two servers of FuzzPacketPath serve.
const pathsRegistry = `services:
  - name: web
    ports:
      - {name: https, port: 443}
    endpoints: [192.0.2.20, 192.0.2.21, "2001:db8::20"]
    connection:
      BASE_URL: https://web.tp.internal
  - name: private
    endpoints: [10.1.0.1]
    allow: [10.0.0.0/8]
`

// FuzzPacketPath sends each input over UDP to two servers of one registry,
// both with rrl in front of thirdparty: one where the packet path answers
// what it can, one where testchain makes it decline everything (the chain
// answers). rrl lets one response a token through and then slips every
// other (slip-ratio 1, an allowance of one in 1,000 seconds), so the
// servers must give the same reply to each input: both the same answer,
// or both the same empty truncated one, the k-th identical response
// slipping on both. The seeds ask each question three times.
func FuzzPacketPath(f *testing.F) {
	dir := f.TempDir()
	require.NoError(f, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(pathsRegistry), 0o644))
	packetPort, chainPort := test.FreePort(f), test.FreePort(f)
	block := func(port, decline string) string {
		return fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    errors
    rrl {
        responses-per-second 0.001
        window 3600
        slip-ratio 1
        exempt none
    }
    %s
    thirdparty {
        services services.yaml
    }
}
`, port, decline)
	}
	test.StartInput(f, server.Input{Filename: filepath.Join(dir, "Corefile"),
		Contents: []byte(block(packetPort, "") + block(chainPort, paths[1].decline))})
	packetAddr, chainAddr := "127.0.0.1:"+packetPort, "127.0.0.1:"+chainPort

	id := uint16(0)
	for range 3 {
		for _, name := range []string{"web.tp.internal.", "Web.TP.internal.", "_https._tcp.web.tp.internal.", "nothing.tp.internal.",
			"x.nothing.tp.internal.", "private.tp.internal.", "tp.internal.", "ns.dns.tp.internal."} {
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeTXT, dns.TypeMX, dns.TypeSOA, dns.TypeANY} {
				for _, bufsize := range []uint16{0, 1232} {
					q := test.Query(name, qtype, bufsize)
					if bufsize > 0 {
						q.IsEdns0().SetDo(qtype == dns.TypeSRV)
					}
					id++
					q.Id, q.RecursionDesired = id, qtype != dns.TypeTXT
					b, err := q.Pack()
					require.NoError(f, err)
					f.Add(b)
				}
			}
		}
	}

	var answers, slips atomic.Int64
	f.Cleanup(func() {
		if answers.Load()+slips.Load() > 0 {
			assert.Positive(f, answers.Load(), "answers")
			assert.Positive(f, slips.Load(), "slips")
		}
	})
	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > maxUDPPayload {
			t.Skip("does not fit a datagram")
		}
		overPacket := exchangeRaw(t, packetAddr, packet)
		overChain := exchangeRaw(t, chainAddr, packet)
		if overPacket == nil || overChain == nil {
			assert.Equal(t, overChain == nil, overPacket == nil, "a reply from one server only, to %x", packet)
			return
		}
		assert.Equal(t, comparable(overChain), comparable(overPacket), "%x", packet)
		if overPacket.Truncated && len(overPacket.Answer)+len(overPacket.Ns) == 0 {
			slips.Add(1)
		} else {
			answers.Add(1)
		}
	})
}

// maxUDPPayload is the most an IPv4 UDP datagram can carry.
const maxUDPPayload = 65507

// exchangeRaw sends packet to addr over UDP and returns the reply, nil
// when none comes within 300 ms (a query the server ignores, or a reply
// rrl drops: this test's slip-ratio drops none).
func exchangeRaw(t *testing.T, addr string, packet []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(packet)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	buf := make([]byte, dns.MaxMsgSize)
	n, err := c.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	require.NoError(t, err)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(buf[:n]), "reply to %x", packet)
	return m
}

// comparable is what two replies to one query must have in common: all of
// it, the records compared as sets, since answers are shuffled.
func comparable(m *dns.Msg) any {
	var opt string
	if o := m.IsEdns0(); o != nil {
		opt = fmt.Sprintf("size %d do %t version %d options %v", o.UDPSize(), o.Do(), o.Version(), o.Option)
	}
	rrs := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeOPT {
				out = append(out, rr.String())
			}
		}
		slices.Sort(out)
		return out
	}
	return struct {
		Hdr               dns.MsgHdr
		Question          []dns.Question
		Answer, Ns, Extra []string
		OPT               string
	}{m.MsgHdr, m.Question, rrs(m.Answer), rrs(m.Ns), rrs(m.Extra), opt}
}
