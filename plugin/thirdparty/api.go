package thirdparty

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin/pkg/reuse"
)

const (
	// apiShutdownTimeout bounds how long stopping waits for requests in
	// flight.
	apiShutdownTimeout = 5 * time.Second
	// maxBody is the largest request body the API reads.
	maxBody = 1 << 20
)

// apiServer is the registration API of one thirdparty plugin.
type apiServer struct {
	tp    *ThirdParty
	token []byte
	ln    net.Listener
	srv   *http.Server
	done  chan struct{}
}

// startAPI serves the API. During a reload it serves on a copy of the
// listener of the configuration being replaced (see package reuse).
func startAPI(tp *ThirdParty, c *caddy.Controller) (*apiServer, error) {
	o := tp.opts.api
	token, err := loadOrCreateToken(o.tokenFile)
	if err != nil {
		return nil, err
	}
	ln, err := reuse.Listen(c, o.addr)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a := &apiServer{tp: tp, token: token, ln: ln, done: make(chan struct{})}
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(log.Writer(), "[ERROR] plugin/thirdparty: api: ", 0),
	}
	go func() {
		defer close(a.done)
		var err error
		if o.certFile != "" {
			err = a.srv.ServeTLS(ln, o.certFile, o.keyFile)
		} else {
			err = a.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("[ERROR] plugin/thirdparty: api on %s: %v", o.addr, err)
		}
	}()
	return a, nil
}

// Addr returns the address the API listens on.
func (a *apiServer) Addr() net.Addr { return a.ln.Addr() }

// stop closes the listener and waits for the requests in flight.
func (a *apiServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	<-a.done
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
