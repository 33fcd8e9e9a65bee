package forward

import (
	"math/rand/v2"
	"sync/atomic"
)

// policy is the order in which a query tries the upstreams.
type policy int

const (
	// randomPolicy shuffles the upstreams for every query.
	randomPolicy policy = iota
	// roundRobinPolicy starts every query at the upstream after the one
	// the previous query started at.
	roundRobinPolicy
	// sequentialPolicy always tries the upstreams in the order written.
	sequentialPolicy
)

// policies are the names the Corefile gives them.
var policies = map[string]policy{
	"random":      randomPolicy,
	"round_robin": roundRobinPolicy,
	"sequential":  sequentialPolicy,
}

// order fills idx with the indexes of the upstreams (0..len(idx)-1) in the
// order to try them. robin is the round-robin position of the group.
func (p policy) order(idx []int, robin *atomic.Uint32) {
	n := len(idx)
	switch p {
	case roundRobinPolicy:
		start := int((robin.Add(1) - 1) % uint32(n))
		for i := range idx {
			idx[i] = (start + i) % n
		}
	case sequentialPolicy:
		for i := range idx {
			idx[i] = i
		}
	default:
		for i := range idx {
			idx[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j := rand.IntN(i + 1)
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
}
