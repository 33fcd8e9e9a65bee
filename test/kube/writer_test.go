package kube_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tpdns/tpdns/kubesource"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// TestOneWriterTakesOver runs two replicas: the one holding the Lease
// writes (one event per object, not two), and when it stops the other
// takes the Lease over at once and writes.
func TestOneWriterTakesOver(t *testing.T) {
	cp, core, objects := inNamespace(t, "failover")
	ctx := context.Background()
	var err error
	corefile := func(port string) string {
		return fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  kubernetes %s {\n   namespaces failover\n  }\n }\n}\n", port, cp.KubeconfigPath)
	}
	holder := func() string {
		lease, err := core.CoordinationV1().Leases("default").Get(ctx, kubesource.LeaseName, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	events := func(name string) int {
		list, err := core.CoreV1().Events("failover").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		require.NoError(t, err)
		return len(list.Items)
	}

	a := test.Start(t, corefile(test.FreePort(t)))
	var first string
	waitFor(t, 5*time.Second, "replica a holds the Lease", func() (bool, string) {
		first = holder()
		return first != "", "no holder"
	})
	portB := test.FreePort(t)
	test.Start(t, corefile(portB))

	_, err = objects.Create(ctx, tps("failover", "bad", "not an address"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = objects.Create(ctx, tps("failover", "good", "192.0.2.60"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, "127.0.0.1:"+portB, "good.failover.tp.internal.", "192.0.2.60") // b has read both
	waitFor(t, time.Second, "the event on bad", func() (bool, string) { return events("bad") > 0, "none" })
	// Both replicas have seen the object; only the writer records.
	window := time.Now()
	for time.Since(window) < 500*time.Millisecond {
		require.Equal(t, 1, events("bad"), "events on bad")
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, first, holder())

	// a stops and releases the Lease: b takes it over and writes.
	stopped := time.Now()
	require.NoError(t, server.Stop(a.Instance))
	waitFor(t, 5*time.Second, "replica b holds the Lease", func() (bool, string) {
		h := holder()
		return h != "" && h != first, h
	})
	t.Logf("b took the Lease over %s after a stopped", time.Since(stopped).Round(time.Millisecond))
	_, err = objects.Create(ctx, tps("failover", "worse", "not an address either"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitCondition(t, objects, "worse", kubesource.ConditionValid, "False", kubesource.ReasonInvalid,
		`spec.endpoints[0].address: "not an address either" is not an IP address, and not a host name: label "not an address either" has ' '; only letters, digits and hyphens are allowed`)
	waitFor(t, time.Second, "the event on worse", func() (bool, string) { return events("worse") == 1, fmt.Sprint(events("worse")) })
}
