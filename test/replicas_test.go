package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// replica is one tpdns process on a shared etcd.
type replica struct {
	*registrar
	metrics string
	proc    *Process
}

func startReplicas(t *testing.T, e *Etcd, n int) []*replica {
	dir := t.TempDir()
	var out []*replica
	for i := range n {
		r := &replica{registrar: &registrar{dir: dir}}
		r.dns, r.api, r.metrics = "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t)
		r.corefile = filepath.Join(dir, fmt.Sprintf("Corefile%d", i))
		conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n prometheus %s\n thirdparty {\n  store etcd %s\n  api %s {\n   token_file tpdns.token\n  }\n }\n}\n",
			strings.TrimPrefix(r.dns, "127.0.0.1:"), r.metrics, e.Endpoint, r.api)
		require.NoError(t, os.WriteFile(r.corefile, []byte(conf), 0o644))
		r.proc = r.start(t)
		out = append(out, r)
	}
	return out
}

func (r *replica) a(t *testing.T, name string) map[string]bool {
	return r.addresses(t, name, dns.TypeA)
}

// waitA polls the replica until name has the addresses want.
func (r *replica) waitA(t *testing.T, name string, want map[string]bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !assert.ObjectsAreEqual(want, r.a(t, name)) {
		require.True(t, time.Since(start) < within, "%s on %s: %v, want %v after %s", name, r.dns, r.a(t, name), want, within)
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func (r *replica) do(t *testing.T, method, path, body string) int {
	req, err := http.NewRequest(method, "http://"+r.api+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) scrape(t *testing.T) string {
	resp, err := http.Get("http://" + r.metrics + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestReplicasShareTheRegistry(t *testing.T) {
	e := StartEtcd(t)
	rs := startReplicas(t, e, 2)
	a, b := rs[0], rs[1]

	require.Equal(t, http.StatusCreated, a.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1"]}`))
	took := b.waitA(t, "db.tp.internal.", map[string]bool{"192.0.2.1": true}, time.Second)
	t.Logf("a PUT on A answered on B after %s", took)

	require.Equal(t, http.StatusCreated, b.do(t, "PUT", "/v1/services/db/endpoints/192.0.2.2", ""))
	a.waitA(t, "db.tp.internal.", map[string]bool{"192.0.2.1": true, "192.0.2.2": true}, time.Second)

	require.Equal(t, http.StatusNoContent, a.do(t, "DELETE", "/v1/services/db", ""))
	b.waitA(t, "db.tp.internal.", map[string]bool{}, time.Second)

	// A heartbeat endpoint registered on A expires on both once its
	// heartbeats stop, though A is killed: the etcd lease expires it.
	require.Equal(t, http.StatusCreated, a.do(t, "PUT", "/v1/services/beat", `{"endpoints":["192.0.2.10"]}`))
	last := time.Now()
	require.Equal(t, http.StatusCreated, a.do(t, "PUT", "/v1/services/beat/endpoints/192.0.2.11", `{"ttl":2}`))
	b.waitA(t, "beat.tp.internal.", map[string]bool{"192.0.2.10": true, "192.0.2.11": true}, time.Second)
	a.proc.Signal(t, syscall.SIGKILL)
	a.proc.Wait(t)
	b.waitA(t, "beat.tp.internal.", map[string]bool{"192.0.2.10": true}, time.Until(last.Add(3*time.Second)))
	t.Logf("the heartbeat endpoint left B %s after its last PUT (ttl 2s)", time.Since(last).Round(time.Millisecond))
}

func TestReplicasOutliveEtcd(t *testing.T) {
	e := StartEtcd(t)
	rs := startReplicas(t, e, 2)
	a, b := rs[0], rs[1]
	require.Equal(t, http.StatusCreated, a.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1"]}`))
	b.waitA(t, "db.tp.internal.", map[string]bool{"192.0.2.1": true}, time.Second)

	e.Stop(t)
	// Writes fail with 503 and change nothing; answers stay.
	assert.Equal(t, http.StatusServiceUnavailable, a.do(t, "PUT", "/v1/services/other", `{"endpoints":["192.0.2.2"]}`))
	assert.Equal(t, http.StatusServiceUnavailable, a.do(t, "PUT", "/v1/services/db/endpoints/192.0.2.3", ""))
	for _, r := range rs {
		assert.Equal(t, map[string]bool{"192.0.2.1": true}, r.a(t, "db.tp.internal."), r.dns)
		assert.Empty(t, r.a(t, "other.tp.internal."))
	}
	// The store is seen down: a watch waits quietly, the replica's ping
	// fails.
	waitFor(t, 10*time.Second, "store_up 0", func() bool {
		return strings.Contains(b.scrape(t), "tpdns_thirdparty_store_up 0")
	})
	// Answered from the last read, and said to be stale (EDE 3).
	stale := Exchange(t, "udp", b.dns, Query("db.tp.internal.", dns.TypeA, 1232))
	require.Len(t, stale.Answer, 1)
	require.NotNil(t, stale.IsEdns0())
	assert.Equal(t, []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer}}, stale.IsEdns0().Option)

	// A write made behind tpdns's back while it was down shows up once
	// etcd is back.
	e.Start(t)
	e.Put(t, "/tpdns/services/raw", `{"name":"raw","endpoints":[{"address":"192.0.2.9","priority":0,"weight":1,"disabled":false}]}`)
	for _, r := range rs {
		r.waitA(t, "raw.tp.internal.", map[string]bool{"192.0.2.9": true}, 10*time.Second)
		assert.Contains(t, r.scrape(t), "tpdns_thirdparty_store_up 1")
		assert.Empty(t, r.a(t, "other.tp.internal."), "the write refused with 503 was never made")
		assert.Equal(t, map[string]bool{"192.0.2.1": true}, r.a(t, "db.tp.internal."))
		fresh := Exchange(t, "udp", r.dns, Query("db.tp.internal.", dns.TypeA, 1232))
		assert.Empty(t, fresh.IsEdns0().Option, "fresh again")
	}
}

func TestReplicasSurviveCompaction(t *testing.T) {
	e := StartEtcd(t)
	rs := startReplicas(t, e, 1)
	r := rs[0]
	for i := range 5 {
		require.Equal(t, http.StatusCreated, r.do(t, "PUT", fmt.Sprintf("/v1/services/s%d", i), `{"endpoints":["192.0.2.1"]}`))
	}
	e.Compact(t)
	e.Put(t, "/tpdns/services/late", `{"name":"late","endpoints":[{"address":"192.0.2.7","priority":0,"weight":1,"disabled":false}]}`)
	r.waitA(t, "late.tp.internal.", map[string]bool{"192.0.2.7": true}, 5*time.Second)
}

// TestLoad5000ServicesFromEtcd starts a replica on an etcd holding 5,000
// services and measures how long until the last one answers.
func TestLoad5000ServicesFromEtcd(t *testing.T) {
	e := StartEtcd(t)
	cli := e.Client(t)
	var ops []clientv3.Op
	for i := range 5000 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("/tpdns/services/svc%d", i), fmt.Sprintf(`{"name":"svc%d","ports":[{"name":"db","port":5432,"protocol":"tcp"}],"endpoints":[{"address":"10.%d.%d.1","priority":0,"weight":1,"disabled":false},{"address":"10.%d.%d.2","priority":0,"weight":1,"disabled":false}],"connection":{"DB_NAME":"app"}}`, i, i/250, i%250, i/250, i%250)))
		if len(ops) == 100 { // etcd's default limit of operations in one transaction is 128
			_, err := cli.Txn(context.Background()).Then(ops...).Commit()
			require.NoError(t, err)
			ops = ops[:0]
		}
	}
	start := time.Now()
	rs := startReplicas(t, e, 1)
	rs[0].waitA(t, "svc4999.tp.internal.", map[string]bool{"10.19.249.1": true, "10.19.249.2": true}, 10*time.Second)
	took := time.Since(start)
	t.Logf("5,000 services from etcd: the last answered %s after the process started", took.Round(time.Millisecond))
	assert.Less(t, took, 5*time.Second)
}
