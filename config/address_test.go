package config

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// An IPv4 address is kept as written, which must be its canonical form.
func TestParseAddressCanonical(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "192.168.100.255", "1.2.3.4", "::ffff:1.2.3.4", "2001:DB8::1", "2001:db8:0::1", "[2001:db8::1]:80", "10.0.0.1:53"} {
		a, p := parseAddress(s)
		if !assert.Empty(t, p, s) {
			continue
		}
		assert.Equal(t, a.ip.String(), a.addr, s)
	}
	for _, s := range []string{"010.0.0.1", "10.0.0.01"} {
		_, err := netip.ParseAddr(s)
		assert.Error(t, err, "%s: a spelling other than the canonical one", s)
	}
}
