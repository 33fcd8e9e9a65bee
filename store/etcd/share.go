package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Shared probing's keys, under the prefix: replicas/ID is a live replica
// (held by its lease), health/PATH the state of an endpoint published by
// the replica that probes it (held by the same lease, so that a dead
// replica's states go with it).
const (
	replicasDir = "/replicas/"
	healthDir   = "/health/"
)

// publishBatch is how many states one transaction writes: etcd refuses
// more than 128 operations in one (--max-txn-ops).
const publishBatch = 64

// Share is one replica's part in shared probing: its membership, a key
// under a lease of its own, and the states the replicas publish.
type Share struct {
	s   *Store
	id  string
	ttl time.Duration

	mu      sync.Mutex
	session *concurrency.Session // nil while not a member
}

// ShareUpdate is what a replica learns of the others.
type ShareUpdate struct {
	// Member says whether this replica is registered, and so sees the
	// others and their states. While it is not (etcd cannot be reached,
	// its lease was lost), it should probe everything itself; Err says
	// why.
	Member bool
	Err    error
	// Replicas are the live replicas' IDs, sorted, this one's included;
	// nil when they did not change.
	Replicas []string
	// Reset: States holds every published state; else only the changes.
	Reset bool
	// States are the published states by path; a nil value is a state
	// deleted (its endpoint's owner removed it, or its lease ended).
	States map[string][]byte
}

// Share returns the membership of the replica id, whose lease lives ttl
// (etcd raises it to its own minimum) unless kept alive.
func (s *Store) Share(id string, ttl time.Duration) *Share {
	return &Share{s: s, id: id, ttl: ttl}
}

// ID is the replica's ID.
func (sh *Share) ID() string { return sh.id }

// Run keeps the replica registered and tells update of the replicas and
// their states until ctx ends, then leaves (revokes the lease, so that the
// others take over at once). update runs on Run's goroutine, one call at a
// time: first a reset, then changes, and again a reset after the
// membership or the watch was lost.
func (sh *Share) Run(ctx context.Context, update func(ShareUpdate)) {
	member := true // so that a first failure is told
	var delay time.Duration
	for {
		if delay > 0 && !sleep(ctx, delay) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		session, err := sh.join(ctx)
		if err != nil {
			if member {
				member = false
				update(ShareUpdate{Reset: true, Err: err})
			}
			delay = next(delay)
			continue
		}
		member, delay = true, 0
		sh.follow(ctx, session, update)
		sh.mu.Lock()
		sh.session = nil
		sh.mu.Unlock()
		if ctx.Err() != nil {
			// Leaving: the others take over now rather than when the
			// lease runs out.
			leave, cancel := context.WithTimeout(context.Background(), sh.s.timeout)
			session.Client().Revoke(leave, session.Lease())
			cancel()
			session.Close()
			return
		}
		// Told first: closing revokes the lease, which waits for etcd.
		member = false
		update(ShareUpdate{Reset: true, Err: errLeaseLost})
		session.Close()
	}
}

var errLeaseLost = errors.New("its lease in etcd ended (etcd unreachable for longer than its TTL)")

// join takes a lease and registers the replica under it.
func (sh *Share) join(ctx context.Context) (*concurrency.Session, error) {
	cli, err := sh.s.client()
	if err != nil {
		return nil, err
	}
	timeout, cancel := context.WithTimeout(ctx, sh.s.timeout)
	defer cancel()
	ttl := max(int((sh.ttl+time.Second-1)/time.Second), 1)
	// Granted here, within the timeout: the session would wait for etcd
	// as long as ctx lasts, which bounds its keep-alive instead.
	grant, err := cli.Grant(timeout, int64(ttl))
	if err != nil {
		return nil, sh.s.wrap(err)
	}
	session, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return nil, sh.s.wrap(err)
	}
	host, _ := os.Hostname()
	about, _ := json.Marshal(struct {
		Host    string    `json:"host"`
		PID     int       `json:"pid"`
		Started time.Time `json:"started"`
	}{host, os.Getpid(), time.Now().UTC()})
	if _, err := cli.Put(timeout, sh.s.prefix+replicasDir+sh.id, string(about), clientv3.WithLease(grant.ID)); err != nil {
		session.Close()
		return nil, sh.s.wrap(err)
	}
	sh.mu.Lock()
	sh.session = session
	sh.mu.Unlock()
	return session, nil
}

