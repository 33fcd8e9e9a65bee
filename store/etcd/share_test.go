package etcd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/store/etcd"
	"github.com/tpdns/tpdns/test"
)

// follower runs a share and keeps what it was told.
type follower struct {
	mu       sync.Mutex
	member   bool
	replicas []string
	states   map[string]string
	resets   int
}

func follow(t *testing.T, sh *etcd.Share) *follower {
	f := &follower{states: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sh.Run(ctx, func(u etcd.ShareUpdate) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.member = u.Member
			if u.Replicas != nil || !u.Member {
				f.replicas = u.Replicas
			}
			if u.Reset {
				f.resets++
				f.states = map[string]string{}
			}
			for path, v := range u.States {
				if v == nil {
					delete(f.states, path)
				} else {
					f.states[path] = string(v)
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *follower) wait(t *testing.T, what string, ok func(f *follower) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		done := ok(f)
		f.mu.Unlock()
		if done {
			return
		}
		require.True(t, time.Now().Before(deadline), what)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShare(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	a, b := s.Share("a", 2*time.Second), s.Share("b", 2*time.Second)
	fa := follow(t, a)
	fa.wait(t, "a alone", func(f *follower) bool { return f.member && assert.ObjectsAreEqual([]string{"a"}, f.replicas) })

	// b joins, publishes; a sees both.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx, func(etcd.ShareUpdate) {})
	}()
	fa.wait(t, "b seen", func(f *follower) bool { return assert.ObjectsAreEqual([]string{"a", "b"}, f.replicas) })
	require.Eventually(t, func() bool {
		return b.Publish(context.Background(), map[string][]byte{"db/10.0.0.1:5432": []byte("up"), "db/10.0.0.2:5432": []byte("down")}) == nil
	}, 5*time.Second, 10*time.Millisecond)
	fa.wait(t, "b's states", func(f *follower) bool {
		return assert.ObjectsAreEqual(map[string]string{"db/10.0.0.1:5432": "up", "db/10.0.0.2:5432": "down"}, f.states)
	})
	require.NoError(t, b.Publish(context.Background(), map[string][]byte{"db/10.0.0.2:5432": nil}))
	// A key of someone else's between health/ and replicas/ is no state.
	e.Put(t, "/tpdns/other", "x")
	require.NoError(t, b.Publish(context.Background(), map[string][]byte{"db/10.0.0.3:5432": []byte("up")}))
	fa.wait(t, "a state deleted, one added", func(f *follower) bool {
		return assert.ObjectsAreEqual(map[string]string{"db/10.0.0.1:5432": "up", "db/10.0.0.3:5432": "up"}, f.states)
	})

	// b leaves: its membership and its states go at once, not when its
	// lease would have run out.
	cancel()
	<-done
	left := time.Now()
	fa.wait(t, "b gone", func(f *follower) bool { return assert.ObjectsAreEqual([]string{"a"}, f.replicas) && len(f.states) == 0 })
	assert.Less(t, time.Since(left), time.Second)
	assert.ErrorIs(t, b.Publish(context.Background(), map[string][]byte{"x/y": []byte("z")}), etcd.ErrNotMember)

	// Without etcd a is no member, and says so within its lease.
	e.Stop(t)
	fa.wait(t, "a no member", func(f *follower) bool { return !f.member && f.replicas == nil })
	e.Start(t)
	fa.wait(t, "a member again", func(f *follower) bool { return f.member && assert.ObjectsAreEqual([]string{"a"}, f.replicas) })
}
