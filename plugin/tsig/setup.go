package tsig

import (
	"encoding/base64"
	"strings"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/internal/tsigfile"
	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("tsig", setup) }

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	t, keys, err := parse(c)
	if err != nil {
		return nil, err
	}
	b, err := plugin.BlockOf(c)
	if err != nil {
		return nil, err
	}
	// The server verifies and signs with the keys of every tsig on its
	// listener, as CoreDNS's secrets are global to the server.
	if b.TSIG == nil {
		b.TSIG = plugin.TSIGKeys{}
	}
	for name, k := range keys {
		if _, dup := b.TSIG[name]; dup {
			return nil, c.Errf("key %q is defined twice", name)
		}
		b.TSIG[name] = k
	}
	return func(next plugin.Handler) plugin.Handler {
		h := *t
		h.Next = next
		return &h
	}, nil
}

// parse reads the block's tsig directive:
//
//	tsig [ZONES...] {
//	    secret NAME KEY
//	    secrets FILE
//	    require [QTYPE...|all|none]
//	    require_opcode [OPCODE...|all|none]
//	}
func parse(c *caddy.Controller) (*TSIG, plugin.TSIGKeys, error) {
	t := &TSIG{types: map[uint16]bool{}, opcodes: map[int]bool{}}
	keys := plugin.TSIGKeys{}
	add := func(name string, k plugin.TSIGKey) error {
		if _, dup := keys[name]; dup {
			return c.Errf("key %q is defined twice", name)
		}
		keys[name] = k
		return nil
	}
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return nil, nil, c.Err("tsig may appear once per server block")
		}
		zones, err := plugin.ZonesOf(c.RemainingArgs(), c.ServerBlockKeys)
		if err != nil {
			return nil, nil, c.Err(err.Error())
		}
		t.zones = zones
		for c.NextBlock() {
			switch prop := c.Val(); prop {
			case "secret":
				args := c.RemainingArgs()
				if len(args) != 2 {
					return nil, nil, c.Err("secret wants NAME KEY")
				}
				secret, err := base64.StdEncoding.DecodeString(args[1])
				if err != nil || len(secret) == 0 {
					return nil, nil, c.Errf("secret %s: the key is not base64", args[0])
				}
				if err := add(dns.CanonicalName(args[0]), plugin.TSIGKey{Secret: secret}); err != nil {
					return nil, nil, err
				}
			case "secrets":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, nil, c.Err("secrets wants FILE")
				}
				file, err := tsigfile.Read(args[0])
				if err != nil {
					return nil, nil, c.Err(err.Error())
				}
				for _, k := range file {
					if err := add(k.Name, plugin.TSIGKey{Algorithm: k.Algorithm, Secret: k.Secret}); err != nil {
						return nil, nil, err
					}
				}
			case "require":
				all, err := requireList(c, t.types, func(s string) (uint16, bool) {
					v, ok := dns.StringToType[strings.ToUpper(s)]
					return v, ok
				})
				if err != nil {
					return nil, nil, err
				}
				t.allTypes = all
			case "require_opcode":
				all, err := requireList(c, t.opcodes, func(s string) (int, bool) {
					v, ok := dns.StringToOpcode[strings.ToUpper(s)]
					return v, ok
				})
				if err != nil {
					return nil, nil, err
				}
				t.allOpcodes = all
			default:
				return nil, nil, c.Errf("unknown property %q", prop)
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil, c.Err("tsig needs at least one key (secret or secrets)")
	}
	return t, keys, nil
}

// requireList reads "require QTYPE...|all|none" (or require_opcode) into
// set, which it empties first; all reports "all".
func requireList[T comparable](c *caddy.Controller, set map[T]bool, parse func(string) (T, bool)) (all bool, err error) {
	prop := c.Val()
	args := c.RemainingArgs()
	if len(args) == 0 {
		return false, c.Errf("%s wants a list, all or none", prop)
	}
	clear(set)
	switch strings.ToLower(args[0]) {
	case "all":
		return true, nil
	case "none":
		return false, nil
	}
	for _, a := range args {
		v, ok := parse(a)
		if !ok {
			return false, c.Errf("%s: unknown %q", prop, a)
		}
		set[v] = true
	}
	return false, nil
}
