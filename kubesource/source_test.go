package kubesource_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/kubesource"
	"github.com/tpdns/tpdns/test/kubetest"
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, kubetest.Options{CRDPaths: []string{"../deploy/kubernetes/crd/thirdpartyservices.yaml"}}))
}

// seen keeps the objects the source told of last.
type seen struct {
	mu      sync.Mutex
	objects map[string]kubesource.Object // by namespace/name
}

func (s *seen) set(objects []kubesource.Object) {
	m := map[string]kubesource.Object{}
	for _, o := range objects {
		m[o.Namespace+"/"+o.Name] = o
	}
	s.mu.Lock()
	s.objects = m
	s.mu.Unlock()
}

func (s *seen) wait(t *testing.T, what string, ok func(map[string]kubesource.Object) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		s.mu.Lock()
		done := ok(s.objects)
		s.mu.Unlock()
		if done {
			return time.Since(start)
		}
		require.Less(t, time.Since(start), 5*time.Second, what)
		time.Sleep(10 * time.Millisecond)
	}
}

func object(namespace, name string, spec map[string]any, lbls map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(kubesource.Group + "/" + kubesource.Version)
	u.SetKind(kubesource.Kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(lbls)
	return u
}

func TestSourceFollowsObjectsAndSecrets(t *testing.T) {
	cp := kubetest.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core := kubernetes.NewForConfigOrDie(cp.Config)
	dyn := dynamic.NewForConfigOrDie(cp.Config)
	for _, ns := range []string{"finance", "other"} {
		_, err := core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	sel, err := labels.Parse("tier=legacy")
	require.NoError(t, err)
	src, err := kubesource.New(cp.Config, kubesource.Options{Namespaces: []string{"finance"}, Selector: sel,
		Config: config.Options{Zones: []string{"tp.internal."}}})
	require.NoError(t, err)
	var s seen
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, s.set) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	tps := dyn.Resource(kubesource.GVR)
	legacy := map[string]string{"tier": "legacy"}
	_, err = tps.Namespace("finance").Create(ctx, object("finance", "oracle", map[string]any{
		"endpoints":   []any{map[string]any{"address": "192.0.2.10"}},
		"ports":       []any{map[string]any{"name": "db", "port": int64(1521), "protocol": "tcp"}},
		"secretsFrom": map[string]any{"secretName": "oracle"},
	}, legacy), metav1.CreateOptions{})
	require.NoError(t, err)
	// Outside the namespaces, or without the label: not read.
	_, err = tps.Namespace("other").Create(ctx, object("other", "pg", map[string]any{"endpoints": []any{map[string]any{"address": "192.0.2.20"}}}, legacy), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = tps.Namespace("finance").Create(ctx, object("finance", "unlabelled", map[string]any{"endpoints": []any{map[string]any{"address": "192.0.2.30"}}}, nil), metav1.CreateOptions{})
	require.NoError(t, err)

	// The Secret is missing: the object is read, and invalid.
	s.wait(t, "oracle without its secret", func(m map[string]kubesource.Object) bool {
		o, ok := m["finance/oracle"]
		return ok && o.Err != nil && len(m) == 1
	})
	assert.Contains(t, s.objects["finance/oracle"].Err.Error(), `spec.secretsFrom: secret finance/oracle: secrets "oracle" not found`)

	_, err = core.CoreV1().Secrets("finance").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "oracle"},
		Data: map[string][]byte{"DB_PASSWORD": []byte("s3cret")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	took := s.wait(t, "oracle with its secret", func(m map[string]kubesource.Object) bool {
		o := m["finance/oracle"]
		return o.Err == nil && o.Service.Secrets["DB_PASSWORD"] == "s3cret"
	})
	t.Logf("the Secret's creation reached the service in %s", took)
	assert.Equal(t, "oracle.finance", s.objects["finance/oracle"].Service.Name)

	// An edit changes the service; a delete removes it.
	u, err := tps.Namespace("finance").Get(ctx, "oracle", metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedSlice(u.Object, []any{map[string]any{"address": "192.0.2.11"}}, "spec", "endpoints"))
	_, err = tps.Namespace("finance").Update(ctx, u, metav1.UpdateOptions{})
	require.NoError(t, err)
	took = s.wait(t, "the edit", func(m map[string]kubesource.Object) bool {
		eps := m["finance/oracle"].Service.Endpoints
		return len(eps) == 1 && eps[0].Address == "192.0.2.11"
	})
	t.Logf("an edit reached the service in %s", took)
	require.NoError(t, tps.Namespace("finance").Delete(ctx, "oracle", metav1.DeleteOptions{}))
	s.wait(t, "the delete", func(m map[string]kubesource.Object) bool { return len(m) == 0 })
}
