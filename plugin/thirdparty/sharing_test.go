package thirdparty_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

func TestOwnersSpreadAndMoveLittle(t *testing.T) {
	three := []string{"a-1-tp.internal", "b-1-tp.internal", "c-1-tp.internal"}
	four := append(append([]string{}, three...), "d-1-tp.internal")
	const n = 30000
	owned := map[string]int{}
	moved := 0
	for i := range n {
		path := fmt.Sprintf("svc-%d/10.0.%d.%d:5432", i%100, i/256%256, i%256)
		before, after := thirdparty.SharedOwner(three, path), thirdparty.SharedOwner(four, path)
		owned[before]++
		if before != after {
			moved++
			assert.Equal(t, "d-1-tp.internal", after, "an endpoint moved between two replicas that stayed")
		}
	}
	for _, id := range three {
		assert.InDelta(t, n/3, owned[id], n/3*0.05, "%s owns %d of %d", id, owned[id], n)
	}
	assert.InDelta(t, n/4, moved, n/4*0.05, "a fourth replica takes a quarter")
}

// target is a TCP endpoint that counts the connections (probes) it takes.
type target struct {
	ln     net.Listener
	probes atomic.Int64
	done   sync.WaitGroup
}

func startTarget(t *testing.T, addr string) *target {
	tg := &target{ln: listen(t, addr)}
	tg.done.Add(1)
	go func() {
		defer tg.done.Done()
		for {
			c, err := tg.ln.Accept()
			if err != nil {
				return
			}
			tg.probes.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { tg.ln.Close(); tg.done.Wait() })
	return tg
}

// fakeReplica is another replica, written straight into etcd: its
// membership under a lease of its own, the states it publishes.
type fakeReplica struct {
	id    string
	cli   *clientv3.Client
	lease clientv3.LeaseID
	stop  context.CancelFunc
}

func joinFake(t *testing.T, cli *clientv3.Client, id string) *fakeReplica {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	grant, err := cli.Grant(ctx, 2)
	require.NoError(t, err)
	_, err = cli.Put(ctx, "/tpdns/replicas/"+id, "{}", clientv3.WithLease(grant.ID))
	require.NoError(t, err)
	keep, stop := context.WithCancel(context.Background())
	alive, err := cli.KeepAlive(keep, grant.ID)
	require.NoError(t, err)
	go func() {
		for range alive {
		}
	}()
	t.Cleanup(stop)
	return &fakeReplica{id: id, cli: cli, lease: grant.ID, stop: stop}
}

func (f *fakeReplica) publish(t *testing.T, path, state, check string) {
	v, err := json.Marshal(map[string]any{"state": state, "successes": 0, "failures": 3, "checked": time.Now().UTC(), "error": "published by " + f.id, "check": check, "replica": f.id})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = f.cli.Put(ctx, "/tpdns/health/"+path, string(v), clientv3.WithLease(f.lease))
	require.NoError(t, err)
}

// leave ends the replica as a shutdown does: its lease is revoked.
func (f *fakeReplica) leave(t *testing.T) {
	f.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := f.cli.Revoke(ctx, f.lease)
	require.NoError(t, err)
}

// published returns the states in etcd by path.
func published(t *testing.T, cli *clientv3.Client) map[string]map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/tpdns/health/", clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, kv := range resp.Kvs {
		var v map[string]any
		require.NoError(t, json.Unmarshal(kv.Value, &v))
		out[strings.TrimPrefix(string(kv.Key), "/tpdns/health/")] = v
	}
	return out
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestSharedProbing runs one replica among two others written straight
// into etcd: one that publishes the states of what it owns, one that never
// does. The replica probes only its own endpoints and publishes their
// states, answers the other's published states, probes the silent one's
// endpoints itself after three intervals, and takes over the endpoints of
// the publishing one when it leaves.
func TestSharedProbing(t *testing.T) {
	e := test.StartEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()

	const interval = 300 * time.Millisecond
	port := test.FreePort(t)
	var addrs []string
	targets := map[string]*target{}
	for i := range 9 {
		a := fmt.Sprintf("127.0.0.%d", 61+i)
		addrs = append(addrs, a)
		targets[a] = startTarget(t, a+":"+port)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [%s]
    check: {type: tcp, interval: %s, timeout: 200ms, rise: 1, fall: 1}
`, port, strings.Join(addrs, ", "), interval)), 0o644))

	dnsPort := test.FreePort(t)
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(fmt.Sprintf(
		"tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  reload 0\n  store etcd %s\n  health_sharing\n }\n}\n", dnsPort, e.Endpoint))})
	addr := "127.0.0.1:" + dnsPort
	var self string
	waitFor(t, 5*time.Second, "the replica registers", func() bool {
		resp, err := cli.Get(context.Background(), "/tpdns/replicas/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		require.NoError(t, err)
		if len(resp.Kvs) == 1 {
			self = strings.TrimPrefix(string(resp.Kvs[0].Key), "/tpdns/replicas/")
		}
		return self != ""
	})

	// Two more replicas, named so that each of the three owns endpoints,
	// and that the publisher's go to both others when it leaves.
	pathOf := func(a string) string { return "db/" + a + ":" + port }
	split := func(ids []string, of []string) map[string][]string {
		owners := map[string][]string{}
		for _, a := range of {
			owner := thirdparty.SharedOwner(ids, pathOf(a))
			owners[owner] = append(owners[owner], a)
		}
		return owners
	}
	var owners, after map[string][]string
	var publisherID, silentID string
search:
	for i := range 100 {
		for j := range 100 {
			publisherID, silentID = fmt.Sprintf("publisher-%d", i), fmt.Sprintf("silent-%d", j)
			owners = split([]string{publisherID, silentID, self}, addrs)
			after = split([]string{silentID, self}, owners[publisherID])
			if len(owners[self]) > 0 && len(owners[silentID]) > 0 && len(after[self]) > 0 && len(after[silentID]) > 0 {
				break search
			}
		}
	}
	require.NotEmpty(t, after[silentID], "no names found")
	// Alone, the replica probes every endpoint and publishes its state.
	var check string
	waitFor(t, 3*time.Second, "the replica's states published", func() bool {
		states := published(t, cli)
		for _, a := range addrs {
			s := states[pathOf(a)]
			if s == nil || s["state"] != "healthy" || s["replica"] != self {
				return false
			}
			check = s["check"].(string)
		}
		return true
	})

	// The publisher joins and says one of its endpoints is unhealthy (it
	// is up): the replica answers without it, and no longer probes it.
	publisher := joinFake(t, cli, publisherID)
	down := owners[publisher.id][0]
	for _, a := range owners[publisher.id] {
		state := "healthy"
		if a == down {
			state = "unhealthy"
		}
		publisher.publish(t, pathOf(a), state, check)
	}
	silent := joinFake(t, cli, silentID)
	want := func(except string) []string {
		var out []string
		for _, a := range addrs {
			if a != except {
				out = append(out, a)
			}
		}
		return out
	}
	waitAddresses(t, addr, "db.tp.internal.", want(down), 2*time.Second)

	// Nobody publishes the silent replica's endpoints (this replica's
	// states of them, from before it joined, are not the owner's): after
	// three intervals the replica probes them itself, without publishing.
	waitFor(t, 3*interval+2*time.Second, "the silent replica's endpoints probed locally", func() bool {
		return metricValue(t, "tpdns_thirdparty_sharing_local_endpoints", nil) == float64(len(owners[silent.id]))
	})
	assert.Equal(t, float64(len(owners[self])), metricValue(t, "tpdns_thirdparty_sharing_owned_endpoints", nil))
	assert.Equal(t, float64(3), metricValue(t, "tpdns_thirdparty_sharing_replicas", nil))

	// Over several intervals: the replica's own endpoints and the silent
	// one's are probed about once an interval; the publisher's never.
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for a, tg := range targets {
			out[a] = tg.probes.Load()
		}
		return out
	}
	probedSince := func(base map[string]int64, as []string) func() bool {
		return func() bool {
			for _, a := range as {
				if targets[a].probes.Load() == base[a] {
					return false
				}
			}
			return true
		}
	}
	start := counts()
	const window = 10 * interval
	time.Sleep(window) // the measurement's window
	for _, a := range owners[publisher.id] {
		assert.Equal(t, start[a], targets[a].probes.Load(), "%s is the publisher's: not probed here", a)
	}
	for _, a := range append(append([]string{}, owners[self]...), owners[silent.id]...) {
		n := targets[a].probes.Load() - start[a]
		assert.InDelta(t, 10, n, 2.5, "%s probed %d times in %s (interval %s)", a, n, window, interval)
	}
	for a, s := range published(t, cli) {
		if strings.Contains(a, ":"+port) {
			assert.NotEqual(t, silent.id, s["replica"], "nobody publishes for the silent replica")
		}
	}

	// A state of one of the replica's endpoints written by another (a
	// former owner's write landing late) is overwritten with its own.
	mine := owners[self][0]
	publisher.publish(t, pathOf(mine), "unhealthy", check)
	waitFor(t, 2*time.Second, "the replica's state written again", func() bool {
		s := published(t, cli)[pathOf(mine)]
		return s != nil && s["replica"] == self && s["state"] == "healthy"
	})
	waitAddresses(t, addr, "db.tp.internal.", want(down), time.Second)

	// The publisher leaves. The replica takes over the endpoints it now
	// owns within an interval, probes them and publishes their states; the
	// silent replica's new ones it probes itself after three intervals.
	// The one said down is up, and answered again.
	taken, toSilent := after[self], after[silent.id]
	before, base := metricValue(t, "tpdns_thirdparty_sharing_takeovers_total", nil), counts()
	publisher.leave(t)
	took := waitFor(t, interval+time.Second, "the publisher's endpoints taken over", probedSince(base, taken))
	t.Logf("%d of the publisher's endpoints taken over and probed %s after it left (interval %s)", len(taken), took, interval)
	assert.Equal(t, float64(len(taken)), metricValue(t, "tpdns_thirdparty_sharing_takeovers_total", nil)-before)
	waitFor(t, 2*time.Second, "the taken-over states published", func() bool {
		states := published(t, cli)
		for _, a := range taken {
			if s := states[pathOf(a)]; s == nil || s["replica"] != self || s["state"] != "healthy" {
				return false
			}
		}
		return true
	})
	took = waitFor(t, 3*interval+2*time.Second, "the publisher's endpoints that went to the silent replica probed", probedSince(base, toSilent))
	t.Logf("%d went to the silent replica: probed here %s after the publisher left", len(toSilent), took)
	waitAddresses(t, addr, "db.tp.internal.", addrs, 2*time.Second)
}

// TestSharedProbingWithoutEtcd: a replica that loses etcd probes every
// endpoint itself, those of the other replicas included.
func TestSharedProbingWithoutEtcd(t *testing.T) {
	e := test.StartEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()
	port := test.FreePort(t)
	var addrs []string
	targets := map[string]*target{}
	for i := range 6 {
		a := fmt.Sprintf("127.0.0.%d", 71+i)
		addrs = append(addrs, a)
		targets[a] = startTarget(t, a+":"+port)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(`services:
  - name: db
    ports: [{name: db, port: %s}]
    endpoints: [%s]
    check: {type: tcp, interval: 300ms, timeout: 200ms}
`, port, strings.Join(addrs, ", "))), 0o644))
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(fmt.Sprintf(
		"tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  reload 0\n  store etcd %s\n  health_sharing\n }\n}\n", test.FreePort(t), e.Endpoint))})
	// Alone, the replica probes every endpoint and publishes its state.
	var check string
	waitFor(t, 3*time.Second, "this replica's states published", func() bool {
		states := published(t, cli)
		for _, s := range states {
			check, _ = s["check"].(string)
		}
		return len(states) == len(addrs)
	})
	self := replicaIn(t, cli, "")

	// Another replica, named so that it owns some of the endpoints,
	// joins and publishes their states: this one leaves them to it.
	var otherID string
	var theirs []string
	for i := 0; len(theirs) == 0; i++ {
		otherID, theirs = fmt.Sprintf("other-%d", i), nil
		for _, a := range addrs {
			if thirdparty.SharedOwner([]string{otherID, self}, "db/"+a+":"+port) == otherID {
				theirs = append(theirs, a)
			}
		}
	}
	other := joinFake(t, cli, otherID)
	for _, a := range theirs {
		other.publish(t, "db/"+a+":"+port, "healthy", check)
	}
	waitFor(t, 3*time.Second, "the endpoints handed over", func() bool {
		return metricValue(t, "tpdns_thirdparty_sharing_replicas", nil) == 2 &&
			metricValue(t, "tpdns_thirdparty_sharing_owned_endpoints", nil) == float64(len(addrs)-len(theirs)) &&
			metricValue(t, "tpdns_thirdparty_sharing_local_endpoints", nil) == 0
	})
	base := map[string]int64{}
	for _, a := range theirs {
		base[a] = targets[a].probes.Load()
	}
	time.Sleep(4 * 300 * time.Millisecond) // the window: longer than the three intervals after which an unpublished state is probed
	for _, a := range theirs {
		require.Equal(t, base[a], targets[a].probes.Load(), "%s is the other replica's", a)
	}
	e.Stop(t)
	took := waitFor(t, 15*time.Second, "the other replica's endpoints probed here", func() bool {
		for _, a := range theirs {
			if targets[a].probes.Load() == base[a] {
				return false
			}
		}
		return true
	})
	t.Logf("without etcd, the other replica's %d endpoints were probed here %s after etcd stopped", len(theirs), took)
	assert.Zero(t, metricValue(t, "tpdns_thirdparty_sharing_replicas", nil))
}

// replicaIn is the ID of a replica registered in etcd other than not.
func replicaIn(t *testing.T, cli *clientv3.Client, not string) string {
	resp, err := cli.Get(context.Background(), "/tpdns/replicas/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	require.NoError(t, err)
	for _, kv := range resp.Kvs {
		if id := strings.TrimPrefix(string(kv.Key), "/tpdns/replicas/"); id != not {
			return id
		}
	}
	t.Fatal("no other replica registered")
	return ""
}
