// Package server is the tpdns server type for caddy: it turns a Corefile
// into listeners, routes each query to the plugin chain of the most
// specific zone, and makes every reply fit its transport.
package server

import (
	"context"
	"fmt"
	"log"
	"maps"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

const (
	// shutdownTimeout bounds how long Stop waits for queries in flight.
	shutdownTimeout = 5 * time.Second
	// tcpDrainGrace is how long a stopping server keeps reading the TCP
	// connections it has accepted: long enough for a query a client sent
	// right after connecting, short enough not to stall a reload on idle
	// connections.
	tcpDrainGrace = 500 * time.Millisecond
)

// Server serves the zones of one listen address over UDP and TCP. It
// implements caddy.GracefulServer, so a reload hands its sockets to the
// next configuration's Server for the same address.
type Server struct {
	addr  string
	zones map[string]*zoneConfig
	quiet bool
	tcp   plugin.TCPLimits // as the blocks set them; defaults where unset
	// tsig are the TSIG keys of every block on the listener: signed queries
	// are verified with them and their replies signed; nil without tsig.
	tsig plugin.TSIGKeys

	panicSites *panicSites // of the packet path, logged with their stacks; shared with its siblings

	// numSockets is how many sockets its address has (multisocket), each
	// served by one of siblings, the servers of the address in this
	// configuration (s among them; nil with one socket).
	numSockets int
	siblings   []*Server

	// successor is the server of the configuration that replaced this
	// one on its address, once it serves (see handOver); predecessors are
	// those it replaced.
	successor    atomic.Pointer[Server]
	predecessors []*Server
	takeOverOnce sync.Once

	mu       sync.Mutex
	stopped  bool
	finished bool // Stop is done: nothing is read any more
	running  []*transport
	sockets  []interface{ Close() error }
}

// zoneConfig is what the server needs to answer for one zone.
type zoneConfig struct {
	chain      plugin.Handler // nil when the block has no plugins
	packet     *packetChain   // nil when the chain has no packet path
	stacktrace bool
	ctx        context.Context // carries the server and the zone for metrics
	plugins    []string        // the names of the chain's handlers, for tpdns_plugin_enabled
}

// transport is one of a Server's listeners and what serves it: a
// tcpServer, a udpServer (batched, on Linux) or a packetConnServer.
type transport struct {
	run interface {
		serve(started func()) error
		// stop stops reading new queries and waits, until ctx ends, for
		// the queries in flight to be answered.
		stop(ctx context.Context)
	}
	started chan struct{} // closed once run serves or has given up
	once    sync.Once
}

func (t *transport) markStarted() { t.once.Do(func() { close(t.started) }) }

// stop stops t once it has started.
func (t *transport) stop(ctx context.Context) {
	<-t.started
	t.run.stop(ctx)
}

var _ caddy.GracefulServer = (*Server)(nil)

// label is the server's address as metrics name it.
func (s *Server) label() string { return "dns://" + s.addr }

func newServer(addr string, quiet bool) *Server {
	return &Server{addr: addr, zones: map[string]*zoneConfig{}, quiet: quiet, panicSites: &panicSites{}, numSockets: 1}
}

// group is the servers of s's address in its configuration: its siblings,
// or s alone.
func (s *Server) group() []*Server {
	if s.siblings == nil {
		return []*Server{s}
	}
	return s.siblings
}

// Address implements caddy.GracefulServer: reloads pair old and new servers
// by it.
func (s *Server) Address() string { return s.addr }

// WrapListener implements caddy.GracefulServer.
func (s *Server) WrapListener(ln net.Listener) net.Listener { return ln }

// Listen implements caddy.TCPServer.
func (s *Server) Listen() (net.Listener, error) {
	lc, err := s.listenConfig()
	if err != nil {
		return nil, err
	}
	ln, err := lc.Listen(context.Background(), "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	s.remember(ln)
	return ln, nil
}

// ListenPacket implements caddy.UDPServer.
func (s *Server) ListenPacket() (net.PacketConn, error) {
	lc, err := s.listenConfig()
	if err != nil {
		return nil, err
	}
	pc, err := lc.ListenPacket(context.Background(), "udp", s.addr)
	if err != nil {
		return nil, err
	}
	s.remember(pc)
	return pc, nil
}

// listenConfig is how s opens a socket: with SO_REUSEPORT when its address
// has several (multisocket), so that each of them binds the address and
// the kernel spreads the datagrams and connections over them by their
// addresses and ports. The sockets s replaces (a reload) share the address
// until they close, and caddy hands some of them over: they are given
// SO_REUSEPORT as well first, which Linux honours on a bound socket, for a
// reload to a configuration with multisocket from one without.
func (s *Server) listenConfig() (*net.ListenConfig, error) {
	if s.numSockets <= 1 {
		return &net.ListenConfig{}, nil
	}
	for _, p := range s.predecessors {
		if err := p.reusePort(); err != nil {
			return nil, fmt.Errorf("multisocket: cannot share %s with the sockets of the configuration it replaces: %w", printableAddr(s.addr), err)
		}
	}
	return &net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error { return reusePortRaw(c) }}, nil
}

// reusePort sets SO_REUSEPORT on the sockets of s.
func (s *Server) reusePort() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sock := range s.sockets {
		if c, ok := sock.(syscall.Conn); ok {
			if err := reusePort(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// remember keeps a socket so that Stop closes it even if it is never served
// (when a later server of the same start fails to listen).
func (s *Server) remember(c interface{ Close() error }) {
	s.mu.Lock()
	s.sockets = append(s.sockets, c)
	s.mu.Unlock()
}

// Serve implements caddy.TCPServer.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(&transport{run: newTCPServer(s, ln)}, ln)
}

// current is the server that answers what s reads: s, or the newest of
// the configurations that replaced it.
func (s *Server) current() *Server {
	for next := s.successor.Load(); next != nil; next = s.successor.Load() {
		s = next
	}
	return s
}

// takeOver makes s the server of its address, as it begins to serve: the
// servers of the configurations it replaces (a reload) answer what they
// still read with s's chains from now on. A reload shares the sockets, and
// the old servers keep reading until they stop; without this a query could
// get the old configuration's answer after another got the new one's.
func (s *Server) takeOver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// One that has finished stopping (caddy may stop it before this runs)
	// reads nothing more, and is let go with its chains; one still
	// stopping reads until it is done, then lets go itself (Stop).
	s.predecessors = slices.DeleteFunc(s.predecessors, func(p *Server) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.finished {
			p.successor.Store(s)
		}
		return p.finished
	})
}

// ServePacket implements caddy.UDPServer.
func (s *Server) ServePacket(pc net.PacketConn) error {
	if u := newUDPServer(s, pc); u != nil {
		return s.serve(&transport{run: u}, pc)
	}
	return s.serve(&transport{run: newPacketConnServer(s, pc)}, pc)
}

// serve runs t on sock until it stops, unless Stop has run already.
func (s *Server) serve(t *transport, sock interface{ Close() error }) error {
	s.takeOverOnce.Do(s.takeOver)
	t.started = make(chan struct{})
	if !s.track(t, sock) {
		return sock.Close()
	}
	defer t.markStarted()
	return t.run.serve(t.markStarted)
}

// track makes Stop stop t and close sock; false when Stop has run already.
func (s *Server) track(t *transport, sock interface{ Close() error }) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	enabled.add(s)
	s.sockets = append(s.sockets, sock)
	s.running = append(s.running, t)
	return true
}

