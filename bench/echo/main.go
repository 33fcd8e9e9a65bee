//go:build linux

// Command echo is the fastest DNS "server" make bench knows: it sends each
// datagram back as it came, with the QR bit set, in batches
// (recvmmsg/sendmmsg). make bench runs it to show how fast bench/loadgen
// can go, so that a figure near it is known to be the client's limit.
//
//	echo -addr 127.0.0.1:1053
package main

import (
	"errors"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	defaultAddr = "127.0.0.1:1053"
	batch       = 64
	bufLen      = 2048
)

func main() {
	addr := flag.String("addr", defaultAddr, "UDP address to serve on")
	flag.Parse()
	conn, err := net.ListenPacket("udp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		conn.Close()
	}()
	if err := serve(conn.(*net.UDPConn)); !errors.Is(err, net.ErrClosed) {
		log.Fatal(err)
	}
}

// serve echoes until conn is closed, and returns why it stopped.
func serve(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var (
		hdrs  [batch]unix.Mmsghdr
		iovs  [batch]unix.Iovec
		names [batch]unix.RawSockaddrInet6
		bufs  [batch][bufLen]byte
	)
	for {
		for i := range batch {
			iovs[i].Base = &bufs[i][0]
			iovs[i].SetLen(bufLen)
			hdrs[i].Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&names[i])), Namelen: unix.SizeofSockaddrInet6, Iov: &iovs[i]}
			hdrs[i].Hdr.SetIovlen(1)
		}
		var n int
		var errno syscall.Errno
		// raw.Read waits in the runtime's poller while nothing is queued.
		if err := raw.Read(func(fd uintptr) bool {
			got, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN {
				return false
			}
			n, errno = int(got), e
			return true
		}); err != nil {
			return err
		}
		if errno != 0 {
			continue
		}
		for i := range n {
			if hdrs[i].Len >= 3 {
				bufs[i][2] |= 0x80 // QR: a response
			}
			iovs[i].SetLen(int(hdrs[i].Len))
		}
		for sent := 0; sent < n; {
			got, _, e := unix.Syscall6(unix.SYS_SENDMMSG, rawFd(raw), uintptr(unsafe.Pointer(&hdrs[sent])), uintptr(n-sent), 0, 0, 0)
			if e != 0 {
				sent++ // sendmmsg fails on the first message only: drop it
				continue
			}
			sent += int(got)
		}
	}
}

// rawFd is conn's descriptor; sends block (flag 0 on a non-blocking socket
// still returns EAGAIN, dropping the reply, which loadgen counts as lost).
func rawFd(raw syscall.RawConn) uintptr {
	var fd uintptr
	_ = raw.Control(func(f uintptr) { fd = f })
	return fd
}
