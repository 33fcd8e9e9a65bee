//go:build linux

package main

import (
	"net"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEcho(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- serve(conn) }()

	q := new(dns.Msg).SetQuestion("svc-0.tp.internal.", dns.TypeA)
	for range 3 { // one client after the other: every reply goes back to its sender
		r, err := dns.Exchange(q, conn.LocalAddr().String())
		require.NoError(t, err)
		assert.Equal(t, q.Id, r.Id)
		assert.True(t, r.Response)
		assert.Equal(t, q.Question, r.Question)
	}

	require.NoError(t, conn.Close())
	assert.ErrorIs(t, <-done, net.ErrClosed)
}
