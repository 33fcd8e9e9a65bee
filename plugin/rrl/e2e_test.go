package rrl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/acl"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/test/testplugins"

	"github.com/tpdns/tpdns/test"
)

// The flood: identical queries from one address, at floodRate a second
// for floodFor, against an allowance of floodAllowance.
const (
	floodRate      = 20000
	floodFor       = 2 * time.Second
	floodAllowance = 100
)

// The two ways a query is answered: the packet path (errors and rrl
// before testpacket are packet passers), and the chain (testchain is not, so
// the packet path declines the zone). testpacket answers "TEXT packet" on
// the one, "TEXT chain" on the other.
var paths = []struct {
	name, decline, answer string
}{
	{"packet path", "", "flood packet"},
	{"chain", "testchain", "flood chain"},
}

// floodCorefile is a server on 127.0.0.1:port limiting tp.internal to
// floodAllowance identical answers a second, loopback not exempt.
func floodCorefile(port, decline string) string {
	return fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    errors
    rrl {
        responses-per-second %d
        exempt none
    }
    %s
    testpacket flood
}`, port, floodAllowance, decline)
}

// TestFlood floods one name from 127.0.0.1 for two seconds: the flood gets
// the allowance's worth of answers, then only slips, every other response
// over the limit (slip-ratio 2, the first of them included) and none of
// the rest. Meanwhile another network asking the same name, the same
// address asking another name, and TCP are answered every time.
func TestFlood(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			// A machine too busy to send the flood at its rate (the first
			// queries spread out earn more answers) gets two more tries,
			// each with a server of its own.
			var got *flooded
			var server string
			var duringDone [3]time.Duration
			for try := 1; ; try++ {
				port := test.FreePort(t)
				test.Start(t, floodCorefile(port, path.decline))
				addr := "127.0.0.1:" + port
				server = "dns://" + addr
				got = flood(t, addr, "www.tp.internal.", during(t, addr, &duringDone))
				if got.sent >= floodSent || try == 3 {
					break
				}
				t.Logf("try %d: sent %d in %v, not a flood (the machine is busy); again", try, got.sent, got.took.Round(time.Millisecond))
			}

			answered, slippedN, droppedN := got.answered.Load(), got.slipped.Load(), 0.0
			// Wait for the server to finish with the queries it has, and
			// for their replies to arrive: until the counts hold still for
			// 100 ms.
			var slippedM, droppedM float64
			deadline := time.Now().Add(5 * time.Second)
			for stable := 0; stable < 5; {
				require.True(t, time.Now().Before(deadline), "the counts do not settle")
				time.Sleep(20 * time.Millisecond)
				s := testutil.ToFloat64(slipped.WithLabelValues(server, "tp.internal.", "response"))
				d := testutil.ToFloat64(dropped.WithLabelValues(server, "tp.internal.", "response"))
				a, sr := got.answered.Load(), got.slipped.Load()
				if s == slippedM && d == droppedM && a == answered && sr == slippedN {
					stable++
				} else {
					stable = 0
				}
				slippedM, droppedM, answered, slippedN = s, d, a, sr
			}
			droppedN = droppedM
			limited := slippedM + droppedM
			seen := float64(answered) + limited
			t.Logf("sent %d in %v; the server saw %.0f: %d answered, %.0f slipped (%d received), %.0f dropped; the others done after %v",
				got.sent, got.took.Round(time.Millisecond), seen, answered, slippedM, slippedN, droppedN, duringDone)

			assert.GreaterOrEqual(t, got.sent, int64(floodSent), "the flood was one")
			assert.Greater(t, seen, float64(20*floodAllowance), "the server saw a flood")
			assert.LessOrEqual(t, seen, float64(got.sent))
			// The allowance: a full account, and what it earns while the
			// flood spends it: half an answer at 20,000 a second, more when
			// a busy machine (the race detector, the chain's goroutines)
			// takes longer to answer the first queries. The first slip to
			// come back bounds that time.
			earned := int64(float64(floodAllowance) * got.firstSlip.Seconds())
			assert.GreaterOrEqual(t, answered, int64(floodAllowance))
			assert.LessOrEqual(t, answered, int64(floodAllowance+1)+earned, "first slip after %v", got.firstSlip)
			// Every other response over the limit slips, the first included.
			assert.Equal(t, float64(int(limited+1)/2), slippedM, "slipped of %.0f over the limit", limited)
			assert.Equal(t, slippedM, float64(slippedN), "slips received (none lost on loopback)")
			assert.Zero(t, got.other.Load(), "replies neither answers nor slips")
			assert.Contains(t, got.text, path.answer)
		})
	}
}

// floodSent is the fewest queries a flood must have sent to be one: 90 %
// of its rate for its time.
const floodSent = floodRate * int64(floodFor/time.Millisecond) / 1000 * 9 / 10

// during returns what is asked of the server at addr during a flood:
// another network asking the same name, the same address asking another
// name, and TCP, ten queries each, every one answered; done gets when
// each finished.
func during(t *testing.T, addr string, done *[3]time.Duration) func(start time.Time) {
	return func(start time.Time) {
		var wg sync.WaitGroup
		for n, c := range []struct{ proto, client, name string }{
			{"udp", "127.0.1.1", "www.tp.internal."}, // another /24
			{"udp", "127.0.0.1", "other.tp.internal."},
			{"tcp", "127.0.0.1", "www.tp.internal."},
		} {
			wg.Go(func() {
				for i := range 10 {
					m, err := exchange(c.proto, c.client, addr, c.name)
					if !assert.NoError(t, err, "%s from %s for %s: query %d", c.proto, c.client, c.name, i) ||
						!assert.False(t, m.Truncated, "%s from %s for %s: query %d", c.proto, c.client, c.name, i) ||
						!assert.Len(t, m.Answer, 1, "%s from %s for %s: query %d", c.proto, c.client, c.name, i) {
						return
					}
				}
				done[n] = time.Since(start)
			})
		}
		wg.Wait()
	}
}

// flooded is what a flood got back.
type flooded struct {
	sent              int64
	took              time.Duration
	firstSlip         time.Duration // from the start until the first slip came back
	answered, slipped atomic.Int64  // replies with an answer, and empty ones with TC
	firstSlipAt       atomic.Int64  // firstSlip, as the reader records it
	other             atomic.Int64
	text              string // the TXT of the first answer
}

// flood sends identical queries for name to addr from one socket at
// floodRate a second for floodFor, counting the replies, and runs during
// in parallel, from 100 ms into it, given the time the flood started.
func flood(t *testing.T, addr, name string, during func(start time.Time)) *flooded {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	require.NoError(t, err)
	c, err := net.DialUDP("udp", nil, raddr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetReadBuffer(4<<20))
	q, err := test.Query(name, dns.TypeTXT, 0).Pack()
	require.NoError(t, err)

	got := &flooded{}
	var readers sync.WaitGroup
	var text atomic.Pointer[string]
	stop := make(chan struct{})
	start := time.Now()
	readers.Go(func() {
		buf := make([]byte, dns.MaxMsgSize)
		for {
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				select {
				case <-stop:
					return
				default:
					continue
				}
			}
			if err != nil || n < 12 {
				got.other.Add(1)
				continue
			}
			tc, answers := buf[2]&0x02 != 0, binary.BigEndian.Uint16(buf[6:])
			switch {
			case !tc && answers == 1:
				if got.answered.Add(1) == 1 {
					m := new(dns.Msg)
					if m.Unpack(buf[:n]) == nil && len(m.Answer) == 1 {
						s := strings.Join(m.Answer[0].(*dns.TXT).Txt, " ")
						text.Store(&s)
					}
				}
			case tc && answers == 0:
				if got.slipped.Add(1) == 1 {
					got.firstSlipAt.Store(int64(time.Since(start)))
				}
			default:
				got.other.Add(1)
			}
		}
	})
	t.Cleanup(func() { close(stop); readers.Wait() })

	var others sync.WaitGroup
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	for elapsed := time.Duration(0); elapsed < floodFor; elapsed = time.Since(start) {
		if elapsed == 0 {
			others.Go(func() {
				<-time.After(100 * time.Millisecond)
				during(start)
			})
		}
		for due := int64(elapsed.Seconds() * floodRate); got.sent < due; got.sent++ {
			if _, err := c.Write(q); err != nil {
				got.other.Add(1) // refused by the kernel: counted as a failure
			}
		}
		<-ticker.C
	}
	got.took = time.Since(start)
	got.firstSlip = time.Duration(got.firstSlipAt.Load())
	others.Wait()
	if s := text.Load(); s != nil {
		got.text = *s
	}
	return got
}

// exchange asks addr for name's TXT over proto from client (an address of
// 127.0.0.0/8), trying three times over UDP.
func exchange(proto, client, addr, name string) (*dns.Msg, error) {
	c := &dns.Client{Net: proto, Timeout: time.Second}
	if proto == "tcp" {
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}, Timeout: time.Second}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(client)}, Timeout: time.Second}
	}
	var err error
	for range 3 {
		var m *dns.Msg
		if m, _, err = c.Exchange(test.Query(name, dns.TypeTXT, 0), addr); err == nil {
			return m, nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			break
		}
	}
	return nil, fmt.Errorf("%s %s from %s: %w", proto, name, client, err)
}

// Loopback is exempt unless exempt says otherwise: with an allowance of one
// a second, 300 queries in a row from 127.0.0.1 are all answered, on both
// paths; with exempt none, the first is, and the others slip (slip-ratio
// 1, so each gets a reply).
func TestLoopbackExempt(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			port := test.FreePort(t)
			corefile := func(exempt string) string {
				return fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n rrl {\n  responses-per-second 1\n  slip-ratio 1\n  %s\n }\n %s\n testpacket flood\n}", port, exempt, path.decline)
			}
			inst := test.Start(t, corefile(""))
			addr := "127.0.0.1:" + port
			outcomes := func() string {
				var b strings.Builder
				for range 300 {
					m, err := exchange("udp", "127.0.0.1", addr, "www.tp.internal.")
					require.NoError(t, err)
					switch {
					case m.Truncated && len(m.Answer) == 0:
						b.WriteByte('s')
					case len(m.Answer) == 1 && m.Answer[0].(*dns.TXT).Txt[0] == path.answer:
						b.WriteByte('+')
					default:
						b.WriteString("?" + m.String())
					}
				}
				return b.String()
			}
			assert.Equal(t, strings.Repeat("+", 300), outcomes())
			require.NoError(t, inst.Reload(corefile("exempt none")))
			assert.Equal(t, "+"+strings.Repeat("s", 299), outcomes())
		})
	}
}
