package etcd_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/etcd"
	"github.com/tpdns/tpdns/test"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open opens a store on e and closes it when the test ends.
func open(t *testing.T, o etcd.Options) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// watch starts a watch that ends with the test.
func watch(t *testing.T, s *etcd.Store) <-chan struct{} {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return s.Watch(ctx)
}

// signalled waits up to within for a value on ch.
func signalled(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("no change signalled within %s after %s", within, what)
	}
}

// drain empties ch, so that the next value stands for what comes next.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// rawKeys returns the keys under prefix as etcd holds them, with the lease
// of each.
func rawKeys(t *testing.T, e *test.Etcd, prefix string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := e.Client(t).Get(ctx, prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	keys := map[string]int64{}
	for _, kv := range resp.Kvs {
		keys[string(kv.Key)] = kv.Lease
	}
	return keys
}

func TestServices(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()

	steps := []struct {
		name    string
		do      func() (bool, int64, error)
		want    bool // created or existed
		wantErr string
	}{
		{"create db", func() (bool, int64, error) { return s.PutService(ctx, "db", []byte(`{"a":1}`)) }, true, ""},
		{"replace db", func() (bool, int64, error) { return s.PutService(ctx, "db", []byte(`{"a":2}`)) }, false, ""},
		{"create web", func() (bool, int64, error) { return s.PutService(ctx, "web", []byte(`{"b":1}`)) }, true, ""},
		{"delete web", func() (bool, int64, error) { return s.DeleteService(ctx, "web") }, true, ""},
		{"delete web again", func() (bool, int64, error) { return s.DeleteService(ctx, "web") }, false, ""},
		{"delete unknown", func() (bool, int64, error) { return s.DeleteService(ctx, "nope") }, false, ""},
		{"slash", func() (bool, int64, error) { return s.PutService(ctx, "a/b", nil) }, false,
			`store etcd ` + e.Endpoint + `: service name "a/b" contains "/"`},
		{"empty", func() (bool, int64, error) { return s.DeleteService(ctx, "") }, false,
			`store etcd ` + e.Endpoint + `: empty service name`},
	}
	for _, step := range steps {
		got, _, err := step.do()
		if step.wantErr != "" {
			assert.EqualError(t, err, step.wantErr, step.name)
			continue
		}
		require.NoError(t, err, step.name)
		assert.Equal(t, step.want, got, step.name)
	}
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, &store.Snapshot{
		Revision:  5, // one a change, from 1 in a new etcd
		Services:  map[string][]byte{"db": []byte(`{"a":2}`)},
		Endpoints: map[string]map[string]store.Endpoint{},
	}, snap)
}

