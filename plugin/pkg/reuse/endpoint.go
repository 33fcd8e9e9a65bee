package reuse

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request, and so how long a silent one holds up a reload.
	readHeaderTimeout = 5 * time.Second
	// drainPoll is how often stop looks whether the requests under way
	// have been answered.
	drainPoll = 5 * time.Millisecond
)

// Endpoint is an HTTP server on a listener that a reload hands over: the
// next configuration serves on a copy of the same socket (see Listen)
// while this one stops.
//
// http.Server.Shutdown alone would lose requests then: a connection this
// server accepted just before stopping has its request read after
// Shutdown began, and Shutdown drops it unanswered. So stop first closes
// the listener, leaving new connections to the next configuration, and
// lets the connections already accepted have their answer.
type Endpoint struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve has returned

	mu   sync.Mutex
	busy map[net.Conn]struct{} // connections with a request to read or answer
}

// Serve answers requests on ln with h until Stop; with a TLS
// configuration, over TLS. name is the plugin's, for its log lines.
func Serve(ln net.Listener, h http.Handler, name string, tlsConfig *tls.Config) *Endpoint {
	return ServeConfig(ln, h, name, tlsConfig, nil)
}

// ServeConfig is Serve with configure, unless nil, called on the HTTP
// server before it serves: to set its timeouts, or to chain a ConnState
// hook to the one Stop relies on.
func ServeConfig(ln net.Listener, h http.Handler, name string, tlsConfig *tls.Config, configure func(*http.Server)) *Endpoint {
	e := &Endpoint{ln: ln, done: make(chan struct{}), busy: map[net.Conn]struct{}{}}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	e.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          log.New(log.Writer(), "[ERROR] plugin/"+name+": ", 0),
		ConnState:         e.track,
	}
	if configure != nil {
		configure(e.srv)
	}
	go func() {
		defer close(e.done)
		err := e.srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Printf("[ERROR] plugin/%s: %s: %v", name, ln.Addr(), err)
		}
	}()
	return e
}

func (e *Endpoint) track(c net.Conn, s http.ConnState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s == http.StateNew || s == http.StateActive {
		e.busy[c] = struct{}{}
	} else {
		delete(e.busy, c)
	}
}

func (e *Endpoint) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.busy) == 0
}

// Stop stops accepting, waits until ctx ends for the connections accepted
// to be answered, and closes them.
func (e *Endpoint) Stop(ctx context.Context) error {
	e.ln.Close() // Serve closes it too, and reports nothing of interest
	<-e.done
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for !e.idle() {
		select {
		case <-ctx.Done():
			e.srv.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
	return e.srv.Shutdown(ctx)
}
