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

	panicSites panicSites // of the packet path, logged with their stacks

	mu      sync.Mutex
	stopped bool
	running []*transport
	sockets []interface{ Close() error }
}

// zoneConfig is what the server needs to answer for one zone.
type zoneConfig struct {
	chain      plugin.Handler // nil when the block has no plugins
	packet     *packetChain   // nil when the chain has no packet path
	stacktrace bool
	ctx        context.Context // carries the server and the zone for metrics
}

// transport is one miekg/dns server, UDP or TCP, or one batched UDP
// server, of a Server.
type transport struct {
	srv     *dns.Server
	tcp     *drainListener // nil for UDP
	udp     *udpServer     // instead of srv
	started chan struct{}  // closed once srv serves or has given up
	done    chan struct{}  // closed when srv has returned
	once    sync.Once
}

func (t *transport) markStarted() { t.once.Do(func() { close(t.started) }) }

// stop stops reading new queries and waits, until ctx ends, for the
// queries in flight to be answered.
func (t *transport) stop(ctx context.Context) {
	<-t.started
	if t.udp != nil {
		t.udp.stop(ctx)
		return
	}
	if t.tcp != nil {
		t.tcp.drain(time.Now().Add(tcpDrainGrace))
		select {
		case <-t.done:
		case <-ctx.Done():
		}
		return
	}
	// An error means the transport had already ended: nothing to stop.
	_ = t.srv.ShutdownContext(ctx)
}

var _ caddy.GracefulServer = (*Server)(nil)

// label is the server's address as metrics name it.
func (s *Server) label() string { return "dns://" + s.addr }

func newServer(addr string, quiet bool) *Server {
	return &Server{addr: addr, zones: map[string]*zoneConfig{}, quiet: quiet}
}

// Address implements caddy.GracefulServer: reloads pair old and new servers
// by it.
func (s *Server) Address() string { return s.addr }

// WrapListener implements caddy.GracefulServer.
func (s *Server) WrapListener(ln net.Listener) net.Listener { return ln }

// Listen implements caddy.TCPServer.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, err
	}
	s.remember(ln)
	return ln, nil
}

// ListenPacket implements caddy.UDPServer.
func (s *Server) ListenPacket() (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", s.addr)
	if err != nil {
		return nil, err
	}
	s.remember(pc)
	return pc, nil
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
	dl := newDrainListener(ln)
	return s.serveMiekg(&transport{srv: &dns.Server{Listener: dl, Net: "tcp"}, tcp: dl}, ln)
}

// ServePacket implements caddy.UDPServer.
func (s *Server) ServePacket(pc net.PacketConn) error {
	if u := newUDPServer(s, pc); u != nil {
		t := &transport{udp: u}
		return s.serve(t, pc, func() error { return u.serve(t.markStarted) })
	}
	// Read whole datagrams, however large, so that an oversized query is
	// answered FORMERR instead of being cut short.
	return s.serveMiekg(&transport{srv: &dns.Server{PacketConn: pc, Net: "udp", UDPSize: dns.MaxMsgSize}}, pc)
}

// serveMiekg serves t's miekg/dns server on sock.
func (s *Server) serveMiekg(t *transport, sock interface{ Close() error }) error {
	t.srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		s.serveDNS(w, r)
	})
	t.srv.NotifyStartedFunc = t.markStarted
	return s.serve(t, sock, t.srv.ActivateAndServe)
}

// serve runs t on sock until it stops, unless Stop has run already.
func (s *Server) serve(t *transport, sock interface{ Close() error }, run func() error) error {
	t.started, t.done = make(chan struct{}), make(chan struct{})
	if !s.track(t, sock) {
		return sock.Close()
	}
	defer close(t.done)
	defer t.markStarted()
	return run()
}

// track makes Stop stop t and close sock; false when Stop has run already.
func (s *Server) track(t *transport, sock interface{ Close() error }) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.sockets = append(s.sockets, sock)
	s.running = append(s.running, t)
	return true
}

// Stop implements caddy.Stopper: it stops reading new queries, waits up to
// shutdownTimeout for those in flight, and closes the sockets.
func (s *Server) Stop() error {
	s.mu.Lock()
	s.stopped = true
	running, sockets := s.running, s.sockets
	s.running, s.sockets = nil, nil
	s.mu.Unlock()

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
	return nil
}

// OnStartupComplete implements caddy.AfterStartup: it lists what is served.
func (s *Server) OnStartupComplete() {
	if s.quiet {
		return
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

	if len(r.Question) != 1 {
		writeError(rw, r, dns.RcodeFormatError)
		return
	}
	if opt := r.IsEdns0(); opt != nil && opt.Version() != 0 {
		writeError(rw, r, dns.RcodeBadVers)
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
