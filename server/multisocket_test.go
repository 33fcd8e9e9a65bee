//go:build linux

package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/multisocket"
	_ "github.com/tpdns/tpdns/plugin/prometheus"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// TestMultisocketServesEverySocket: multisocket 4 binds four UDP sockets and
// four TCP listeners to the address, each served: queries from many source
// ports are all answered, on both paths, and the kernel spreads them over
// every socket.
func TestMultisocketServesEverySocket(t *testing.T) {
	port := test.FreePort(t)
	addr := "127.0.0.1:" + port
	inst := test.Start(t, fmt.Sprintf(".:%s {\n bind 127.0.0.1\n multisocket 4\n prometheus 127.0.0.1:%s\n testpacket hi\n}\n", port, test.FreePort(t)))
	assert.Equal(t, 4, test.BoundSockets(t, "udp", port))
	assert.Equal(t, 4, test.BoundSockets(t, "tcp", port))

	const queries = 64
	for i := range queries {
		// A client of its own, a source port of its own, for each.
		r := test.Exchange(t, "udp", addr, test.Query(fmt.Sprintf("q%d.example.", i), dns.TypeTXT, 0))
		require.Len(t, r.Answer, 1)
		assert.Equal(t, []string{"hi packet"}, r.Answer[0].(*dns.TXT).Txt)
	}
	for i := range 16 {
		r := test.Exchange(t, "tcp", addr, test.Query(fmt.Sprintf("t%d.example.", i), dns.TypeTXT, 0))
		require.Len(t, r.Answer, 1)
		assert.Equal(t, []string{"hi chain"}, r.Answer[0].(*dns.TXT).Txt)
	}
	// Every socket read some of the 64 (each has a 3/4 chance to miss one,
	// 4·(3/4)^64 < 10^-7 for one of them to miss them all), and only them.
	counts := server.UDPDatagrams(inst.Instance, addr)
	require.Len(t, counts, 4)
	var sum uint64
	for i, n := range counts {
		assert.NotZero(t, n, "socket %d read nothing: %v", i, counts)
		sum += n
	}
	assert.Equal(t, uint64(queries), sum, "%v", counts)
}

// TestWithoutMultisocketOneSocket: without the directive, one UDP socket
// and one TCP listener, as before it.
func TestWithoutMultisocketOneSocket(t *testing.T) {
	port := test.FreePort(t)
	addr := "127.0.0.1:" + port
	inst := test.Start(t, fmt.Sprintf(".:%s {\n bind 127.0.0.1\n testpacket hi\n}\n", port))
	assert.Equal(t, 1, test.BoundSockets(t, "udp", port))
	assert.Equal(t, 1, test.BoundSockets(t, "tcp", port))
	test.Exchange(t, "udp", addr, test.Query("x.example.", dns.TypeTXT, 0))
	assert.Equal(t, []uint64{1}, server.UDPDatagrams(inst.Instance, addr))
}

// TestMultisocketFirstBlockDecides: as in CoreDNS, the first server block
// to listen on an address sets its number of sockets.
func TestMultisocketFirstBlockDecides(t *testing.T) {
	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf("a.example:%[1]s {\n bind 127.0.0.1\n multisocket 3\n testpacket a\n}\n"+
		"b.example:%[1]s {\n bind 127.0.0.1\n multisocket 5\n testpacket b\n}\n", port))
	assert.Equal(t, 3, test.BoundSockets(t, "udp", port))
	assert.Equal(t, 3, test.BoundSockets(t, "tcp", port))
	for zone, want := range map[string]string{"a": "a packet", "b": "b packet"} {
		r := test.Exchange(t, "udp", "127.0.0.1:"+port, test.Query("x."+zone+".example.", dns.TypeTXT, 0))
		require.Len(t, r.Answer, 1)
		assert.Equal(t, []string{want}, r.Answer[0].(*dns.TXT).Txt)
	}
}

// TestMultisocketReloadLetsGo: once a reload is done, no server of the new
// configuration holds on to the servers it replaced (and their chains).
// Each lets go of them when the one it replaced has stopped and it serves,
// whichever comes last: it may begin to serve after Reload returns.
func TestMultisocketReloadLetsGo(t *testing.T) {
	port := test.FreePort(t)
	corefile := fmt.Sprintf(".:%s {\n bind 127.0.0.1\n multisocket 3\n testpacket hi\n}\n", port)
	inst := test.Start(t, corefile)
	for range 2 {
		require.NoError(t, inst.Reload(corefile))
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal([]int{0, 0, 0}, server.Predecessors(inst.Instance)) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		assert.Equal(t, []int{0, 0, 0}, server.Predecessors(inst.Instance))
	}
}
