package thirdparty_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/acl"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/plugin/log"
	_ "github.com/tpdns/tpdns/plugin/tsig"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// maxUDPPayload is the most an IPv4 UDP datagram can carry.
const maxUDPPayload = 65507

// pathsCorefile serves the registry twice, with every plugin the packet
// path goes past in front of thirdparty: on the first port the packet path
// answers what it can, on the second testchain keeps it out (the chain
// answers everything). Each logs its queries with a prefix of its own.
// acl blocks MX, filters NAPTR and drops CAA from 127.0.0.1; tsig requires
// HINFO signed; thirdparty falls through to testanswer (whose answers the
// cache keeps, so the packet path must leave those names to the chain).
const pathsCorefile = `tp.internal:%[1]s 10.0.0.0/8:%[1]s 2001:db8::/32:%[1]s {
    bind 127.0.0.1
    errors
    log . "%[4]s {remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize}"
    acl {
        block type MX net 127.0.0.1/32
        filter type NAPTR net 127.0.0.1/32
        drop type CAA net 127.0.0.1/32
        allow net 127.0.0.0/8
    }
    tsig {
        secret key.tp.internal. cGFja2V0LXBhdGgtdGVzdC1rZXk=
        require HINFO
    }
    cache {
        keepttl
    }
    %[5]s
    thirdparty {
        services services.yaml
        resolver %[3]s
        fallthrough
    }
    testanswer next
}
`

// startPaths starts the two servers of pathsCorefile and returns the
// packet path's address and the chain's.
func startPaths(t testing.TB) (packet, chain string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(registryYAML, bigEndpoints())), 0o644))
	upstream := startUpstream(t, upstreamRecords)
	packetPort, chainPort := test.FreePort(t), test.FreePort(t)
	corefile := fmt.Sprintf(pathsCorefile, packetPort, "", upstream.addr, "P", "") +
		fmt.Sprintf(pathsCorefile, chainPort, "", upstream.addr, "C", "testchain")
	inst, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	require.NoError(t, err)
	t.Cleanup(func() { server.Stop(inst) })
	return "127.0.0.1:" + packetPort, "127.0.0.1:" + chainPort
}

// pathQueries are the seeds of FuzzPacketPath: every kind of name, in
// lower and mixed case, each query type, without EDNS and with EDNS and
// options (a cookie, NSID, padding, one nobody knows, client subnet).
func pathQueries(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range []string{"oracle.finance.tp.internal.", "_db._tcp.oracle.finance.tp.internal.", "standby.oracle.finance.tp.internal.",
		"web.tp.internal.", "_https._tcp.web.tp.internal.", "legacy.tp.internal.", "private.tp.internal.", "big.tp.internal.",
		"finance.tp.internal.", "tp.internal.", "ns.dns.tp.internal.", "nothing.tp.internal.", "20.2.0.192.in-addr.arpa.",
		"Web.TP.internal.", "_DB._tcp.Oracle.Finance.tp.internal.", "STANDBY.oracle.finance.TP.INTERNAL.", "NoThing.tp.internal.", "tP.iNtErNaL."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeTXT, dns.TypeSOA, dns.TypeNS, dns.TypeANY, dns.TypePTR,
			dns.TypeMX, dns.TypeNAPTR, dns.TypeCAA, dns.TypeHINFO} {
			for i, options := range [][]dns.EDNS0{nil, nil,
				{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}},
				{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}, &dns.EDNS0_PADDING{Padding: make([]byte, 12)}, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte("x")}},
				{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()}},
			} {
				bufsize := uint16(1232)
				if i == 0 {
					bufsize = 0
				}
				q := test.Query(name, qtype, bufsize)
				if bufsize > 0 {
					q.IsEdns0().SetDo(qtype == dns.TypeSRV)
					q.IsEdns0().Option = options
				}
				q.RecursionDesired, q.CheckingDisabled = qtype != dns.TypeTXT, qtype == dns.TypeA
				b, err := q.Pack()
				require.NoError(t, err)
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzPacketPath sends each input over UDP to the two servers of
// pathsCorefile and requires the same reply from both (records compared
// as sets, since answers are shuffled), or no reply from either: the
// packet path may decline a query, never answer it differently, nor leave
// it unanswered.
func FuzzPacketPath(f *testing.F) {
	packetAddr, chainAddr := startPaths(f)
	for _, q := range pathQueries(f) {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > maxUDPPayload {
			t.Skip("does not fit a datagram")
		}
		overPacket := exchangeRaw(t, packetAddr, packet)
		overChain := exchangeRaw(t, chainAddr, packet)
		require.Equal(t, overChain == nil, overPacket == nil, "a reply from one server only to %x: packet path %v, chain %v", packet, overPacket, overChain)
		if overChain != nil && overChain.Truncated && overPacket.Truncated {
			// Which of the shuffled records fit differs: only as many.
			require.Len(t, overPacket.Answer, len(overChain.Answer), "%x", packet)
			overChain.Answer, overPacket.Answer = nil, nil
		}
		if overChain != nil {
			assert.Equal(t, comparable(overChain), comparable(overPacket), "%x", packet)
		}
	})
}

