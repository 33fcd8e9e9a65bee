// Package parallel cuts work on a list into contiguous parts, one per
// processor, so that loading a large registry uses every core.
package parallel

import (
	"runtime"
	"sync"
)

// Parts is how many parts n items are cut into: one per processor, none of
// fewer than minPart items, and at least one.
func Parts(n, minPart int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minPart))
}

// Run cuts n items into Parts(n, minPart) contiguous parts and calls f with
// the index and bounds of each, concurrently, and returns when every call
// has. A single part runs on the calling goroutine.
func Run(n, minPart int, f func(part, from, to int)) {
	parts := Parts(n, minPart)
	if parts == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { f(p, p*n/parts, (p+1)*n/parts) })
	}
	wg.Wait()
}
