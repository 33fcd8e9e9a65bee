package kubetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tpdns/tpdns/test/kubetest"
)

// The ThirdPartyService CRD and its example (SPEC section 8), checked here
// against the real API server when they exist.
const (
	tpsCRDFile     = "../../deploy/kubernetes/crd/thirdpartyservices.yaml"
	tpsExampleFile = "../../deploy/kubernetes/crd/example-oracle.yaml"
)

// widgets is the resource of testdata/widgets.yaml.
var widgets = schema.GroupVersionResource{Group: "kubetest.tpdns.io", Version: "v1", Resource: "widgets"}

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, kubetest.Options{CRDPaths: []string{"testdata"}}))
}

// TestControlPlane creates, reads, updates (status) and deletes an object of
// the testdata CRD with the dynamic client, and has the API server reject an
// object that its schema does not allow.
func TestControlPlane(t *testing.T) {
	cp := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	assert.True(t, strings.HasPrefix(cp.Config.Host, "https://127.0.0.1:"), "API server at %s, want loopback", cp.Config.Host)

	clients, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	_, err = clients.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	dyn, err := dynamic.NewForConfig(cp.Config)
	require.NoError(t, err)
	widgetsIn := dyn.Resource(widgets).Namespace("smoke")
	_, err = widgetsIn.Create(ctx, widget("big", 3), metav1.CreateOptions{})
	require.NoError(t, err)

	got, err := widgetsIn.Get(ctx, "big", metav1.GetOptions{})
	require.NoError(t, err)
	size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
	assert.Equal(t, int64(3), size)

	require.NoError(t, unstructured.SetNestedField(got.Object, true, "status", "ready"))
	got, err = widgetsIn.UpdateStatus(ctx, got, metav1.UpdateOptions{})
	require.NoError(t, err)
	ready, _, _ := unstructured.NestedBool(got.Object, "status", "ready")
	assert.True(t, ready, "status.ready after UpdateStatus")

	_, err = widgetsIn.Create(ctx, widget("empty", 0), metav1.CreateOptions{})
	assert.True(t, apierrors.IsInvalid(err), "size 0 against minimum 1: got %v, want Invalid", err)

	require.NoError(t, widgetsIn.Delete(ctx, "big", metav1.DeleteOptions{}))
	_, err = widgetsIn.Get(ctx, "big", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "after delete: got %v, want NotFound", err)
}

// TestKubeconfig reaches the API server through the kubeconfig file, as a
// Corefile's `kubernetes KUBECONFIG` does, and checks the server's version.
func TestKubeconfig(t *testing.T) {
	cp := kubetest.Require(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.KubeconfigPath)
	require.NoError(t, err)
	clients, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	version, err := clients.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v1.37.2", version.GitVersion, "kube-apiserver's version (make kube-assets sets it)")
}

// TestThirdPartyServiceCRD installs tpdns's CRD on the real API server and
// creates its example object.
func TestThirdPartyServiceCRD(t *testing.T) {
	cp := kubetest.Require(t)
	crds, err := envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{Paths: []string{tpsCRDFile}, ErrorIfPathMissing: true})
	require.NoError(t, err)
	require.Len(t, crds, 1)
	crd := crds[0]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created, err := cp.CreateFromFile(ctx, tpsExampleFile)
	require.NoError(t, err, "the example objects (the ThirdPartyService against the CRD's schema)")

	// The ThirdPartyService as written and as stored: no field pruned.
	data, err := os.ReadFile(tpsExampleFile)
	require.NoError(t, err)
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var written map[string]any
	for written == nil || written["kind"] != crd.Spec.Names.Kind {
		written = nil
		require.NoError(t, decoder.Decode(&written), "no %s in %s", crd.Spec.Names.Kind, tpsExampleFile)
	}
	var stored *unstructured.Unstructured
	for _, obj := range created {
		if obj.GetKind() == crd.Spec.Names.Kind {
			stored = obj
		}
	}
	require.NotNil(t, stored)
	want, err := json.Marshal(written["spec"])
	require.NoError(t, err)
	got, err := json.Marshal(stored.Object["spec"])
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got), "the spec as stored")
}

// widget is a Widget named name of the given size.
func widget(name string, size int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubetest.tpdns.io/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"size": size},
	}}
}
