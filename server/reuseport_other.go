//go:build !unix

package server

import (
	"errors"
	"syscall"
)

// errNoReusePort is what multisocket meets where there is no SO_REUSEPORT.
var errNoReusePort = errors.New("multisocket needs SO_REUSEPORT, which this system does not have")

func reusePort(syscall.Conn) error       { return errNoReusePort }
func reusePortRaw(syscall.RawConn) error { return errNoReusePort }
