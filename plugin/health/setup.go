package health

import (
	"net"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// defaultAddress is where /health is served unless the directive says, as
// in CoreDNS.
const defaultAddress = ":8080"

func init() { plugin.Register("health", setup) }

// storagePrefix keys, by address, the endpoint of a configuration in its
// caddy instance, so that server blocks naming one address share it.
const storagePrefix = "tpdns/health/"

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	addr, lameduck, err := parse(c)
	if err != nil {
		return nil, err
	}
	if h, ok := c.Get(storagePrefix + addr).(*health); ok {
		h.lameduck = max(h.lameduck, lameduck)
		return nil, nil
	}
	h := &health{addr: addr, lameduck: lameduck}
	c.Set(storagePrefix+addr, h)
	c.OnStartup(func() error { return h.start(c) })
	c.OnRestart(func() error { h.reloading.Store(true); return nil })
	c.OnRestartFailed(func() error { h.reloading.Store(false); return nil })
	c.OnShutdown(h.onShutdown)
	c.OnFinalShutdown(h.onFinalShutdown)
	// No handler: health is an HTTP server beside the DNS one.
	return nil, nil
}

// parse reads "health [ADDRESS] { lameduck DURATION }".
func parse(c *caddy.Controller) (string, time.Duration, error) {
	addr, lameduck := defaultAddress, time.Duration(0)
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return "", 0, c.Err("health may appear once per server block")
		}
		args := c.RemainingArgs()
		switch len(args) {
		case 0:
		case 1:
			if _, _, err := net.SplitHostPort(args[0]); err != nil {
				return "", 0, c.Errf("%q is not HOST:PORT", args[0])
			}
			addr = args[0]
		default:
			return "", 0, c.ArgErr()
		}
		for c.NextBlock() {
			if c.Val() != "lameduck" {
				return "", 0, c.Errf("unknown property %q", c.Val())
			}
			args := c.RemainingArgs()
			if len(args) != 1 {
				return "", 0, c.ArgErr()
			}
			d, err := time.ParseDuration(args[0])
			if err != nil || d < 0 {
				return "", 0, c.Errf("invalid lameduck duration %q", args[0])
			}
			lameduck = d
		}
	}
	return addr, lameduck, nil
}
