package rrl

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = second / 1000

// outcomes debits key n times at now and writes what became of each
// response: "+" sent, "s" slipped, "-" dropped.
func outcomes(t *table, key uint64, interval, now int64, n int) string {
	var b strings.Builder
	for range n {
		switch limited, slip := t.debit(key, kindAnswer, interval, now); {
		case !limited:
			b.WriteByte('+')
		case slip:
			b.WriteByte('s')
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

func intervals(interval int64) [kinds]int64 {
	var out [kinds]int64
	for k := range out {
		out[k] = interval
	}
	return out
}

// A rate of 10 a second: a full account answers 10 at once, then one
// every 100 ms once the debt is paid; the first response held back after
// the credit was full slips, then every second one.
func TestTableRate(t *testing.T) {
	const interval = 100 * ms
	tb := newTable(1000, 15*second, intervals(interval), 2)
	assert.Equal(t, "++++++++++s-s-s", outcomes(tb, 42, interval, 0, 15))
	// Five responses over: the credit is -500 ms. 100 ms later it is
	// still -400 ms, so this one is held back too (and debited: -500 ms).
	assert.Equal(t, "-", outcomes(tb, 42, interval, 100*ms, 1))
	// 600 ms after that the credit is +100 ms: one response, then none.
	assert.Equal(t, "+s", outcomes(tb, 42, interval, 700*ms, 2))
	// After a whole second without responses the credit is full again,
	// and the slip count starts over.
	assert.Equal(t, "++++++++++s-", outcomes(tb, 42, interval, 5*second, 12))
	// Another token has an account of its own.
	assert.Equal(t, "++", outcomes(tb, 43, interval, 5*second, 2))
}

// A flood keeps the credit at -window: nothing is answered until the flood
// has stopped for the window.
func TestTableWindow(t *testing.T) {
	const interval = 10 * ms // 100 a second
	tb := newTable(1000, 2*second, intervals(interval), 0)
	assert.Equal(t, strings.Repeat("+", 100)+strings.Repeat("-", 1000), outcomes(tb, 7, interval, 0, 1100))
	for now := int64(0); now < 10*second; now += ms {
		require.Equal(t, "-", outcomes(tb, 7, interval, now, 1), "at %d ms", now/ms) // 1,000 a second
	}
	// The last was at 9,999 ms, leaving the credit at -2 s: it is back
	// at 0 two seconds later, and affords a response one interval after
	// that. (The one held back just before costs an interval too.)
	assert.Equal(t, "-", outcomes(tb, 7, interval, 9999*ms+2*second+interval-1, 1))
	assert.Equal(t, "+", outcomes(tb, 7, interval, 9999*ms+2*second+2*interval, 1))
}

func TestTableSlipRatio(t *testing.T) {
	for _, c := range []struct {
		slip uint32
		want string
	}{
		{0, "+----------"},
		{1, "+ssssssssss"},
		{2, "+s-s-s-s-s-"},
		{3, "+s--s--s--s"},
	} {
		tb := newTable(100, 15*second, intervals(second), c.slip)
		assert.Equal(t, c.want, outcomes(tb, 1, second, 0, 11), "slip-ratio %d", c.slip)
	}
}

// An allowance under one a second still answers one response when the
// credit is full, then one per interval.
func TestTableSlowRate(t *testing.T) {
	const interval = 10 * second // 0.1 a second
	tb := newTable(100, 60*second, intervals(interval), 0)
	assert.Equal(t, "+-", outcomes(tb, 1, interval, 0, 2))
	assert.Equal(t, "-", outcomes(tb, 1, interval, 19*second, 1)) // the second one cost 10 s too
	assert.Equal(t, "+", outcomes(tb, 1, interval, 39*second, 1))
}

// The table never holds more accounts than its size; a new token takes the
// place of the account whose credit is full, or would be full soonest, so
// the clients being limited keep their accounts.
func TestTableBounded(t *testing.T) {
	for _, size := range []int{1, 5, 8, 100, 1000, 100000} {
		tb := newTable(size, 15*second, intervals(100*ms), 2)
		assert.LessOrEqual(t, tb.size(), size, "size %d", size)
		assert.Greater(t, tb.size(), size*3/4, "size %d", size)
	}

	tb := newTable(64, 15*second, intervals(100*ms), 0)
	// A token flooded until it is limited...
	flooded := tb.key(netip.MustParseAddr("192.0.2.0"), kindAnswer, 1, "flood.example.")
	outcomes(tb, flooded, 100*ms, 0, 50)
	// ...keeps its account while 10,000 others come and go.
	for i := range 10000 {
		key := tb.key(netip.MustParseAddr("198.51.100.0"), kindAnswer, 1, fmt.Sprintf("n%d.example.", i))
		tb.debit(key, kindAnswer, 100*ms, int64(i)*ms/10)
	}
	assert.Equal(t, "-", outcomes(tb, flooded, 100*ms, second, 1))
	assert.LessOrEqual(t, tb.live(), 64)
}

// The token is the same whatever the case of the name, and differs with
// each of its parts.
func TestTableKey(t *testing.T) {
	tb := newTable(100, second, intervals(ms), 0)
	p := netip.MustParseAddr("192.0.2.0")
	long := strings.Repeat("abcdefghij.", 20)
	base := tb.key(p, kindAnswer, 1, "www.example.org.")
	assert.Equal(t, base, tb.key(p, kindAnswer, 1, "WWW.Example.ORG."))
	assert.Equal(t, tb.key(p, kindAnswer, 1, long), tb.key(p, kindAnswer, 1, strings.ToUpper(long)))
	assert.NotEqual(t, base, tb.key(netip.MustParseAddr("192.0.3.0"), kindAnswer, 1, "www.example.org."))
	assert.NotEqual(t, base, tb.key(p, kindNodata, 1, "www.example.org."))
	assert.NotEqual(t, base, tb.key(p, kindAnswer, 28, "www.example.org."))
	assert.NotEqual(t, base, tb.key(p, kindAnswer, 1, "www.example.net."))
	assert.NotEqual(t, base, newTable(100, second, intervals(ms), 0).key(p, kindAnswer, 1, "www.example.org."), "seeded per table")
}
