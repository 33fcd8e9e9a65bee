//go:build linux

package server

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/tpdns/tpdns/plugin"
)

// udpBatch is how many datagrams one recvmmsg reads, and one sendmmsg
// writes, at most. After a stall the queue drains in fewer system calls the
// larger it is: at half Knot's peak, open-loop p99 was lowest at 64 and 128
// (8 and 16 doubled it, 32 was in between), while a batch's buffers only
// take memory where datagrams are written.
const udpBatch = 64

// udpReceiveBuffer is the receive buffer asked for on a UDP socket, which
// the kernel caps at net.core.rmem_max. Its default, 208 KiB, holds some
// 200 queries on loopback, a millisecond at 200,000 queries a second: a
// reader off its CPU for longer (the scheduler, a GC pause) and the kernel
// drops the queries that come meanwhile, which their clients retry only
// seconds later. 4 MiB holds some 20 ms of them.
const udpReceiveBuffer = 4 << 20

// controlLen holds one IP_PKTINFO or IPV6_PKTINFO control message.
var controlLen = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// udpServer serves one UDP socket with batched system calls: its reader
// reads datagrams in batches, answers in place those the packet
// path can answer, writes those replies in one batch, and hands every
// other query (declined by the packet path, or one it panicked on) to the
// chain in a goroutine of its own, as miekg/dns does.
//
// recvmmsg and sendmmsg are raw system calls (RawSyscall6), made with
// MSG_DONTWAIT: they never block, an empty socket or a full buffer returns
// EAGAIN and the reader waits in the netpoller. A Go system call (Syscall6)
// tells the scheduler that the goroutine may block: when no processor is
// idle (every one reading, or GOMAXPROCS 1), sysmon takes the processor
// from a call that has lasted one of its ticks (20 µs or more, which a
// batch on loopback does) and hands it off, and the reader must get it
// back when the call returns; and as long as it takes one, sysmon keeps
// waking every 20 µs. Under load (one core) that was an eighth of the
// server's CPU time per query. A raw call keeps the processor for the tens
// of microseconds the call takes.
type udpServer struct {
	s       *Server
	conn    *net.UDPConn
	raw     syscall.RawConn
	local   netip.AddrPort
	pktinfo bool // a wildcard socket: replies must leave from the address the query came to

	stopping  atomic.Bool
	reading   sync.WaitGroup // the reader
	handlers  sync.WaitGroup // queries in the chain
	datagrams atomic.Uint64  // read so far
}

// newUDPServer returns the batched server of pc, or nil when pc is not a
// UDP socket it can serve (then a packetConnServer serves it).
func newUDPServer(s *Server, pc net.PacketConn) *udpServer {
	conn, ok := pc.(*net.UDPConn)
	if !ok {
		return nil
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil
	}
	local, _ := conn.LocalAddr().(*net.UDPAddr)
	if local == nil {
		return nil
	}
	u := &udpServer{s: s, conn: conn, raw: raw, local: local.AddrPort()}
	u.growReceiveBuffer()
	if u.local.Addr().IsUnspecified() {
		if err := u.enablePktinfo(); err != nil {
			return nil
		}
		u.pktinfo = true
	}
	return u
}

// growReceiveBuffer raises the socket's receive buffer to udpReceiveBuffer,
// as far as the kernel allows; never lowers it (an administrator's larger
// default, a socket handed over by a reload).
func (u *udpServer) growReceiveBuffer() {
	_ = u.raw.Control(func(fd uintptr) {
		// The kernel reports twice what was set, its overhead included.
		if have, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && have/2 < udpReceiveBuffer {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
		}
	})
}

// enablePktinfo asks for the destination address of every datagram, so
// that the reply can leave from it on a host with several addresses.
func (u *udpServer) enablePktinfo() error {
	var err error
	cerr := u.raw.Control(func(fd uintptr) {
		var domain int
		if domain, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
			return
		}
		if domain == unix.AF_INET6 {
			if err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				return
			}
		}
		// IPv4 datagrams on a dual-stack socket carry IP_PKTINFO.
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if domain == unix.AF_INET6 && err != nil {
			err = nil // an IPv6-only socket
		}
	})
	return errors.Join(cerr, err)
}

// serve runs the reader of the socket, in the caller's goroutine, and
// returns when it has stopped. One reader a socket, as miekg/dns (and so
// CoreDNS) serves one: more cores read an address with more sockets
// (multisocket). The reader is not a goroutine of its own: caddy starts
// the one calling ServePacket before its Start returns, and a goroutine
// started later would outlive a goroutine check taken in between (one
// server started after another).
func (u *udpServer) serve(started func()) error {
	r := newUDPReader(u)
	u.reading.Add(1)
	defer u.reading.Done()
	started()
	err := r.run()
	if u.stopping.Load() {
		return nil
	}
	return err
}

