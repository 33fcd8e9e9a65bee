package health

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/test/freeport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(withDBServers{m}) }

// changes records the owners of the state changes the checker publishes,
// in order.
type changes struct {
	mu     sync.Mutex
	owners []string
}

func (c *changes) add(batch []Report) {
	c.mu.Lock()
	for _, r := range batch {
		if r.Changed() {
			c.owners = append(c.owners, r.Owner)
		}
	}
	c.mu.Unlock()
}

func (c *changes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.owners)
}

// published waits until at least n changes were published (they are
// published after the checker's own state changed), and returns how many.
func (c *changes) published(n int) int {
	deadline := time.Now().Add(2 * time.Second)
	for c.count() < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	return c.count()
}

// waitState polls until the endpoint reaches state, failing after within.
func waitState(t *testing.T, c *Checker, key string, state State, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if st, _ := c.Status(key); st.State == state {
			return time.Since(start)
		}
		if time.Since(start) > within {
			st, _ := c.Status(key)
			t.Fatalf("%s: still %s (%+v) after %s, want %s", key, st.State, st, within, state)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func tcpCheck(interval, timeout time.Duration, rise, fall int) config.Check {
	return config.Check{Type: config.CheckTCP, Interval: interval, Timeout: timeout, Rise: rise, Fall: fall}
}

func TestFirstResultDecidesAtOnce(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer up.Close()
	down := "127.0.0.1:" + freeport.Port(t) // nothing listens

	var ch changes
	c := NewChecker(4, ch.add)
	long := tcpCheck(time.Hour, time.Second, 5, 5) // only the first probe runs
	c.Set([]Endpoint{
		{Key: "up", Owner: "svc-up", Target: target(t, up.Addr().String(), long)},
		{Key: "down", Owner: "svc-down", Target: target(t, down, long)},
	})
	st, _ := c.Status("down")
	assert.Equal(t, Unknown, st.State, "before any probe")
	c.Start()
	defer c.Stop()

	waitState(t, c, "up", Healthy, 2*time.Second)
	waitState(t, c, "down", Unhealthy, 2*time.Second)
	st, _ = c.Status("down")
	assert.Equal(t, 1, st.Failures, "one probe was enough, not fall=5")
	assert.Contains(t, st.LastError, "connection refused")
	assert.False(t, st.LastCheck.IsZero())
	assert.Equal(t, 2, ch.published(2))
}

func TestRiseAndFallWithAListenerThatComesAndGoes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.7:"+freeport.Port(t)) // bound again below
	require.NoError(t, err)
	addr := ln.Addr().String()
	interval, timeout, rise, fall := 100*time.Millisecond, 50*time.Millisecond, 2, 3

	var ch changes
	c := NewChecker(4, ch.add)
	c.Set([]Endpoint{{Key: "db", Owner: "db", Target: target(t, addr, tcpCheck(interval, timeout, rise, fall))}})
	c.Start()
	defer c.Stop()
	waitState(t, c, "db", Healthy, time.Second)

	ln.Close()
	limit := time.Duration(fall)*interval + timeout + 500*time.Millisecond
	took := waitState(t, c, "db", Unhealthy, limit)
	t.Logf("unhealthy after %s (limit %s)", took, limit)

	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	defer ln.Close()
	limit = time.Duration(rise)*interval + timeout + 500*time.Millisecond
	took = waitState(t, c, "db", Healthy, limit)
	t.Logf("healthy again after %s (limit %s)", took, limit)
	st, _ := c.Status("db")
	assert.GreaterOrEqual(t, st.Successes, rise)
	assert.Equal(t, 3, ch.published(3), "healthy, unhealthy, healthy")
}

func TestSetKeepsStateByKeyAndInheritTakesItOver(t *testing.T) {
	down := "127.0.0.1:" + freeport.Port(t) // nothing listens
	chk := tcpCheck(time.Hour, time.Second, 1, 1)
	ep := Endpoint{Key: "db", Owner: "db", Target: target(t, down, chk)}

	c := NewChecker(4, func([]Report) {})
	c.Set([]Endpoint{ep})
	c.Start()
	waitState(t, c, "db", Unhealthy, 2*time.Second)

	// Another endpoint added: db keeps its state, the new one is probed.
	other := ep
	other.Key = "other"
	c.Set([]Endpoint{ep, other})
	st, _ := c.Status("db")
	assert.Equal(t, Unhealthy, st.State)
	waitState(t, c, "other", Unhealthy, 2*time.Second)

	// A new checker (a reloaded configuration) takes the state over and
	// does not probe at once (the interval is an hour).
	next := NewChecker(4, func([]Report) {})
	next.Set([]Endpoint{ep})
	taken := next.Inherit(c)
	require.Len(t, taken, 1)
	assert.Equal(t, "db", taken[0].Key)
	assert.Equal(t, Unhealthy, taken[0].Status.State)
	assert.Equal(t, Unknown, taken[0].From)
	c.Stop()
	next.Start()
	defer next.Stop()
	st, _ = next.Status("db")
	assert.Equal(t, Unhealthy, st.State)
	assert.Equal(t, 1, st.Failures)

	// Removed endpoints are forgotten.
	next.Set(nil)
	_, ok := next.Status("db")
	assert.False(t, ok)
}

func TestStopCancelsProbesInFlight(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)

	chk := config.Check{Type: config.CheckHTTP, Path: "/", ExpectMin: 200, ExpectMax: 399, Interval: time.Hour, Timeout: time.Minute, Rise: 1, Fall: 1}
	c := NewChecker(4, func(batch []Report) {
		for _, r := range batch {
			if r.Changed() {
				t.Error("a cancelled probe must not change the state")
			}
		}
	})
	var eps []Endpoint
	for i := range 8 { // more than the concurrency: the schedule waits for a slot
		eps = append(eps, Endpoint{Key: fmt.Sprint(i), Target: target(t, strings.TrimPrefix(srv.URL, "http://"), chk)})
	}
	c.Set(eps)
	c.Start()
	deadline := time.Now().Add(2 * time.Second)
	for c.Stats().Probes < 4 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	c.Stop()
	assert.Less(t, time.Since(start), 2*time.Second)
	st, _ := c.Status("0")
	assert.Equal(t, Unknown, st.State)
}

