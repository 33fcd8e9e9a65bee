//go:build linux

package test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMultisocketReloads: a reload hands every socket over, so that no
// query goes unanswered while the sockets of an address go from one to
// four (multisocket) and stay four, nor does an older configuration answer
// after a newer one did; a reload to fewer sockets closes the rest.
func TestMultisocketReloads(t *testing.T) {
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	gen := 0
	corefile := func(multisocket string) string {
		gen++
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n %s\n testanswer g%03d\n}\n", port, multisocket, gen)
	}
	inst := Start(t, corefile(""))
	require.Equal(t, 1, BoundSockets(t, "udp", port))

	// Clients, each from a new source port for every query (dns.Client
	// dials anew), over UDP and TCP in turn: the kernel spreads them over
	// the sockets.
	var (
		sent, failed atomic.Int64
		mu           sync.Mutex
		problems     []string
		stop         = make(chan struct{})
		wg           sync.WaitGroup
	)
	for i := range 4 {
		wg.Go(func() {
			clients := []*dns.Client{{Net: "udp", Timeout: time.Second}, {Net: "tcp", Timeout: time.Second}}
			last := ""
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := clients[n%2].Exchange(Query("x.example.", dns.TypeTXT, 0), addr)
				sent.Add(1)
				if err != nil || len(txt(r)) != 1 {
					failed.Add(1)
					mu.Lock()
					problems = append(problems, fmt.Sprint(err, r))
					mu.Unlock()
					continue
				}
				if got := txt(r)[0]; got < last {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s after %s", got, last))
					mu.Unlock()
				} else {
					last = got
				}
			}
		})
	}
	queries := func(n int64) {
		after := sent.Load() + n
		waitFor(t, 10*time.Second, "queries", func() bool { return sent.Load() >= after })
	}
	queries(20)

	require.NoError(t, inst.Reload(corefile("multisocket 4")))
	assert.Equal(t, 4, BoundSockets(t, "udp", port))
	assert.Equal(t, 4, BoundSockets(t, "tcp", port))
	queries(20)
	for range 10 {
		require.NoError(t, inst.Reload(corefile("multisocket 4")))
		queries(10)
	}
	assert.Equal(t, 4, BoundSockets(t, "udp", port), "the same sockets, handed over")
	assert.Equal(t, 4, BoundSockets(t, "tcp", port))
	close(stop)
	wg.Wait()
	assert.Zero(t, failed.Load(), "queries without an answer, of %d", sent.Load())
	assert.Empty(t, problems)

	// Fewer: the sockets no server took over close once the replaced
	// configuration stops.
	require.NoError(t, inst.Reload(corefile("multisocket 2")))
	assert.Equal(t, 2, BoundSockets(t, "udp", port))
	assert.Equal(t, 2, BoundSockets(t, "tcp", port))
	want := fmt.Sprintf("g%03d 0", gen)
	for range 20 {
		assert.Equal(t, []string{want}, txt(Exchange(t, "udp", addr, Query("x.example.", dns.TypeTXT, 0))))
		assert.Equal(t, []string{want}, txt(Exchange(t, "tcp", addr, Query("x.example.", dns.TypeTXT, 0))))
	}
	require.NoError(t, inst.Reload(corefile("")))
	assert.Equal(t, 1, BoundSockets(t, "udp", port))
	assert.Equal(t, 1, BoundSockets(t, "tcp", port))
}
