package test

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queryLoop sends queries for name to addr one after another, over UDP and
// TCP in turn, until stop is called, and counts those that got no reply.
type queryLoop struct {
	sent, failed atomic.Int64
	lastErr      atomic.Value
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startQueryLoop(addr, name string) *queryLoop {
	l := &queryLoop{stop: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		clients := []*dns.Client{{Net: "udp", Timeout: time.Second}, {Net: "tcp", Timeout: time.Second}}
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			r, _, err := clients[i%2].Exchange(Query(name, dns.TypeA, 0), addr)
			l.sent.Add(1)
			if err != nil || r.Rcode != dns.RcodeSuccess {
				l.failed.Add(1)
				l.lastErr.Store(fmt.Sprint(err, r))
			}
		}
	}()
	return l
}

func (l *queryLoop) finish(t *testing.T, minimum int64) {
	t.Helper()
	// Let some queries run against the new configuration too.
	after := l.sent.Load() + minimum
	waitFor(t, 10*time.Second, "queries after the reload", func() bool { return l.sent.Load() >= after })
	close(l.stop)
	l.wg.Wait()
	assert.Zero(t, l.failed.Load(), "queries without an answer (last: %v) of %d", l.lastErr.Load(), l.sent.Load())
}

func TestReloadInProcessKeepsAnsweringAndRejectsBrokenCorefile(t *testing.T) {
	logs := CaptureLog(t)
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	corefile := func(text string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n testanswer %s\n}\n", port, text)
	}
	inst := Start(t, corefile("one"))
	answer := func() string {
		r := Exchange(t, "udp", addr, Query("x.example.", dns.TypeTXT, 0))
		return txt(r)[0]
	}
	require.Equal(t, "one 0", answer())

	loop := startQueryLoop(addr, "loop.example.")
	waitFor(t, 10*time.Second, "the query loop", func() bool { return loop.sent.Load() > 20 })
	for i := range 20 {
		require.NoError(t, inst.Reload(corefile(fmt.Sprintf("v%d", i))))
		assert.Equal(t, fmt.Sprintf("v%d 0", i), answer())
	}
	loop.finish(t, 50)

	err := inst.Reload(fmt.Sprintf(".:%s {\n bind 127.0.0.1\n testanswer\n}\n", port))
	assert.EqualError(t, err, "starting with listener file descriptors: plugin/testanswer: Corefile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'testanswer'")
	assert.Equal(t, "v19 0", answer(), "the running configuration stays")
	assert.Contains(t, logs.String(), "[ERROR] Restart failed: plugin/testanswer: Corefile:3 - Error during parsing: Wrong argument count")
}

// reloadCorefile serves whoami everywhere and refuses the names under
// refused.
func reloadCorefile(port, refused string) string {
	return fmt.Sprintf(".:%[1]s {\n bind 127.0.0.1\n whoami\n}\n%[2]s:%[1]s {\n bind 127.0.0.1\n}\n", port, refused)
}

func TestReloadBySIGUSR1(t *testing.T) {
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	p := RunBinary(t, tpdnsBinary, reloadCorefile(port, "old.example"), addr)
	rcode := func(name string) string {
		return dns.RcodeToString[Exchange(t, "udp", addr, Query(name, dns.TypeA, 0)).Rcode]
	}
	require.Equal(t, "REFUSED", rcode("old.example."))
	require.Equal(t, "NOERROR", rcode("new.example."))

	loop := startQueryLoop(addr, "loop.example.")
	waitFor(t, 10*time.Second, "the query loop", func() bool { return loop.sent.Load() > 20 })
	require.NoError(t, os.WriteFile(p.Corefile, []byte(reloadCorefile(port, "new.example")), 0o644))
	p.Signal(t, syscall.SIGUSR1)
	waitFor(t, 10*time.Second, "the new configuration", func() bool { return rcode("new.example.") == "REFUSED" })
	assert.Equal(t, "NOERROR", rcode("old.example."))
	loop.finish(t, 50)

	// A broken Corefile is rejected and logged; the running one stays.
	require.NoError(t, os.WriteFile(p.Corefile, []byte(".:"+port+" {\n whoami\n nosuchdirective\n}\n"), 0o644))
	p.Signal(t, syscall.SIGUSR1)
	p.WaitOutput(t, "[ERROR] Reload failed, keeping the running configuration: ")
	assert.Contains(t, p.Output.String(), "Corefile:3 - Error during parsing: Unknown directive 'nosuchdirective'")
	assert.Equal(t, "REFUSED", rcode("new.example."))
	assert.Equal(t, "NOERROR", rcode("old.example."))

	p.Signal(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.Wait(t), p.Output.String())
}

// TestReloadAnswersNeverGoBack: a reload shares the sockets, and the
// replaced configuration's readers run until it stops; what they still read
// is answered by the new configuration, so that once a client got a new
// answer it never gets an old one again, over UDP or TCP.
func TestReloadAnswersNeverGoBack(t *testing.T) {
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	corefile := func(gen int) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n testanswer g%03d\n}\n", port, gen)
	}
	inst := Start(t, corefile(0))
	var (
		mu   sync.Mutex
		seen []string // the answers, in the order they were received
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, proto := range []string{"udp", "tcp"} {
		wg.Go(func() {
			c := &dns.Client{Net: proto, Timeout: time.Second}
			var last string
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := c.Exchange(Query("x.example.", dns.TypeTXT, 0), addr)
				if err != nil || len(r.Answer) == 0 {
					continue
				}
				got := txt(r)[0]
				if got < last {
					mu.Lock()
					seen = append(seen, fmt.Sprintf("%s: %s after %s", proto, got, last))
					mu.Unlock()
				}
				last = got
			}
		})
	}
	for gen := 1; gen <= 30; gen++ {
		require.NoError(t, inst.Reload(corefile(gen)))
	}
	close(stop)
	wg.Wait()
	assert.Empty(t, seen, "an older configuration answered after a newer one")
}
