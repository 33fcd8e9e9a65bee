package zone

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
)

// names returns every name of v, the map's and those found from the
// services', for the tests that go through them all.
func (v *View) names() []string {
	var out []string
	for name := range v.nodes {
		out = append(out, name)
	}
	for _, s := range v.services {
		if n, ok := v.nodes[s.owner]; !ok || n.svc != s {
			continue // another service took the name
		}
		out = append(out, healthOwner+s.owner)
		for _, ep := range s.def.Endpoints {
			if ep.Label != "" {
				out = append(out, ep.Label+"."+s.owner)
			}
		}
		for _, p := range s.def.Ports {
			out = append(out, "_"+p.Protocol+"."+s.owner)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestNamesBelowServices: the names one label below a service are found
// from it, as strings and as bytes, and nothing deeper or beside them.
func TestNamesBelowServices(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	oracle := v.services["oracle.finance"]
	for _, c := range []struct {
		name string
		want node
		ok   bool
	}{
		{"oracle.finance.tp.internal.", node{kind: kindService, svc: oracle}, true},
		{"standby.oracle.finance.tp.internal.", node{kind: kindEndpoint, svc: oracle, index: 1}, true},
		{"10-0-0-12.oracle.finance.tp.internal.", node{kind: kindEndpoint, svc: oracle, index: 2}, true}, // disabled
		{"_health.oracle.finance.tp.internal.", node{kind: kindHealth, svc: oracle}, true},
		{"_tcp.oracle.finance.tp.internal.", node{kind: kindEmpty}, true},
		{"_db._tcp.oracle.finance.tp.internal.", node{kind: kindPort, svc: oracle}, true},
		{"finance.tp.internal.", node{kind: kindEmpty}, true},
		{"_udp.oracle.finance.tp.internal.", node{}, false},
		{"_health.standby.oracle.finance.tp.internal.", node{}, false},
		{"x.standby.oracle.finance.tp.internal.", node{}, false},
		{"x._tcp.oracle.finance.tp.internal.", node{}, false},
		{`standby\.oracle.finance.tp.internal.`, node{}, false},
		{"_health.finance.tp.internal.", node{}, false},
		{"nope.tp.internal.", node{}, false},
		{".", node{}, false},
	} {
		got, ok := find(v, c.name)
		assert.Equal(t, c.ok, ok, c.name)
		assert.Equal(t, c.want, got, c.name)
		got, ok = find(v, []byte(c.name))
		assert.Equal(t, c.ok, ok, c.name)
		assert.Equal(t, c.want, got, c.name)
	}
}

// TestFindAllocatesNothing: the packet path finds every kind of name
// without an allocation, those below a service included.
func TestFindAllocatesNothing(t *testing.T) {
	v := Build("tp.internal.", registry(), Options{TTL: 10, Serial: 42})
	client := netip.MustParseAddr("10.9.9.9")
	for _, c := range []struct {
		name  string
		qtype uint16
	}{
		{"standby.oracle.finance.tp.internal.", dns.TypeA},
		{"_tcp.oracle.finance.tp.internal.", dns.TypeSRV},
		{"x.standby.oracle.finance.tp.internal.", dns.TypeA},
		{"nope.tp.internal.", dns.TypeA},
	} {
		msg := wireQuestion(t, c.name, c.qtype)
		name := []byte(c.name)
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, ok := v.AppendWire(msg[:len(msg):cap(msg)], name, c.qtype, client); !ok {
				t.Fatalf("%s declined", c.name)
			}
		})
		assert.Zero(t, allocs, c.name)
	}
}
