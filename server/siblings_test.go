package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

// TestWithSiblings: the servers of an address's sockets share its zones,
// settings and panic sites, and split max_connections between them.
func TestWithSiblings(t *testing.T) {
	s := newServer("127.0.0.1:53", true)
	s.zones["example."] = &zoneConfig{}
	s.tsig = plugin.TSIGKeys{"key.": {Algorithm: "hmac-sha256."}}
	s.numSockets = 4
	s.tcp.MaxConnections = 10
	group := s.withSiblings()
	require.Len(t, group, 4)
	assert.Same(t, s, group[0])
	want := withDefaults(plugin.TCPLimits{MaxConnections: 3})
	for i, sib := range group {
		assert.Equal(t, s.addr, sib.addr, i)
		assert.Same(t, s.zones["example."], sib.zones["example."], i)
		assert.Equal(t, s.tsig, sib.tsig, i)
		assert.Same(t, s.panicSites, sib.panicSites, i)
		assert.Equal(t, 4, sib.numSockets, i)
		assert.Equal(t, group, sib.group(), i)
		assert.Equal(t, want, sib.tcp, "each socket keeps ⌈10/4⌉ connections")
	}

	unlimited := newServer("127.0.0.1:53", true)
	unlimited.numSockets = 2
	unlimited.tcp.MaxConnections = -1
	for _, sib := range unlimited.withSiblings() {
		assert.Equal(t, -1, sib.tcp.MaxConnections)
	}

	one := newServer("127.0.0.1:53", true)
	assert.Equal(t, []*Server{one}, one.withSiblings())
	assert.Equal(t, []*Server{one}, one.group())
	assert.Equal(t, plugin.TCPLimits{}, one.tcp, "the defaults are the TCP server's to fill in")
}
