// Package kubetest runs a real Kubernetes control plane, etcd and
// kube-apiserver on loopback, for tests: controller-runtime's envtest starts
// the two programs that `make kube-assets` builds, from the directory named
// by KUBEBUILDER_ASSETS.
//
// One control plane serves a whole test package: TestMain calls Main, and
// each test that needs the API server calls Require.
//
//	func TestMain(m *testing.M) {
//		os.Exit(kubetest.Main(m, kubetest.Options{CRDPaths: []string{"../deploy/kubernetes/crd"}}))
//	}
//
//	func TestSomething(t *testing.T) {
//		cp := kubetest.Require(t) // cp.Config, cp.KubeconfigPath
//		...
//	}
//
// Without KUBEBUILDER_ASSETS those tests skip, except under CI=true, where
// they fail: CI must not pass by running none of them.
//
// The API server is started with --advertise-address 127.0.0.1 and
// --endpoint-reconciler-type none (no controller manager runs, and the
// kubernetes Service's endpoints need not track the server), and binds
// 127.0.0.1 only; etcd listens on loopback too. The kubectl binary is not
// needed: envtest only runs it on request.
//
// Stop leaves no goroutine behind, and Main checks that the tests left none
// either.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv is the environment variable that names the directory holding the
// kube-apiserver and etcd binaries (`export KUBEBUILDER_ASSETS=$(make -s kube-assets)`).
const AssetsEnv = "KUBEBUILDER_ASSETS"

// ErrNoAssets is returned by Start when KUBEBUILDER_ASSETS is not set.
var ErrNoAssets = errors.New(AssetsEnv + " is not set: build kube-apiserver and etcd with " +
	"`make kube-assets` and export KUBEBUILDER_ASSETS=$(make -s kube-assets)")

// Options say what a control plane holds once it has started.
type Options struct {
	// CRDPaths are files or directories of CustomResourceDefinitions (YAML or
	// JSON; documents of other kinds are ignored) installed before Start
	// returns, each one established. A path that does not exist is an error.
	CRDPaths []string
	// CRDs are CustomResourceDefinitions installed like those of CRDPaths.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// StartTimeout bounds the start of etcd and of kube-apiserver, each; 0
	// means 60 s (a loaded 2-core machine starts kube-apiserver in about 4 s).
	StartTimeout time.Duration
	// Output, when true, passes the control plane's output to the test
	// process's stdout and stderr (KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true
	// does the same).
	Output bool
}

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	// Config is the API server's address and an admin's credentials
	// (group system:masters).
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same address and
	// credentials, for programs and Corefiles (`kubernetes KUBECONFIG`).
	KubeconfigPath string
	// StartDuration is how long Start took, CRDs included.
	StartDuration time.Duration

	env *envtest.Environment
	dir string // holds the kubeconfig file
}

// Start starts a control plane and installs opts' CRDs. It returns
// ErrNoAssets when KUBEBUILDER_ASSETS is not set. The caller must call Stop.
func Start(opts Options) (*ControlPlane, error) {
	assets := os.Getenv(AssetsEnv)
	if assets == "" {
		return nil, ErrNoAssets
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, fmt.Errorf("kubetest: %s=%s: %w (run `make kube-assets`)", AssetsEnv, assets, err)
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        opts.CRDPaths,
		CRDs:                     opts.CRDs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  20 * time.Second,
		AttachControlPlaneOutput: opts.Output,
	}
	apiServer := env.ControlPlane.GetAPIServer()
	apiServer.SecureServing.Address = "127.0.0.1"
	apiServer.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")

	began := time.Now()
	cfg, err := env.Start()
	if err != nil {
		// Start leaves whatever it started running when a late step (the
		// CRDs) fails: stop it.
		_ = env.Stop()
		return nil, fmt.Errorf("kubetest: starting the control plane from %s: %w", assets, err)
	}
	cp := &ControlPlane{Config: cfg, env: env, StartDuration: time.Since(began)}
	if cp.dir, err = os.MkdirTemp("", "kubetest"); err == nil {
		cp.KubeconfigPath = filepath.Join(cp.dir, "kubeconfig")
		err = os.WriteFile(cp.KubeconfigPath, env.KubeConfig, 0o600)
	}
	if err != nil {
		_ = cp.Stop()
		return nil, fmt.Errorf("kubetest: writing the kubeconfig file: %w", err)
	}
	return cp, nil
}