// Stop implements caddy.Stopper: it stops reading new queries, waits up to
// shutdownTimeout for those in flight, and closes the sockets.
func (s *Server) Stop() error {
	s.mu.Lock()
	s.stopped = true
	running, sockets, predecessors := s.running, s.sockets, s.predecessors
	s.running, s.sockets, s.predecessors = nil, nil, nil
	s.mu.Unlock()
	enabled.remove(s) // after stopped: track adds no more
	// A configuration that stops before the one it replaced (its start
	// failed) gives the address back.
	for _, p := range predecessors {
		p.successor.CompareAndSwap(s, nil)
	}

	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, t := range running {
		wg.Go(func() { t.stop(ctx) })
	}
	wg.Wait()
	for _, c := range sockets {
		c.Close()
	}
	// Replaced and done reading: the successor forgets it, and so its
	// chains.
	s.mu.Lock()
	s.finished = true
	next := s.successor.Load()
	s.mu.Unlock()
	if next != nil {
		for _, n := range next.group() {
			n.mu.Lock()
			n.predecessors = slices.DeleteFunc(n.predecessors, func(p *Server) bool { return p == s })
			n.mu.Unlock()
		}
	}
	return nil
}

// OnStartupComplete implements caddy.AfterStartup: it lists what is served.
func (s *Server) OnStartupComplete() {
	if s.quiet || s.group()[0] != s {
		return // quiet, or one of its siblings lists the zones
	}
	host, port, _ := net.SplitHostPort(s.addr)
	for _, zone := range slices.Sorted(maps.Keys(s.zones)) {
		if host == "" {
			fmt.Printf("%s:%s\n", zone, port)
		} else {
			fmt.Printf("%s:%s on %s\n", zone, port, host)
		}
	}
}