func TestEndpoints(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()

	_, _, err := s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 0)
	assert.ErrorIs(t, err, store.ErrNoService)
	assert.EqualError(t, err, `store etcd `+e.Endpoint+`: service "db": no such service in the store`)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), time.Minute)
	assert.ErrorIs(t, err, store.ErrNoService)

	_, _, err = s.PutService(ctx, "db", []byte(`{"svc":"db"}`))
	require.NoError(t, err)
	_, _, err = s.PutService(ctx, "web", []byte(`{"svc":"web"}`))
	require.NoError(t, err)

	steps := []struct {
		name    string
		do      func() (bool, int64, error)
		want    bool
		wantErr string
	}{
		{"create", func() (bool, int64, error) { return s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"port":1}`), 0) }, true, ""},
		{"replace", func() (bool, int64, error) { return s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"port":2}`), 0) }, false, ""},
		{"heartbeat", func() (bool, int64, error) {
			return s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{"ttl":60}`), time.Minute)
		}, true, ""},
		{"heartbeat again", func() (bool, int64, error) {
			return s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{"ttl":60}`), time.Minute)
		}, false, ""},
		{"web", func() (bool, int64, error) { return s.PutEndpoint(ctx, "web", "web1.example.org", []byte(`{}`), 0) }, true, ""},
		{"web gone", func() (bool, int64, error) { return s.PutEndpoint(ctx, "web", "web2.example.org", []byte(`{}`), 0) }, true, ""},
		{"delete", func() (bool, int64, error) { return s.DeleteEndpoint(ctx, "web", "web2.example.org") }, true, ""},
		{"delete again", func() (bool, int64, error) { return s.DeleteEndpoint(ctx, "web", "web2.example.org") }, false, ""},
		{"slash", func() (bool, int64, error) { return s.PutEndpoint(ctx, "db", "10.0.0.0/8", nil, 0) }, false,
			`store etcd ` + e.Endpoint + `: endpoint address "10.0.0.0/8" contains "/"`},
		{"slash delete", func() (bool, int64, error) { return s.DeleteEndpoint(ctx, "a/b", "10.0.0.1") }, false,
			`store etcd ` + e.Endpoint + `: service name "a/b" contains "/"`},
	}
	for _, step := range steps {
		got, _, err := step.do()
		if step.wantErr != "" {
			assert.EqualError(t, err, step.wantErr, step.name)
			continue
		}
		require.NoError(t, err, step.name)
		assert.Equal(t, step.want, got, step.name)
	}

	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, &store.Snapshot{
		Revision: 10, // one a change, from 1 in a new etcd
		Services: map[string][]byte{"db": []byte(`{"svc":"db"}`), "web": []byte(`{"svc":"web"}`)},
		Endpoints: map[string]map[string]store.Endpoint{
			"db": {
				"10.0.0.1": {Doc: []byte(`{"port":2}`)},
				"10.0.0.2": {Doc: []byte(`{"ttl":60}`)},
			},
			"web": {"web1.example.org": {Doc: []byte(`{}`)}},
		},
	}, snap)

	// A service's endpoints go with it, and do not come back with it.
	existed, _, err := s.DeleteService(ctx, "db")
	require.NoError(t, err)
	assert.True(t, existed)
	_, _, err = s.PutService(ctx, "db", []byte(`{"svc":"db"}`))
	require.NoError(t, err)
	snap, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, &store.Snapshot{
		Revision:  12, // one a change, from 1 in a new etcd
		Services:  map[string][]byte{"db": []byte(`{"svc":"db"}`), "web": []byte(`{"svc":"web"}`)},
		Endpoints: map[string]map[string]store.Endpoint{"web": {"web1.example.org": {Doc: []byte(`{}`)}}},
	}, snap)
}

