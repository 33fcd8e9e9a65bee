package thirdparty

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

const (
	// apiShutdownTimeout bounds how long stopping, or handing the API
	// over, waits for requests in flight.
	apiShutdownTimeout = 5 * time.Second
	// maxBody is the largest request body the API reads.
	maxBody = 1 << 20
)

// apiServer is the registration API of one thirdparty plugin: its
// handler, served by the apiHost of its address.
type apiServer struct {
	tp *ThirdParty
	// tokens are the tokens it accepts: token_file's and those of the
	// tokens file, which tokenWatch (nil without one) swaps when it changes.
	tokens     atomic.Pointer[tokenTable]
	tokenWatch *tokenWatch
	limits     apiLimits
	cert       *tls.Certificate // nil: plain HTTP
	handler    http.Handler
	host       *apiHost
	from       *ThirdParty // the configuration it took the API over from, if any
	streams    streamGate  // ends its event streams when it stops answering

	// ctx is the context of its requests: stop ends it when they outlast
	// apiShutdownTimeout.
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	busy int           // requests being answered
	idle chan struct{} // closed when busy drops to 0; nil while none waits
}

// apiHost is the HTTP server on one API address. It outlives the
// configuration that started it: a Corefile reload that keeps the address
// (and the scheme) attaches the new configuration's apiServer to it, which
// answers the requests from then on, while the connections stay open.
// Closing a connection, even an idle keep-alive one, races with a client
// sending its next request on it: that request would get EOF or a reset,
// and the client could not tell whether a write was applied.
//
// The hand-over from one apiServer to the next is a short gate: new
// requests wait while those in flight on the old one finish (its writes go
// to the store both share), then the new one reads the store, so that it
// answers nothing before it serves every write the old one acknowledged.
type apiHost struct {
	addr   string
	tls    bool
	limits apiLimits        // a reload that changes them starts a new host
	ln     net.Listener     // the TCP socket, for a host that replaces this one
	lim    *limitedListener // ln, with the cap on connections
	ep     *reuse.Endpoint

	mu      sync.Mutex
	servers []*apiServer  // attached, oldest first; the last answers
	pending int           // hand-overs under way: requests wait
	gate    chan struct{} // closed when pending drops to 0
}

// apiHosts are the API servers of the process, by address. A map in the
// process, not in a caddy instance, because a host outlives instances. A
// host leaves it when its last server detaches, so a host found here has
// a server that answers.
var apiHosts = struct {
	sync.Mutex
	byAddr map[string]*apiHost
}{byAddr: map[string]*apiHost{}}

// startAPI serves the API. During a reload that keeps the address, the
// server of the configuration being replaced answers from now on with
// this configuration's handler; see apiHost.
func startAPI(tp *ThirdParty, c *caddy.Controller) (*apiServer, error) {
	o := tp.opts.api
	token, err := loadOrCreateToken(o.tokenFile)
	if err != nil {
		return nil, err
	}
	a := &apiServer{tp: tp, limits: o.limits}
	tt := newTokenTable(token, o.tokens)
	a.tokens.Store(&tt)
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("api tls: %w", err)
		}
		a.cert = &cert
	}
	a.handler = a.routes()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if err := a.attach(c, o.addr); err != nil {
		a.cancel()
		return nil, fmt.Errorf("api: %w", err)
	}
	if o.tokensFile != "" {
		interval := tp.opts.reload
		if interval == 0 {
			interval = defaultReload
		}
		a.watchTokens(o.tokensFile, token, o.tokensData, interval)
	}
	return a, nil
}

// attach makes a answer on addr: on the host there, or a new one.
func (a *apiServer) attach(c *caddy.Controller, addr string) error {
	apiHosts.Lock()
	h := apiHosts.byAddr[addr]
	if h != nil {
		h.mu.Lock()
		from := h.current()
		own, _ := c.Get(storageKey).([]*ThirdParty)
		if slices.Contains(own, from.tp) {
			h.mu.Unlock()
			apiHosts.Unlock()
			return fmt.Errorf("%s is the API address of another thirdparty", addr)
		}
		a.from = from.tp
		if h.tls == (a.cert != nil) && h.limits == a.limits {
			a.host = h
			h.servers = append(h.servers, a)
			h.beginHandOver()
			h.mu.Unlock()
			apiHosts.Unlock()
			h.handOver(from, a)
			return nil
		}
		h.mu.Unlock()
	}
	defer apiHosts.Unlock()
	// A new host: on a copy of the socket of the one it replaces (the
	// scheme or the limits changed; that one stops when its server
	// detaches), else on a new socket.
	var (
		ln  net.Listener
		err error
	)
	if h != nil {
		ln, err = copyListener(h.ln)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return err
	}
	nh := &apiHost{addr: addr, tls: a.cert != nil, limits: a.limits, ln: ln, servers: []*apiServer{a}}
	var tlsConfig *tls.Config
	scheme := "http://"
	if nh.tls {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: nh.certificate}
		scheme = "https://"
	}
	a.host = nh
	nh.lim = newLimitedListener(ln, a.limits.maxConnections, scheme+addr)
	nh.ep = reuse.ServeConfig(nh.lim, nh, "thirdparty", tlsConfig, nh.lim.configure(a.limits))
	apiHosts.byAddr[addr] = nh
	return nil
}

// copyListener duplicates a TCP listener's socket.
func copyListener(ln net.Listener) (net.Listener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("cannot take over %s", ln.Addr())
	}
	f, err := tl.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// current is the server that answers. The caller holds h.mu.
