package plugin

import (
	"net"

	"github.com/coredns/caddy"
)

// ParseAddress reads a directive of the form "NAME [ADDRESS]", once per
// server block and without a block of properties, and returns ADDRESS
// (HOST:PORT), or def when none is given.
func ParseAddress(c *caddy.Controller, def string) (string, error) {
	addr := def
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return "", c.Errf("%s may appear once per server block", c.Val())
		}
		args := c.RemainingArgs()
		switch len(args) {
		case 0:
		case 1:
			if _, _, err := net.SplitHostPort(args[0]); err != nil {
				return "", c.Errf("%q is not HOST:PORT", args[0])
			}
			addr = args[0]
		default:
			return "", c.ArgErr()
		}
		if c.NextBlock() {
			return "", c.Errf("unknown property %q", c.Val())
		}
	}
	return addr, nil
}
