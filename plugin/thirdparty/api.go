package thirdparty

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
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
	ep    *reuse.Endpoint
}

// startAPI serves the API. During a reload it serves on a copy of the
// listener of the configuration being replaced (see package reuse).
func startAPI(tp *ThirdParty, c *caddy.Controller) (*apiServer, error) {
	o := tp.opts.api
	token, err := loadOrCreateToken(o.tokenFile)
	if err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("api tls: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := reuse.Listen(c, o.addr)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a := &apiServer{tp: tp, token: token}
	a.ep = reuse.Serve(ln, a.routes(), "thirdparty", tlsConfig)
	return a, nil
}

// stop closes the listener and waits for the requests in flight.
func (a *apiServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()
	if err := a.ep.Stop(ctx); err != nil {
		log.Printf("[WARNING] plugin/thirdparty: api: requests still open after %s were cut: %v", apiShutdownTimeout, err)
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
