package acl

import (
	"strings"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("acl", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	rules, err := parse(c)
	if err != nil {
		return nil, err
	}
	return func(next plugin.Handler) plugin.Handler {
		return &ACL{Next: next, rules: rules}
	}, nil
}

// actions are the ACTION words of the Corefile.
var actions = map[string]action{"allow": actionAllow, "block": actionBlock, "filter": actionFilter, "drop": actionDrop}

// parse reads every acl of the block, each a rule:
//
//	acl [ZONES...] {
//	    ACTION [type QTYPE...] [net SOURCE...]
//	}
func parse(c *caddy.Controller) ([]rule, error) {
	var rules []rule
	for c.Next() {
		zones, err := plugin.ZonesOf(c.RemainingArgs(), c.ServerBlockKeys)
		if err != nil {
			return nil, c.Err(err.Error())
		}
		r := rule{zones: zones}
		for c.NextBlock() {
			p, err := parsePolicy(c)
			if err != nil {
				return nil, err
			}
			r.policies = append(r.policies, p)
		}
		if len(r.policies) == 0 {
			return nil, c.Err("acl needs a block with at least one ACTION line")
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// parsePolicy reads one "ACTION [type QTYPE...] [net SOURCE...]" line. The
// sections may come in any order and more than once; a missing one, or a
// "*" in it, matches everything.
func parsePolicy(c *caddy.Controller) (policy, error) {
	word := c.Val()
	act, ok := actions[strings.ToLower(word)]
	if !ok {
		return policy{}, c.Errf("unknown action %q (allow, block, filter or drop)", word)
	}
	p := policy{action: act}
	var (
		args               = c.RemainingArgs()
		anyType, anySource bool
	)
	for len(args) > 0 {
		section := strings.ToLower(args[0])
		if section != "type" && section != "net" {
			return policy{}, c.Errf("unexpected %q: expect type or net", args[0])
		}
		n := 1
		for n < len(args) && !isSection(args[n]) {
			n++
		}
		values := args[1:n]
		args = args[n:]
		if len(values) == 0 {
			what := "QTYPE"
			if section == "net" {
				what = "SOURCE"
			}
			return policy{}, c.Errf("no %s after %q", what, section)
		}
		for _, v := range values {
			switch {
			case v == "*" && section == "type":
				anyType = true
			case v == "*":
				anySource = true
			case section == "type":
				t, ok := dns.StringToType[strings.ToUpper(v)]
				if !ok {
					return policy{}, c.Errf("unknown query type %q", v)
				}
				p.qtypes = append(p.qtypes, t)
			default:
				prefix, err := plugin.ParseSource(v)
				if err != nil {
					return policy{}, c.Errf("%q is neither an IP address nor a CIDR", v)
				}
				p.sources = append(p.sources, prefix)
			}
		}
	}
	// nil stands for "every": compare a nil slice, not an empty section.
	if anyType {
		p.qtypes = nil
	}
	if anySource {
		p.sources = nil
	}
	return p, nil
}

func isSection(s string) bool {
	s = strings.ToLower(s)
	return s == "type" || s == "net"
}
