package kube_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/tpdns/tpdns/kubesource"
	"github.com/tpdns/tpdns/test"
)

// kubectlGetTPS returns the HEALTHY and TOTAL columns of `kubectl get tps`
// for the object name, as an operator reads them.
func kubectlGetTPS(t *testing.T, kubeconfig, namespace, name string) (healthy, total string) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	require.NoError(t, err, "kubectl (the kubernetes-client package; make test installs it)")
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "-n", namespace, "get", "tps", name, "--no-headers").CombinedOutput()
	require.NoError(t, err, "%s", out)
	f := strings.Fields(string(out)) // NAME HEALTHY TOTAL AGE
	require.Len(t, f, 4, "%s", out)
	return f[1], f[2]
}

// sliceAddresses returns the ready addresses of the EndpointSlices of the
// Service name, by slice name.
func sliceAddresses(t *testing.T, core kubernetes.Interface, namespace, name string) map[string][]string {
	t.Helper()
	list, err := core.DiscoveryV1().EndpointSlices(namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	require.NoError(t, err)
	out := map[string][]string{}
	for _, sl := range list.Items {
		out[sl.Name] = []string{}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				out[sl.Name] = append(out[sl.Name], ep.Addresses...)
			}
		}
		slices.Sort(out[sl.Name])
	}
	return out
}

// TestStatusAndEndpointSlices follows a health change of a real TCP
// endpoint into `kubectl get tps` (status), and checks the object's
// Service (endpointslices).
func TestStatusAndEndpointSlices(t *testing.T) {
	cp, core, objects := inNamespace(t, "legacy")
	ctx := context.Background()
	var err error

	// The database: 127.0.0.1 listens, 127.0.0.2 refuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dbPort := ln.Addr().(*net.TCPAddr).Port
	go acceptAll(ln)

	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  kubernetes %s {\n   namespaces legacy\n   status\n   endpointslices\n  }\n }\n}\n", port, cp.KubeconfigPath))
	addr := "127.0.0.1:" + port

	const interval = time.Second
	u := tps("legacy", "db", "127.0.0.1", "127.0.0.2")
	spec := u.Object["spec"].(map[string]any)
	spec["ports"] = []any{map[string]any{"name": "db", "port": int64(dbPort)}}
	spec["check"] = map[string]any{"type": "tcp", "interval": "1s", "timeout": "0.5s", "fall": int64(1)}
	created, err := objects.Create(ctx, u, metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, addr, "db.legacy.tp.internal.", "127.0.0.1")

	// Once probed, the status, the columns and the slice say so.
	waitFor(t, 2*interval, "the status after the first probes", func() (bool, string) {
		h, total := kubectlGetTPS(t, cp.KubeconfigPath, "legacy", "db")
		return h == "1" && total == "2", "HEALTHY " + h + " TOTAL " + total
	})
	got, err := objects.Get(ctx, "db", metav1.GetOptions{})
	require.NoError(t, err)
	eps, _, _ := unstructured.NestedSlice(got.Object, "status", "endpoints")
	require.Len(t, eps, 2)
	up, down := eps[0].(map[string]any), eps[1].(map[string]any)
	assert.Equal(t, "127.0.0.1", up["address"])
	assert.Equal(t, int64(dbPort), up["port"])
	assert.Equal(t, "healthy", up["state"])
	assert.NotEmpty(t, up["lastCheck"])
	assert.Nil(t, up["lastError"])
	assert.Equal(t, "127.0.0.2", down["address"])
	assert.Equal(t, "unhealthy", down["state"])
	assert.Contains(t, down["lastError"], "connection refused")

	// The Service: no selector, the object's port, owned by the object.
	// Its slices leave out loopback addresses, which the API server refuses
	// (TestEndpointSlicesListTheHealthyEndpoints has addresses it takes).
	var svc *corev1.Service
	waitFor(t, interval, "the Service", func() (bool, string) {
		svc, err = core.CoreV1().Services("legacy").Get(ctx, "db", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	assert.Empty(t, svc.Spec.Selector)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, "db", svc.Spec.Ports[0].Name)
	assert.Equal(t, corev1.ProtocolTCP, svc.Spec.Ports[0].Protocol)
	assert.Equal(t, int32(dbPort), svc.Spec.Ports[0].Port)
	assert.Equal(t, dbPort, svc.Spec.Ports[0].TargetPort.IntValue())
	require.Len(t, svc.OwnerReferences, 1)
	assert.Equal(t, created.GetUID(), svc.OwnerReferences[0].UID)
	assert.Equal(t, kubesource.Kind, svc.OwnerReferences[0].Kind)
	assert.Empty(t, sliceAddresses(t, core, "legacy", "db"))

	// The database goes down: the answers, then within one interval the
	// HEALTHY column and the slice.
	require.NoError(t, ln.Close())
	closed := time.Now()
	waitForAnswers(t, addr, "db.legacy.tp.internal.", 3*interval)
	answered := time.Now()
	waitFor(t, interval, "HEALTHY 0 after the answers changed", func() (bool, string) {
		h, total := kubectlGetTPS(t, cp.KubeconfigPath, "legacy", "db")
		return h == "0" && total == "2", "HEALTHY " + h + " TOTAL " + total
	})
	t.Logf("down: answers changed %s after the listener closed, HEALTHY 0 %s after that",
		answered.Sub(closed).Round(time.Millisecond), time.Since(answered).Round(time.Millisecond))

	// And back up.
	ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(dbPort))
	require.NoError(t, err)
	defer ln.Close()
	go acceptAll(ln)
	waitForAnswers(t, addr, "db.legacy.tp.internal.", 2*interval, "127.0.0.1")
	answered = time.Now()
	waitFor(t, interval, "HEALTHY 1 after the answers changed", func() (bool, string) {
		h, total := kubectlGetTPS(t, cp.KubeconfigPath, "legacy", "db")
		return h == "1" && total == "2", "HEALTHY " + h + " TOTAL " + total
	})
	t.Logf("up: HEALTHY 1 %s after the answers changed", time.Since(answered).Round(time.Millisecond))

	// A Service of that name that is not the object's is left alone, and
	// an event says so.
	_, err = core.CoreV1().Services("legacy").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "taken"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = objects.Create(ctx, tps("legacy", "taken", "192.0.2.50"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitFor(t, interval, "the ServiceExists event", func() (bool, string) {
		events, err := core.CoreV1().Events("legacy").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=taken"})
		require.NoError(t, err)
		for _, e := range events.Items {
			if e.Reason == "ServiceExists" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(events.Items), " events")
	})
	svc, err = core.CoreV1().Services("legacy").Get(ctx, "taken", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, svc.OwnerReferences)
	assert.Equal(t, int32(80), svc.Spec.Ports[0].Port)
	assert.Empty(t, sliceAddresses(t, core, "legacy", "taken"))
}

// waitFor polls ok until it reports true, failing after within.
func waitFor(t *testing.T, within time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	start := time.Now()
	for {
		done, got := ok()
		if done {
			return
		}
		require.Less(t, time.Since(start), within, "%s: %s", what, got)
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForAnswers is waitAnswers with a deadline of its own.
func waitForAnswers(t *testing.T, addr, name string, within time.Duration, want ...string) {
	t.Helper()
	waitFor(t, within, name, func() (bool, string) {
		got, _ := answers(t, addr, name)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
