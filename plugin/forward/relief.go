package forward

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// An overload leaves memory behind. The queries in flight when
// max_concurrent was reached held a goroutine stack, buffers and a socket
// each, up to tryTimeout; when they end, that memory goes back to the Go
// heap but not to the operating system: the runtime returns it only after
// a garbage collection that an idle server may not run for two minutes,
// and then slowly. So once a group that refused queries has few in flight
// again, the memory is handed back at once.
const (
	// reliefCheck is how often a group looks whether its overload is over.
	reliefCheck = time.Second
	// reliefEvery spaces the reliefs of all groups: each is a full garbage
	// collection.
	reliefEvery = 30 * time.Second
)

// lastRelief is when memory was last handed back, in Unix nanoseconds.
var lastRelief atomic.Int64

// relieve hands the memory of an overload back, every reliefCheck, once
// the overload is over: queries were refused since the last relief, and
// now at most a quarter of max_concurrent are in flight.
func (g *group) relieve(ctx context.Context) {
	t := time.NewTicker(reliefCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if g.overloaded.Load() && g.concurrent.Load() <= g.opts.maxConcurrent/4 && relief(now) {
				g.overloaded.Store(false)
			}
		}
	}
}

// relief frees the memory the Go runtime holds unused, unless it did less
// than reliefEvery before now; it reports whether it did.
func relief(now time.Time) bool {
	last := lastRelief.Load()
	if now.UnixNano()-last < int64(reliefEvery) || !lastRelief.CompareAndSwap(last, now.UnixNano()) {
		return false
	}
	// Two collections: the first moves what sync.Pools hold (the buffers
	// of the queries) to their victim caches, the second frees it.
	runtime.GC()
	debug.FreeOSMemory()
	return true
}