// serveDNS answers r: it picks the chain of the most specific zone that
// contains the query name ("." last), runs it with the zone's context
// (which carries the server and zone for metrics), and writes the reply the
// chain left to the server. A panic in a plugin is counted in
// tpdns_panics_total, logged and answered SERVFAIL; the server goes on.
// Each one is logged, as CoreDNS logs them (with the stack when the block's
// errors has stacktrace); the packet path logs each place once instead (see
// packetPanicked).
func (s *Server) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	rw := &responseWriter{ResponseWriter: w, req: r}
	var zone *zoneConfig
	defer func() {
		if rec := recover(); rec != nil {
			panics.Inc()
			if zone != nil && zone.stacktrace {
				log.Printf("[ERROR] Recovered from panic in server %q: %v\n%s", printableAddr(s.addr), rec, debug.Stack())
			} else {
				log.Printf("[ERROR] Recovered from panic in server %q: %v", printableAddr(s.addr), rec)
			}
			if !rw.written {
				writeError(rw, r, dns.RcodeServerFailure)
			}
		}
	}()

	if rcode := s.checkEDNS(rw, r); rcode != dns.RcodeSuccess {
		writeError(rw, r, rcode)
		return
	}
	if len(r.Question) != 1 {
		rcode := dns.RcodeFormatError
		if len(r.Question) == 0 && rw.cookie != nil {
			rcode = dns.RcodeSuccess // RFC 7873 section 5.4: a request for our cookie
		}
		writeError(rw, r, rcode)
		return
	}
	zone = s.match(r.Question[0].Name)
	if zone == nil || zone.chain == nil {
		writeError(rw, r, dns.RcodeRefused)
		return
	}
	rcode, _ := zone.chain.ServeDNS(zone.ctx, rw, r)
	if !plugin.ClientWrite(rcode) && !rw.written {
		writeError(rw, r, rcode)
	}
}

// checkEDNS checks the query's EDNS0 (RFC 6891, RFC 7873) and notes its
// client cookie in rw: the rcode to answer r with when it fails, NOERROR
// when it passes.
func (s *Server) checkEDNS(rw *responseWriter, r *dns.Msg) int {
	var opt *dns.OPT
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil {
				return dns.RcodeFormatError // more than one OPT record
			}
			opt = o
		}
	}
	if opt == nil {
		return dns.RcodeSuccess
	}
	if opt.Version() != 0 {
		return dns.RcodeBadVers
	}
	cookie, ok := clientCookie(opt)
	if !ok {
		return dns.RcodeFormatError
	}
	rw.cookie = cookie
	return dns.RcodeSuccess
}

// match returns the configuration of the most specific zone containing name.
func (s *Server) match(name string) *zoneConfig {
	name = strings.ToLower(name)
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z, ok := s.zones[name[off:]]; ok {
			return z
		}
	}
	return s.zones["."]
}

// writeError answers r with rcode and nothing else.
func writeError(w dns.ResponseWriter, r *dns.Msg, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	_ = w.WriteMsg(m) // a client that went away needs no reply
}
