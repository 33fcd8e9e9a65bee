package conformance

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// logCorefile is corefile with the log plugin, in its default (common)
// format.
const logCorefile = `tp.internal:PORT 192.0.2.0/24:PORT {
    bind 127.0.0.1
    log
    thirdparty {
        services services.yaml
        reload 0
    }
}
`

// logQuery is one query of TestLogLinesAlike: who asks, what, over which
// transport and with which EDNS0 (bufsize 0: none), and whether a line is
// logged for it (not when no server block serves the name: the query is
// refused before any chain, by both).
type logQuery struct {
	client, name string
	qtype        uint16
	proto        string
	bufsize      uint16
	do           bool
	logged       bool
}

// logQueries are the table of TestLogLinesAlike: answers, NODATA,
// NXDOMAIN, a PTR record, REFUSED by a service's allow (written by the
// server without EDNS0, by thirdparty with it) and for a zone no block
// serves, a name in upper case; each over UDP and TCP, without EDNS0, with
// it (a buffer under 512 bytes too) and with the DO bit.
func logQueries() []logQuery {
	var qs []logQuery
	for _, proto := range []string{"udp", "tcp"} {
		for _, edns := range []struct {
			bufsize uint16
			do      bool
		}{{0, false}, {1232, false}, {4096, true}, {256, false}} {
			for _, q := range []struct {
				client, name string
				qtype        uint16
				logged       bool
			}{
				{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeA, true},
				{"127.0.0.1", "web.tp.internal.", dns.TypeAAAA, true},
				{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeTXT, true},
				{"127.0.0.1", "_https._tcp.web.tp.internal.", dns.TypeSRV, true},
				{"127.0.0.1", "oracle.finance.tp.internal.", dns.TypeSRV, true},
				{"127.0.0.1", "web.tp.internal.", dns.TypeMX, true},
				{"127.0.0.1", "nope.tp.internal.", dns.TypeA, true},
				{"127.0.0.1", "ORACLE.Finance.tp.internal.", dns.TypeA, true},
				{"127.0.0.1", "20.2.0.192.in-addr.arpa.", dns.TypePTR, true},
				{"127.0.0.1", "private.tp.internal.", dns.TypeA, true}, // REFUSED by allow
				{"127.0.0.2", "private.tp.internal.", dns.TypeA, true},
				{"127.0.0.1", "www.example.com.", dns.TypeA, false}, // REFUSED: no block
			} {
				qs = append(qs, logQuery{q.client, q.name, q.qtype, proto, edns.bufsize, edns.do, q.logged})
			}
		}
	}
	return qs
}

// logMasks hide what differs between two runs, whoever answers: the
// client's port and the duration.
var logMasks = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^\[INFO\] (\S+):\d+ `), "[INFO] $1:PORT "},
	{regexp.MustCompile(` \d+(\.\d+)?(e-\d+)?s$`), " DURATION"},
}

// TestLogLinesAlike: with log in the server block, tpdns and the CoreDNS
// build log the same line for the same query, byte for byte but for the
// client's port and the duration (the IDs are the test's).
func TestLogLinesAlike(t *testing.T) {
	reg := registry(t)
	addrs := map[string]string{}
	procs := map[string]*test.Process{}
	for _, name := range []string{"tpdns", "coredns"} {
		addrs[name], procs[name] = start(t, name, reg, logCorefile)
	}
	queries := logQueries()
	for i, q := range queries {
		id := uint16(1000 + i)
		for _, name := range []string{"tpdns", "coredns"} {
			sendLogQuery(t, addrs[name], id, q)
		}
		if !q.logged {
			continue
		}
		lines := map[string]string{}
		for _, name := range []string{"tpdns", "coredns"} {
			lines[name] = waitLogLine(t, procs[name], name, id)
		}
		assert.Equal(t, lines["coredns"], lines["tpdns"], "%s %s from %s over %s, bufsize %d, DO %t",
			q.name, dns.TypeToString[q.qtype], q.client, q.proto, q.bufsize, q.do)
	}
	// A last logged query: once both logged it, the queries not logged
	// had their time to be.
	last := uint16(1000 + len(queries))
	for _, name := range []string{"tpdns", "coredns"} {
		sendLogQuery(t, addrs[name], last, logQuery{client: "127.0.0.1", name: "web.tp.internal.", qtype: dns.TypeA, proto: "udp"})
		waitLogLine(t, procs[name], name, last)
	}
	for i, q := range queries {
		if q.logged {
			continue
		}
		for _, name := range []string{"tpdns", "coredns"} {
			assert.Empty(t, logLine(procs[name], uint16(1000+i)), "%s: %s %s is logged", name, q.name, dns.TypeToString[q.qtype])
		}
	}
}

// sendLogQuery sends q with ID id to addr and waits for the reply.
func sendLogQuery(t *testing.T, addr string, id uint16, q logQuery) {
	t.Helper()
	local := net.Addr(&net.TCPAddr{IP: net.ParseIP(q.client)})
	if q.proto == "udp" {
		local = &net.UDPAddr{IP: net.ParseIP(q.client)}
	}
	c := &dns.Client{Net: q.proto, Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: local}}
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.Id = id
	if q.bufsize > 0 {
		m.SetEdns0(q.bufsize, q.do)
	}
	_, _, err := c.Exchange(m, addr)
	require.NoError(t, err, "%s %s over %s", q.name, dns.TypeToString[q.qtype], q.proto)
}

// waitLogLine waits for the log line of the query with ID id and returns
// it, masked.
func waitLogLine(t *testing.T, p *test.Process, name string, id uint16) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if line := logLine(p, id); line != "" {
			return line
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no line for query %d:\n%s", name, id, p.Output)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLine returns the masked log line of the query with ID id, or "".
func logLine(p *test.Process, id uint16) string {
	marker := fmt.Sprintf(" - %d \"", id)
	for line := range strings.Lines(p.Output.String()) {
		if strings.HasPrefix(line, "[INFO] ") && strings.Contains(line, marker) {
			line = strings.TrimSuffix(line, "\n")
			for _, m := range logMasks {
				line = m.re.ReplaceAllString(line, m.repl)
			}
			return line
		}
	}
	return ""
}
