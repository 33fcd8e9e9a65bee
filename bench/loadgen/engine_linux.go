//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of the flags.
const (
	ids        = 1 << 16 // query IDs, per socket
	maxSockets = 256     // a socket's index fits in the pending queue's entries
	maxBatch   = 1024
)

// replyLen is the room for one reply: the header and question are all
// that is read, a longer reply is cut (MSG_TRUNC) and counted all the same.
const replyLen = 2048

// socketBuffer is the send and receive buffer asked for each socket, so
// that a burst of replies is never dropped on the client's side.
const socketBuffer = 4 << 20

// slot is one query ID of a socket: free, or the query outstanding under it.
type slot struct {
	sent  int64  // when, in ns since the start
	seq   uint32 // the send's sequence number: tells an entry of pending from a later use of the ID
	query int32  // index in the query file
	busy  bool
}

// socket is one connected UDP socket and its IDs.
type socket struct {
	fd      int
	index   int     // in engine.socks
	free    idQueue // IDs not outstanding, the longest free first
	slots   [ids]slot
	blocked bool // the last send found the socket's buffer full
}

// engine is one run: a single goroutine, locked to its thread, that sends,
// receives and expires in turn, and sleeps in ppoll when nothing is due.
type engine struct {
	c     config
	socks []*socket
	start time.Time

	interval  float64 // ns between queries, open loop
	next      int     // index of the next query to send
	seq       uint32
	pending   fifo // outstanding queries in the order sent: the oldest expires first
	inflight  int  // queries outstanding
	rr        int  // next socket to send from
	lastReply int64

	sendHdr []unix.Mmsghdr
	sendIov []unix.Iovec
	sendBuf []byte // batch × maxQuery
	sendID  []uint16
	sendQ   []int32
	recvHdr []unix.Mmsghdr
	recvIov []unix.Iovec
	recvBuf []byte // batch × replyLen
	pollfds []unix.PollFd

	r result
}

// run sends c's queries to c's server and counts what comes back.
func run(c config) (*result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	addr, err := net.ResolveUDPAddr("udp", c.server)
	if err != nil {
		return nil, fmt.Errorf("-s %s: %w", c.server, err)
	}
	// One thread does everything; a finer timer slack than the default
	// 50 µs keeps the open loop's wake-ups, and so its sends, on schedule.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)

	e := newEngine(c)
	defer e.close()
	for i := range c.sockets {
		s, err := dial(addr.AddrPort(), i)
		if err != nil {
			return nil, err
		}
		e.socks = append(e.socks, s)
		e.pollfds = append(e.pollfds, unix.PollFd{Fd: int32(s.fd)})
	}
	drops0, dropsKnown := socketDrops(addr.AddrPort())
	var cpu0 time.Duration
	e.r.serverCPU, e.r.serverDrops = -1, -1
	if c.pid > 0 {
		if cpu0, err = processCPU(c.pid); err != nil {
			return nil, err
		}
	}
	if err := e.loop(); err != nil {
		return nil, err
	}
	if c.pid > 0 {
		cpu1, err := processCPU(c.pid)
		if err != nil {
			return nil, err
		}
		e.r.serverCPU = cpu1 - cpu0
	}
	if drops1, ok := socketDrops(addr.AddrPort()); ok && dropsKnown {
		e.r.serverDrops = drops1 - drops0
	}
	e.r.elapsed = time.Duration(e.lastReply)
	return &e.r, nil
}

