// Package etcd is the distributed store: every replica of tpdns reads and
// writes the same keys in etcd and watches them for the others' changes.
//
// Keys, under the prefix: services/NAME holds a service's document and
// endpoints/SERVICE/ADDRESS the document of an endpoint registered to it.
// A heartbeat endpoint is put with an etcd lease of its ttl, so that etcd
// itself deletes it when no replica is left to expire it.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"

	"github.com/tpdns/tpdns/store"
)

const (
	defaultPrefix  = "/tpdns"
	defaultTimeout = 5 * time.Second

	// downTimeout bounds an operation while etcd is known to be
	// unreachable, so that an API write fails in well under a second
	// instead of waiting the whole timeout for a connection.
	downTimeout = 750 * time.Millisecond

	// keepAlive is how long a connection stays idle before it is probed,
	// so that a watch on a silently dead connection ends.
	keepAlive = 10 * time.Second

	// minBackoff and maxBackoff bound the wait between attempts to reach
	// etcd again.
	minBackoff = 500 * time.Millisecond
	maxBackoff = 5 * time.Second

	// defaultPage is how many keys one response of Load holds at most.
	defaultPage = 10000
)

// Options configure the connection.
type Options struct {
	// Endpoints are etcd's client URLs, "http://127.0.0.1:2379" or
	// "127.0.0.1:2379" (https when TLS is set).
	Endpoints []string
	// Prefix is where the keys are; default "/tpdns".
	Prefix string
	// CertFile, KeyFile and CAFile, all three or none, turn on TLS with a
	// client certificate.
	CertFile, KeyFile, CAFile string
	// Username and Password, both or none, log in to an etcd with
	// authentication on.
	Username, Password string
	// Timeout bounds every operation; default 5s.
	Timeout time.Duration
}

// Store is a store.Store in etcd.
type Store struct {
	endpoints string // for error messages
	prefix    string
	timeout   time.Duration
	page      int64 // keys per response of Load

	// ctx ends on Close, and with it the watches.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	cli    *clientv3.Client
	closed bool

	// rev is the revision of the last Load, where watches start.
	rev atomic.Int64
	// down is set when an operation found etcd unreachable, and cleared
	// by the next one that it answers.
	down atomic.Bool
}

var _ store.Store = (*Store)(nil)

var errClosed = errors.New("store closed")

// Open connects to etcd without waiting for it to answer: a replica must
// start, and serve what it has, while etcd is down.
func Open(o Options) (*Store, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("store etcd: no endpoint")
	}
	s := &Store{
		endpoints: strings.Join(o.Endpoints, ","),
		prefix:    defaultPrefix,
		timeout:   defaultTimeout,
		page:      defaultPage,
	}
	if o.Prefix != "" {
		s.prefix = strings.TrimRight(o.Prefix, "/")
	}
	if o.Timeout > 0 {
		s.timeout = o.Timeout
	}
	tlsConfig, err := loadTLS(o.CertFile, o.KeyFile, o.CAFile)
	if err != nil {
		return nil, s.errorf("%w", err)
	}
	for _, ep := range o.Endpoints {
		if tlsConfig != nil && strings.Contains(ep, "://") && !strings.HasPrefix(ep, "https://") {
			return nil, s.errorf("endpoint %s: tls needs https:// or no scheme", ep)
		}
	}
	if (o.Username == "") != (o.Password == "") {
		return nil, s.errorf("credentials need both a user and a password")
	}

	s.ctx, s.cancel = context.WithCancel(context.Background())
	cfg := clientv3.Config{
		Endpoints:            o.Endpoints,
		TLS:                  tlsConfig,
		Context:              s.ctx,
		Logger:               zap.NewNop(), // errors are returned, not logged
		DialKeepAliveTime:    keepAlive,
		DialKeepAliveTimeout: s.timeout,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			// gRPC's own default lets a reconnection wait up to 2 minutes.
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: 20 * time.Second,
		})},
	}
	if o.Username != "" {
		a := &auth{user: o.Username, password: o.Password}
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithPerRPCCredentials(a),
			grpc.WithChainUnaryInterceptor(a.unary), grpc.WithChainStreamInterceptor(a.stream))
	}
	// New does not wait for etcd.
	cli, err := clientv3.New(cfg)
	if err != nil {
		s.cancel()
		return nil, s.errorf("%w", err)
	}
	s.cli = cli
	return s, nil
}

// client returns the client, or why there is none.
func (s *Store) client() (*clientv3.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	return s.cli, nil
}

// do runs op with the client and a context bounded by the timeout, or by
// downTimeout while etcd is known to be unreachable: the client would
// wait for a connection until the deadline. It records whether etcd
// answered.
func (s *Store) do(ctx context.Context, op func(context.Context, *clientv3.Client) error) error {
	cli, err := s.client()
	if err != nil {
		return s.wrap(err)
	}
	timeout := s.timeout
	if s.Down() || unreachable(cli) {
		timeout = min(timeout, downTimeout)
		// Try to connect now rather than after gRPC's backoff (up to
		// maxBackoff): an etcd back since is used by this operation.
		cli.ActiveConnection().ResetConnectBackoff()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = op(ctx, cli)
	switch {
	case err == nil:
		s.down.Store(false)
	case unavailable(err):
		s.down.Store(true)
	}
	return s.wrap(err)
}

// Down reports whether the last operation that ended found etcd
// unreachable; the next one that etcd answers clears it.
func (s *Store) Down() bool { return s.down.Load() }

// unreachable says whether gRPC has failed to connect to any endpoint and
// is waiting to try again: an operation would wait for that. It tells a
// write made just after etcd died, before any operation failed.
func unreachable(cli *clientv3.Client) bool {
	return cli.ActiveConnection().GetState() == connectivity.TransientFailure
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.cancel()
	s.mu.Lock()
	cli, closed := s.cli, s.closed
	s.closed = true
	s.mu.Unlock()
	if closed {
		return nil
	}
	// The client's context is s.ctx, just canceled: that is not a failure.
	if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return s.errorf("%w", err)
	}
	return nil
}

func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("store etcd %s: "+format, append([]any{s.endpoints}, args...)...)
}

// sleep waits d or until ctx ends, and says whether ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// next returns the wait after d, one failure later.
func next(d time.Duration) time.Duration {
	return min(max(2*d, minBackoff), maxBackoff)
}
