package server

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestUDPReceiveBuffer: the batched server raises its socket's receive
// buffer to udpReceiveBuffer, as far as net.core.rmem_max lets it, and
// never lowers a larger one.
func TestUDPReceiveBuffer(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	require.NoError(t, err)
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)

	receiveBuffer := func(pc net.PacketConn) int {
		raw, err := pc.(*net.UDPConn).SyscallConn()
		require.NoError(t, err)
		var n int
		require.NoError(t, raw.Control(func(fd uintptr) {
			n, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}))
		require.NoError(t, err)
		return n
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	before := receiveBuffer(pc)
	require.NotNil(t, newUDPServer(newServer("127.0.0.1:0", true), pc))
	// The kernel keeps twice what is set.
	assert.Equal(t, max(before, 2*min(udpReceiveBuffer, rmemMax)), receiveBuffer(pc))

	// A larger one stays; past rmem_max only SO_RCVBUFFORCE sets one, with
	// CAP_NET_ADMIN.
	raw, err := pc.(*net.UDPConn).SyscallConn()
	require.NoError(t, err)
	require.NoError(t, raw.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 2*udpReceiveBuffer)
	}))
	if err != nil {
		t.Skipf("cannot set a receive buffer past udpReceiveBuffer: %v", err)
	}
	require.NoError(t, err)
	larger := receiveBuffer(pc)
	require.Equal(t, 4*udpReceiveBuffer, larger)
	require.NotNil(t, newUDPServer(newServer("127.0.0.1:0", true), pc))
	assert.Equal(t, larger, receiveBuffer(pc))
}
