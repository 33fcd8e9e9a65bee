// Package bolt is the embedded store: one bbolt file, each write synced to
// disk before it is acknowledged.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tpdns/tpdns/store"
)

// lockTimeout is how long Open waits for a file another process holds.
const lockTimeout = time.Second

var bucket = []byte("services")

// Store is a store.Store in a bbolt file.
type Store struct {
	db   *bbolt.DB
	path string

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if need be) the store file at path. A file another
// process has open fails at once, not after a hang.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store bolt %s: another process has it open (waited %s for its lock)", path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store bolt %s: %w", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store bolt %s: %w", path, err)
	}
	return &Store{db: db, path: path, watchers: map[chan struct{}]struct{}{}}, nil
}

// List implements store.Store.
func (s *Store) List(context.Context) (map[string][]byte, error) {
	docs := map[string][]byte{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			docs[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store bolt %s: %w", s.path, err)
	}
	return docs, nil
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, name string) ([]byte, bool, error) {
	var doc []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(name)); v != nil {
			doc = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store bolt %s: %w", s.path, err)
	}
	return doc, doc != nil, nil
}

// Update implements store.Store. bbolt syncs the file before the
// transaction's commit returns.
func (s *Store) Update(_ context.Context, name string, fn func([]byte) ([]byte, error)) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		var old []byte
		if v := b.Get([]byte(name)); v != nil {
			old = append([]byte(nil), v...)
		}
		doc, err := fn(old)
		switch {
		case err != nil:
			return err
		case doc == nil:
			return b.Delete([]byte(name))
		}
		return b.Put([]byte(name), doc)
	})
	if errors.Is(err, store.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	return nil
}

// Watch implements store.Store. Only this process writes a bbolt file, so
// its own updates are all the changes there are.
func (s *Store) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	})
	return ch
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
