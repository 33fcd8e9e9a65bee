package plugin

import (
	"fmt"
	"slices"
	"time"

	"github.com/coredns/caddy"
)

// ServerType is the caddy server type tpdns directives are registered for.
// It is not CoreDNS's "dns", so this package and stock CoreDNS can both be
// linked into one binary without their directive registries colliding.
const ServerType = "tpdns"

// chainOrder is the order in which directives are set up and, for those that
// add a handler, the order of the chain from outermost to innermost. A
// directive's position here, not in the Corefile, decides where it runs.
// bind, timeouts and multisocket only configure the server block and add
// no handler.
var chainOrder = []string{
	"bind", "timeouts", "multisocket",
	"reload", "health", "ready", "prometheus",
	"errors", "log", "rrl", "acl", "tsig", "cache",
	"thirdparty", "forward",
	"whoami",
}

// SetupFunc parses one directive of a server block (c.Next() yields the
// directive's name) and returns the plugin to add to the block's chain, or
// nil when the directive only configures the block (see BlockOf).
type SetupFunc func(c *caddy.Controller) (Plugin, error)

// The directive table: what Register was given, and the names outside
// chainOrder in the order they were registered (test-only plugins).
var (
	setups = map[string]SetupFunc{}
	extra  []string
)

// Register adds directive name to the table. It is meant to be called from
// the init function of the plugin's package. A name that chainOrder does not
// list runs after all the others.
func Register(name string, setup SetupFunc) {
	if _, dup := setups[name]; dup {
		panic("plugin: directive registered twice: " + name)
	}
	setups[name] = setup
	if !slices.Contains(chainOrder, name) {
		extra = append(extra, name)
	}
	caddy.RegisterPlugin(name, caddy.Plugin{ServerType: ServerType, Action: action(name, setup)})
}

// RegisterBefore is Register for a directive that runs just before the
// directive before, which chainOrder lists: tests use it to put a handler
// of their own in front of a plugin.
func RegisterBefore(name, before string, setup SetupFunc) {
	i := slices.Index(chainOrder, before)
	if i < 0 {
		panic("plugin: no directive " + before + " to register " + name + " before")
	}
	chainOrder = slices.Insert(chainOrder, i, name)
	Register(name, setup)
}

// Directives returns the registered directives in chain order.
func Directives() []string {
	var names []string
	for _, name := range chainOrder {
		if _, ok := setups[name]; ok {
			names = append(names, name)
		}
	}
	return append(names, extra...)
}

func action(name string, setup SetupFunc) caddy.SetupFunc {
	return func(c *caddy.Controller) error {
		b, err := BlockOf(c)
		if err != nil {
			return Error(name, err)
		}
		p, err := setup(c)
		if err != nil {
			return Error(name, err)
		}
		if p != nil {
			b.Plugins = append(b.Plugins, p)
		}
		return nil
	}
}

// Block is the configuration one server block collects while its directives
// are set up: the plugins of its chain, in chain order, and what
// block-level directives such as bind change.
type Block struct {
	// Plugins are the block's chain, outermost first.
	Plugins []Plugin
	// ListenHosts are the addresses to listen on; empty means every address.
	ListenHosts []string
	// Stacktrace logs the stack of a panic the server recovers from.
	Stacktrace bool
	// TCP are the limits of the block's DNS-over-TCP connections.
	TCP TCPLimits
	// NumSockets is how many sockets (UDP and TCP each) the block's
	// listeners open on their address, with SO_REUSEPORT; 0 is one,
	// without. The first block to listen on an address decides.
	NumSockets int
	// TSIG are the keys of the block's tsig directive; the server verifies
	// signed queries and signs their replies with the keys of every block
	// it serves.
	TSIG TSIGKeys
}

// TCPLimits are what the timeouts directive sets for the DNS-over-TCP
// connections of a server block's listeners. A zero field leaves the
// server's default; blocks that share a listener may not set a field to
// different values.
type TCPLimits struct {
	// ReadTimeout bounds the wait for a connection's first query,
	// IdleTimeout the wait for each one after it, WriteTimeout the writing
	// of each reply.
	ReadTimeout, IdleTimeout, WriteTimeout time.Duration
	// MaxQueries is how many queries one connection is served before the
	// server closes it; -1 is no limit.
	MaxQueries int
	// MaxConnections is how many connections the listener keeps open at
	// most; -1 is no limit.
	MaxConnections int
}

// BlockHolder is implemented by the server type's caddy.Context: it owns the
// Block of each server block while the Corefile is being set up.
type BlockHolder interface {
	Block(serverBlockIndex int) *Block
}

// BlockOf returns the Block of the server block c is setting up.
func BlockOf(c *caddy.Controller) (*Block, error) {
	h, ok := c.Context().(BlockHolder)
	if !ok {
		return nil, fmt.Errorf("server type %q does not hold tpdns server blocks", c.ServerType())
	}
	return h.Block(c.ServerBlockIndex), nil
}

// Reloadable is implemented by the server type's Corefile input: a copy of
// it with other contents keeps the settings the command line gave it.
type Reloadable interface {
	caddy.Input
	WithContents(contents []byte) caddy.Input
}
