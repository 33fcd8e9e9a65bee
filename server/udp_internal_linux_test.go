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
	larger := receiveBuffer(pc)
	require.Equal(t, 4*udpReceiveBuffer, larger)
	require.NotNil(t, newUDPServer(newServer("127.0.0.1:0", true), pc))
	assert.Equal(t, larger, receiveBuffer(pc))
}

// TestUDPReaderAllocatesNothing: reading a batch and writing its replies
// allocate nothing (the calls given to the RawConn are made once), so a
// server answering small batches does not grow its heap towards a GC.
func TestUDPReaderAllocatesNothing(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	u := newUDPServer(newServer("127.0.0.1:0", true), pc)
	require.NotNil(t, u)
	r := newUDPReader(u)
	client, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer client.Close()

	datagram := []byte("a query")
	reply := []byte("its reply")
	got := make([]byte, 64)
	// No testify inside: its arguments would allocate.
	echo := func() {
		if _, err := client.Write(datagram); err != nil {
			t.Fatal(err)
		}
		if n, err := r.read(); err != nil || n != 1 {
			t.Fatalf("read %d datagrams, %v; want 1", n, err)
		}
		r.outIov[0].Base = &reply[0]
		r.outIov[0].SetLen(len(reply))
		h := &r.out[0].Hdr
		*h = unix.Msghdr{Name: r.in[0].Hdr.Name, Namelen: r.in[0].Hdr.Namelen, Iov: &r.outIov[0]}
		h.SetIovlen(1)
		r.write(1)
		if n, err := client.Read(got); err != nil || string(got[:n]) != string(reply) {
			t.Fatalf("got %q, %v; want %q", got[:n], err, reply)
		}
	}
	echo()
	assert.Zero(t, testing.AllocsPerRun(100, echo))
}
