// Package ready implements the ready directive: an HTTP endpoint that
// answers 200 OK on /ready once every plugin of the configuration that
// reports readiness is ready, for readiness probes, as CoreDNS's does.
package ready

import (
	"context"
	"io"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

const (
	// urlPath is where the endpoint answers; fixed, as in CoreDNS.
	urlPath = "/ready"
	// shutdownTimeout bounds how long stopping waits for requests in
	// flight.
	shutdownTimeout = 5 * time.Second
)

// ready is the endpoint of one address.
type ready struct {
	addr string
	// reloading is set while a reload replaces this configuration: its
	// shutdown then closes at once, without answering "shutting down".
	reloading atomic.Bool

	mu       sync.Mutex
	ep       *reuse.Endpoint    // nil when not serving
	waiting  []plugin.Readiness // the plugins not ready yet
	stopping bool               // the process is shutting down
}

// start reads which plugins report readiness (all of them are set up by
// now) and serves the endpoint; during a reload, on a copy of the listener
// of the configuration being replaced (see package reuse).
func (rd *ready) start(c *caddy.Controller) error {
	ln, err := reuse.Listen(c, rd.addr)
	if err != nil {
		return plugin.Error("ready", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+urlPath, rd.serveHTTP)
	rd.mu.Lock()
	rd.waiting = plugin.Readinesses(c)
	rd.ep = reuse.Serve(ln, mux, "ready", nil)
	rd.mu.Unlock()
	return nil
}

func (rd *ready) serveHTTP(w http.ResponseWriter, _ *http.Request) {
	notReady, stopping := rd.check()
	switch {
	case stopping:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "Shutting down")
	case len(notReady) > 0:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, strings.Join(notReady, "\n")+"\n")
	default:
		io.WriteString(w, http.StatusText(http.StatusOK))
	}
}

// check returns the names of the plugins not ready, sorted. A plugin once
// ready is not asked again, so that once all are, the endpoint stays ready
// for the life of the configuration.
func (rd *ready) check() (notReady []string, stopping bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.waiting = slices.DeleteFunc(rd.waiting, plugin.Readiness.Ready)
	for _, r := range rd.waiting {
		notReady = append(notReady, name(r))
	}
	slices.Sort(notReady)
	return slices.Compact(notReady), rd.stopping
}

// name names a plugin by its Name method, as handlers have, or else by its
// package.
func name(r plugin.Readiness) string {
	if n, ok := r.(interface{ Name() string }); ok {
		return n.Name()
	}
	t := reflect.TypeOf(r)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "" {
		return t.String()
	}
	return path.Base(t.PkgPath())
}

// onShutdown stops the endpoint when a reload replaces it; the new
// configuration already serves on the same socket. On the final shutdown
// the endpoint answers 503 from now on, during the lame duck period of
// health if there is one, until stop.
func (rd *ready) onShutdown() error {
	if rd.reloading.Load() {
		return rd.stop()
	}
	rd.mu.Lock()
	rd.stopping = true
	rd.mu.Unlock()
	return nil
}

// stop closes the endpoint. It may run more than once.
func (rd *ready) stop() error {
	rd.mu.Lock()
	ep := rd.ep
	rd.ep = nil
	rd.mu.Unlock()
	if ep == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := ep.Stop(ctx); err != nil {
		return plugin.Error("ready", err)
	}
	return nil
}
