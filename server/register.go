package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

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
	return &dnsContext{input: in}
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
		out[i] = s
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
					byAddr[addr] = s
					order = append(order, addr)
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
				}
			}
		}
	}
	if err := checkOverlap(order); err != nil {
		return nil, fmt.Errorf("%s: %w", c.input.Filename, err)
	}
	servers := make([]*Server, len(order))
	for i, addr := range order {
		servers[i] = byAddr[addr]
	}
	return servers, nil
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
