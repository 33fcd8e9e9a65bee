package plugin

import (
	"context"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
)

func TestDirectivesFollowChainOrder(t *testing.T) {
	none := func(*caddy.Controller) (Plugin, error) { return nil, nil }
	// Registered out of order, and one name the chain does not know; once
	// per process, as init functions do, however often the test runs.
	if _, done := setups["zzz-test"]; !done {
		Register("zzz-test", none)
		Register("log", none)
		Register("thirdparty", none)
		Register("bind", none)
	}

	assert.Equal(t, []string{"bind", "log", "thirdparty", "zzz-test"}, Directives())
	assert.PanicsWithValue(t, "plugin: directive registered twice: log", func() { Register("log", none) })
}

func TestNextOrFailure(t *testing.T) {
	r := new(dns.Msg)
	r.SetQuestion("example.org.", dns.TypeA)
	rcode, err := NextOrFailure("cache", nil, context.Background(), nil, r)
	assert.Equal(t, dns.RcodeServerFailure, rcode)
	assert.EqualError(t, err, "plugin/cache: no next plugin found")

	next := HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) { return dns.RcodeNameError, nil })
	rcode, err = NextOrFailure("cache", next, context.Background(), nil, r)
	assert.Equal(t, dns.RcodeNameError, rcode)
	assert.NoError(t, err)
}

func TestClientWrite(t *testing.T) {
	for rcode, written := range map[int]bool{
		dns.RcodeSuccess: true, dns.RcodeNameError: true,
		dns.RcodeServerFailure: false, dns.RcodeRefused: false, dns.RcodeFormatError: false, dns.RcodeNotImplemented: false,
	} {
		assert.Equal(t, written, ClientWrite(rcode), dns.RcodeToString[rcode])
	}
}