func newEngine(c config) *engine {
	e := &engine{
		c:       c,
		sendHdr: make([]unix.Mmsghdr, c.batch),
		sendIov: make([]unix.Iovec, c.batch),
		sendBuf: make([]byte, c.batch*maxQuery),
		sendID:  make([]uint16, c.batch),
		sendQ:   make([]int32, c.batch),
		recvHdr: make([]unix.Mmsghdr, c.batch),
		recvIov: make([]unix.Iovec, c.batch),
		recvBuf: make([]byte, c.batch*replyLen),
		pending: newFIFO(c.inflight),
	}
	if c.rate > 0 {
		e.interval = 1e9 / c.rate
	}
	for i := range c.batch {
		e.sendHdr[i].Hdr.Iov = &e.sendIov[i]
		e.sendHdr[i].Hdr.SetIovlen(1)
		e.recvIov[i].Base = &e.recvBuf[i*replyLen]
		e.recvIov[i].SetLen(replyLen)
		e.recvHdr[i].Hdr.Iov = &e.recvIov[i]
		e.recvHdr[i].Hdr.SetIovlen(1)
	}
	return e
}

func (e *engine) close() {
	for _, s := range e.socks {
		unix.Close(s.fd)
	}
}

// dial opens a non-blocking UDP socket connected to addr: the kernel then
// passes only addr's datagrams, and sends need no address.
func dial(addr netip.AddrPort, index int) (*socket, error) {
	ip := addr.Addr().Unmap()
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16()})
	if ip.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: ip.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	// The FORCE options pass net.core.[rw]mem_max when run as root.
	for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], socketBuffer) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], socketBuffer)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect %v: %w", addr, err)
	}
	s := &socket{fd: fd, index: index}
	s.free.fill()
	return s, nil
}

// now is the time since the start, in ns.
func (e *engine) now() int64 { return int64(time.Since(e.start)) }

// loop runs until the queries are sent and each is answered or lost.
func (e *engine) loop() error {
	deadline := int64(math.MaxInt64)
	if e.c.duration > 0 {
		deadline = int64(e.c.duration)
	}
	e.start = time.Now()
	sending := true
	for {
		now := e.now()
		if sending && (now >= deadline || e.c.limit > 0 && e.r.sent >= e.c.limit) {
			sending = false
		}
		did := 0
		if sending {
			n, err := e.send(now)
			if err != nil {
				return err
			}
			did += n
		}
		n, err := e.receive()
		if err != nil {
			return err
		}
		did += n
		now = e.now()
		e.expire(now)
		if !sending && e.inflight == 0 {
			return nil
		}
		if did == 0 {
			e.wait(now, sending, deadline)
		}
	}
}

// send sends what is due: up to -inflight outstanding at max rate, the
// queries whose time has come in the open loop.
func (e *engine) send(now int64) (int, error) {
	var want int64
	if e.interval == 0 {
		want = int64(e.c.inflight - e.inflight)
	} else {
		// Query i is due at i·interval, the skipped ones counted.
		done := e.r.sent + e.r.skipped
		due := int64(float64(done) * e.interval)
		if now < due {
			return 0, nil
		}
		e.r.lag = max(e.r.lag, time.Duration(now-due))
		want = int64(float64(now)/e.interval) + 1 - done
		// A client that fell behind (not given its CPU) would send the
		// queries due in one burst, which a server's socket buffer may not
		// hold: a loss that is the client's. It sends one batch and skips
		// the rest.
		if extra := want - int64(e.c.batch); extra > 0 {
			e.r.skipped += extra
			want -= extra
		}
	}
	if e.c.limit > 0 {
		want = min(want, e.c.limit-e.r.sent)
	}
	total := 0
	for want > 0 {
		s := e.pick()
		if s == nil {
			break // every ID outstanding
		}
		k := int(min(want, int64(e.c.batch), int64(s.free.n)))
		n, err := e.sendBatch(s, k)
		if err != nil {
			return total, err
		}
		total += n
		want -= int64(n)
		if n < k {
			break
		}
	}
	return total, nil
}

// pick is the next socket, in turn, with a free ID and room to send.
func (e *engine) pick() *socket {
	for range e.socks {
		s := e.socks[e.rr]
		if e.rr++; e.rr == len(e.socks) {
			e.rr = 0
		}
		if s.free.n > 0 && !s.blocked {
			return s
		}
	}
	return nil
}