func (h *apiHost) current() *apiServer {
	if len(h.servers) == 0 {
		return nil
	}
	return h.servers[len(h.servers)-1]
}

// certificate is the TLS certificate of the server that answers.
func (h *apiHost) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a := h.current(); a != nil && a.cert != nil {
		return a.cert, nil
	}
	return nil, errors.New("the API is stopping")
}

// beginHandOver holds back new requests until handOver is done; called
// in the same critical section of h.mu as the change of h.servers, so
// that no request reaches the server taking over before that.
func (h *apiHost) beginHandOver() {
	h.pending++
	if h.gate == nil {
		h.gate = make(chan struct{})
	}
}

// handOver makes to answer instead of from (nil: none), after
// beginHandOver: requests wait while those of from finish, at most
// apiShutdownTimeout, then to serves the store they wrote to (when it is
// the same) before it answers.
func (h *apiHost) handOver(from, to *apiServer) {
	if from != nil {
		from.streams.close() // else they would hold up the hand-over
	}
	if to != nil {
		to.streams.reopen()
	}
	defer func() {
		h.mu.Lock()
		if h.pending--; h.pending == 0 {
			close(h.gate)
			h.gate = nil
		}
		h.mu.Unlock()
	}()
	if from == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()
	if !from.waitIdle(ctx) {
		log.Printf("[WARNING] plugin/thirdparty: api: requests of the previous configuration still open after %s", apiShutdownTimeout)
	}
	from.tp.mu.Lock()
	shared := from.tp.st
	from.tp.mu.Unlock()
	to.tp.mu.Lock()
	st := to.tp.st
	to.tp.mu.Unlock()
	if st != nil && st == shared {
		if err := to.tp.loadStore(ctx); err != nil {
			log.Printf("[ERROR] plugin/thirdparty: api: reading the store: %v", err)
		}
	}
}

// ServeHTTP answers r with the handler of the current server, once no
// hand-over is under way.
func (h *apiHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.acquire(r.Context())
	if a == nil {
		if r.Context().Err() == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error": "the API is stopping", "field": ""}`+"\n")
		}
		return
	}
	defer a.release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(a.ctx, cancel)()
	a.handler.ServeHTTP(w, r.WithContext(ctx))
}

// acquire waits for the hand-overs under way and returns the server that
// answers, counting the request in its busy ones; nil if ctx ends first or
// none is left.
func (h *apiHost) acquire(ctx context.Context) *apiServer {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.pending > 0 {
		gate := h.gate
		h.mu.Unlock()
		select {
		case <-gate:
		case <-ctx.Done():
			h.mu.Lock()
			return nil
		}
		h.mu.Lock()
	}
	a := h.current()
	if a != nil {
		a.mu.Lock()
		a.busy++
		a.mu.Unlock()
	}
	return a
}

func (a *apiServer) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy--; a.busy == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
}

// waitIdle waits until a has no request in flight, or ctx ends: false.
func (a *apiServer) waitIdle(ctx context.Context) bool {
	a.mu.Lock()
	if a.busy == 0 {
		a.mu.Unlock()
		return true
	}
	if a.idle == nil {
		a.idle = make(chan struct{})
	}
	idle := a.idle
	a.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// stop detaches a from its host and waits for its requests in flight. The
// host stops with its last server: it stops accepting, answers the
// requests in flight and closes its connections. A server detached while
// it answered (the configuration that replaced it failed) hands the host
// back to the one before.
func (a *apiServer) stop() {
	defer a.cancel()
	a.streams.close()
	if a.tokenWatch != nil {
		a.tokenWatch.stop()
	}
	h := a.host
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()

	apiHosts.Lock()
	h.mu.Lock()
	i := slices.Index(h.servers, a)
	if i < 0 {
		h.mu.Unlock()
		apiHosts.Unlock()
		return
	}
	if len(h.servers) == 1 {
		// The last one: it answers while the host drains.
		h.mu.Unlock()
		if apiHosts.byAddr[h.addr] == h {
			delete(apiHosts.byAddr, h.addr)
		}
		apiHosts.Unlock()
		if err := h.ep.Stop(ctx); err != nil {
			log.Printf("[WARNING] plugin/thirdparty: api: requests still open after %s were cut: %v", apiShutdownTimeout, err)
		}
		h.mu.Lock()
		h.servers = nil
		h.mu.Unlock()
		return
	}
	answering := i == len(h.servers)-1
	h.servers = slices.Delete(h.servers, i, i+1)
	to := h.current()
	if answering {
		h.beginHandOver()
	}
	h.mu.Unlock()
	apiHosts.Unlock()
	if answering {
		h.handOver(a, to)
		return
	}
	if !a.waitIdle(ctx) {
		log.Printf("[WARNING] plugin/thirdparty: api: requests still open after %s are cancelled", apiShutdownTimeout)
	}
}

// loadOrCreateToken reads the bearer token from path, or creates the file
// with a random 256-bit token, readable by its owner only. The token is
// never logged.
func loadOrCreateToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		token := bytes.TrimSpace(b)
		if len(token) == 0 {
			return nil, fmt.Errorf("api token_file %s is empty", path)
		}
		return token, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("api token_file: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("api token_file: %w", err)
	}
	token := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("api token_file: %w", err)
	}
	if _, err := f.Write(append(token, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("api token_file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("api token_file: %w", err)
	}
	log.Printf("[INFO] plugin/thirdparty: created the API token file %s", path)
	return token, nil
}
