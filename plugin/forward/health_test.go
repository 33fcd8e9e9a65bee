package forward

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthCheckQuery(t *testing.T) {
	u := startUpstream(t, "u1")
	for _, c := range []struct {
		check healthCheck
		want  seen
	}{
		{healthCheck{network: "tcp", name: "example.org.", rd: false, timeout: time.Second}, seen{name: "example.org.", proto: "tcp"}},
		{healthCheck{network: "udp", name: "example.net.", rd: true, timeout: time.Second}, seen{name: "example.net.", proto: "udp", rd: true}},
	} {
		require.NoError(t, c.check.run(context.Background(), u.addr))
		got := u.received()
		last := got[len(got)-1]
		last.id = 0
		assert.Equal(t, c.want, last)
	}

	// Any reply passes, whatever its rcode; none fails within the timeout.
	u.mode.Store(modeDrop)
	start := time.Now()
	err := healthCheck{network: "udp", name: ".", rd: true, timeout: 100 * time.Millisecond}.run(context.Background(), u.addr)
	assert.ErrorContains(t, err, "i/o timeout")
	assert.Less(t, time.Since(start), time.Second)
}

// A shutdown ends a health check in flight at once.
func TestHealthCheckEndsOnShutdown(t *testing.T) {
	u := startUpstream(t, "u1")
	u.mode.Store(modeDrop)
	g := newGroup(with(".", []string{u.addr}, func(o *options) { o.hcInterval = time.Hour }))
	p := g.proxies[0]
	p.healthcheck()
	assert.True(t, p.probing.Load())
	start := time.Now()
	g.stop()
	assert.Less(t, time.Since(start), hcTimeout/2)
	assert.False(t, p.probing.Load())
	assert.Zero(t, p.fails.Load(), "a check cut short by the shutdown is not a failure")
	p.healthcheck()
	assert.False(t, p.probing.Load(), "no check starts after shutdown")
}
