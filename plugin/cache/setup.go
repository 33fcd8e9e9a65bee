package cache

import (
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("cache", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	cfg, err := parse(c)
	if err != nil {
		return nil, err
	}
	s, err := newStore(cfg)
	if err != nil {
		return nil, c.Err(err.Error())
	}
	c.OnShutdown(func() error { s.refresh.stop(); return nil })
	return func(next plugin.Handler) plugin.Handler { return &Cache{Next: next, store: s} }, nil
}

// parse reads the cache directive:
//
//	cache [TTL] [ZONES...] {
//	    success CAPACITY [TTL] [MINTTL]
//	    denial CAPACITY [TTL] [MINTTL]
//	    prefetch AMOUNT [[DURATION] [PERCENTAGE%]]
//	    serve_stale [DURATION] [REFRESH_MODE]
//	    servfail DURATION
//	    disable success|denial [ZONES...]
//	    keepttl
//	}
func parse(c *caddy.Controller) (config, error) {
	cfg := defaultConfig()
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return cfg, c.Err("cache may appear once per server block")
		}
		args := c.RemainingArgs()
		// A first argument that is a number is the TTL, anything else a zone.
		if len(args) > 0 {
			if ttl, err := strconv.Atoi(args[0]); err == nil {
				if ttl <= 0 {
					return cfg, c.Errf("cache TTL can not be zero or negative: %d", ttl)
				}
				cfg.success.maxTTL = time.Duration(ttl) * time.Second
				cfg.denial.maxTTL = cfg.success.maxTTL
				args = args[1:]
			}
		}
		var err error
		if cfg.zones, err = zones(c, args); err != nil {
			return cfg, err
		}
		for c.NextBlock() {
			if err := parseProperty(c, &cfg); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, nil
}

func parseProperty(c *caddy.Controller, cfg *config) error {
	switch c.Val() {
	case "success":
		return parseKind(c, &cfg.success)
	case "denial":
		return parseKind(c, &cfg.denial)
	case "prefetch":
		return parsePrefetch(c, cfg)
	case "serve_stale":
		return parseServeStale(c, cfg)
	case "servfail":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d < 0 {
			return c.Errf("invalid servfail duration %q", args[0])
		}
		if d > maxServfailTTL {
			return c.Errf("caching SERVFAIL responses over %s is not permitted", maxServfailTTL)
		}
		cfg.failTTL = d
	case "disable":
		args := c.RemainingArgs()
		if len(args) == 0 {
			return c.ArgErr()
		}
		var kc *kindConfig
		switch args[0] {
		case "success":
			kc = &cfg.success
		case "denial":
			kc = &cfg.denial
		default:
			return c.Errf("cache type for disable must be %q or %q", "success", "denial")
		}
		zs := []string{"."}
		if len(args) > 1 {
			var err error
			if zs, err = zones(c, args[1:]); err != nil {
				return err
			}
		}
		kc.disabled = zs
	case "keepttl":
		if len(c.RemainingArgs()) > 0 {
			return c.ArgErr()
		}
		cfg.keepTTL = true
	default:
		return c.Errf("unknown property %q", c.Val())
	}
	return nil
}

// parseKind reads "success|denial CAPACITY [TTL] [MINTTL]".
func parseKind(c *caddy.Controller, kc *kindConfig) error {
	args := c.RemainingArgs()
	if len(args) == 0 || len(args) > 3 {
		return c.ArgErr()
	}
	capacity, err := strconv.Atoi(args[0])
	if err != nil || capacity <= 0 {
		return c.Errf("invalid capacity %q", args[0])
	}
	kc.capacity = capacity
	if len(args) > 1 {
		ttl, err := strconv.Atoi(args[1])
		if err != nil {
			return c.Errf("invalid TTL %q", args[1])
		}
		if ttl <= 0 {
			return c.Errf("cache TTL can not be zero or negative: %d", ttl)
		}
		kc.maxTTL = time.Duration(ttl) * time.Second
	}
	if len(args) > 2 {
		ttl, err := strconv.Atoi(args[2])
		if err != nil {
			return c.Errf("invalid min TTL %q", args[2])
		}
		if ttl < 0 {
			return c.Errf("cache min TTL can not be negative: %d", ttl)
		}
		kc.minTTL = time.Duration(ttl) * time.Second
	}
	return nil
}

// parsePrefetch reads "prefetch AMOUNT [[DURATION] [PERCENTAGE%]]".
func parsePrefetch(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) == 0 || len(args) > 3 {
		return c.ArgErr()
	}
	amount, err := strconv.Atoi(args[0])
	if err != nil {
		return c.Errf("invalid prefetch amount %q", args[0])
	}
	if amount < 0 {
		return c.Errf("prefetch amount should be positive: %d", amount)
	}
	cfg.prefetch = amount
	if len(args) > 1 {
		d, err := time.ParseDuration(args[1])
		if err != nil || d <= 0 {
			return c.Errf("invalid prefetch duration %q", args[1])
		}
		cfg.duration = d
	}
	if len(args) > 2 {
		pct, ok := strings.CutSuffix(args[2], "%")
		if !ok {
			return c.Errf("last character of percentage should be `%%`, but is: %q", args[2][len(args[2])-1])
		}
		n, err := strconv.Atoi(pct)
		if err != nil {
			return c.Errf("invalid percentage %q", args[2])
		}
		if n < 10 || n > 90 {
			return c.Errf("percentage should fall in range [10, 90]: %d", n)
		}
		cfg.percentage = n
	}
	return nil
}

// parseServeStale reads "serve_stale [DURATION] [REFRESH_MODE]".
func parseServeStale(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) > 2 {
		return c.ArgErr()
	}
	cfg.staleUpTo = defaultStaleDuration
	if len(args) > 0 {
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return c.Errf("invalid serve_stale duration %q", args[0])
		}
		if d < 0 {
			return c.Err("invalid negative duration for serve_stale")
		}
		cfg.staleUpTo = d
	}
	if len(args) > 1 {
		switch mode := strings.ToLower(args[1]); mode {
		case "immediate", "verify":
			cfg.verifyStale = mode == "verify"
		default:
			return c.Errf("invalid value for serve_stale refresh mode: %s", args[1])
		}
	}
	return nil
}

// zones normalizes the zones given, or returns the server block's when
// none are.
func zones(c *caddy.Controller, args []string) ([]string, error) {
	var out []string
	if len(args) == 0 {
		for _, k := range c.ServerBlockKeys {
			zas, err := plugin.ParseKey(k, "53")
			if err != nil {
				return nil, c.Err(err.Error())
			}
			for _, za := range zas {
				out = append(out, za.Zone)
			}
		}
		return out, nil
	}
	for _, a := range args {
		zs, err := plugin.NormalizeZone(a)
		if err != nil {
			return nil, c.Errf("invalid zone: %v", err)
		}
		out = append(out, zs...)
	}
	return out, nil
}