// sendBatch sends k queries from s in one sendmmsg, and returns how many
// went; those that did not are put back to be sent next.
func (e *engine) sendBatch(s *socket, k int) (int, error) {
	q := e.c.queries
	for i := range k {
		qi := e.next
		if e.next++; e.next == q.len() {
			e.next = 0
		}
		wire := q.query(qi)
		buf := e.sendBuf[i*maxQuery : i*maxQuery+len(wire)]
		copy(buf, wire)
		id := s.free.pop()
		buf[0], buf[1] = byte(id>>8), byte(id)
		e.sendIov[i].Base = &buf[0]
		e.sendIov[i].SetLen(len(buf))
		e.sendID[i], e.sendQ[i] = id, int32(qi)
	}
	now := e.now()
	got, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.sendHdr[0])), uintptr(k), unix.MSG_DONTWAIT, 0, 0)
	n := int(got)
	if errno != 0 {
		n = 0
		switch errno {
		case unix.EAGAIN, unix.ENOBUFS:
			s.blocked = true // ppoll waits for room
		case unix.EINTR, unix.ECONNREFUSED: // ECONNREFUSED: an earlier query's ICMP error, now reported
		default:
			return 0, fmt.Errorf("sendmmsg: %w", errno)
		}
	}
	for i := range n {
		id := e.sendID[i]
		e.seq++
		s.slots[id] = slot{sent: now, seq: e.seq, query: e.sendQ[i], busy: true}
		e.pending.push(entry(s.index, id, e.seq))
	}
	for i := k - 1; i >= n; i-- {
		s.free.pushFront(e.sendID[i])
	}
	e.next = ((e.next-(k-n))%q.len() + q.len()) % q.len() // k-n may pass the file's length
	e.r.sent += int64(n)
	e.inflight += n
	return n, nil
}

// receive reads one batch from each socket and matches the replies.
func (e *engine) receive() (int, error) {
	total := 0
	for _, s := range e.socks {
		got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.recvHdr[0])), uintptr(e.c.batch), unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			switch errno {
			case unix.EAGAIN, unix.EINTR, unix.ECONNREFUSED:
				continue
			}
			return total, fmt.Errorf("recvmmsg: %w", errno)
		}
		n := int(got)
		now := e.now()
		for i := range n {
			e.reply(s, e.recvBuf[i*replyLen:i*replyLen+int(min(e.recvHdr[i].Len, replyLen))], now)
		}
		total += n
	}
	return total, nil
}

// reply matches one reply to its query, by ID and question, and counts it.
func (e *engine) reply(s *socket, b []byte, now int64) {
	if len(b) < headerLen {
		e.r.late++
		return
	}
	id := uint16(b[0])<<8 | uint16(b[1])
	sl := &s.slots[id]
	if !sl.busy {
		e.r.late++
		return
	}
	// A reply without a question (some servers' FORMERR) matches by ID only.
	if qd := uint16(b[4])<<8 | uint16(b[5]); qd != 0 {
		want := e.c.queries.question(int(sl.query))
		if qd != 1 || len(b) < headerLen+len(want) || !bytes.Equal(b[headerLen:headerLen+len(want)], want) {
			e.r.late++ // an old query's reply under a reused ID
			return
		}
	}
	sl.busy = false
	s.free.pushBack(id)
	e.inflight--
	e.r.received++
	e.r.latency.add(time.Duration(now - sl.sent))
	e.lastReply = now
	rc := int(b[3] & 0x0f)
	e.r.rcodes[rc]++
	switch {
	case b[2]&0x80 == 0:
		e.r.notResponse++
		e.r.errors++
	case rc != rcodeNoError && rc != rcodeNXDomain:
		e.r.errors++
	}
}

