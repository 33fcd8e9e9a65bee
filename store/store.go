// Package store keeps the services registered through the API, as opaque
// documents by name, behind one interface that the embedded (bbolt) and
// the distributed (etcd) backends implement.
package store

import (
	"context"
	"errors"
)

// Store holds documents by name.
type Store interface {
	// List returns every document by name.
	List(ctx context.Context) (map[string][]byte, error)
	// Get returns the document of name; ok is false when there is none.
	Get(ctx context.Context, name string) (doc []byte, ok bool, err error)
	// Update replaces the document of name, atomically, with what fn
	// returns for the current one (nil when there is none): nil deletes,
	// ErrUnchanged leaves it, any other error aborts. It returns once the
	// change is durable.
	Update(ctx context.Context, name string, fn func(old []byte) ([]byte, error)) error
	// Watch returns a channel that receives a value after the documents
	// change, whoever changed them, until ctx ends. Values are coalesced:
	// one may stand for several changes.
	Watch(ctx context.Context) <-chan struct{}
	// Close releases the store.
	Close() error
}

// ErrUnchanged, returned by an Update function, leaves the document as it
// is.
var ErrUnchanged = errors.New("unchanged")

// Put stores doc as the document of name.
func Put(ctx context.Context, s Store, name string, doc []byte) error {
	return s.Update(ctx, name, func([]byte) ([]byte, error) { return doc, nil })
}

// Delete removes the document of name; it reports whether there was one.
func Delete(ctx context.Context, s Store, name string) (bool, error) {
	existed := false
	err := s.Update(ctx, name, func(old []byte) ([]byte, error) {
		existed = old != nil
		if !existed {
			return nil, ErrUnchanged
		}
		return nil, nil
	})
	return existed, err
}
