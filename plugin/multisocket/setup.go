// Package multisocket implements the multisocket directive: how many
// sockets the server block's listeners open on their address, with
// SO_REUSEPORT, so that the kernel spreads the queries over as many readers.
package multisocket

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// maxNumSockets is CoreDNS's bound.
const maxNumSockets = 1024

func init() { plugin.Register("multisocket", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	b, err := plugin.BlockOf(c)
	if err != nil {
		return nil, err
	}
	n, err := parse(c)
	if err != nil {
		return nil, err
	}
	b.NumSockets = n
	return nil, nil
}

// parse reads the directive, CoreDNS's: once per block, at most one
// argument, GOMAXPROCS without one.
func parse(c *caddy.Controller) (int, error) {
	c.Next() // "multisocket"
	args := c.RemainingArgs()
	if len(args) > 1 || c.Next() {
		return 0, c.ArgErr()
	}
	if len(args) == 0 {
		return runtime.GOMAXPROCS(0), nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, fmt.Errorf("invalid num sockets: %w", err)
	}
	if n < 1 {
		return 0, fmt.Errorf("num sockets can not be zero or negative: %d", n)
	}
	if n > maxNumSockets {
		return 0, fmt.Errorf("num sockets exceeds maximum (%d): %d", maxNumSockets, n)
	}
	return n, nil
}
