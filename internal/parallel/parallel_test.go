package parallel

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunCoversEveryItemOnce(t *testing.T) {
	for _, n := range []int{0, 1, 999, 1000, 2500, 10001} {
		var mu sync.Mutex
		seen := make([]int, n)
		parts := map[int]bool{}
		Run(n, 1000, func(part, from, to int) {
			mu.Lock()
			defer mu.Unlock()
			parts[part] = true
			for i := from; i < to; i++ {
				seen[i]++
			}
		})
		for i, c := range seen {
			assert.Equal(t, 1, c, "item %d of %d", i, n)
		}
		assert.Len(t, parts, Parts(n, 1000), "%d items", n)
	}
}

func TestPartsAreNeverTooSmall(t *testing.T) {
	assert.Equal(t, 1, Parts(0, 1000))
	assert.Equal(t, 1, Parts(1999, 1000))
	assert.Equal(t, min(runtime.GOMAXPROCS(0), 2), Parts(2000, 1000))
	assert.Equal(t, runtime.GOMAXPROCS(0), Parts(1000*runtime.GOMAXPROCS(0), 1000))
}
