package thirdparty_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// maxUDPPayload is the most an IPv4 UDP datagram can carry.
const maxUDPPayload = 65507

// FuzzPacketPath sends each input over UDP, where the server's packet path
// answers what it can, and over TCP, where the chain answers everything,
// and requires the same reply from both (records compared as sets, since
// answers are shuffled): the packet path may decline a query, never
// answer it differently.
func FuzzPacketPath(f *testing.F) {
	addr := start(f, fmt.Sprintf(registryYAML, bigEndpoints()), "")
	for _, name := range []string{"oracle.finance.tp.internal.", "_db._tcp.oracle.finance.tp.internal.", "standby.oracle.finance.tp.internal.",
		"web.tp.internal.", "_https._tcp.web.tp.internal.", "legacy.tp.internal.", "private.tp.internal.", "big.tp.internal.",
		"finance.tp.internal.", "tp.internal.", "ns.dns.tp.internal.", "nothing.tp.internal.", "Web.TP.internal.", "20.2.0.192.in-addr.arpa."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeTXT, dns.TypeSOA, dns.TypeNS, dns.TypeANY, dns.TypePTR} {
			for _, bufsize := range []uint16{0, 1232} {
				q := test.Query(name, qtype, bufsize)
				if bufsize > 0 {
					q.IsEdns0().SetDo(qtype == dns.TypeSRV)
				}
				q.RecursionDesired, q.CheckingDisabled = qtype != dns.TypeTXT, qtype == dns.TypeA
				b, err := q.Pack()
				require.NoError(f, err)
				f.Add(b)
			}
		}
	}

	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > maxUDPPayload {
			t.Skip("does not fit a datagram")
		}
		overUDP := exchangeRaw(t, addr, packet)
		if overUDP == nil || overUDP.Truncated {
			return // no reply, or one TCP would give whole
		}
		tcp, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer tcp.Close()
		overTCP := exchangeTCP(t, tcp, packet)
		require.NotNil(t, overTCP, "a reply over UDP, none over TCP to %x", packet)
		assert.Equal(t, comparable(overTCP), comparable(overUDP), "%x", packet)
	})
}

// exchangeRaw sends packet from a socket of its own and returns the reply
// to it, nil when the server gives none. A probe sent after it tells when
// to stop waiting; as the chain may answer the packet after the packet
// path answered the probe, a reply is waited for a little longer.
func exchangeRaw(t *testing.T, addr string, packet []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(packet)
	require.NoError(t, err)
	probe := test.Query("probe.tp.internal.", dns.TypeA, 0)
	for len(packet) >= 2 && probe.Id == binary.BigEndian.Uint16(packet) {
		probe.Id = dns.Id()
	}
	b, err := probe.Pack()
	require.NoError(t, err)
	_, err = c.Write(b)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, dns.MaxMsgSize)
	probed := false
	for {
		n, err := c.Read(buf)
		if probed && errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		require.NoError(t, err, "no answer to the probe after %x", packet)
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(buf[:n]), "reply to %x", packet)
		if m.Id != probe.Id {
			return m
		}
		probed = true
		require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	}
}

// exchangeTCP sends packet over c and returns the reply, nil when the
// server closes the connection instead.
func exchangeTCP(t *testing.T, c net.Conn, packet []byte) *dns.Msg {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
	_, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(packet))), packet...))
	require.NoError(t, err)
	var size [2]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil
	}
	b := make([]byte, binary.BigEndian.Uint16(size[:]))
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(b))
	return m
}

// comparable is what two replies to one query must have in common.
func comparable(m *dns.Msg) any {
	var opt string
	if o := m.IsEdns0(); o != nil {
		opt = fmt.Sprintf("size %d do %t version %d", o.UDPSize(), o.Do(), o.Version())
	}
	return struct {
		Hdr                      dns.MsgHdr
		Question                 []dns.Question
		Answer, Ns, Extra, Other []string
	}{m.MsgHdr, m.Question, rrs(m.Answer), rrs(m.Ns), rrs(dropOPT(m.Extra)), []string{opt}}
}

func dropOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
