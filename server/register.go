package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"

	"github.com/tpdns/tpdns/plugin"
)

func init() {
	caddy.RegisterServerType(plugin.ServerType, caddy.ServerType{
		Directives: plugin.Directives,
		NewContext: newContext,
	})
}

// dnsContext carries one Corefile from parsing to servers: caddy creates one
// per start and per reload.
type dnsContext struct {
	input  Input
	inst   *caddy.Instance
	blocks []*serverBlock
}

// serverBlock is one server block: its normalized keys and what its
// directives configured.
type serverBlock struct {
	plugin.Block
	addrs []plugin.ZoneAddr
}

func newContext(inst *caddy.Instance) caddy.Context {
	in, _ := inst.Caddyfile().(Input)
	return &dnsContext{input: in, inst: inst}
}

// serversKey is where an instance keeps its servers, for the servers of
// the configuration that replaces it to find them.
const serversKey = "tpdns/servers"

// replaced returns the servers on addr of the running instances other than
// inst: during a reload, those of the configuration being replaced.
func replaced(inst *caddy.Instance, addr string) []*Server {
	var out []*Server
	for _, other := range caddy.Instances() {
		if other == inst {
			continue
		}
		other.StorageMu.RLock()
		servers, _ := other.Storage[serversKey].([]*Server)
		other.StorageMu.RUnlock()
		for _, s := range servers {
			if s.addr == addr {
				out = append(out, s)
			}
		}
	}
	return out
}

// Block implements plugin.BlockHolder.
func (c *dnsContext) Block(i int) *plugin.Block { return &c.blocks[i].Block }

// InspectServerBlocks implements caddy.Context: it normalizes every key and
// rejects a zone that two keys serve on the same port.
func (c *dnsContext) InspectServerBlocks(path string, blocks []caddyfile.ServerBlock) ([]caddyfile.ServerBlock, error) {
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no server blocks", path)
	}
	for _, sb := range blocks {
		b := &serverBlock{}
		for _, key := range sb.Keys {
			addrs, err := plugin.ParseKey(key, c.input.port())
			if err != nil {
				return nil, fmt.Errorf("%s: server block key %w", path, err)
			}
			b.addrs = append(b.addrs, addrs...)
		}
		c.blocks = append(c.blocks, b)
	}
	if c.input.inspect != nil {
		c.input.inspect(c)
	}
	return blocks, nil
}

// MakeServers implements caddy.Context: one Server per listen address,
// holding the chains of every zone served there.
func (c *dnsContext) MakeServers() ([]caddy.Server, error) {
	servers, err := c.servers()
	if err != nil {
		return nil, err
	}
	out := make([]caddy.Server, len(servers))
	for i, s := range servers {
		if c.inst != nil {
			// caddy's list of instances may be read only on the goroutine
			// that starts them, this one.
			s.predecessors = replaced(c.inst, s.addr)
		}
		out[i] = s
	}
	if c.inst != nil {
		c.inst.StorageMu.Lock()
		c.inst.Storage[serversKey] = servers
		c.inst.StorageMu.Unlock()
	}
	return out, nil
}

// servers groups the zones by listen address and builds their chains. It
// does not listen, so Validate can call it too.
func (c *dnsContext) servers() ([]*Server, error) {
	var (
		byAddr = map[string]*Server{}
		order  []string
	)
	for _, b := range c.blocks {
		hosts := b.ListenHosts
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		for _, za := range b.addrs {
			for _, host := range hosts {
				addr := net.JoinHostPort(host, za.Port)
				s, ok := byAddr[addr]
				if !ok {
					s = newServer(addr, c.input.Quiet)
					// As in CoreDNS, the first block to listen on an
					// address decides how many sockets it has.
					s.numSockets = max(b.NumSockets, 1)
					byAddr[addr] = s
					order = append(order, addr)
				}
				if err := mergeTCPLimits(&s.tcp, b.TCP); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", c.input.Filename, printableAddr(addr), err)
				}
				if err := mergeTSIG(&s.tsig, b.TSIG); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", c.input.Filename, printableAddr(addr), err)
				}
				if _, dup := s.zones[za.Zone]; dup {
					return nil, fmt.Errorf("%s: zone %s is served twice on %s", c.input.Filename, za.Zone, printableAddr(addr))
				}
				chain, handlers := buildChain(b.Plugins)
				s.zones[za.Zone] = &zoneConfig{
					chain:      chain,
					packet:     newPacketChain(handlers, s.label(), za.Zone),
					stacktrace: b.Stacktrace,
					ctx:        plugin.WithServer(context.Background(), s.label(), za.Zone),
					plugins:    handlerNames(handlers),
				}
			}
		}
	}
	if err := checkOverlap(order); err != nil {
		return nil, fmt.Errorf("%s: %w", c.input.Filename, err)
	}
	var servers []*Server
	for _, addr := range order {
		servers = append(servers, byAddr[addr].withSiblings()...)
	}
	return servers, nil
}