func TestKeyLayout(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	cli := e.Client(t)
	ctx := context.Background()

	_, _, err := s.PutService(ctx, "db", []byte(`{"svc":"db"}`))
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{"port":1}`), 0)
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), 90*time.Second+time.Millisecond)
	require.NoError(t, err)

	keys := rawKeys(t, e, "/")
	assert.Equal(t, []string{"/tpdns/endpoints/db/10.0.0.1", "/tpdns/endpoints/db/10.0.0.2", "/tpdns/services/db"}, keysOf(keys))
	assert.Zero(t, keys["/tpdns/services/db"])
	assert.Zero(t, keys["/tpdns/endpoints/db/10.0.0.1"])
	resp, err := cli.Get(ctx, "/tpdns/services/db")
	require.NoError(t, err)
	assert.Equal(t, `{"svc":"db"}`, string(resp.Kvs[0].Value))

	// A heartbeat's lease lasts its ttl, rounded up to whole seconds.
	lease := clientv3.LeaseID(keys["/tpdns/endpoints/db/10.0.0.2"])
	require.NotZero(t, lease)
	ttl, err := cli.TimeToLive(ctx, lease)
	require.NoError(t, err)
	assert.Equal(t, int64(91), ttl.GrantedTTL)

	// Each heartbeat takes a fresh lease and ends the one before; a put
	// without a ttl ends it too.
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), time.Minute)
	require.NoError(t, err)
	next := clientv3.LeaseID(rawKeys(t, e, "/")["/tpdns/endpoints/db/10.0.0.2"])
	assert.NotEqual(t, lease, next)
	leases, err := cli.Leases(ctx)
	require.NoError(t, err)
	assert.Equal(t, []clientv3.LeaseStatus{{ID: next}}, leases.Leases)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), 0)
	require.NoError(t, err)
	leases, err = cli.Leases(ctx)
	require.NoError(t, err)
	assert.Empty(t, leases.Leases)

	// Deleting a heartbeat endpoint, or its service, ends its lease.
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), time.Minute)
	require.NoError(t, err)
	_, _, err = s.DeleteEndpoint(ctx, "db", "10.0.0.2")
	require.NoError(t, err)
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.3", []byte(`{}`), time.Minute)
	require.NoError(t, err)
	_, _, err = s.DeleteService(ctx, "db")
	require.NoError(t, err)
	leases, err = cli.Leases(ctx)
	require.NoError(t, err)
	assert.Empty(t, leases.Leases)
	assert.Empty(t, rawKeys(t, e, "/"))

	// A refused endpoint leaves no lease behind.
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.2", []byte(`{}`), time.Minute)
	require.ErrorIs(t, err, store.ErrNoService)
	leases, err = cli.Leases(ctx)
	require.NoError(t, err)
	assert.Empty(t, leases.Leases)
}

func keysOf(m map[string]int64) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCustomPrefix(t *testing.T) {
	e := test.StartEtcd(t)
	other := open(t, etcd.Options{Endpoints: []string{e.Endpoint}, Prefix: "/dns/tpdns/"})
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()

	_, _, err := other.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	_, _, err = other.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 0)
	require.NoError(t, err)
	// A key beside the prefix, not under it, is not ours.
	e.Put(t, "/dns/tpdnsx/services/web", `{}`)
	assert.Equal(t, []string{"/dns/tpdns/endpoints/db/10.0.0.1", "/dns/tpdns/services/db", "/dns/tpdnsx/services/web"},
		keysOf(rawKeys(t, e, "/")))

	snap, err := other.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, &store.Snapshot{
		Revision:  4, // one a change, from 1 in a new etcd
		Services:  map[string][]byte{"db": []byte(`{}`)},
		Endpoints: map[string]map[string]store.Endpoint{"db": {"10.0.0.1": {Doc: []byte(`{}`)}}},
	}, snap)
	snap, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, snap.Services)
	assert.Empty(t, snap.Endpoints)
}

func TestLoadSkipsForeignKeys(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	for _, key := range []string{"/tpdns/services/", "/tpdns/services/a/b", "/tpdns/endpoints/db", "/tpdns/endpoints/db/",
		"/tpdns/endpoints/db/a/b", "/tpdns/other", "/tpdns/health/db/10.0.0.1:5432", "/tpdns/replicas/r1", "/tpdns/services/db"} {
		e.Put(t, key, "x")
	}
	snap, err := s.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &store.Snapshot{
		Revision:  10, // one a change, from 1 in a new etcd
		Services:  map[string][]byte{"db": []byte("x")},
		Endpoints: map[string]map[string]store.Endpoint{},
	}, snap)
}

// TestLoadInPages: a store read in pages, of any size, is the store read
// in one.
func TestLoadInPages(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		_, _, err := s.PutService(ctx, name, []byte(`{"name":"`+name+`"}`))
		require.NoError(t, err)
		_, _, err = s.PutEndpoint(ctx, name, "10.0.0.1", []byte(`{}`), 0)
		require.NoError(t, err)
	}
	whole, err := s.Load(ctx)
	require.NoError(t, err)
	require.Len(t, whole.Services, 5)
	assert.Equal(t, int64(11), whole.Revision)
	for _, page := range []int64{1, 3, 10} {
		etcd.SetPage(s, page)
		snap, err := s.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, whole, snap, "pages of %d", page)
	}
}

func TestHeartbeatExpires(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()
	_, _, err := s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	changes := watch(t, s)

	const ttl = time.Second
	start := time.Now()
	_, _, err = s.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), ttl)
	require.NoError(t, err)
	signalled(t, changes, time.Second, "the put")
	for {
		snap, err := s.Load(ctx)
		require.NoError(t, err)
		if len(snap.Endpoints["db"]) == 0 {
			break
		}
		require.Less(t, time.Since(start), ttl+time.Second, "the endpoint outlived its ttl")
		time.Sleep(20 * time.Millisecond)
	}
	// Its expiry was a change as well.
	signalled(t, changes, time.Second, "the expiry")
	assert.GreaterOrEqual(t, time.Since(start), ttl)
}

func TestWatch(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	// An endpoint without a scheme is plain HTTP.
	other := open(t, etcd.Options{Endpoints: []string{strings.TrimPrefix(e.Endpoint, "http://")}})
	ctx := context.Background()

	// A write between the Load and the Watch is not missed.
	_, err := s.Load(ctx)
	require.NoError(t, err)
	_, _, err = other.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	first, second := watch(t, s), watch(t, s)
	signalled(t, first, time.Second, "a write before the watch")
	signalled(t, second, time.Second, "a write before the watch")

	_, _, err = other.PutEndpoint(ctx, "db", "10.0.0.1", []byte(`{}`), 0)
	require.NoError(t, err)
	signalled(t, first, time.Second, "another store's write")
	signalled(t, second, time.Second, "another store's write")

	e.Put(t, "/tpdns/services/web", `{}`)
	signalled(t, first, time.Second, "a raw put")
	signalled(t, second, time.Second, "a raw put")

	// Shared probing's keys change no service: they are not signalled.
	drain(first)
	e.Put(t, "/tpdns/health/db/10.0.0.1:5432", `{}`)
	e.Put(t, "/tpdns/replicas/r1", `{}`)
	select {
	case <-first:
		t.Fatal("a shared probing key was signalled")
	case <-time.After(300 * time.Millisecond): // what a signal takes, with room
	}

	// Keys beside the prefix are not watched.
	e.Put(t, "/tpdnsx/services/web", `{}`)
	_, _, err = s.PutService(ctx, "mail", []byte(`{}`))
	require.NoError(t, err)
	signalled(t, first, time.Second, "its own write")
	select {
	case <-first:
		t.Fatal("a write outside the prefix was signalled")
	default:
	}
}

func TestWatchWithoutLoadSignalsOnce(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	// The reader may have failed to load: it hears when etcd answers.
	changes := watch(t, s)
	signalled(t, changes, time.Second, "the watch started")
	e.Put(t, "/tpdns/services/db", `{}`)
	signalled(t, changes, time.Second, "a raw put")
}

func TestWatchCompacted(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}})
	ctx := context.Background()

	// A watch that is running survives a compaction.
	_, err := s.Load(ctx)
	require.NoError(t, err)
	running := watch(t, s)
	e.Put(t, "/tpdns/services/a", `{}`)
	signalled(t, running, time.Second, "a raw put")
	e.Compact(t)
	e.Put(t, "/tpdns/services/b", `{}`)
	signalled(t, running, time.Second, "a put after the compaction")

	// One that starts from a revision compacted away signals, then
	// follows from the current one.
	_, err = s.Load(ctx)
	require.NoError(t, err)
	e.Put(t, "/tpdns/services/c", `{}`)
	e.Compact(t)
	late := watch(t, s)
	signalled(t, late, 2*time.Second, "a watch from a compacted revision")
	e.Put(t, "/tpdns/services/d", `{}`)
	signalled(t, late, 2*time.Second, "a put after the compaction")
}

// count counts the values ch receives until the test ends.
func count(t *testing.T, ch <-chan struct{}) *atomic.Int64 {
	n := &atomic.Int64{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ch:
				n.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
	return n
}

func TestEtcdDown(t *testing.T) {
	e := test.StartEtcd(t)
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}, Timeout: time.Second})
	ctx := context.Background()
	_, _, err := s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	_, err = s.Load(ctx)
	require.NoError(t, err)
	signals := count(t, watch(t, s))

	e.Stop(t)
	want := "store etcd " + e.Endpoint + ": store unavailable: context deadline exceeded"
	ops := []struct {
		name string
		do   func() error
	}{
		{"Load", func() error { _, err := s.Load(ctx); return err }},
		{"PutService", func() error { _, _, err := s.PutService(ctx, "web", nil); return err }},
		{"DeleteService", func() error { _, _, err := s.DeleteService(ctx, "db"); return err }},
		{"PutEndpoint", func() error { _, _, err := s.PutEndpoint(ctx, "db", "10.0.0.1", nil, 0); return err }},
		{"heartbeat", func() error { _, _, err := s.PutEndpoint(ctx, "db", "10.0.0.1", nil, time.Second); return err }},
		{"DeleteEndpoint", func() error { _, _, err := s.DeleteEndpoint(ctx, "db", "10.0.0.1"); return err }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.do()
		assert.ErrorIs(t, err, store.ErrUnavailable, op.name)
		assert.EqualError(t, err, want, op.name)
		assert.Less(t, time.Since(start), 2*time.Second, op.name)
	}
	// Six seconds without etcd: the watch waited rather than spun.
	assert.LessOrEqual(t, signals.Load(), int64(1), "signals while etcd was down")

	e.Start(t)
	before := signals.Load()
	e.Put(t, "/tpdns/services/web", `{}`)
	deadline := time.Now().Add(10 * time.Second)
	for signals.Load() == before {
		require.True(t, time.Now().Before(deadline), "the watch did not resume within 10s")
		time.Sleep(20 * time.Millisecond)
	}
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"db": []byte(`{}`), "web": []byte(`{}`)}, snap.Services)
}

func TestOpenWhileEtcdDown(t *testing.T) {
	e := test.StartEtcd(t)
	e.Stop(t)
	var stores []*etcd.Store
	for _, o := range []etcd.Options{
		{Endpoints: []string{e.Endpoint}, Timeout: time.Second},
		{Endpoints: []string{e.Endpoint}, Timeout: time.Second, Username: "root", Password: "secret"},
	} {
		start := time.Now()
		s := open(t, o)
		assert.Less(t, time.Since(start), 100*time.Millisecond, "Open waited for etcd")
		_, err := s.Load(context.Background())
		assert.ErrorIs(t, err, store.ErrUnavailable)
		stores = append(stores, s)
	}
	// They work once etcd is up (without authentication: the login finds
	// it off).
	e.Start(t)
	for i, s := range stores {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, err := s.PutService(context.Background(), "db", []byte(`{}`))
			if err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "store %d: no write within 10s of etcd starting: %v", i, err)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, caFile := writeCerts(t, dir)
	otherCert, _, _ := writeCerts(t, t.TempDir())
	ep := "127.0.0.1:2379"
	tests := []struct {
		name string
		o    etcd.Options
		want string
	}{
		{"no endpoint", etcd.Options{}, "store etcd: no endpoint"},
		{"partial tls", etcd.Options{Endpoints: []string{ep}, CertFile: certFile},
			"store etcd 127.0.0.1:2379: tls needs a certificate, a key and a CA file"},
		{"missing cert", etcd.Options{Endpoints: []string{ep}, CertFile: dir + "/nope.pem", KeyFile: keyFile, CAFile: caFile},
			"store etcd 127.0.0.1:2379: tls certificate " + dir + "/nope.pem: no such file or directory"},
		{"missing key", etcd.Options{Endpoints: []string{ep}, CertFile: certFile, KeyFile: dir + "/nope.pem", CAFile: caFile},
			"store etcd 127.0.0.1:2379: tls key " + dir + "/nope.pem: no such file or directory"},
		{"missing CA", etcd.Options{Endpoints: []string{ep}, CertFile: certFile, KeyFile: keyFile, CAFile: dir + "/nope.pem"},
			"store etcd 127.0.0.1:2379: tls CA " + dir + "/nope.pem: no such file or directory"},
		{"mismatched key", etcd.Options{Endpoints: []string{ep}, CertFile: otherCert, KeyFile: keyFile, CAFile: caFile},
			"store etcd 127.0.0.1:2379: tls certificate " + otherCert + " and key " + keyFile + ": tls: private key does not match public key"},
		{"CA not PEM", etcd.Options{Endpoints: []string{ep}, CertFile: certFile, KeyFile: keyFile, CAFile: keyFile},
			"store etcd 127.0.0.1:2379: tls CA " + keyFile + ": no PEM certificate in it"},
		{"tls over http", etcd.Options{Endpoints: []string{"https://127.0.0.1:2379", "http://127.0.0.2:2379"}, CertFile: certFile, KeyFile: keyFile, CAFile: caFile},
			"store etcd https://127.0.0.1:2379,http://127.0.0.2:2379: endpoint http://127.0.0.2:2379: tls needs https:// or no scheme"},
		{"user only", etcd.Options{Endpoints: []string{ep}, Username: "root"},
			"store etcd 127.0.0.1:2379: credentials need both a user and a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := etcd.Open(tt.o)
			assert.Nil(t, s)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, caFile := writeCerts(t, t.TempDir())
	e := test.StartEtcdTLS(t, certFile, keyFile, caFile)
	ctx := context.Background()
	// With TLS set, an endpoint without a scheme is https.
	for _, ep := range []string{e.Endpoint, e.Endpoint[len("https://"):]} {
		s := open(t, etcd.Options{Endpoints: []string{ep}, CertFile: certFile, KeyFile: keyFile, CAFile: caFile})
		_, _, err := s.PutService(ctx, "db", []byte(`{}`))
		require.NoError(t, err, ep)
		snap, err := s.Load(ctx)
		require.NoError(t, err, ep)
		assert.Equal(t, map[string][]byte{"db": []byte(`{}`)}, snap.Services, ep)
	}
	// Without a client certificate etcd does not answer.
	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}, Timeout: time.Second})
	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, store.ErrUnavailable)
}

func TestCredentials(t *testing.T) {
	e := test.StartEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli := e.Client(t)
	_, err := cli.UserAdd(ctx, "root", "secret")
	require.NoError(t, err)
	_, err = cli.UserGrantRole(ctx, "root", "root")
	require.NoError(t, err)
	_, err = cli.AuthEnable(ctx)
	require.NoError(t, err)

	s := open(t, etcd.Options{Endpoints: []string{e.Endpoint}, Username: "root", Password: "secret"})
	changes := watch(t, s)
	_, _, err = s.PutService(ctx, "db", []byte(`{}`))
	require.NoError(t, err)
	snap, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"db": []byte(`{}`)}, snap.Services)
	signalled(t, changes, time.Second, "a write")

	// etcd forgets its tokens when it restarts: the store logs in again.
	e.Stop(t)
	e.Start(t)
	drain(changes)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err = s.PutService(ctx, "web", []byte(`{}`)); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "no write within 10s of a restart: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	signalled(t, changes, 10*time.Second, "a write after a restart")

	tests := []struct {
		o    etcd.Options
		want string
	}{
		{etcd.Options{Endpoints: []string{e.Endpoint}, Username: "root", Password: "wrong"},
			"store etcd " + e.Endpoint + ": etcdserver: authentication failed, invalid user ID or password"},
		{etcd.Options{Endpoints: []string{e.Endpoint}},
			"store etcd " + e.Endpoint + ": etcdserver: user name is empty"},
	}
	for _, tt := range tests {
		_, err = open(t, tt.o).Load(ctx)
		assert.EqualError(t, err, tt.want)
		assert.False(t, errors.Is(err, store.ErrUnavailable))
	}
}

func TestClose(t *testing.T) {
	e := test.StartEtcd(t)
	s, err := etcd.Open(etcd.Options{Endpoints: []string{e.Endpoint}})
	require.NoError(t, err)
	// The watch ends with the store, not only with its context.
	s.Watch(context.Background())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Load(context.Background())
	assert.EqualError(t, err, "store etcd "+e.Endpoint+": store closed")
}
