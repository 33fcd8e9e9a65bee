//go:build !linux

package server

import (
	"context"
	"net"
)

// udpServer is the batched UDP server, which needs Linux's recvmmsg and
// sendmmsg; elsewhere a packetConnServer serves UDP.
type udpServer struct{}

func newUDPServer(*Server, net.PacketConn) *udpServer { return nil }

func (*udpServer) serve(func()) error   { return nil }
func (*udpServer) stop(context.Context) {}
