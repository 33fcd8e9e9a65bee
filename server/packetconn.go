package server

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// packetConnServer serves a packet socket that the batched udpServer cannot
// serve (outside Linux, or a socket that is not a *net.UDPConn): it reads
// one datagram at a time and answers each through the chain in a
// goroutine of its own, with the same checks as every other query
// (serveWire).
type packetConnServer struct {
	s        *Server
	pc       net.PacketConn
	stopping atomic.Bool
	handlers sync.WaitGroup
	done     chan struct{} // closed when serve has returned
}

func newPacketConnServer(s *Server, pc net.PacketConn) *packetConnServer {
	return &packetConnServer{s: s, pc: pc, done: make(chan struct{})}
}

// serve reads until the server stops.
func (p *packetConnServer) serve(started func()) error {
	defer close(p.done)
	started()
	// Whole datagrams, however large, so that an oversized query is
	// answered FORMERR instead of being cut short.
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, addr, err := p.pc.ReadFrom(buf)
		if err != nil {
			if p.stopping.Load() {
				return nil
			}
			return err
		}
		q := append([]byte(nil), buf[:n]...)
		w := &packetConnWriter{pc: p.pc, remote: addr}
		p.handlers.Go(func() { p.s.serveWire(q, w) })
	}
}

// stop stops reading and waits, until ctx ends, for the queries read to be
// answered.
func (p *packetConnServer) stop(ctx context.Context) {
	p.stopping.Store(true)
	// Wakes the reader; it fails only on a closed socket, whose reader
	// has returned already.
	_ = p.pc.SetReadDeadline(time.Unix(1, 0))
	done := make(chan struct{})
	go func() {
		<-p.done
		p.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// packetConnWriter is the dns.ResponseWriter of one datagram's query.
type packetConnWriter struct {
	pc     net.PacketConn
	remote net.Addr
}

// The methods of dns.ResponseWriter.

func (w *packetConnWriter) LocalAddr() net.Addr  { return w.pc.LocalAddr() }
func (w *packetConnWriter) RemoteAddr() net.Addr { return w.remote }

func (w *packetConnWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *packetConnWriter) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.remote) }

func (w *packetConnWriter) Close() error        { return nil }
func (w *packetConnWriter) TsigStatus() error   { return nil }
func (w *packetConnWriter) TsigTimersOnly(bool) {}
func (w *packetConnWriter) Hijack()             {}
