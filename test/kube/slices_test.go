package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/kubesource"
	"github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/test"
)

// TestEndpointSlicesListTheHealthyEndpoints follows health changes into
// the EndpointSlices of an object's Service. An EndpointSlice refuses
// loopback addresses, and tests probe nothing else, so the states come from
// another replica sharing the probing on etcd (health_sharing), named so
// that it owns every endpoint: this replica probes none of them.
func TestEndpointSlicesListTheHealthyEndpoints(t *testing.T) {
	cp, core, objects := inNamespace(t, "shared")
	ctx := context.Background()
	e := test.StartEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()

	port, metrics := test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	test.Start(t, fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n prometheus %s\n thirdparty {\n  store etcd %s\n  health_sharing\n  kubernetes %s {\n   namespaces shared\n   endpointslices\n  }\n }\n}\n",
		port, metrics, e.Endpoint, cp.KubeconfigPath))
	addr := "127.0.0.1:" + port

	// The object, and what the replicas publish its endpoints' states under.
	u := tps("shared", "db", "192.0.2.10", "192.0.2.11", "2001:db8::10")
	spec := u.Object["spec"].(map[string]any)
	spec["ports"] = []any{map[string]any{"name": "db", "port": int64(1521)}}
	spec["check"] = map[string]any{"type": "tcp", "interval": "10s"}
	svc, err := kubesource.Convert("shared", "db", spec, nil, config.Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err)
	check := thirdparty.SharedCheck(svc.Check)
	pathOf := func(ip string) string { return "db.shared/" + net.JoinHostPort(ip, "1521") }

	// Another replica, owner of all three endpoints, publishes their states.
	self := registeredReplica(t, cli)
	other := ""
	for i := 0; other == ""; i++ {
		other = fmt.Sprintf("other-%d", i)
		for _, ip := range []string{"192.0.2.10", "192.0.2.11", "2001:db8::10"} {
			if thirdparty.SharedOwner([]string{self, other}, pathOf(ip)) != other {
				other = ""
				break
			}
		}
	}
	lease := joinReplica(t, cli, other)
	publish := func(ip, state string) {
		v, err := json.Marshal(map[string]any{"state": state, "checked": time.Now().UTC(), "check": check, "replica": other})
		require.NoError(t, err)
		_, err = cli.Put(ctx, "/tpdns/health/"+pathOf(ip), string(v), clientv3.WithLease(lease))
		require.NoError(t, err)
	}
	publish("192.0.2.10", "healthy")
	publish("192.0.2.11", "unhealthy")
	publish("2001:db8::10", "healthy")
	waitFor(t, 5*time.Second, "the other replica seen", func() (bool, string) {
		return strings.Contains(test.Scrape(t, metrics), "\ntpdns_thirdparty_sharing_replicas 2\n"), ""
	})

	_, err = objects.Create(ctx, u, metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, addr, "db.shared.tp.internal.", "192.0.2.10")
	slicesAre := func(what, want string) {
		t.Helper()
		start := time.Now()
		waitFor(t, time.Second, what, func() (bool, string) {
			got := fmt.Sprint(sliceAddresses(t, core, "shared", "db"))
			return got == want, got
		})
		t.Logf("%s: %s after the state was published", what, time.Since(start).Round(time.Millisecond))
	}
	slicesAre("the slices of the first states", "map[db-ipv4:[192.0.2.10] db-ipv6:[2001:db8::10]]")

	publish("192.0.2.11", "healthy")
	slicesAre("192.0.2.11 healthy", "map[db-ipv4:[192.0.2.10 192.0.2.11] db-ipv6:[2001:db8::10]]")
	publish("192.0.2.10", "unhealthy")
	publish("2001:db8::10", "unhealthy")
	slicesAre("192.0.2.10 and 2001:db8::10 unhealthy", "map[db-ipv4:[192.0.2.11] db-ipv6:[]]")
	waitAnswers(t, addr, "db.shared.tp.internal.", "192.0.2.11")
	require.Contains(t, test.Scrape(t, metrics), "\ntpdns_thirdparty_health_check_duration_seconds_count 0\n", "this replica probed none of the endpoints")
}

// registeredReplica returns the ID of the one replica registered in etcd.
func registeredReplica(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	var id string
	waitFor(t, 5*time.Second, "this replica registered", func() (bool, string) {
		resp, err := cli.Get(context.Background(), "/tpdns/replicas/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		require.NoError(t, err)
		if len(resp.Kvs) != 1 {
			return false, fmt.Sprint(len(resp.Kvs), " replicas")
		}
		id = strings.TrimPrefix(string(resp.Kvs[0].Key), "/tpdns/replicas/")
		return true, ""
	})
	return id
}

// joinReplica registers another replica as health_sharing does, under a
// lease kept alive until the test ends, and returns the lease.
func joinReplica(t *testing.T, cli *clientv3.Client, id string) clientv3.LeaseID {
	t.Helper()
	grant, err := cli.Grant(context.Background(), 5)
	require.NoError(t, err)
	_, err = cli.Put(context.Background(), "/tpdns/replicas/"+id, "{}", clientv3.WithLease(grant.ID))
	require.NoError(t, err)
	keep, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	alive, err := cli.KeepAlive(keep, grant.ID)
	require.NoError(t, err)
	go func() {
		for range alive {
		}
	}()
	return grant.ID
}
