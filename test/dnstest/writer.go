// Package dnstest provides a dns.ResponseWriter that records the reply, for
// unit tests of handlers that need no socket.
package dnstest

import (
	"net"

	"github.com/miekg/dns"
)

// Writer records the message written to it. Its remote address is
// 10.240.0.1:40212 over UDP unless TCP is set.
type Writer struct {
	Msg *dns.Msg
	TCP bool
}

// The addresses are made once: a benchmark through a handler should count
// the handler's allocations, not the writer's.
var (
	localUDP  net.Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	localTCP  net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	remoteUDP net.Addr = &net.UDPAddr{IP: net.IPv4(10, 240, 0, 1), Port: 40212}
	remoteTCP net.Addr = &net.TCPAddr{IP: net.IPv4(10, 240, 0, 1), Port: 40212}
)

// LocalAddr implements dns.ResponseWriter.
func (w *Writer) LocalAddr() net.Addr {
	if w.TCP {
		return localTCP
	}
	return localUDP
}

// RemoteAddr implements dns.ResponseWriter.
func (w *Writer) RemoteAddr() net.Addr {
	if w.TCP {
		return remoteTCP
	}
	return remoteUDP
}

// WriteMsg implements dns.ResponseWriter.
func (w *Writer) WriteMsg(m *dns.Msg) error { w.Msg = m; return nil }

// Write implements dns.ResponseWriter.
func (w *Writer) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.Msg = m
	return len(b), nil
}

// Close implements dns.ResponseWriter.
func (w *Writer) Close() error { return nil }

// TsigStatus implements dns.ResponseWriter.
func (w *Writer) TsigStatus() error { return nil }

// TsigTimersOnly implements dns.ResponseWriter.
func (w *Writer) TsigTimersOnly(bool) {}

// Hijack implements dns.ResponseWriter.
func (w *Writer) Hijack() {}