// Stop stops kube-apiserver and etcd and removes their data and the
// kubeconfig file.
func (cp *ControlPlane) Stop() error {
	var errs []error
	if err := cp.env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("kubetest: stopping the control plane: %w", err))
	}
	if cp.dir != "" {
		if err := os.RemoveAll(cp.dir); err != nil {
			errs = append(errs, fmt.Errorf("kubetest: removing the kubeconfig: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CreateFromFile creates the objects of a YAML or JSON manifest file (one or
// more documents, as `kubectl create -f` takes) in order, with the dynamic
// client, and returns them as the API server stored them. The kinds are
// looked up by discovery, so objects of a CRD created just before are
// found. A namespaced object without a namespace goes to "default".
func (cp *ControlPlane) CreateFromFile(ctx context.Context, path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	defer f.Close()
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		return nil, fmt.Errorf("kubetest: dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cp.Config)
	if err != nil {
		return nil, fmt.Errorf("kubetest: discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var created []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return created, nil
		} else if err != nil {
			return created, fmt.Errorf("kubetest: decoding %s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue // an empty document
		}
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return created, fmt.Errorf("kubetest: %s %s in %s: %w", gvk.Kind, obj.GetName(), path, err)
		}
		resource := dyn.Resource(mapping.Resource)
		var out *unstructured.Unstructured
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(metav1.NamespaceDefault)
			}
			out, err = resource.Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{})
		} else {
			out, err = resource.Create(ctx, obj, metav1.CreateOptions{})
		}
		if err != nil {
			return created, fmt.Errorf("kubetest: creating %s %s from %s: %w", gvk.Kind, obj.GetName(), path, err)
		}
		created = append(created, out)
	}
}

// StartControlPlane starts a control plane for test t alone and stops it when
// t ends. It skips t when KUBEBUILDER_ASSETS is not set, and fails it instead
// under CI=true. Prefer Main and Require, which share one control plane
// across a package's tests.
func StartControlPlane(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	cp, err := Start(opts)
	if errors.Is(err, ErrNoAssets) {
		skipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	return cp
}

// shared is the package's control plane, started by Main.
var shared struct {
	mu      sync.Mutex
	cp      *ControlPlane
	err     error // why cp is nil
	started bool  // Main ran
}

// Main starts one control plane for a test package, runs its tests and
// stops the control plane, then fails the package if a goroutine the tests
// started is left running (goleak); it returns the exit code for os.Exit.
// Tests get the control plane from Require. Without KUBEBUILDER_ASSETS the
// tests still run, and Require skips (or under CI=true fails) the ones that
// need it; a control plane that fails to start fails them.
func Main(m *testing.M, opts Options) int {
	cp, err := Start(opts)
	shared.mu.Lock()
	shared.cp, shared.err, shared.started = cp, err, true
	shared.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoAssets):
		fmt.Fprintln(os.Stderr, "kubetest:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
	default:
		fmt.Fprintf(os.Stderr, "kubetest: control plane at %s started in %s\n",
			cp.Config.Host, cp.StartDuration.Round(time.Millisecond))
	}
	code := m.Run()
	if cp != nil {
		began := time.Now()
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		} else {
			fmt.Fprintf(os.Stderr, "kubetest: control plane stopped in %s\n", time.Since(began).Round(time.Millisecond))
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "kubetest: left running after the tests:", err)
			code = 1
		}
	}
	return code
}

// Require returns the control plane that Main started. It skips t when
// KUBEBUILDER_ASSETS is not set (fails it under CI=true), and fails t when
// the control plane did not start or Main was not called from TestMain.
func Require(t testing.TB) *ControlPlane {
	t.Helper()
	shared.mu.Lock()
	cp, err, started := shared.cp, shared.err, shared.started
	shared.mu.Unlock()
	switch {
	case !started:
		t.Fatal("kubetest: Require without kubetest.Main in TestMain")
	case errors.Is(err, ErrNoAssets):
		skipOrFail(t, err)
	case err != nil:
		t.Fatal(err)
	}
	return cp
}

// skipOrFail skips t for want of KUBEBUILDER_ASSETS, or fails it under
// CI=true, where every test must run.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("kubetest: %v (CI=true: the tests that need a control plane must run)", err)
	}
	t.Skipf("kubetest: %v", err)
}

// inCI reports whether the tests run under CI (CI=true), as .ci/run does.
func inCI() bool {
	return strings.EqualFold(os.Getenv("CI"), "true")
}
