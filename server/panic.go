package server

import (
	"log"
	"runtime"
	"runtime/debug"
	"sync"
)

// A panic in the packet path is recovered per datagram: it counts in
// tpdns_panics_total, and the datagram goes to the chain as a query the
// packet path declined would (where a panic of the chain is answered
// SERVFAIL). The packet path sees every datagram of its zones, so one bug
// would otherwise log a stack per query: the first panic at each place in
// the code is logged with its stack, and its repeats are only counted.

// maxPanicSites bounds the places remembered as logged: past it, a panic at
// a new place is counted and not logged, so that the log and the memory stay
// bounded whatever the panics.
const maxPanicSites = 64

// panicStackDepth is how many frames tell one place of a panic from
// another: the panicking function and its callers down to the UDP reader.
const panicStackDepth = 32

// panicSites are the places in the code of the packet-path panics a Server
// logged. A reload makes new Servers, so each configuration logs its own.
type panicSites struct {
	mu     sync.Mutex
	logged map[[panicStackDepth]uintptr]struct{}
}

// first reports whether pcs is a place not logged yet, and remembers it.
func (p *panicSites) first(pcs [panicStackDepth]uintptr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.logged[pcs]; ok || len(p.logged) >= maxPanicSites {
		return false
	}
	if p.logged == nil {
		p.logged = map[[panicStackDepth]uintptr]struct{}{}
	}
	p.logged[pcs] = struct{}{}
	return true
}

// packetPanicked counts the panic rec the packet path recovered from and,
// if it is the first at its place, logs it with its stack and then, what
// becomes of the query. It must be called by the deferred function that
// recovered, while the panicking frames are still on the stack.
func (s *Server) packetPanicked(rec any, then string) {
	panics.Inc()
	var pcs [panicStackDepth]uintptr
	// The program counters, not the value: a value such as "index 37 out
	// of range" differs per query where the place does not.
	runtime.Callers(2, pcs[:])
	if !s.panicSites.first(pcs) {
		return
	}
	log.Printf("[ERROR] Recovered from panic in the packet path of server %q: %v (%s; later panics here are only counted, in tpdns_panics_total)\n%s",
		printableAddr(s.addr), rec, then, debug.Stack())
}
