package log

import (
	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("log", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	rules, err := parse(c)
	if err != nil {
		return nil, err
	}
	out := newLineWriter(dropped)
	c.OnStartup(func() error { out.start(); return nil })
	c.OnShutdown(func() error { out.stop(); return nil })
	return func(next plugin.Handler) plugin.Handler {
		return &Logger{Next: next, Rules: rules, out: out}
	}, nil
}

// parse reads every log line of the block:
//
//	log [NAMES...] [FORMAT] { class CLASSES... }
//
// The last argument is the format when it contains a placeholder; the
// others are names.
func parse(c *caddy.Controller) ([]Rule, error) {
	var rules []Rule
	for c.Next() {
		args := c.RemainingArgs()
		format := DefaultFormat
		if len(args) > 0 && containsPlaceholder(args[len(args)-1]) {
			format = args[len(args)-1]
			args = args[:len(args)-1]
		}
		if len(args) == 0 {
			args = []string{"."}
		}
		f, err := compile(format)
		if err != nil {
			return nil, c.Err(err.Error())
		}
		classes := classAll
		for c.NextBlock() {
			if c.Val() != "class" {
				return nil, c.Errf("unknown property %q", c.Val())
			}
			names := c.RemainingArgs()
			if len(names) == 0 {
				return nil, c.ArgErr()
			}
			if classes == classAll {
				classes = 0
			}
			for _, n := range names {
				cl, ok := classNames[n]
				if !ok {
					return nil, c.Errf("unknown class %q (all, success, denial or error)", n)
				}
				classes |= cl
			}
		}
		for _, name := range args {
			zone := dns.CanonicalName(name)
			if _, ok := dns.IsDomainName(zone); !ok {
				return nil, c.Errf("%q is not a domain name", name)
			}
			rules = append(rules, Rule{Zone: zone, format: f, classes: classes})
		}
	}
	return rules, nil
}
