// Package kube_test runs the thirdparty plugin's kubernetes source against a
// real control plane (test/kubetest), end to end: objects applied to the API
// server, answers asked over DNS.
package kube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tpdns/tpdns/kubesource"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/kubetest"
)

// TestMain runs the tests on one control plane, then checks that nothing
// they started (informers, servers) is left running.
func TestMain(m *testing.M) {
	code := kubetest.Main(m, kubetest.Options{CRDPaths: []string{"../../deploy/kubernetes/crd/thirdpartyservices.yaml"}})
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// answers returns the A records of name, sorted, and the rcode.
func answers(t *testing.T, addr, name string) ([]string, int) {
	r := test.Exchange(t, "udp", addr, test.Query(name, dns.TypeA, 0))
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out, r.Rcode
}

// waitAnswers polls until name's A records are want (none: NXDOMAIN), and
// returns how long that took.
func waitAnswers(t *testing.T, addr, name string, want ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, rcode := answers(t, addr, name)
		if fmt.Sprint(got) == fmt.Sprint(want) && (len(want) > 0 || rcode == dns.RcodeNameError) {
			return time.Since(start)
		}
		require.Less(t, time.Since(start), time.Second, "%s: %v (%s), want %v", name, got, dns.RcodeToString[rcode], want)
		time.Sleep(5 * time.Millisecond)
	}
}

func tps(namespace, name string, endpoints ...string) *unstructured.Unstructured {
	var eps []any
	for _, e := range endpoints {
		eps = append(eps, map[string]any{"address": e})
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"endpoints": eps}}}
	u.SetAPIVersion(kubesource.Group + "/" + kubesource.Version)
	u.SetKind(kubesource.Kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestObjectsAnswerInDNS(t *testing.T) {
	cp := kubetest.Require(t)
	ctx := context.Background()
	core := kubernetes.NewForConfigOrDie(cp.Config)
	_, err := core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "finance"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	objects := dynamic.NewForConfigOrDie(cp.Config).Resource(kubesource.GVR).Namespace("finance")

	port := test.FreePort(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: held.finance\n    endpoints: [192.0.2.99]\n"), 0o644))
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(fmt.Sprintf(
		"tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  kubernetes %s\n }\n}\n", port, cp.KubeconfigPath))})
	addr := "127.0.0.1:" + port

	_, err = objects.Create(ctx, tps("finance", "oracle", "192.0.2.10"), metav1.CreateOptions{})
	require.NoError(t, err)
	t.Logf("created: answered after %s", waitAnswers(t, addr, "oracle.finance.tp.internal.", "192.0.2.10"))

	u, err := objects.Get(ctx, "oracle", metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedSlice(u.Object, []any{map[string]any{"address": "192.0.2.10"}, map[string]any{"address": "192.0.2.11"}}, "spec", "endpoints"))
	_, err = objects.Update(ctx, u, metav1.UpdateOptions{})
	require.NoError(t, err)
	t.Logf("edited: answered after %s", waitAnswers(t, addr, "oracle.finance.tp.internal.", "192.0.2.10", "192.0.2.11"))

	// The schema lets an invalid address through; tpdns does not serve it.
	_, err = objects.Create(ctx, tps("finance", "broken", "not an address"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = objects.Create(ctx, tps("finance", "after", "192.0.2.20"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, addr, "after.finance.tp.internal.", "192.0.2.20")
	waitAnswers(t, addr, "broken.finance.tp.internal.")
	// A name the registry file has is the file's.
	_, err = objects.Create(ctx, tps("finance", "held", "192.0.2.30"), metav1.CreateOptions{})
	require.NoError(t, err)
	// Both are told in a Warning event on the object.
	for name, want := range map[string]string{
		"broken": `Invalid: not served: spec.endpoints[0].address: "not an address" is not an IP address`,
		"held":   "Clash: not served: the name held.finance is already used by the registry file's service held.finance",
	} {
		start := time.Now()
		for {
			events, err := core.CoreV1().Events("finance").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
			require.NoError(t, err)
			if len(events.Items) > 0 {
				e := events.Items[0]
				require.Contains(t, e.Reason+": "+e.Message, want)
				require.Equal(t, corev1.EventTypeWarning, e.Type)
				require.Equal(t, kubesource.Kind, e.InvolvedObject.Kind)
				break
			}
			require.Less(t, time.Since(start), time.Second, "no event on %s", name)
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAnswers(t, addr, "held.finance.tp.internal.", "192.0.2.99")

	require.NoError(t, objects.Delete(ctx, "oracle", metav1.DeleteOptions{}))
	t.Logf("deleted: NXDOMAIN after %s", waitAnswers(t, addr, "oracle.finance.tp.internal."))
}
