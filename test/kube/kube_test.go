// Package kube_test runs the thirdparty plugin's kubernetes source against a
// real control plane (test/kubetest), end to end: objects applied to the API
// server, answers asked over DNS.
package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tpdns/tpdns/kubesource"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/prometheus"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/kubetest"
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, kubetest.Options{CRDPaths: []string{"../../deploy/kubernetes/crd/thirdpartyservices.yaml"}}))
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
	cp, core, objects := inNamespace(t, "finance")
	ctx := context.Background()
	var err error

	port := test.FreePort(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: held.finance\n    endpoints: [192.0.2.99]\n"), 0o644))
	test.StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(fmt.Sprintf(
		"tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  kubernetes %s\n }\n}\n", port, cp.KubeconfigPath))})
	addr := "127.0.0.1:" + port

	_, err = objects.Create(ctx, tps("finance", "oracle", "192.0.2.10"), metav1.CreateOptions{})
	require.NoError(t, err)
	t.Logf("created: answered after %s", waitAnswers(t, addr, "oracle.finance.tp.internal.", "192.0.2.10"))

	setEndpoints(t, objects, "oracle", "192.0.2.10", "192.0.2.11")
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
	// And in their status, which the writer (this replica holds the Lease)
	// keeps.
	waitCondition(t, objects, "broken", kubesource.ConditionValid, "False", kubesource.ReasonInvalid,
		`spec.endpoints[0].address: "not an address" is not an IP address, and not a host name: label "not an address" has ' '; only letters, digits and hyphens are allowed`)
	waitCondition(t, objects, "held", kubesource.ConditionServed, "False", kubesource.ReasonClash, "the name held.finance is already used by the registry file's service held.finance")
	waitCondition(t, objects, "after", kubesource.ConditionServed, "True", kubesource.ReasonServed, "answered as after.finance")
	u, err := objects.Get(ctx, "after", metav1.GetOptions{})
	require.NoError(t, err)
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	require.ElementsMatch(t, []string{"conditions", "observedGeneration"}, slices.Collect(maps.Keys(status)), "without status, no health")
	// Fixed, the object is served, and its status says so.
	setEndpoints(t, objects, "broken", "192.0.2.21")
	require.NoError(t, err)
	waitAnswers(t, addr, "broken.finance.tp.internal.", "192.0.2.21")
	waitCondition(t, objects, "broken", kubesource.ConditionValid, "True", kubesource.ReasonValid, "the spec is valid")

	require.NoError(t, objects.Delete(ctx, "oracle", metav1.DeleteOptions{}))
	t.Logf("deleted: NXDOMAIN after %s", waitAnswers(t, addr, "oracle.finance.tp.internal."))
}

// waitCondition polls until the object name's condition of type t has
// status, reason and message.
func waitCondition(t *testing.T, objects dynamic.ResourceInterface, name, typ, status, reason, message string) {
	t.Helper()
	start := time.Now()
	var got any
	for {
		u, err := objects.Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conditions {
			c := c.(map[string]any)
			if c["type"] == typ {
				got = c
				if c["status"] == status && c["reason"] == reason && c["message"] == message &&
					c["observedGeneration"] == u.GetGeneration() {
					return
				}
			}
		}
		require.Less(t, time.Since(start), time.Second, "%s: condition %s is %v, want %s %s %q", name, typ, got, status, reason, message)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSecretsFromASecret serves the keys of the Secret an object names to
// the clients of secrets_allow only, and follows the Secret's changes.
func TestSecretsFromASecret(t *testing.T) {
	cp, core, objects := inNamespace(t, "vaults")
	ctx := context.Background()
	secrets := core.CoreV1().Secrets("vaults")
	_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "oracle-vaults"},
		Data: map[string][]byte{"DB_PASSWORD": []byte("s3cret")}}, metav1.CreateOptions{})
	require.NoError(t, err)

	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  kubernetes %s {\n   namespaces vaults\n  }\n }\n}\n", port, cp.KubeconfigPath))
	addr := "127.0.0.1:" + port

	u := tps("vaults", "oracle", "192.0.2.40")
	u.Object["spec"].(map[string]any)["connection"] = map[string]any{"DB_USER": "app"}
	u.Object["spec"].(map[string]any)["secretsFrom"] = map[string]any{"secretName": "oracle-vaults"}
	u.Object["spec"].(map[string]any)["secrets_allow"] = []any{"127.0.0.2/32"}
	_, err = objects.Create(ctx, u, metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, addr, "oracle.vaults.tp.internal.", "192.0.2.40")

	txt := func(from string) []string {
		c := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
		r, _, err := c.Exchange(test.Query("oracle.vaults.tp.internal.", dns.TypeTXT, 0), addr)
		require.NoError(t, err)
		var out []string
		for _, rr := range r.Answer {
			out = append(out, rr.(*dns.TXT).Txt...)
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, []string{"DB_USER=app"}, txt("127.0.0.1"), "a client outside secrets_allow")
	assert.Equal(t, []string{"DB_PASSWORD=s3cret", "DB_USER=app"}, txt("127.0.0.2"), "a client of secrets_allow")

	// A new value of the Secret is served within a second.
	s, err := secrets.Get(ctx, "oracle-vaults", metav1.GetOptions{})
	require.NoError(t, err)
	s.Data["DB_PASSWORD"] = []byte("rotated")
	_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	require.NoError(t, err)
	start := time.Now()
	for got := txt("127.0.0.2"); fmt.Sprint(got) != "[DB_PASSWORD=rotated DB_USER=app]"; got = txt("127.0.0.2") {
		require.Less(t, time.Since(start), time.Second, "after the Secret's change: %v", got)
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, []string{"DB_USER=app"}, txt("127.0.0.1"))
}

// inNamespace creates namespace on the package's control plane and returns
// the control plane, a clientset and the ThirdPartyService objects of the
// namespace.
func inNamespace(t *testing.T, namespace string) (*kubetest.ControlPlane, kubernetes.Interface, dynamic.ResourceInterface) {
	t.Helper()
	cp := kubetest.Require(t)
	core := kubernetes.NewForConfigOrDie(cp.Config)
	_, err := core.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return cp, core, dynamic.NewForConfigOrDie(cp.Config).Resource(kubesource.GVR).Namespace(namespace)
}

// setEndpoints edits the object's endpoints with a merge patch: unlike a
// read and an update, it does not race with tpdns writing the status.
func setEndpoints(t *testing.T, objects dynamic.ResourceInterface, name string, addresses ...string) {
	t.Helper()
	var eps []any
	for _, a := range addresses {
		eps = append(eps, map[string]any{"address": a})
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"endpoints": eps}})
	require.NoError(t, err)
	_, err = objects.Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}
