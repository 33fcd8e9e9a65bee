package ready

import (
	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// defaultAddress is where /ready is served unless the directive says, as
// in CoreDNS.
const defaultAddress = ":8181"

// storagePrefix keys, by address, the endpoint of a configuration in its
// caddy instance, so that server blocks naming one address share it.
const storagePrefix = "tpdns/ready/"

func init() { plugin.Register("ready", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	addr, err := parse(c)
	if err != nil {
		return nil, err
	}
	if _, ok := c.Get(storagePrefix + addr).(*ready); ok {
		return nil, nil
	}
	rd := &ready{addr: addr}
	c.Set(storagePrefix+addr, rd)
	c.OnStartup(func() error { return rd.start(c) })
	c.OnRestart(func() error { rd.reloading.Store(true); return nil })
	c.OnRestartFailed(func() error { rd.reloading.Store(false); return nil })
	c.OnShutdown(rd.onShutdown)
	c.OnFinalShutdown(rd.stop)
	// No handler: ready is an HTTP server beside the DNS one.
	return nil, nil
}

// parse reads "ready [ADDRESS]".
func parse(c *caddy.Controller) (string, error) {
	return plugin.ParseAddress(c, defaultAddress)
}
