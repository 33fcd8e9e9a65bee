package acl

import (
	"net/netip"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// BenchmarkCheckPackets is what acl costs a query on the packet path: a
// block rule that does not match, then an allow rule that does.
func BenchmarkCheckPackets(b *testing.B) {
	rules, err := parse(caddy.NewTestController(plugin.ServerType, "acl {\n block type MX net 127.0.0.1/32\n allow net 127.0.0.0/8\n}"))
	require.NoError(b, err)
	check := (&ACL{rules: rules}).CheckPackets("dns://:53", ".")
	q := &plugin.Packet{Name: []byte("svc4242.team42.tp.internal."), Type: dns.TypeA, Client: netip.MustParseAddr("127.0.0.1")}
	b.ReportAllocs()
	for b.Loop() {
		if !check(q) {
			b.Fatal("declined")
		}
	}
}