// withSiblings returns s and the servers of the other sockets of its
// address (multisocket), s.numSockets in all: caddy gives each server a
// socket of its own (and hands each one's over on a reload), and they
// share s's zones, limits and keys, and so its chains. Each keeps at most
// its share of the connections max_connections allows the address: the
// kernel spreads the connections evenly over the sockets.
func (s *Server) withSiblings() []*Server {
	if s.numSockets <= 1 {
		return []*Server{s}
	}
	s.tcp = withDefaults(s.tcp)
	if s.tcp.MaxConnections > 0 {
		s.tcp.MaxConnections = (s.tcp.MaxConnections + s.numSockets - 1) / s.numSockets
	}
	s.siblings = make([]*Server, s.numSockets)
	s.siblings[0] = s
	for i := 1; i < s.numSockets; i++ {
		s.siblings[i] = &Server{
			addr: s.addr, zones: s.zones, quiet: s.quiet, tcp: s.tcp, tsig: s.tsig,
			panicSites: s.panicSites, numSockets: s.numSockets, siblings: s.siblings,
		}
	}
	return s.siblings
}

// mergeTCPLimits adds what one block's timeouts set to the limits of a
// listener it shares with other blocks: a limit that two blocks set
// differently is an error, rather than one silently winning.
func mergeTCPLimits(l *plugin.TCPLimits, b plugin.TCPLimits) error {
	durations := []struct {
		name     string
		to, from *time.Duration
	}{
		{"read", &l.ReadTimeout, &b.ReadTimeout},
		{"idle", &l.IdleTimeout, &b.IdleTimeout},
		{"write", &l.WriteTimeout, &b.WriteTimeout},
	}
	for _, d := range durations {
		if *d.from != 0 && *d.to != 0 && *d.from != *d.to {
			return fmt.Errorf("timeouts: %s is %s in one server block and %s in another on the same listener", d.name, *d.to, *d.from)
		}
		if *d.from != 0 {
			*d.to = *d.from
		}
	}
	counts := []struct {
		name      string
		to, from  *int
		unlimited int // as written in the Corefile
	}{
		{"maxtcpqueries", &l.MaxQueries, &b.MaxQueries, -1},
		{"max_connections", &l.MaxConnections, &b.MaxConnections, 0},
	}
	written := func(n, unlimited int) int {
		if n < 0 {
			return unlimited
		}
		return n
	}
	for _, n := range counts {
		if *n.from != 0 && *n.to != 0 && *n.from != *n.to {
			return fmt.Errorf("timeouts: %s is %d in one server block and %d in another on the same listener",
				n.name, written(*n.to, n.unlimited), written(*n.from, n.unlimited))
		}
		if *n.from != 0 {
			*n.to = *n.from
		}
	}
	return nil
}

// checkOverlap rejects listening on every address and on one particular
// address with the same port: the second socket could not be bound.
func checkOverlap(addrs []string) error {
	wildcard := map[string]bool{}
	for _, a := range addrs {
		if host, port, _ := net.SplitHostPort(a); host == "" {
			wildcard[port] = true
		}
	}
	for _, a := range addrs {
		if host, port, _ := net.SplitHostPort(a); host != "" && wildcard[port] {
			return fmt.Errorf("%s overlaps %s: bind every block on port %s to specific addresses, or none", a, printableAddr(":"+port), port)
		}
	}
	return nil
}

func printableAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "*" + addr
	}
	return addr
}

// buildChain links the plugins, outermost first, into one handler, and
// returns it with the handler each plugin made.
func buildChain(plugins []plugin.Plugin) (plugin.Handler, []plugin.Handler) {
	var h plugin.Handler
	handlers := make([]plugin.Handler, len(plugins))
	for i, p := range slices.Backward(plugins) {
		h = p(h)
		handlers[i] = h
	}
	return h, handlers
}

// handlerNames returns the names of handlers, in the chain's order.
func handlerNames(handlers []plugin.Handler) []string {
	names := make([]string, len(handlers))
	for i, h := range handlers {
		names[i] = h.Name()
	}
	return names
}

// Validate sets up the Corefile in, without listening or starting anything,
// and returns what is wrong with it.
func Validate(in Input) error {
	var ctx *dnsContext
	in.inspect = func(c *dnsContext) { ctx = c }
	if err := caddy.ValidateAndExecuteDirectives(in, nil, true); err != nil {
		return err
	}
	if ctx == nil {
		return errors.New("no server blocks")
	}
	_, err := ctx.servers()
	return err
}

// Start sets up the Corefile in and serves it. On error nothing it started
// is left running.
func Start(in Input) (*caddy.Instance, error) {
	inst, err := caddy.Start(in)
	if err != nil {
		Stop(inst)
		return nil, err
	}
	return inst, nil
}

// Stop stops inst gracefully: the plugins' shutdown hooks run first, while
// queries are still answered (so that health's lameduck has a server to
// keep alive), then the listeners close and the queries in flight are
// answered. This is caddy's own order on SIGTERM.
func Stop(inst *caddy.Instance) error {
	if inst == nil {
		return nil
	}
	errs := inst.ShutdownCallbacks()
	inst.Stop()
	return errors.Join(errs...)
}

// mergeTSIG adds the TSIG keys of one block to those of the listener it
// shares with other blocks: a name two blocks define differently is an
// error, as in CoreDNS keys are the server's, not the zone's.
func mergeTSIG(keys *plugin.TSIGKeys, b plugin.TSIGKeys) error {
	for name, k := range b {
		if *keys == nil {
			*keys = plugin.TSIGKeys{}
		}
		if have, ok := (*keys)[name]; ok && (have.Algorithm != k.Algorithm || !bytes.Equal(have.Secret, k.Secret)) {
			return fmt.Errorf("tsig: key %s is defined differently in two server blocks on the same listener", name)
		}
		(*keys)[name] = k
	}
	return nil
}
