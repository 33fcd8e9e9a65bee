package forward

import (
	"context"
	"sync"
)

// lifecycle runs the goroutines of a group (health checks, the expiry of
// idle connections) and ends them when the configuration shuts down. A
// goroutine asked for after that is not started.
type lifecycle struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func newLifecycle() *lifecycle {
	ctx, cancel := context.WithCancel(context.Background())
	return &lifecycle{ctx: ctx, cancel: cancel}
}

// spawn runs f in a goroutine of its own, with a context that ends on
// stop. It reports false, and runs nothing, once stop has been called.
func (l *lifecycle) spawn(f func(ctx context.Context)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f(l.ctx)
	}()
	return true
}

// stop cancels the goroutines' context and waits for them to return.
func (l *lifecycle) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}
