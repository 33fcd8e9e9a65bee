package errors

import (
	"regexp"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("errors", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	e, stacktrace, err := parse(c)
	if err != nil {
		return nil, err
	}
	if stacktrace {
		b, err := plugin.BlockOf(c)
		if err != nil {
			return nil, err
		}
		b.Stacktrace = true
	}
	c.OnShutdown(func() error { e.stop(); return nil })
	return func(next plugin.Handler) plugin.Handler {
		return &Errors{Next: next, shared: e}
	}, nil
}

func parse(c *caddy.Controller) (*consolidator, bool, error) {
	e := &consolidator{}
	stacktrace := false
	seen := 0
	for c.Next() {
		if seen++; seen > 1 {
			return nil, false, c.Err("errors may appear once per server block")
		}
		if len(c.RemainingArgs()) > 0 {
			return nil, false, c.ArgErr()
		}
		for c.NextBlock() {
			switch c.Val() {
			case "stacktrace":
				if len(c.RemainingArgs()) > 0 {
					return nil, false, c.ArgErr()
				}
				stacktrace = true
			case "consolidate":
				p, err := parseConsolidate(c)
				if err != nil {
					return nil, false, err
				}
				e.patterns = append(e.patterns, p)
			default:
				return nil, false, c.Errf("unknown property %q", c.Val())
			}
		}
	}
	return e, stacktrace, nil
}

// parseConsolidate reads "consolidate DURATION REGEXP [LEVEL]".
func parseConsolidate(c *caddy.Controller) (*pattern, error) {
	args := c.RemainingArgs()
	if len(args) < 2 || len(args) > 3 {
		return nil, c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d <= 0 {
		return nil, c.Errf("invalid duration %q", args[0])
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		return nil, c.Errf("invalid regexp %q: %v", args[1], err)
	}
	level := "ERROR"
	if len(args) == 3 {
		var ok bool
		if level, ok = levels[args[2]]; !ok {
			return nil, c.Errf("unknown log level %q (warning, error, info or debug)", args[2])
		}
	}
	return &pattern{period: d, re: re, level: level}, nil
}

var levels = map[string]string{"warning": "WARNING", "error": "ERROR", "info": "INFO", "debug": "DEBUG"}
