package server_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/prometheus"
	"github.com/tpdns/tpdns/test"
)

var panicsLine = regexp.MustCompile(`(?m)^tpdns_panics_total (\S+)$`)

// scrapePanics reads tpdns_panics_total from the prometheus plugin's
// /metrics on addr.
func scrapePanics(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := panicsLine.FindSubmatch(b)
	require.NotNil(t, m, "tpdns_panics_total in:\n%s", b)
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n
}

// TestPacketPathPanicGoesToTheChain sends real queries over loopback to a
// zone whose packet path panics for some names (testpacket): each such
// query is answered by the chain, exactly as the chain answers it, or
// SERVFAIL when the chain panics too; every panic counts in
// tpdns_panics_total, the packet path's is logged once with its stack, and
// the server goes on answering on the packet path.
func TestPacketPathPanicGoesToTheChain(t *testing.T) {
	logs := test.CaptureLog(t)
	port, metricsPort := test.FreePort(t), test.FreePort(t)
	metrics := "127.0.0.1:" + metricsPort
	test.Start(t, fmt.Sprintf(`
packet.example:%s {
    bind 127.0.0.1
    prometheus %s
    testpacket hi
}`, port, metrics))
	addr := "127.0.0.1:" + port
	start := scrapePanics(t, metrics)

	answer := func(r *dns.Msg) []string {
		var rrs []string
		for _, rr := range r.Answer {
			rrs = append(rrs, rr.String())
		}
		return rrs
	}
	const rounds = 5
	for i := range rounds {
		// On the packet path: "hi packet".
		r := test.Exchange(t, "udp", addr, test.Query("ok.packet.example.", dns.TypeTXT, 0))
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, "round %d", i)
		assert.True(t, r.Authoritative)
		assert.Equal(t, []string{"ok.packet.example.\t60\tIN\tTXT\t\"hi packet\""}, answer(r), "round %d", i)

		// The packet path panics; the chain answers: "hi chain".
		r = test.Exchange(t, "udp", addr, test.Query("panic.packet.example.", dns.TypeTXT, 1232))
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, "round %d", i)
		assert.True(t, r.Authoritative)
		assert.Equal(t, []string{"panic.packet.example.\t60\tIN\tTXT\t\"hi chain\""}, answer(r), "round %d", i)
		require.NotNil(t, r.IsEdns0(), "the chain's reply fits the query: OPT for OPT")

		// Both panic: the chain's recover answers SERVFAIL.
		r = test.Exchange(t, "udp", addr, test.Query("panic-all.packet.example.", dns.TypeA, 0))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode, "round %d", i)
		assert.Equal(t, "panic-all.packet.example.", r.Question[0].Name)
		assert.Empty(t, r.Answer)

		// One panic for the first, two for the second.
		assert.Equal(t, start+3*(i+1), scrapePanics(t, metrics), "round %d", i)
	}

	// TCP has no packet path: the chain alone, which panics only for
	// panic-all.
	r := test.Exchange(t, "tcp", addr, test.Query("panic.packet.example.", dns.TypeTXT, 0))
	assert.Equal(t, []string{"panic.packet.example.\t60\tIN\tTXT\t\"hi chain\""}, answer(r))
	r = test.Exchange(t, "tcp", addr, test.Query("panic-all.packet.example.", dns.TypeTXT, 0))
	assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
	assert.Equal(t, start+3*rounds+1, scrapePanics(t, metrics))

	out := logs.String()
	packetLog := fmt.Sprintf(`[ERROR] Recovered from panic in the packet path of server "127.0.0.1:%s": testpacket: packet path: panic.packet.example. `+
		"(the query goes to the chain; later panics here are only counted, in tpdns_panics_total)\n", port)
	assert.Equal(t, 1, strings.Count(out, "in the packet path"), "the packet path's panics are logged once:\n%s", out)
	assert.Contains(t, out, packetLog)
	assert.Contains(t, out, "testplugins.Packet.AnswerPacket(", "with the stack")
	assert.Equal(t, rounds+1, strings.Count(out, fmt.Sprintf(`[ERROR] Recovered from panic in server "127.0.0.1:%s": testpacket: chain: panic-all.packet.example.`+"\n", port)),
		"the chain's, once each:\n%s", out)

	// Still answering on the packet path.
	r = test.Exchange(t, "udp", addr, test.Query("ok.packet.example.", dns.TypeTXT, 0))
	assert.Equal(t, []string{"ok.packet.example.\t60\tIN\tTXT\t\"hi packet\""}, answer(r))
}
