package test

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPacketPathBehindPlugins checks which path answers behind the
// plugins users put in front of thirdparty (testpacket stands for it: it
// answers "p packet" on the packet path, "p chain" from ServeDNS): the
// packet path takes plain queries in any case and with any EDNS option it
// can read, and leaves to the chain the ones acl refuses, tsig requires
// signed, and the cache holds a reply to.
func TestPacketPathBehindPlugins(t *testing.T) {
	CaptureLog(t)
	port := FreePort(t)
	Start(t, fmt.Sprintf(`example.org:%s {
    bind 127.0.0.1
    errors
    log
    acl {
        block type MX net 127.0.0.1/32
        allow net 127.0.0.0/8
    }
    tsig {
        secret key.example.org. cGFja2V0LXBhdGgtdGVzdC1rZXk=
        require HINFO
    }
    cache
    testpacket p
}`, port))
	addr := "127.0.0.1:" + port

	txt := func(what string, m *dns.Msg) string {
		t.Helper()
		r := Exchange(t, "udp", addr, m)
		require.Equal(t, dns.RcodeSuccess, r.Rcode, what)
		require.Len(t, r.Answer, 1, what)
		assert.Equal(t, m.Question[0].Name, r.Answer[0].Header().Name, "%s: the owner in the question's case", what)
		return r.Answer[0].(*dns.TXT).Txt[0]
	}
	withOptions := func(name string, options ...dns.EDNS0) *dns.Msg {
		m := Query(name, dns.TypeTXT, 1232)
		m.IsEdns0().Option = options
		return m
	}
	for what, m := range map[string]*dns.Msg{
		"lower case":        Query("a.example.org.", dns.TypeTXT, 0),
		"mixed case":        Query("A.eXaMple.ORG.", dns.TypeTXT, 0),
		"EDNS":              Query("b.example.org.", dns.TypeTXT, 1232),
		"a cookie":          withOptions("c.example.org.", &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		"NSID and padding":  withOptions("d.example.org.", &dns.EDNS0_NSID{Code: dns.EDNS0NSID}, &dns.EDNS0_PADDING{Padding: make([]byte, 8)}),
		"an unknown option": withOptions("e.example.org.", &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}}),
		"a cookie and case": withOptions("F.Example.Org.", &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}),
	} {
		assert.Equal(t, "p packet", txt(what, m), what)
	}

	// acl and tsig refuse on the chain.
	assert.Equal(t, dns.RcodeRefused, Exchange(t, "udp", addr, Query("a.example.org.", dns.TypeMX, 0)).Rcode)
	assert.Equal(t, dns.RcodeRefused, Exchange(t, "udp", addr, Query("a.example.org.", dns.TypeHINFO, 0)).Rcode)

	// A query the packet path declines (an EDNS expire option) fills the
	// cache from the chain; the same question without it is then the
	// cache's too.
	expire := withOptions("h.example.org.", &dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE, Expire: 60})
	assert.Equal(t, "p chain", txt("expire", expire))
	assert.Equal(t, "p chain", txt("held by the cache", Query("h.example.org.", dns.TypeTXT, 1232)))
	assert.Equal(t, "p packet", txt("another key: DO", func() *dns.Msg {
		m := Query("h.example.org.", dns.TypeTXT, 1232)
		m.IsEdns0().SetDo()
		return m
	}()))
}
