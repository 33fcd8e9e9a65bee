package config

import "net/netip"

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