func TestNeverStartedCheckerStops(t *testing.T) {
	c := NewChecker(0, func([]Report) {})
	c.Set([]Endpoint{{Key: "x", Target: Target{Host: "127.0.0.1", Port: 1, Check: tcpCheck(time.Second, time.Millisecond, 1, 1)}}})
	c.Stop()
}

func TestFirstRoundDone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c := NewChecker(4, func([]Report) {})
	var observed sync.Map
	c.Observe = func(owner string, r Result) { observed.Store(owner, r.OK) }
	c.Set([]Endpoint{{Key: "a", Owner: "svc", Target: target(t, ln.Addr().String(), tcpCheck(time.Hour, time.Second, 1, 1))}})
	assert.False(t, c.FirstRoundDone(), "not started")
	c.Start()
	defer c.Stop()
	waitState(t, c, "a", Healthy, 2*time.Second)
	assert.True(t, c.FirstRoundDone())
	ok, _ := observed.Load("svc")
	assert.Equal(t, true, ok)
	c.Set([]Endpoint{{Key: "b", Target: Target{Host: "127.0.0.1", Port: 1, Check: tcpCheck(time.Hour, time.Second, 1, 1)}}})
	assert.True(t, c.FirstRoundDone(), "latched")
}

// mirror is a user's copy of the states, kept from the published reports
// alone.
type mirror struct {
	mu     sync.Mutex
	states map[string]Status
}

func (m *mirror) apply(batch []Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range batch {
		if r.Removed {
			delete(m.states, r.Key)
		} else {
			m.states[r.Key] = r.Status
		}
	}
}

func (m *mirror) get(key string) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[key]
	return st, ok
}

func TestReportsKeepTheUsersCopy(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer up.Close()
	down := "127.0.0.1:" + freeport.Port(t)
	chk := tcpCheck(20*time.Millisecond, time.Second, 1, 1)
	eps := []Endpoint{
		{Key: "up", Owner: "a", Target: target(t, up.Addr().String(), chk)},
		{Key: "down", Owner: "b", Target: target(t, down, chk)},
	}
	m := &mirror{states: map[string]Status{}}
	c := NewChecker(4, m.apply)
	c.Set(eps)
	c.Start()
	defer c.Stop()

	// Every probe is published, not only the changes: the copy's last
	// check follows the checker's.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor("up is healthy in the copy", func() bool { st, _ := m.get("up"); return st.State == Healthy })
	waitFor("down is unhealthy in the copy", func() bool { st, _ := m.get("down"); return st.State == Unhealthy })
	first, _ := m.get("up")
	waitFor("a later probe of up is published", func() bool { st, _ := m.get("up"); return st.LastCheck.After(first.LastCheck) })
	st, _ := m.get("down")
	assert.Equal(t, "dial tcp "+down+": connect: connection refused", st.LastError)

	// An endpoint removed from the set is removed from the copy, and no
	// probe of it that was in flight brings it back.
	c.Set(eps[:1])
	waitFor("down is removed from the copy", func() bool { _, ok := m.get("down"); return !ok })
	waitFor("up is probed again", func() bool {
		st, _ := m.get("up")
		return st.LastCheck.After(first.LastCheck.Add(60 * time.Millisecond))
	})
	_, ok := m.get("down")
	assert.False(t, ok)
}