// expire counts as lost the queries outstanding for longer than -timeout.
func (e *engine) expire(now int64) {
	for e.pending.n > 0 {
		si, id, seq := unentry(e.pending.peek())
		s := e.socks[si]
		sl := &s.slots[id]
		if !sl.busy || sl.seq != seq {
			e.pending.pop() // answered
			continue
		}
		if now-sl.sent < int64(e.c.timeout) {
			return
		}
		e.pending.pop()
		sl.busy = false
		s.free.pushBack(id)
		e.inflight--
		e.r.lost++
		// Its latency is at least the timeout: a server that drops the
		// queries it is late with must not look faster for it.
		e.r.latency.add(e.c.timeout)
	}
}

// wait sleeps in ppoll until a socket has a reply (or room, if a send found
// none), the next query is due, the oldest outstanding one expires or the
// sending ends.
func (e *engine) wait(now int64, sending bool, deadline int64) {
	wake := int64(math.MaxInt64)
	if e.pending.n > 0 {
		// expire has just dropped the answered ones from the head.
		si, id, _ := unentry(e.pending.peek())
		wake = e.socks[si].slots[id].sent + int64(e.c.timeout)
	}
	if sending {
		wake = min(wake, deadline)
		if e.interval > 0 {
			wake = min(wake, int64(float64(e.r.sent+e.r.skipped)*e.interval))
		}
	}
	for i, s := range e.socks {
		e.pollfds[i].Events = unix.POLLIN
		if s.blocked {
			e.pollfds[i].Events |= unix.POLLOUT
		}
		e.pollfds[i].Revents = 0
	}
	var ts *unix.Timespec
	if wake != math.MaxInt64 {
		t := unix.NsecToTimespec(max(wake-now, 0))
		ts = &t
	}
	if _, err := unix.Ppoll(e.pollfds, ts, nil); err != nil && !errors.Is(err, unix.EINTR) {
		return
	}
	for i, s := range e.socks {
		if e.pollfds[i].Revents&(unix.POLLOUT|unix.POLLERR) != 0 {
			s.blocked = false
		}
	}
}

// entry is an outstanding query in pending: socket, ID and sequence number.
func entry(sock int, id uint16, seq uint32) uint64 {
	return uint64(sock)<<48 | uint64(id)<<32 | uint64(seq)
}

func unentry(v uint64) (sock int, id uint16, seq uint32) {
	return int(v >> 48), uint16(v >> 32), uint32(v)
}

// idQueue is a socket's free IDs, first in first out: an ID is used again
// as late as possible, so that a late reply is not taken for a newer query.
type idQueue struct {
	ids     [ids]uint16
	head, n int
}

func (q *idQueue) fill() {
	for i := range q.ids {
		q.ids[i] = uint16(i)
	}
	q.head, q.n = 0, ids
}

func (q *idQueue) pop() uint16 {
	id := q.ids[q.head]
	q.head = (q.head + 1) % ids
	q.n--
	return id
}

func (q *idQueue) pushBack(id uint16) {
	q.ids[(q.head+q.n)%ids] = id
	q.n++
}

func (q *idQueue) pushFront(id uint16) {
	q.head = (q.head - 1 + ids) % ids
	q.ids[q.head] = id
	q.n++
}

// fifo is a growable ring of pending entries. It holds the answered
// queries behind an older outstanding one until that one is answered or
// lost, so it grows to the queries sent in a timeout at most; it grows
// rarely, not per query.
type fifo struct {
	buf     []uint64
	head, n int
}

func newFIFO(capacity int) fifo {
	size := 1024
	for size < 2*capacity {
		size *= 2
	}
	return fifo{buf: make([]uint64, size)}
}

func (f *fifo) push(v uint64) {
	if f.n == len(f.buf) {
		grown := make([]uint64, 2*len(f.buf))
		for i := range f.n {
			grown[i] = f.buf[(f.head+i)&(len(f.buf)-1)]
		}
		f.buf, f.head = grown, 0
	}
	f.buf[(f.head+f.n)&(len(f.buf)-1)] = v
	f.n++
}

func (f *fifo) peek() uint64 { return f.buf[f.head] }

func (f *fifo) pop() {
	f.head = (f.head + 1) & (len(f.buf) - 1)
	f.n--
}