// follow reads the replicas and the states, tells update, and follows
// their changes until the session or the watch ends.
func (sh *Share) follow(ctx context.Context, session *concurrency.Session, update func(ShareUpdate)) {
	cli := session.Client()
	for {
		replicas, states, rev, err := sh.read(ctx, cli)
		if err != nil {
			if ctx.Err() != nil || !sleep(ctx, minBackoff) {
				return
			}
			select {
			case <-session.Done():
				return
			default:
				continue
			}
		}
		update(ShareUpdate{Member: true, Replicas: sortedKeys(replicas), Reset: true, States: states})
		if !sh.watch(ctx, session, rev, replicas, update) {
			return
		}
	}
}

// The replicas and the states are read and watched as one range, from
// health/ to replicas/ (between them, only keys that are not tpdns's), so
// that their changes come in the order they were made: a replica's
// membership before the states it publishes.
func (sh *Share) rangeStart() string { return sh.s.prefix + healthDir }
func (sh *Share) rangeEnd() string   { return clientv3.GetPrefixRangeEnd(sh.s.prefix + replicasDir) }

// keyOf tells what key is: a replica's ID, a state's path, or neither.
func (sh *Share) keyOf(key string) (replica, path string) {
	key = strings.TrimPrefix(key, sh.s.prefix)
	if id, ok := strings.CutPrefix(key, replicasDir); ok {
		return id, ""
	}
	if path, ok := strings.CutPrefix(key, healthDir); ok {
		return "", path
	}
	return "", ""
}

// read returns the replicas and the published states at one revision.
func (sh *Share) read(ctx context.Context, cli *clientv3.Client) (replicas map[string]bool, states map[string][]byte, rev int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, sh.s.timeout)
	defer cancel()
	replicas, states = map[string]bool{}, map[string][]byte{}
	opts := []clientv3.OpOption{clientv3.WithRange(sh.rangeEnd()), clientv3.WithLimit(sh.s.page)}
	for from := sh.rangeStart(); ; {
		resp, err := cli.Get(ctx, from, opts...)
		if err != nil {
			return nil, nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
			opts = append(opts, clientv3.WithRev(rev))
		}
		for _, kv := range resp.Kvs {
			switch id, path := sh.keyOf(string(kv.Key)); {
			case id != "":
				replicas[id] = true
			case path != "":
				states[path] = kv.Value
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return replicas, states, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// watch follows the changes after rev until the session ends (false) or
// the watch is lost (true: read again).
func (sh *Share) watch(ctx context.Context, session *concurrency.Session, rev int64, replicas map[string]bool, update func(ShareUpdate)) bool {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	changes := session.Client().Watch(ctx, sh.rangeStart(), clientv3.WithRange(sh.rangeEnd()), clientv3.WithRev(rev+1))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-session.Done():
			return false
		case resp, ok = <-changes:
		}
		if !ok || resp.Err() != nil {
			return ctx.Err() == nil
		}
		// In order: the states changed before a replica came or went
		// are told before it.
		states := map[string][]byte{}
		flush := func() {
			if len(states) > 0 {
				update(ShareUpdate{Member: true, States: states})
				states = map[string][]byte{}
			}
		}
		for _, ev := range resp.Events {
			put := ev.Type == clientv3.EventTypePut
			switch id, path := sh.keyOf(string(ev.Kv.Key)); {
			case id != "" && replicas[id] != put:
				flush()
				if put {
					replicas[id] = true
				} else {
					delete(replicas, id)
				}
				update(ShareUpdate{Member: true, Replicas: sortedKeys(replicas)})
			case path != "" && put:
				states[path] = ev.Kv.Value
			case path != "":
				states[path] = nil
			}
		}
		flush()
	}
}

// ErrNotMember is returned by Publish while the replica is not registered.
var ErrNotMember = errors.New("not a member of the shared probing")

// Publish writes states (by path; a nil value deletes) under the
// replica's lease.
func (sh *Share) Publish(ctx context.Context, states map[string][]byte) error {
	sh.mu.Lock()
	session := sh.session
	sh.mu.Unlock()
	if session == nil {
		return sh.s.errorf("%w", ErrNotMember)
	}
	paths := slices.Sorted(maps.Keys(states))
	for len(paths) > 0 {
		n := min(len(paths), publishBatch)
		ops := make([]clientv3.Op, 0, n)
		for _, path := range paths[:n] {
			key := sh.s.prefix + healthDir + path
			if v := states[path]; v != nil {
				ops = append(ops, clientv3.OpPut(key, string(v), clientv3.WithLease(session.Lease())))
			} else {
				ops = append(ops, clientv3.OpDelete(key))
			}
		}
		paths = paths[n:]
		err := sh.s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
			_, err := cli.Txn(ctx).Then(ops...).Commit()
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
