// Package store keeps what is registered through the API: services, and
// the endpoints registered to them one by one (heartbeat endpoints with a
// time to live), behind one interface that the embedded (bbolt) and the
// distributed (etcd) backends implement. Documents are opaque JSON here.
package store

import (
	"context"
	"errors"
	"time"
)

// Store holds services and their registered endpoints.
type Store interface {
	// Load returns everything stored now. Expired endpoints are left out.
	Load(ctx context.Context) (*Snapshot, error)
	// Watch returns a channel that receives a value after what Load
	// returns may have changed, whoever changed it (another replica, an
	// expiry), until ctx ends. Values are coalesced: one may stand for
	// several changes. A lost or compacted watch also sends one, so that a
	// reader that loads again on every value never misses a change.
	Watch(ctx context.Context) <-chan struct{}
	// PutService creates or replaces the document of a service; its
	// registered endpoints stay. It returns once the write is durable,
	// with the revision from which Load sees it.
	PutService(ctx context.Context, name string, doc []byte) (created bool, rev int64, err error)
	// DeleteService removes a service and its registered endpoints.
	DeleteService(ctx context.Context, name string) (existed bool, rev int64, err error)
	// PutEndpoint creates or replaces a registered endpoint of a service
	// that exists (else ErrNoService). With ttl > 0 it expires unless put
	// again within ttl.
	PutEndpoint(ctx context.Context, service, address string, doc []byte, ttl time.Duration) (created bool, rev int64, err error)
	// DeleteEndpoint removes a registered endpoint.
	DeleteEndpoint(ctx context.Context, service, address string) (existed bool, rev int64, err error)
	// Close releases the store.
	Close() error
}

// Snapshot is what a store holds at one moment.
type Snapshot struct {
	// Revision orders the store's states: it grows with every change
	// (a write, an expiry), and a snapshot whose revision is at least a
	// write's includes that write. So a reader can tell a snapshot older
	// than what it has already applied, and its own writes coming back.
	Revision int64
	// Services are the documents of the services, by name.
	Services map[string][]byte
	// Endpoints are the registered endpoints, by service and address.
	Endpoints map[string]map[string]Endpoint
}

// Endpoint is a registered endpoint.
type Endpoint struct {
	Doc []byte
	// Expires is when a heartbeat endpoint expires unless put again; zero
	// when it does not, or when the store does not say.
	Expires time.Time
}

var (
	// ErrNoService is returned by PutEndpoint for a service not stored.
	ErrNoService = errors.New("no such service in the store")
	// ErrUnavailable wraps the errors of a store that cannot be reached
	// (the registration API answers them 503).
	ErrUnavailable = errors.New("store unavailable")
)
