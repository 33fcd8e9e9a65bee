package cache

import (
	"context"
	"log"
	"sync"

	"github.com/miekg/dns"
)

// maxRefreshes bounds the background refreshes (prefetch, serve_stale
// immediate) in flight; a hit that would start one more starts none.
const maxRefreshes = 64

// refresher runs the background refreshes of one cache: one goroutine per
// key at most, maxRefreshes in all, all stopped on shutdown.
type refresher struct {
	mu       sync.Mutex
	inflight map[key]struct{}
	closed   bool
	wg       sync.WaitGroup
	ctx      context.Context // done on shutdown
	cancel   context.CancelFunc
}

func newRefresher() *refresher {
	ctx, cancel := context.WithCancel(context.Background())
	return &refresher{inflight: map[key]struct{}{}, ctx: ctx, cancel: cancel}
}

// claim reserves a refresh of k; false when one is running, too many are,
// or the cache is shut down. A claim is followed by run.
func (f *refresher) claim(k key) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, running := f.inflight[k]; running || f.closed || len(f.inflight) >= maxRefreshes {
		return false
	}
	f.inflight[k] = struct{}{}
	f.wg.Add(1)
	return true
}

// run refreshes claimed k with fn in a goroutine; fn's context is done on
// shutdown. A panic in fn is logged: out of the query's goroutine, the
// server cannot recover it.
func (f *refresher) run(k key, fn func(stop context.Context)) {
	go func() {
		defer f.wg.Done()
		defer func() {
			if rec := recover(); rec != nil {
				log.Printf("[ERROR] plugin/cache: refreshing %s %s: %v", k.name, dns.TypeToString[k.qtype], rec)
			}
			f.mu.Lock()
			delete(f.inflight, k)
			f.mu.Unlock()
		}()
		fn(f.ctx)
	}()
}

// stop cancels the refreshes in flight, waits for them, and refuses new ones.
func (f *refresher) stop() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
}
