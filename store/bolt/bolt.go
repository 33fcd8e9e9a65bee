// Package bolt is the embedded store: one bbolt file, each write synced to
// disk before it is acknowledged.
package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tpdns/tpdns/store"
)

// lockTimeout is how long Open waits for a file another process holds.
const lockTimeout = time.Second

var (
	servicesBucket  = []byte("services")
	endpointsBucket = []byte("endpoints") // keys SERVICE "\x00" ADDRESS
	// metaBucket's sequence is the store's revision, raised by every
	// transaction that changes it.
	metaBucket = []byte("meta")
)

// endpointValue is how a registered endpoint is kept: its document and,
// for a heartbeat endpoint, when it expires. The deadline is stored, not a
// timer, so that it expires across restarts.
type endpointValue struct {
	Doc     json.RawMessage `json:"doc"`
	Expires time.Time       `json:"expires,omitzero"`
}

// Store is a store.Store in a bbolt file.
type Store struct {
	db   *bbolt.DB
	path string

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}
	expiry   *time.Timer // fires at the earliest deadline; nil when none
	closed   bool
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
		for _, b := range [][]byte{servicesBucket, endpointsBucket, metaBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store bolt %s: %w", path, err)
	}
	s := &Store{db: db, path: path, watchers: map[chan struct{}]struct{}{}}
	s.expire()
	return s, nil
}

func endpointKey(service, address string) []byte { return []byte(service + "\x00" + address) }

// Load implements store.Store.
func (s *Store) Load(context.Context) (*store.Snapshot, error) {
	snap := &store.Snapshot{Services: map[string][]byte{}, Endpoints: map[string]map[string]store.Endpoint{}}
	now := time.Now()
	err := s.db.View(func(tx *bbolt.Tx) error {
		snap.Revision = revision(tx)
		if err := tx.Bucket(servicesBucket).ForEach(func(k, v []byte) error {
			snap.Services[string(k)] = append([]byte(nil), v...)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(endpointsBucket).ForEach(func(k, v []byte) error {
			service, address, _ := strings.Cut(string(k), "\x00")
			var ev endpointValue
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("endpoint %s of %s: %w", address, service, err)
			}
			if !ev.Expires.IsZero() && !now.Before(ev.Expires) {
				return nil
			}
			if snap.Endpoints[service] == nil {
				snap.Endpoints[service] = map[string]store.Endpoint{}
			}
			snap.Endpoints[service][address] = store.Endpoint{Doc: ev.Doc, Expires: ev.Expires}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store bolt %s: %w", s.path, err)
	}
	return snap, nil
}

// revision is the store's revision in tx.
func revision(tx *bbolt.Tx) int64 { return int64(tx.Bucket(metaBucket).Sequence()) }

// bump raises the store's revision in tx, a writable transaction that
// changes the store, and returns it.
func bump(tx *bbolt.Tx) (int64, error) {
	rev, err := tx.Bucket(metaBucket).NextSequence()
	return int64(rev), err
}

// PutService implements store.Store. bbolt syncs the file before the
// transaction's commit returns.
func (s *Store) PutService(_ context.Context, name string, doc []byte) (bool, int64, error) {
	created := false
	rev, err := s.update(func(tx *bbolt.Tx) (bool, error) {
		b := tx.Bucket(servicesBucket)
		created = b.Get([]byte(name)) == nil
		return true, b.Put([]byte(name), doc)
	})
	return created, rev, err
}

// DeleteService implements store.Store.
func (s *Store) DeleteService(_ context.Context, name string) (bool, int64, error) {
	existed := false
	rev, err := s.update(func(tx *bbolt.Tx) (bool, error) {
		b := tx.Bucket(servicesBucket)
		if existed = b.Get([]byte(name)) != nil; !existed {
			return false, nil
		}
		if err := b.Delete([]byte(name)); err != nil {
			return false, err
		}
		eps := tx.Bucket(endpointsBucket)
		prefix := endpointKey(name, "")
		c := eps.Cursor()
		for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Seek(prefix) {
			if err := eps.Delete(k); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return existed, rev, err
}

// PutEndpoint implements store.Store.
func (s *Store) PutEndpoint(_ context.Context, service, address string, doc []byte, ttl time.Duration) (bool, int64, error) {
	ev := endpointValue{Doc: doc}
	if ttl > 0 {
		ev.Expires = time.Now().Add(ttl)
	}
	v, err := json.Marshal(ev)
	if err != nil {
		return false, 0, err
	}
	created := false
	rev, err := s.update(func(tx *bbolt.Tx) (bool, error) {
		if tx.Bucket(servicesBucket).Get([]byte(service)) == nil {
			return false, store.ErrNoService
		}
		b := tx.Bucket(endpointsBucket)
		key := endpointKey(service, address)
		created = b.Get(key) == nil
		return true, b.Put(key, v)
	})
	if err == nil && ttl > 0 {
		s.expire()
	}
	return created, rev, err
}

// DeleteEndpoint implements store.Store.
func (s *Store) DeleteEndpoint(_ context.Context, service, address string) (bool, int64, error) {
	existed := false
	rev, err := s.update(func(tx *bbolt.Tx) (bool, error) {
		b := tx.Bucket(endpointsBucket)
		key := endpointKey(service, address)
		if existed = b.Get(key) != nil; !existed {
			return false, nil
		}
		return true, b.Delete(key)
	})
	return existed, rev, err
}

// update runs fn in a write transaction; when fn changed the store, it
// raises the revision and tells the watchers. It returns the revision the
// store is at after fn.
func (s *Store) update(fn func(*bbolt.Tx) (changed bool, err error)) (int64, error) {
	var rev int64
	changed := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		changed, err = fn(tx)
		switch {
		case err != nil:
			return err
		case changed:
			rev, err = bump(tx)
			return err
		}
		rev = revision(tx)
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNoService) {
			return 0, err
		}
		return 0, fmt.Errorf("store bolt %s: %w", s.path, err)
	}
	if changed {
		s.notify()
	}
	return rev, nil
}

func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// expire deletes the endpoints whose heartbeat ran out and sets a timer
// for the next deadline. Only this process uses a bbolt file, so it is the
// one that must.
func (s *Store) expire() {
	now := time.Now()
	var next time.Time
	removed := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(endpointsBucket)
		var expired [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var ev endpointValue
			if json.Unmarshal(v, &ev) != nil || ev.Expires.IsZero() {
				return nil
			}
			if !now.Before(ev.Expires) {
				expired = append(expired, append([]byte(nil), k...))
			} else if next.IsZero() || ev.Expires.Before(next) {
				next = ev.Expires
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		removed = len(expired)
		if removed > 0 {
			_, err := bump(tx)
			return err
		}
		return nil
	})
	if err != nil {
		return // the file is closing, or broken: Load reports it
	}
	if removed > 0 {
		s.notify()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	if !next.IsZero() {
		s.expiry = time.AfterFunc(time.Until(next), s.expire)
	}
}

// Watch implements store.Store.
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
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.mu.Unlock()
	return s.db.Close()
}
