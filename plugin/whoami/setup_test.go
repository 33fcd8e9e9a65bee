package whoami

import (
	"context"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test/dnstest"
)

func TestSetup(t *testing.T) {
	_, err := setup(caddy.NewTestController(plugin.ServerType, "whoami"))
	assert.NoError(t, err)
	_, err = setup(caddy.NewTestController(plugin.ServerType, "whoami example.org"))
	assert.EqualError(t, err, "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'example.org'")
	_, err = setup(caddy.NewTestController(plugin.ServerType, "whoami {\n verbose\n}"))
	assert.EqualError(t, err, `Testfile:2 - Error during parsing: unknown property "verbose"`)
}

func TestWhoami(t *testing.T) {
	for _, c := range []struct {
		name  string
		tcp   bool
		extra []string
	}{
		{"Example.org.", false, []string{"Example.org.\t0\tIN\tA\t10.240.0.1", "_udp.Example.org.\t0\tIN\tSRV\t0 0 40212 ."}},
		{".", true, []string{".\t0\tIN\tA\t10.240.0.1", "_tcp.\t0\tIN\tSRV\t0 0 40212 ."}},
	} {
		w := &dnstest.Writer{TCP: c.tcp}
		r := new(dns.Msg)
		r.SetQuestion(c.name, dns.TypeA)
		rcode, err := Whoami{}.ServeDNS(context.Background(), w, r)
		require.NoError(t, err)
		assert.Equal(t, dns.RcodeSuccess, rcode)
		assert.True(t, w.Msg.Authoritative)
		assert.Empty(t, w.Msg.Answer)
		var extra []string
		for _, rr := range w.Msg.Extra {
			extra = append(extra, rr.String())
		}
		assert.Equal(t, c.extra, extra)
	}
}
