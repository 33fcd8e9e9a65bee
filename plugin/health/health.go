// Package health implements the health directive: an HTTP endpoint that
// answers 200 OK on /health for as long as the process runs, for liveness
// probes, as CoreDNS's does.
package health

import (
	"context"
	"io"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

const (
	// path is where the endpoint answers; fixed, as in CoreDNS.
	path = "/health"
	// shutdownTimeout bounds how long stopping waits for requests in
	// flight.
	shutdownTimeout = 5 * time.Second
)

// health is the endpoint of one address.
type health struct {
	addr     string
	lameduck time.Duration
	// reloading is set while a reload replaces this configuration: its
	// shutdown then closes at once, without a lame duck period.
	reloading atomic.Bool

	mu     sync.Mutex
	ep     *reuse.Endpoint    // nil when not serving
	cancel context.CancelFunc // stops the self-probe
	probed chan struct{}      // closed when the self-probe has returned
}

// start serves the endpoint; during a reload, on a copy of the listener of
// the configuration being replaced (see package reuse).
func (h *health) start(c *caddy.Controller) error {
	ln, err := reuse.Listen(c, h.addr)
	if err != nil {
		return plugin.Error("health", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, http.StatusText(http.StatusOK))
	})
	ctx, cancel := context.WithCancel(context.Background())
	probed := make(chan struct{})
	h.mu.Lock()
	h.ep, h.cancel, h.probed = reuse.Serve(ln, mux, "health", nil), cancel, probed
	h.mu.Unlock()
	go func() {
		defer close(probed)
		selfProbe(ctx, "http://"+ln.Addr().String()+path, probeInterval)
	}()
	return nil
}

// onShutdown stops the endpoint when a reload replaces it; the new
// configuration already serves on the same socket. On the final shutdown
// onFinalShutdown, which runs next, stops it.
func (h *health) onShutdown() error {
	if h.reloading.Load() {
		return h.stop()
	}
	return nil
}

// onFinalShutdown delays the shutdown by the lame duck period, answering
// 200 all along, then stops the endpoint.
func (h *health) onFinalShutdown() error {
	h.mu.Lock()
	serving := h.ep != nil
	h.mu.Unlock()
	if serving && h.lameduck > 0 {
		log.Printf("[INFO] plugin/health: going into lameduck mode for %s", h.lameduck)
		time.Sleep(h.lameduck)
	}
	return h.stop()
}

// stop ends the self-probe and the endpoint. It may run more than once.
func (h *health) stop() error {
	h.mu.Lock()
	ep, cancel, probed := h.ep, h.cancel, h.probed
	h.ep = nil
	h.mu.Unlock()
	if ep == nil {
		return nil
	}
	cancel()
	<-probed
	ctx, cancelStop := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelStop()
	if err := ep.Stop(ctx); err != nil {
		return plugin.Error("health", err)
	}
	return nil
}
