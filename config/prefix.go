package config

import (
	"net/netip"
	"slices"
	"strings"
)

// prefixes decodes allow or secrets_allow: a list of CIDR prefixes.
func (d *decoder) prefixes(e entry, path string) []netip.Prefix {
	if e.val == nil {
		return nil
	}
	items, _ := d.list(e.val, path)
	var out []netip.Prefix
	for i, item := range items {
		field := index(path, i)
		s, ok := d.str(item, field, "a CIDR prefix")
		if !ok {
			continue
		}
		p, ok := parsePrefix(s)
		if !ok {
			d.errorf(resolve(item), field, "%s is not a CIDR prefix or IP address", quote(s))
			continue
		}
		out = append(out, p)
	}
	return out
}

// parsePrefix parses a CIDR prefix, masked ("10.1.2.3/8" is 10.0.0.0/8),
// or a bare IP address as the prefix of that address alone.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return netip.PrefixFrom(ip, ip.BitLen()), true
	}
	return netip.Prefix{}, false
}

// keyNames decodes secrets_keys: a list of TSIG key names, each a domain
// name, with or without the trailing dot, matched without regard to case.
func (d *decoder) keyNames(e entry, path string) []string {
	if e.val == nil {
		return nil
	}
	items, _ := d.list(e.val, path)
	var out []string
	for i, item := range items {
		field := index(path, i)
		s, ok := d.str(item, field, "a TSIG key name")
		if !ok {
			continue
		}
		name := asciiLower(strings.TrimSuffix(s, ".")) + "."
		if !keyName(name) {
			d.errorf(resolve(item), field, "%s is not a TSIG key name (a domain name such as app-finance)", quote(s))
			continue
		}
		if slices.Contains(out, name) {
			d.errorf(resolve(item), field, "%s is listed twice", quote(s))
			continue
		}
		out = append(out, name)
	}
	return out
}

// keyName reports whether name (fully qualified) is a domain name of
// letters, digits, hyphens and underscores, as key names are written.
func keyName(name string) bool {
	if len(name) < 2 || len(name) > 254 {
		return false
	}
	for _, label := range strings.Split(name[:len(name)-1], ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
