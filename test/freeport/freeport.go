// Package freeport hands out loopback ports for servers under test that take
// their port from a Corefile or a flag, rather than binding port 0 and
// reporting it, and may be other processes (tpdns, coredns, etcd): Port
// hands out a number, and the server binds it later. Nothing else may bind
// it meanwhile, even with `go test` running packages in parallel, so Port
//
//   - picks ports outside the kernel's ephemeral range, which port-0 binds
//     and every outgoing connection draw from (a port the kernel hands out,
//     closed and bound again later, can be any socket's by then);
//   - reserves each port, on Linux, for the life of the test process with a
//     Unix socket in the abstract namespace, @tpdns-test-port-N: it lives in
//     the network namespace the port does and goes when the process ends,
//     and every test process (of either module) skips the ports another
//     holds;
//   - never hands out a port twice in one process, so a server may stop and
//     start again on its port (etcd restarts, reloads), and a port nothing
//     listens on stays that way.
//
// A port is handed out only if it is free for TCP and UDP on 127.0.0.1 (the
// check binds loopback only, as tests may).
//
// Package test offers Port as test.FreePort; the tests of packages that
// should not pull in the server (health, hostname) use this one.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ports are the ones this process holds.
var ports struct {
	once   sync.Once
	lo, hi int // the range to pick from, [lo, hi]; 0, 0: the kernel's

	mu       sync.Mutex
	reserved map[int]net.Listener // nil listener where there is no abstract namespace
}

// Port returns a port, free for both UDP and TCP on 127.0.0.1, that no other
// test process is handed until this one ends.
func Port(t testing.TB) string {
	t.Helper()
	ports.once.Do(pickRange)
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.reserved == nil {
		ports.reserved = map[int]net.Listener{}
	}
	if ports.lo == 0 {
		for range 50 {
			if p := kernelPort(); p != 0 && reserve(p) {
				return strconv.Itoa(p)
			}
		}
	} else {
		n := ports.hi - ports.lo + 1
		start := rand.IntN(n)
		for i := range n {
			if p := ports.lo + (start+i)%n; reserve(p) {
				return strconv.Itoa(p)
			}
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return ""
}

// reserve takes port p for this process if no one has it; ports.mu is held.
func reserve(p int) bool {
	if _, ok := ports.reserved[p]; ok {
		return false
	}
	var hold net.Listener
	if runtime.GOOS == "linux" {
		ln, err := net.Listen("unix", "@tpdns-test-port-"+strconv.Itoa(p))
		if err != nil {
			return false // another test process has it
		}
		hold = ln
	}
	if !bindable(p) {
		if hold != nil {
			hold.Close()
		}
		return false
	}
	ports.reserved[p] = hold
	return true
}

// bindable reports whether port p is free for TCP and UDP on 127.0.0.1.
func bindable(p int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// kernelPort returns a port the kernel picks, 0 if it fails.
func kernelPort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pickRange sets the range Port picks from: below the kernel's ephemeral
// range down to 10000, or else above it, or else (a range that leaves fewer
// than 1000 ports either side) the kernel's own picks.
func pickRange() {
	lo, hi := 32768, 60999 // Linux's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				lo, hi = l, h
			}
		}
	} else if runtime.GOOS != "linux" {
		lo, hi = 49152, 65535 // the IANA range, the BSDs' and macOS's default
	}
	switch {
	case lo-10000 >= 1000:
		ports.lo, ports.hi = 10000, lo-1
	case 65535-hi >= 1000:
		ports.lo, ports.hi = hi+1, 65535
	}
}
