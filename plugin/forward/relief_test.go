package forward

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReliefAfterOverload(t *testing.T) {
	g := newGroup(with(".", []string{"127.0.0.1:53"}, func(o *options) { o.maxConcurrent = 8 }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.relieve(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	lastRelief.Store(0)

	g.overloaded.Store(true)
	g.concurrent.Store(3) // above a quarter of max_concurrent: the overload goes on
	time.Sleep(3 * reliefCheck / 2)
	assert.True(t, g.overloaded.Load(), "no relief while the overload goes on")
	assert.Zero(t, lastRelief.Load())

	g.concurrent.Store(2)
	eventually(t, func() bool { return !g.overloaded.Load() }, "relief once the overload is over")
	last := lastRelief.Load()
	assert.NotZero(t, last)

	g.overloaded.Store(true) // another overload, within reliefEvery
	time.Sleep(3 * reliefCheck / 2)
	assert.True(t, g.overloaded.Load(), "at most one relief every reliefEvery")
	assert.Equal(t, last, lastRelief.Load())
}
