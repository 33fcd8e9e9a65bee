package reload

import (
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// Defaults and floors, as CoreDNS's.
const (
	defaultInterval = 30 * time.Second
	defaultJitter   = 15 * time.Second
	minInterval     = 2 * time.Second
	minJitter       = 1 * time.Second
)

func init() { plugin.Register("reload", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	interval, jitter, err := parse(c)
	if err != nil {
		return nil, err
	}
	// One watcher per configuration, whatever the number of blocks.
	if c.Get(storageKey) == nil {
		w := &watcher{interval: interval, jitter: jitter}
		c.Set(storageKey, w)
		c.OnStartup(func() error { return w.start(c) })
		c.OnShutdown(w.stop)
	}
	return nil, nil
}

func parse(c *caddy.Controller) (time.Duration, time.Duration, error) {
	interval, jitter := defaultInterval, defaultJitter
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return 0, 0, c.Err("reload may appear once per server block")
		}
		args := c.RemainingArgs()
		if len(args) > 2 {
			return 0, 0, c.ArgErr()
		}
		var err error
		if len(args) > 0 {
			if interval, err = time.ParseDuration(args[0]); err != nil || interval < minInterval {
				return 0, 0, c.Errf("interval %q: want a duration of at least %s", args[0], minInterval)
			}
		}
		if len(args) > 1 {
			if jitter, err = time.ParseDuration(args[1]); err != nil || jitter < minJitter {
				return 0, 0, c.Errf("jitter %q: want a duration of at least %s", args[1], minJitter)
			}
		}
		if jitter > interval/2 {
			jitter = interval / 2
		}
		if c.NextBlock() {
			return 0, 0, c.Errf("unknown property %q", c.Val())
		}
	}
	return interval, jitter, nil
}
