package prometheus

import (
	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// defaultAddress is where /metrics is served unless the directive says.
const defaultAddress = "localhost:9153"

func init() { plugin.Register("prometheus", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	addr, err := parse(c)
	if err != nil {
		return nil, err
	}
	// Server blocks naming the same address share one HTTP server.
	key := "tpdns/prometheus/" + addr
	if _, started := c.Get(key).(*exporter); !started {
		e := &exporter{addr: addr}
		c.Set(key, e)
		c.OnStartup(func() error { return e.start(c) })
		c.OnShutdown(e.stop)
	}
	return func(next plugin.Handler) plugin.Handler { return &Metrics{Next: next} }, nil
}

func parse(c *caddy.Controller) (string, error) {
	return plugin.ParseAddress(c, defaultAddress)
}
