package acl

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/test"
)

// A real server, a client on 127.0.0.1, and the same rules reloaded with
// each action.
func TestEndToEnd(t *testing.T) {
	port := test.FreePort(t)
	corefile := func(rule string) string {
		return "tp.internal:" + port + " {\n bind 127.0.0.1\n acl {\n  " + rule + "\n }\n whoami\n}\n"
	}
	addr := "127.0.0.1:" + port
	inst := test.Start(t, corefile("block net 10.0.0.0/8"))

	for _, proto := range []string{"udp", "tcp"} {
		m := test.Exchange(t, proto, addr, test.Query("www.tp.internal.", dns.TypeA, 0))
		assert.Equal(t, dns.RcodeSuccess, m.Rcode, proto)
		require.NotEmpty(t, m.Extra, proto)
		assert.Equal(t, "127.0.0.1", m.Extra[0].(*dns.A).A.String(), "whoami answered")
	}

	require.NoError(t, inst.Reload(corefile("block net 127.0.0.1/32")))
	for _, proto := range []string{"udp", "tcp"} {
		m := test.Exchange(t, proto, addr, test.Query("www.tp.internal.", dns.TypeA, 0))
		assert.Equal(t, dns.RcodeRefused, m.Rcode, proto)
		assert.Empty(t, m.Answer, proto)
		assert.Empty(t, m.Extra, proto)
	}
	// Another type is not blocked by a rule for A.
	require.NoError(t, inst.Reload(corefile("block type A net 127.0.0.1/32")))
	m := test.Exchange(t, "udp", addr, test.Query("www.tp.internal.", dns.TypeAAAA, 0))
	assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	assert.NotEmpty(t, m.Extra)

	require.NoError(t, inst.Reload(corefile("filter net 127.0.0.0/8")))
	m = test.Exchange(t, "udp", addr, test.Query("www.tp.internal.", dns.TypeA, 1232))
	assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	assert.Empty(t, m.Answer)
	require.NotNil(t, m.IsEdns0())
	require.Len(t, m.IsEdns0().Option, 1)
	assert.Equal(t, dns.ExtendedErrorCodeFiltered, m.IsEdns0().Option[0].(*dns.EDNS0_EDE).InfoCode)

	require.NoError(t, inst.Reload(corefile("drop net 127.0.0.1")))
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 300 * time.Millisecond}
		_, _, err := c.Exchange(test.Query("www.tp.internal.", dns.TypeA, 0), addr)
		var ne net.Error
		require.True(t, errors.As(err, &ne), "%s: want a time-out, got %v", proto, err)
		assert.True(t, ne.Timeout(), proto)
	}
}
