package etcd

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watch implements store.Store. It watches the prefix from the revision of
// the last Load, so that nothing written since is missed. A watch that is
// lost (compacted past, canceled, no leader) starts again from the current
// revision, and only then sends a value, so that the reload it causes reads
// at least that revision. The client keeps a watch across etcd restarts by
// itself.
func (s *Store) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	go func() {
		defer cancel()
		defer stop()
		s.watch(ctx, ch)
	}()
	return ch
}

func (s *Store) watch(ctx context.Context, ch chan<- struct{}) {
	rev := s.rev.Load()
	// With nothing loaded yet the reader may have failed to load: tell it
	// when etcd answers.
	lost := rev == 0
	var delay time.Duration
	for {
		if delay > 0 && !sleep(ctx, delay) {
			return
		}
		if rev == 0 {
			var err error
			if rev, err = s.revision(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				delay = next(delay)
				continue
			}
		}
		if lost {
			notify(ch)
		}
		start := time.Now()
		healthy := s.watchFrom(ctx, rev+1, ch)
		if ctx.Err() != nil {
			return
		}
		rev, lost = 0, true
		if healthy || time.Since(start) > maxBackoff {
			delay = 0
		} else {
			delay = next(delay)
		}
	}
}

// watchFrom watches the registry's two directories from rev until a watch
// ends, sending a value on every batch of events. (The rest of the prefix,
// shared probing's, changes no service, and is not watched here.) It says
// whether there was any event.
func (s *Store) watchFrom(ctx context.Context, rev int64, ch chan<- struct{}) (healthy bool) {
	cli, err := s.client()
	if err != nil {
		return false
	}
	// Without a leader a member's watches would wait silently.
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	services := cli.Watch(ctx, s.prefix+servicesDir, clientv3.WithPrefix(), clientv3.WithRev(rev))
	endpoints := cli.Watch(ctx, s.prefix+endpointsDir, clientv3.WithPrefix(), clientv3.WithRev(rev))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-services:
		case resp, ok = <-endpoints:
		}
		if !ok || resp.Err() != nil {
			return healthy
		}
		if len(resp.Events) > 0 {
			healthy = true
			notify(ch)
		}
	}
}

// revision returns etcd's current revision.
func (s *Store) revision(ctx context.Context) (rev int64, err error) {
	err = s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		resp, err := cli.Get(ctx, s.prefix, clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		rev = resp.Header.Revision
		return nil
	})
	return rev, err
}

func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
