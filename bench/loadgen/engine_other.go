//go:build !linux

package main

import "errors"

// Limits of the flags (see engine_linux.go).
const (
	ids        = 1 << 16
	maxSockets = 256
	maxBatch   = 1024
)

// run needs sendmmsg and recvmmsg: Linux only, as make bench.
func run(config) (*result, error) {
	return nil, errors.New("loadgen runs on Linux only")
}
