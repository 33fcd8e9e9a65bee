// Package timeouts implements the timeouts directive: the limits of a
// server block's DNS-over-TCP connections (timeouts, queries per
// connection, open connections). It adds no handler; the server applies
// the limits to its TCP listeners.
package timeouts

import (
	"strconv"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("timeouts", setup) }

// The bounds of a timeout, as CoreDNS's timeouts has them.
const (
	minTimeout = time.Second
	maxTimeout = 24 * time.Hour
)

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	b, err := plugin.BlockOf(c)
	if err != nil {
		return nil, err
	}
	limits, err := parse(c)
	if err != nil {
		return nil, err
	}
	b.TCP = limits
	return nil, nil
}

// parse reads every timeouts line of the block. Its syntax is CoreDNS's,
// with max_connections (the name of CoreDNS's option in its https and
// grpc_server blocks) added.
func parse(c *caddy.Controller) (plugin.TCPLimits, error) {
	var l plugin.TCPLimits
	seen := map[string]bool{}
	for c.Next() {
		if len(c.RemainingArgs()) > 0 {
			return l, c.ArgErr()
		}
		options := 0
		for c.NextBlock() {
			option := c.Val()
			args := c.RemainingArgs()
			if len(args) != 1 {
				return l, c.ArgErr()
			}
			if seen[option] {
				return l, c.Errf("%s given twice", option)
			}
			seen[option] = true
			options++
			var err error
			switch option {
			case "read":
				l.ReadTimeout, err = parseTimeout(c, args[0])
			case "write":
				l.WriteTimeout, err = parseTimeout(c, args[0])
			case "idle":
				l.IdleTimeout, err = parseTimeout(c, args[0])
			case "maxtcpqueries":
				n, perr := strconv.Atoi(args[0])
				if perr != nil || n == 0 || n < -1 {
					return l, c.Errf("maxtcpqueries %q must be -1 (unlimited) or a positive integer", args[0])
				}
				l.MaxQueries = n
			case "max_connections":
				n, perr := strconv.Atoi(args[0])
				if perr != nil || n < 0 {
					return l, c.Errf("max_connections %q must be 0 (unlimited) or a positive integer", args[0])
				}
				// In the block 0 means unset: the server's default.
				l.MaxConnections = n
				if n == 0 {
					l.MaxConnections = -1
				}
			default:
				return l, c.Errf("unknown option %q", option)
			}
			if err != nil {
				return l, err
			}
		}
		if options == 0 {
			return l, c.Err("timeouts block with no timeouts specified")
		}
	}
	return l, nil
}

// parseTimeout reads a duration as CoreDNS does: a bare number is seconds.
func parseTimeout(c *caddy.Controller, arg string) (time.Duration, error) {
	s := arg
	if _, err := strconv.Atoi(s); err == nil {
		s += "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, c.Errf("invalid duration %q", arg)
	}
	if d < minTimeout || d > maxTimeout {
		return 0, c.Errf("timeout %s must be between %s and %s", d, minTimeout, "24h")
	}
	return d, nil
}
