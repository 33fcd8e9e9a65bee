package test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// ourEDNSSize is the server's own EDNS size: no UDP reply is larger.
const ourEDNSSize = 1232

// bigUpstream answers every query with 100 TXT records (about 5 KB), over
// UDP as large as the query's EDNS size allows and over TCP whole, and
// counts what it was asked by opcode.
func bigUpstream(t *testing.T) (string, *[16]atomic.Int64) {
	t.Helper()
	port := FreePort(t)
	var asked [16]atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		asked[r.Opcode].Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		for i := range 100 {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
				Txt: []string{fmt.Sprintf("upstream record %03d with some padding", i)},
			})
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
			if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
				m.Truncate(int(opt.UDPSize()))
			}
		}
		w.WriteMsg(m)
	})
	for _, proto := range []string{"udp", "tcp"} {
		// An upstream that takes every opcode, to see what reaches it.
		srv := &dns.Server{Addr: "127.0.0.1:" + port, Net: proto, Handler: h, UDPSize: dns.MaxMsgSize,
			MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ListenAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return "127.0.0.1:" + port, &asked
}

// amplificationRegistry holds answers of every kind, most of them far over
// 1232 bytes: a service with 120 IPv4 and 120 IPv6 endpoints on 5 ports,
// 60 connection keys, and 80 more services with a port db, for the
// DNS-SD browse answers.
func amplificationRegistry() string {
	var b strings.Builder
	b.WriteString("services:\n  - name: many\n    ports:\n")
	for _, p := range []string{"db", "http", "https", "admin", "metrics"} {
		fmt.Fprintf(&b, "      - {name: %s, port: %d}\n", p, 1000+len(p))
	}
	b.WriteString("    endpoints: [")
	for i := range 120 {
		fmt.Fprintf(&b, "192.0.2.%d, \"2001:db8::%x\", ", i+1, i+1)
	}
	b.WriteString("]\n    connection:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "      KEY_%02d: value-%02d-with-some-padding-to-be-long\n", i, i)
	}
	for i := range 80 {
		fmt.Fprintf(&b, "  - name: svc%02d\n    ports: [{name: db, port: 5432}]\n    endpoints: [198.51.100.%d]\n", i, i+1)
	}
	b.WriteString("  - name: legacy\n    endpoints: [winsrv01.corp.example.com]\n")
	b.WriteString("  - name: private\n    endpoints: [203.0.113.1]\n    allow: [10.0.0.0/8]\n")
	return b.String()
}

// TestUDPRepliesFitOurEDNSSize asks a server with large answers of every
// kind (thirdparty's, forwarded ones, errors), for every buffer size, in
// lower case (the packet path answers what it can) and in mixed case (the
// chain answers): no UDP reply is larger than 1232 bytes, or than the
// client's buffer (512 without EDNS); the large answers come truncated,
// and whole over TCP. The amplification (reply over query) is at most
// 1232 over the query's size.
func TestUDPRepliesFitOurEDNSSize(t *testing.T) {
	upstream, _ := bigUpstream(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(amplificationRegistry()), 0o644))
	port := FreePort(t)
	StartInput(t, serverInput(dir, fmt.Sprintf(`tp.internal:%[1]s 192.0.2.0/24:%[1]s 2001:db8::/32:%[1]s {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        resolver 127.0.0.1:%[2]s
    }
}
.:%[1]s {
    bind 127.0.0.1
    forward . %[3]s
}`, port, FreePort(t), upstream)))
	addr := "127.0.0.1:" + port

	big := map[string]bool{} // the answers larger than 1232 bytes, as TCP has them
	type query struct {
		name  string
		qtype uint16
	}
	queries := []query{
		{"many.tp.internal.", dns.TypeA}, {"many.tp.internal.", dns.TypeAAAA}, {"many.tp.internal.", dns.TypeSRV},
		{"many.tp.internal.", dns.TypeTXT}, {"many.tp.internal.", dns.TypeMX}, {"many.tp.internal.", dns.TypeANY},
		{"_db._tcp.many.tp.internal.", dns.TypeSRV}, {"192-0-2-1.many.tp.internal.", dns.TypeA},
		{"tp.internal.", dns.TypeSOA}, {"tp.internal.", dns.TypeNS}, {"tp.internal.", dns.TypeA},
		{"ns.dns.tp.internal.", dns.TypeA}, {"nothing.tp.internal.", dns.TypeA},
		{"_services._dns-sd._udp.tp.internal.", dns.TypePTR}, {"_db._tcp.tp.internal.", dns.TypePTR},
		{"many._db._tcp.tp.internal.", dns.TypeSRV}, {"many._db._tcp.tp.internal.", dns.TypeTXT},
		{"1.2.0.192.in-addr.arpa.", dns.TypePTR}, {"legacy.tp.internal.", dns.TypeA}, {"private.tp.internal.", dns.TypeA},
		{"big.forwarded.example.", dns.TypeTXT},
	}
	for _, q := range queries {
		r := Exchange(t, "tcp", addr, Query(q.name, q.qtype, 0))
		r.Compress = true
		b, err := r.Pack()
		require.NoError(t, err)
		if len(b) > ourEDNSSize {
			big[q.name+" "+dns.TypeToString[q.qtype]] = true
		}
	}
	assert.Equal(t, map[string]bool{
		"many.tp.internal. A": true, "many.tp.internal. AAAA": true, "many.tp.internal. SRV": true, "many.tp.internal. TXT": true,
		"_db._tcp.many.tp.internal. SRV": true, "_db._tcp.tp.internal. PTR": true,
		"many._db._tcp.tp.internal. SRV": true, "many._db._tcp.tp.internal. TXT": true, "big.forwarded.example. TXT": true,
	}, big, "the answers over 1232 bytes")

	worst := 0.0
	check := func(what string, packet []byte, bufsize uint16) *dns.Msg {
		t.Helper()
		reply := exchangeUDP(t, addr, packet)
		limit := dns.MinMsgSize
		if bufsize > 0 {
			limit = min(max(int(bufsize), dns.MinMsgSize), ourEDNSSize)
		}
		assert.LessOrEqual(t, len(reply), limit, "%s, bufsize %d", what, bufsize)
		worst = max(worst, float64(len(reply))/float64(len(packet)))
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(reply), what)
		return m
	}
	for _, q := range queries {
		for _, name := range []string{q.name, mixedCase(q.name)} {
			for _, bufsize := range []uint16{0, 512, 1232, 1233, 1452, 4096, 65535} {
				m := Query(name, q.qtype, bufsize)
				packet, err := m.Pack()
				require.NoError(t, err)
				what := fmt.Sprintf("%s %s", name, dns.TypeToString[q.qtype])
				r := check(what, packet, bufsize)
				if big[q.name+" "+dns.TypeToString[q.qtype]] {
					assert.True(t, r.Truncated, "%s, bufsize %d", what, bufsize)
				}
			}
		}
	}
	// Errors, whatever the buffer size: FORMERR (ARCOUNT 1, no OPT),
	// NOTIMP (NOTIFY), BADVERS, FORMERR (a bad cookie).
	for _, bufsize := range []uint16{0, 65535} {
		m := Query("many.tp.internal.", dns.TypeA, bufsize)
		m.Opcode = dns.OpcodeNotify
		notify, err := m.Pack()
		require.NoError(t, err)
		assert.Equal(t, dns.RcodeNotImplemented, check("NOTIFY", notify, bufsize).Rcode)
	}
	formerr, err := Query("many.tp.internal.", dns.TypeA, 0).Pack()
	require.NoError(t, err)
	formerr[11] = 1
	assert.Equal(t, dns.RcodeFormatError, check("ARCOUNT 1 without OPT", formerr, 0).Rcode)
	m := Query("many.tp.internal.", dns.TypeA, 65535)
	m.IsEdns0().SetVersion(1)
	badvers, err := m.Pack()
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeBadVers, check("EDNS version 1", badvers, 65535).Rcode)
	m = Query("many.tp.internal.", dns.TypeA, 65535)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: make([]byte, 12)}}
	badCookie, err := m.Pack()
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeFormatError, check("a cookie of 12 bytes", badCookie, 65535).Rcode)
	t.Logf("largest reply over its query: %.1f", worst)
}