// TestPacketPathLogsAsTheChain sends the seeds of FuzzPacketPath (but for
// CAA, which acl drops, and names outside the zones, which no chain sees)
// one after the other from one socket to both servers, and requires the
// same log line from each for each query.
func TestPacketPathLogsAsTheChain(t *testing.T) {
	logs := test.CaptureLog(t)
	packetAddr, chainAddr := startPaths(t)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer c.Close()
	var queries [][]byte
	for _, q := range pathQueries(t) {
		if m := unpackQuery(t, q); m.Question[0].Qtype != dns.TypeCAA && m.Question[0].Name != "20.2.0.192.in-addr.arpa." {
			queries = append(queries, q)
		}
	}
	buf := make([]byte, dns.MaxMsgSize)
	for _, addr := range []string{packetAddr, chainAddr} {
		to, err := net.ResolveUDPAddr("udp", addr)
		require.NoError(t, err)
		for i, q := range queries {
			binary.BigEndian.PutUint16(q, uint16(i))
			_, err := c.WriteTo(q, to)
			require.NoError(t, err)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
			n, _, err := c.ReadFrom(buf)
			require.NoError(t, err)
			require.Equal(t, uint16(i), binary.BigEndian.Uint16(buf[:n]))
		}
	}
	lines := func(prefix string) []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "[INFO] "+prefix+" "); ok {
				out = append(out, rest)
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(lines("P")) < len(queries) || len(lines("C")) < len(queries) {
		require.True(t, time.Now().Before(deadline), "%d and %d lines of %d", len(lines("P")), len(lines("C")), len(queries))
		time.Sleep(time.Millisecond)
	}
	packet, chain := lines("P"), lines("C")
	slices.Sort(packet)
	slices.Sort(chain)
	assert.Equal(t, chain, packet)
}

func unpackQuery(t testing.TB, q []byte) *dns.Msg {
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(q))
	return m
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

// comparable is what two replies to one query must have in common: all
// but the SOA serial (the time each server loaded the registry) and the
// part of a server cookie that changes every second.
func comparable(m *dns.Msg) any {
	var opt []string
	if o := m.IsEdns0(); o != nil {
		opt = append(opt, fmt.Sprintf("size %d do %t version %d", o.UDPSize(), o.Do(), o.Version()))
		for _, e := range o.Option {
			s := e.String()
			if c, ok := e.(*dns.EDNS0_COOKIE); ok {
				s = fmt.Sprintf("cookie of %d hex digits %.24s", len(c.Cookie), c.Cookie)
			}
			opt = append(opt, s)
		}
	}
	serials := func(rrs []string) []string {
		for i, rr := range rrs {
			rrs[i] = serialRE.ReplaceAllString(rr, "${1}SERIAL$2")
		}
		return rrs
	}
	return struct {
		Hdr                      dns.MsgHdr
		Question                 []dns.Question
		Answer, Ns, Extra, Other []string
	}{m.MsgHdr, m.Question, serials(rrs(m.Answer)), serials(rrs(m.Ns)), rrs(dropOPT(m.Extra)), opt}
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