// stop stops reading and waits, until ctx ends, for the queries read to be
// answered; then it closes the socket, not waiting for the server's other
// listeners: a socket of a reuseport group (multisocket) that no newer
// configuration took over (a reload to fewer sockets) gets its share of
// the datagrams until it closes, and loses those it holds then. Closing
// one that was handed over closes this server's copy only.
func (u *udpServer) stop(ctx context.Context) {
	u.stopping.Store(true)
	// Wakes the reader; it fails only on a closed socket, whose reader
	// has returned already.
	_ = u.conn.SetReadDeadline(time.Unix(1, 0))
	done := make(chan struct{})
	go func() {
		u.reading.Wait()
		u.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		u.conn.Close()
	case <-ctx.Done():
		// The chain's replies still to come need the socket: Server.Stop
		// closes it.
	}
}

// udpReader is the reader of a udpServer and the buffers it owns.
type udpReader struct {
	u       *udpServer
	packets packetReader

	in      [udpBatch]unix.Mmsghdr
	inIov   [udpBatch]unix.Iovec
	names   [udpBatch]unix.RawSockaddrInet6
	control [udpBatch][]byte
	bufs    [udpBatch][]byte

	out      [udpBatch]unix.Mmsghdr
	outIov   [udpBatch]unix.Iovec
	replies  [udpBatch][]byte
	answered [udpBatch]observedPacket
	observed [udpBatch]plugin.PacketObserved // the batch observers', by chain

	// recv and send are the calls given to the socket's RawConn, made
	// once: a closure made per call escapes, with the variables it
	// shares, and allocates a few times a batch, which at small batches
	// (a server half loaded) made a GC cycle every few seconds. They keep
	// their state here: got (datagrams read or sent), pending (how many
	// replies from sending on are to be sent) and errno.
	recv, send   func(fd uintptr) bool
	got, sending int
	pending      int
	errno        syscall.Errno
}

func newUDPReader(u *udpServer) *udpReader {
	r := &udpReader{u: u}
	r.recv, r.send = r.recvmmsg, r.sendmmsg
	for i := range udpBatch {
		// Whole datagrams, however large, so that an oversized query is
		// answered FORMERR instead of being cut short.
		r.bufs[i] = make([]byte, dns.MaxMsgSize)
		r.replies[i] = make([]byte, 0, ednsSize)
		r.inIov[i].Base = &r.bufs[i][0]
		r.inIov[i].SetLen(len(r.bufs[i]))
		h := &r.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.inIov[i]
		h.SetIovlen(1)
		if u.pktinfo {
			r.control[i] = make([]byte, controlLen)
		}
	}
	return r
}

// run reads, answers and writes batches until the server stops.
func (r *udpReader) run() error {
	for {
		n, err := r.read()
		if err != nil {
			if r.u.stopping.Load() {
				return nil
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return err
		}
		r.u.datagrams.Add(uint64(n))
		r.answer(n)
	}
}

// read reads up to udpBatch datagrams, waiting for the first. The socket
// is non-blocking, but not always: a reload's copy of it (os.File.Fd, in
// caddy) makes it blocking for a moment, and a blocking recvmmsg would wait
// for a whole batch, holding the queries it has. MSG_DONTWAIT makes every
// call return at once whatever the socket's mode.
func (r *udpReader) read() (int, error) {
	for i := range udpBatch {
		h := &r.in[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		if r.control[i] != nil {
			h.Control = &r.control[i][0]
			h.SetControllen(len(r.control[i]))
		}
	}
	if err := r.u.raw.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.got, nil
}

// recvmmsg reads a batch into r.in: false when there is none to read yet.
// A raw system call: see udpServer.
func (r *udpReader) recvmmsg(fd uintptr) bool {
	got, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.in[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	r.got, r.errno = int(got), e
	return true
}

// answer answers the n datagrams read: in place where the packet path can,
// through the chain otherwise.
func (r *udpReader) answer(n int) {
	start := time.Now()
	out, answered := 0, 0
	s := r.u.s.current()
	for i := range n {
		q := r.bufs[i][:r.in[i].Len]
		client := r.client(i)
		addr := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
		reply, a, ok := s.answerPacket(&r.packets, q, addr, r.replies[i])
		if !ok {
			r.handOver(i, q, client)
			continue
		}
		r.replies[i] = reply[:0] // keep what it grew to
		r.answered[answered] = observed(a, q, addr, reply)
		answered++
		if len(reply) == 0 {
			continue // held back by a limit (rrl): observed, not sent
		}
		r.outIov[out].Base = &reply[0]
		r.outIov[out].SetLen(len(reply))
		h := &r.out[out].Hdr
		*h = unix.Msghdr{Name: r.in[i].Hdr.Name, Namelen: r.in[i].Hdr.Namelen, Iov: &r.outIov[out]}
		h.SetIovlen(1)
		if control := r.replyControl(i); control != nil {
			h.Control = &control[0]
			h.SetControllen(len(control))
		}
		out++
	}
	if answered == 0 {
		return
	}
	took := time.Since(start)
	// The replies go out first: observing them does not delay them.
	if out > 0 {
		r.write(out)
	}
	for _, a := range r.answered[:answered] {
		s.observePacket(a, took)
	}
	s.observeBatch(r.answered[:answered], took, r.observed[:0])
}

// write writes the first n replies; one that cannot be sent is dropped, as
// a single write error drops a reply.
func (r *udpReader) write(n int) {
	for r.sending = 0; r.sending < n; {
		r.pending = n - r.sending
		err := r.u.raw.Write(r.send)
		switch {
		case err != nil:
			return // the socket is closing
		case r.errno == 0:
			r.sending += r.got
		case r.errno == unix.EINTR:
		default:
			r.sending++ // sendmmsg fails only on the first message
		}
	}
}

// sendmmsg sends r.pending replies of r.out from r.sending on: false when
// the socket has no room yet.
func (r *udpReader) sendmmsg(fd uintptr) bool {
	got, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&r.out[r.sending])), uintptr(r.pending), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	r.got, r.errno = int(got), e
	return true
}

// client is the source address of datagram i.
func (r *udpReader) client(i int) netip.AddrPort {
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(sa4.Port))
	case unix.AF_INET6:
		addr := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			addr = addr.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(addr, port(sa.Port))
	}
	return netip.AddrPort{}
}