// TestNotifyIsNotForwarded: NOTIFY, UPDATE and the other opcodes get
// NOTIMP from tpdns itself, for a forwarded name too: the upstream is
// never asked (it was, and answered SERVFAIL, before).
func TestNotifyIsNotForwarded(t *testing.T) {
	upstream, asked := bigUpstream(t)
	port := FreePort(t)
	Start(t, fmt.Sprintf(".:%s {\n bind 127.0.0.1\n forward . %s\n}\n", port, upstream))
	addr := "127.0.0.1:" + port
	for _, opcode := range []int{dns.OpcodeNotify, dns.OpcodeUpdate, dns.OpcodeIQuery, dns.OpcodeStatus, 3, 15} {
		for _, proto := range []string{"udp", "tcp"} {
			m := Query("example.org.", dns.TypeSOA, 0)
			m.Opcode = opcode
			r := Exchange(t, proto, addr, m)
			assert.Equal(t, dns.RcodeNotImplemented, r.Rcode, "opcode %d over %s", opcode, proto)
			assert.Equal(t, opcode, r.Opcode)
		}
	}
	r := Exchange(t, "tcp", addr, Query("example.org.", dns.TypeTXT, 0))
	assert.Len(t, r.Answer, 100, "a query is forwarded")
	for opcode := range asked {
		want := int64(0)
		if opcode == dns.OpcodeQuery {
			want = 1
		}
		assert.Equal(t, want, asked[opcode].Load(), "opcode %d upstream", opcode)
	}
}

// serverInput is a Corefile in dir, whose relative paths are dir's.
func serverInput(dir, corefile string) server.Input {
	return server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)}
}

// exchangeUDP sends packet from a socket of its own and returns the raw
// reply.
func exchangeUDP(t *testing.T, addr string, packet []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(packet)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, dns.MaxMsgSize)
	n, err := c.Read(buf)
	require.NoError(t, err, "reply to %x", binary.BigEndian.Uint16(packet))
	return buf[:n]
}

// mixedCase upper-cases every other letter of name, which the packet path
// leaves to the chain.
func mixedCase(name string) string {
	b := []byte(name)
	for i := 0; i < len(b); i += 2 {
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
