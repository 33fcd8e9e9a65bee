package kube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tpdns/tpdns/kubesource"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/kubetest"
)

// TestOverlayRBAC runs the source as the deploy example's ServiceAccount,
// with the example's RBAC and nothing more (the API server authorizes by
// RBAC): every read and write it makes is allowed.
func TestOverlayRBAC(t *testing.T) {
	cp := kubetest.Require(t)
	ctx := context.Background()
	core := kubernetes.NewForConfigOrDie(cp.Config)

	// The example's Namespace, ServiceAccount and RBAC, as rendered.
	b, err := os.ReadFile("../../deploy/kubernetes/tpdns-crd.yaml")
	require.NoError(t, err)
	var keep []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
			if strings.Contains(doc, "\nkind: "+kind+"\n") || strings.HasPrefix(doc, "kind: "+kind+"\n") {
				keep = append(keep, doc)
			}
		}
	}
	require.Len(t, keep, 6)
	rbac := filepath.Join(t.TempDir(), "rbac.yaml")
	require.NoError(t, os.WriteFile(rbac, []byte(strings.Join(keep, "\n---\n")), 0o644))
	_, err = cp.CreateFromFile(ctx, rbac)
	require.NoError(t, err)

	// A kubeconfig with the ServiceAccount's token, in its namespace.
	token, err := core.CoreV1().ServiceAccounts("tpdns").CreateToken(ctx, "tpdns",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"test": {Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"tpdns": {Token: token.Status.Token}},
		Contexts:       map[string]*clientcmdapi.Context{"tpdns": {Cluster: "test", AuthInfo: "tpdns", Namespace: "tpdns"}},
		CurrentContext: "tpdns",
	}, kubeconfig))

	_, _, objects := inNamespace(t, "apps")
	_, err = core.CoreV1().Secrets("apps").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Data: map[string][]byte{"API_KEY": []byte("k")}}, metav1.CreateOptions{})
	require.NoError(t, err)

	logs := test.CaptureLog(t)
	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  kubernetes %s {\n   status\n   endpointslices\n  }\n }\n}\n", port, kubeconfig))
	addr := "127.0.0.1:" + port

	u := tps("apps", "web", "192.0.2.70")
	u.Object["spec"].(map[string]any)["ports"] = []any{map[string]any{"name": "http", "port": int64(80)}}
	u.Object["spec"].(map[string]any)["secretsFrom"] = map[string]any{"secretName": "web"}
	_, err = objects.Create(ctx, u, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = objects.Create(ctx, tps("apps", "bad", "not an address"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitAnswers(t, addr, "web.apps.tp.internal.", "192.0.2.70")

	// The Lease in tpdns's namespace, the status, the Service (owned by the
	// object: blockOwnerDeletion needs the finalizers rule), its slice, the
	// event.
	waitFor(t, 5*time.Second, "the Lease", func() (bool, string) {
		l, err := core.CoordinationV1().Leases("tpdns").Get(ctx, kubesource.LeaseName, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", fmt.Sprint(err)
	})
	// What is checked here is that the writes are allowed, not how fast
	// they are (TestStatusAndEndpointSlices times them): generous
	// deadlines, for a machine busy with every other test package.
	waitFor(t, 5*time.Second, "the status", func() (bool, string) {
		got, err := objects.Get(ctx, "web", metav1.GetOptions{})
		require.NoError(t, err)
		healthy, _, _ := unstructured.NestedInt64(got.Object, "status", "healthy")
		total, _, _ := unstructured.NestedInt64(got.Object, "status", "total")
		return healthy == 1 && total == 1, fmt.Sprint(got.Object["status"])
	})
	waitFor(t, 5*time.Second, "the EndpointSlice", func() (bool, string) {
		got := fmt.Sprint(sliceAddresses(t, core, "apps", "web"))
		return got == "map[web-ipv4:[192.0.2.70]]", got
	})
	svc, err := core.CoreV1().Services("apps").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, svc.OwnerReferences, 1)
	assert.True(t, *svc.OwnerReferences[0].BlockOwnerDeletion)
	waitCondition(t, objects, "bad", kubesource.ConditionValid, "False", kubesource.ReasonInvalid,
		`spec.endpoints[0].address: "not an address" is not an IP address, and not a host name: label "not an address" has ' '; only letters, digits and hyphens are allowed`)
	waitFor(t, 5*time.Second, "the event", func() (bool, string) {
		list, err := core.CoreV1().Events("apps").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=bad"})
		require.NoError(t, err)
		return len(list.Items) == 1, fmt.Sprint(len(list.Items), " events")
	})
	assert.NotContains(t, logs.String(), "forbidden")
	assert.NotContains(t, logs.String(), "[ERROR] plugin/thirdparty: kubernetes")
}