// port reads a port in network byte order.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// pktinfo returns the packet information of datagram i, IPv4 or IPv6;
// both nil on a socket bound to one address, which has none.
func (r *udpReader) pktinfo(i int) (*unix.Inet4Pktinfo, *unix.Inet6Pktinfo) {
	if r.control[i] == nil {
		return nil, nil
	}
	b := r.control[i][:r.in[i].Hdr.Controllen]
	if len(b) < unix.CmsgLen(unix.SizeofInet4Pktinfo) {
		return nil, nil
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	data := b[unix.CmsgLen(0):]
	switch {
	case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO:
		return (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])), nil
	case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
		return nil, (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
	}
	return nil, nil
}

// replyControl turns the packet information of datagram i into the one its
// reply is sent with, from the address the datagram came to, and returns
// it; nil when there is none.
func (r *udpReader) replyControl(i int) []byte {
	switch v4, v6 := r.pktinfo(i); {
	case v4 != nil:
		v4.Spec_dst, v4.Ifindex = v4.Addr, 0
	case v6 != nil:
		v6.Ifindex = 0
	default:
		return nil
	}
	return r.control[i][:r.in[i].Hdr.Controllen]
}

// localAddr is the address datagram i came to: from its packet
// information on a wildcard socket.
func (r *udpReader) localAddr(i int) netip.AddrPort {
	switch v4, v6 := r.pktinfo(i); {
	case v4 != nil:
		return netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), r.u.local.Port())
	case v6 != nil:
		return netip.AddrPortFrom(netip.AddrFrom16(v6.Addr), r.u.local.Port())
	}
	return r.u.local
}

// handOver serves datagram i through the chain, in a goroutine of its own
// with copies of what it needs.
func (r *udpReader) handOver(i int, q []byte, client netip.AddrPort) {
	w := &udpWriter{
		conn:   r.u.conn,
		local:  net.UDPAddrFromAddrPort(r.localAddr(i)),
		remote: net.UDPAddrFromAddrPort(client),
		client: client,
	}
	if control := r.replyControl(i); control != nil {
		w.control = append([]byte(nil), control...)
	}
	q = append([]byte(nil), q...)
	r.u.handlers.Go(func() { r.u.s.serveWire(q, w) })
}

// udpWriter is the dns.ResponseWriter of a query the chain answers.
type udpWriter struct {
	conn          *net.UDPConn
	local, remote *net.UDPAddr
	client        netip.AddrPort
	control       []byte
}

// The methods of dns.ResponseWriter.

func (w *udpWriter) LocalAddr() net.Addr  { return w.local }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }

func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *udpWriter) Write(b []byte) (int, error) {
	n, _, err := w.conn.WriteMsgUDPAddrPort(b, w.control, w.client)
	return n, err
}

func (w *udpWriter) Close() error        { return nil }
func (w *udpWriter) TsigStatus() error   { return nil }
func (w *udpWriter) TsigTimersOnly(bool) {}
func (w *udpWriter) Hijack()             {}
