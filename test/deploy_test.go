package test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/server"
)

// The plain manifests of deploy/kubernetes, each the rendering of a
// kustomization (deploy/kubernetes/render.sh), and what differs between them.
var deployVariants = []struct {
	file, kustomization string
	replicas            int
	api, volume         bool // the registration API; a PersistentVolumeClaim (bolt)
	kube                bool // the kubernetes source: the CRD, a ServiceAccount and its RBAC
}{
	{"tpdns.yaml", "base", 2, false, false, false},
	{"tpdns-bolt.yaml", "overlays/bolt", 1, true, true, false},
	{"tpdns-etcd.yaml", "overlays/etcd", 3, true, false, false},
	{"tpdns-crd.yaml", "overlays/crd", 2, false, false, true},
}

// clusterScoped are the kinds of deploy/kubernetes that belong to no
// namespace.
var clusterScoped = map[any]bool{"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true}

const deployDir = "../deploy/kubernetes"

// manifests decodes every document of a multi-document YAML stream.
func manifests(t *testing.T, name string, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, name)
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// manifestFile decodes a file of deploy/kubernetes.
func manifestFile(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, file))
	require.NoError(t, err)
	return manifests(t, file, b)
}

// byKindName indexes documents by "Kind/name".
func byKindName(docs []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, d := range docs {
		m[fmt.Sprintf("%v/%v", d["kind"], at(d, "metadata", "name"))] = d
	}
	return m
}

// at walks a decoded document: keys of mappings, indexes of lists.
func at(doc any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := doc.(map[string]any)
			doc = m[k]
		case int:
			l, _ := doc.([]any)
			if k >= len(l) {
				return nil
			}
			doc = l[k]
		}
	}
	return doc
}

// list returns the list at path, each element a mapping.
func list(doc any, path ...any) []map[string]any {
	l, _ := at(doc, path...).([]any)
	var out []map[string]any
	for _, e := range l {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

// TestDeployManifests checks each plain manifest as Kubernetes would take
// it, without a cluster: the objects' references to each other (selectors,
// named ports, volumes, the Corefile's ports) and the tpdns container's
// Corefile with every file it names, read from the volumes as the pod
// would see them, valid as --validate says.
func TestDeployManifests(t *testing.T) {
	for _, v := range deployVariants {
		t.Run(v.file, func(t *testing.T) {
			objs := byKindName(manifestFile(t, v.file))
			for key, doc := range objs {
				assert.NotEmpty(t, doc["apiVersion"], key)
				if clusterScoped[doc["kind"]] {
					assert.Nil(t, at(doc, "metadata", "namespace"), "%s is cluster-scoped", key)
				} else {
					assert.Equal(t, "tpdns", at(doc, "metadata", "namespace"), key)
				}
			}
			want := []string{"Namespace/tpdns", "ConfigMap/tpdns", "Deployment/tpdns", "Service/tpdns", "PodDisruptionBudget/tpdns"}
			if v.api {
				want = append(want, "Service/tpdns-api", "Secret/tpdns-tokens")
			}
			if v.volume {
				want = append(want, "PersistentVolumeClaim/tpdns-data")
			}
			if v.kube {
				want = append(want, "CustomResourceDefinition/thirdpartyservices.tpdns.io", "ServiceAccount/tpdns",
					"ClusterRole/tpdns", "ClusterRoleBinding/tpdns", "Role/tpdns-writer", "RoleBinding/tpdns-writer")
			}
			var got []string
			for key := range objs {
				got = append(got, key)
			}
			assert.ElementsMatch(t, want, got)

			dep := objs["Deployment/tpdns"]
			require.NotNil(t, dep)
			assert.Equal(t, v.replicas, at(dep, "spec", "replicas"))
			if v.volume { // one database, one process: the old pod goes first
				assert.Equal(t, "Recreate", at(dep, "spec", "strategy", "type"))
			}
			labels := at(dep, "spec", "selector", "matchLabels")
			assert.NotEmpty(t, labels)
			assert.Equal(t, labels, at(dep, "spec", "template", "metadata", "labels"))
			assert.Equal(t, labels, at(objs["PodDisruptionBudget/tpdns"], "spec", "selector", "matchLabels"))

			pod := at(dep, "spec", "template", "spec")
			if v.kube { // in-cluster credentials: the ServiceAccount the bindings name
				assert.Equal(t, "tpdns", at(pod, "serviceAccountName"))
			} else {
				assert.Nil(t, at(pod, "serviceAccountName"))
			}
			containers := list(pod, "containers")
			require.Len(t, containers, 1)
			c := containers[0]
			ports := map[string]map[string]any{} // containerPort by name
			for _, p := range list(c, "ports") {
				ports[p["name"].(string)] = p
			}

			// Services: selectors, and target ports the container has.
			for _, name := range []string{"tpdns", "tpdns-api"} {
				svc := objs["Service/"+name]
				if svc == nil {
					continue
				}
				assert.Equal(t, labels, at(svc, "spec", "selector"), name)
				assert.Nil(t, at(svc, "spec", "clusterIP"), "%s: the ClusterIP is Kubernetes's to pick", name)
				for _, p := range list(svc, "spec", "ports") {
					cp := ports[fmt.Sprint(p["targetPort"])]
					if assert.NotNil(t, cp, "%s: targetPort %v is no port of the container", name, p["targetPort"]) {
						assert.Equal(t, p["protocol"], cp["protocol"], "%s: %v", name, p["targetPort"])
					}
				}
			}
			var dns []string
			for _, p := range list(objs["Service/tpdns"], "spec", "ports") {
				assert.Equal(t, 53, p["port"])
				dns = append(dns, p["protocol"].(string))
			}
			assert.ElementsMatch(t, []string{"UDP", "TCP"}, dns)
			if v.api {
				assert.Equal(t, 8053, at(ports["api"], "containerPort"))
			} else {
				assert.Nil(t, ports["api"])
			}

			// The pod's files: each volume mounted where the container
			// expects it, filled as the kubelet would. The admin token's
			// Secret (tpdns-api) is made by hand, never in git.
			root := t.TempDir()
			volumes := map[string]map[string]any{}
			for _, vol := range list(pod, "volumes") {
				volumes[vol["name"].(string)] = vol
			}
			var mounts []string
			for _, m := range list(c, "volumeMounts") {
				vol := volumes[m["name"].(string)]
				require.NotNil(t, vol, "volumeMount %v has no volume", m["name"])
				path := m["mountPath"].(string)
				mounts = append(mounts, path)
				dir := filepath.Join(root, path)
				require.NoError(t, os.MkdirAll(dir, 0o755))
				files := map[string][]byte{}
				switch {
				case vol["configMap"] != nil:
					cm := objs["ConfigMap/"+fmt.Sprint(at(vol, "configMap", "name"))]
					require.NotNil(t, cm, "volume %v: no such ConfigMap", vol["name"])
					for k, s := range at(cm, "data").(map[string]any) {
						files[k] = []byte(s.(string))
					}
				case vol["secret"] != nil:
					name := fmt.Sprint(at(vol, "secret", "secretName"))
					if name == "tpdns-api" {
						files["token"] = []byte("a-token-of-the-test\n")
						break
					}
					s := objs["Secret/"+name]
					require.NotNil(t, s, "volume %v: no such Secret", vol["name"])
					for k, b64 := range at(s, "data").(map[string]any) {
						b, err := base64.StdEncoding.DecodeString(b64.(string))
						require.NoError(t, err)
						files[k] = b
					}
				case vol["persistentVolumeClaim"] != nil:
					assert.NotNil(t, objs["PersistentVolumeClaim/"+fmt.Sprint(at(vol, "persistentVolumeClaim", "claimName"))], "volume %v", vol["name"])
				default:
					t.Fatalf("volume %v: a kind the test does not know", vol["name"])
				}
				for k, b := range files {
					require.NoError(t, os.WriteFile(filepath.Join(dir, k), b, 0o644))
				}
			}

			args := at(c, "args").([]any)
			require.Len(t, args, 2)
			assert.Equal(t, "--conf", args[0])
			conf := args[1].(string)
			b, err := os.ReadFile(filepath.Join(root, conf))
			require.NoError(t, err, "the Corefile %s is in no volume", conf)
			corefile := string(b)

			// The Corefile listens where the pod's ports and probes say.
			assert.Contains(t, corefile, fmt.Sprintf("tp.internal:%d {", at(ports["dns"], "containerPort")))
			assert.Equal(t, at(ports["dns"], "containerPort"), at(ports["dns-tcp"], "containerPort"))
			assert.Contains(t, corefile, fmt.Sprintf("prometheus :%d\n", at(ports["metrics"], "containerPort")))
			assert.Contains(t, corefile, fmt.Sprintf("health :%d\n", at(c, "livenessProbe", "httpGet", "port")))
			assert.Equal(t, "/health", at(c, "livenessProbe", "httpGet", "path"))
			assert.Contains(t, corefile, fmt.Sprintf("ready :%d\n", at(c, "readinessProbe", "httpGet", "port")))
			assert.Equal(t, "/ready", at(c, "readinessProbe", "httpGet", "path"))
			if v.api {
				assert.Contains(t, corefile, fmt.Sprintf("api :%d {", at(ports["api"], "containerPort")))
			}
			if v.volume {
				assert.Contains(t, corefile, "store bolt /var/lib/tpdns/")
			}
			if v.kube {
				assert.Regexp(t, `(?m)^\s+kubernetes \{$`, corefile)
			} else {
				assert.NotRegexp(t, `(?m)^\s+kubernetes\b`, corefile)
			}

			// Valid, with the files it names at the pod's paths.
			for _, m := range mounts {
				corefile = strings.ReplaceAll(corefile, " "+m+"/", " "+filepath.Join(root, m)+"/")
			}
			require.NotContains(t, corefile, " /etc/", "a path outside every volume")
			err = server.Validate(server.Input{Filename: filepath.Join(root, conf), Contents: []byte(corefile)})
			assert.NoError(t, err, "%s", corefile)
		})
	}
}

// kubectlPath returns kubectl's path. Outside CI a machine without it
// skips the test; `make test` installs kubernetes-client.
func kubectlPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kubectl not found: the kubernetes-client package must be installed (make test does it)")
		}
		t.Skip("kubectl not found; `make test` installs kubernetes-client")
	}
	return path
}

// TestDeployKubectl hands each manifest to kubectl, as an operator would
// (apply --dry-run=client, against a fake API server), and renders each
// kustomization, which must give its plain manifest.
func TestDeployKubectl(t *testing.T) {
	kubectl := kubectlPath(t)
	api := newKubeAPI(t)
	for _, v := range deployVariants {
		t.Run(v.file, func(t *testing.T) {
			out, err := api.kubectl("apply", "--dry-run=client", "--validate=false", "-f", filepath.Join(deployDir, v.file))
			require.NoError(t, err, "%s", out)
			docs := manifestFile(t, v.file)
			assert.Equal(t, len(docs), strings.Count(out, " created (dry run)\n"), "%s", out)
		})
	}

	t.Run("kustomize", func(t *testing.T) {
		// kubectl renders kustomizations with its own kustomize: v4 and
		// later (kubectl 1.21) take them; Debian 12's kubernetes-client
		// (1.20) is older, and then only the plain manifests are checked.
		b, err := exec.Command(kubectl, "version", "--client", "-o", "json").Output()
		require.NoError(t, err)
		var version struct {
			ClientVersion struct{ Major, Minor string }
		}
		require.NoError(t, json.Unmarshal(b, &version), "%s", b)
		minor, _ := strconv.Atoi(strings.TrimRight(version.ClientVersion.Minor, "+"))
		if version.ClientVersion.Major == "1" && minor < 21 {
			t.Skipf("kubectl 1.%d's kustomize is too old for the kustomizations; the plain manifests were checked", minor)
		}
		for _, v := range deployVariants {
			out, err := exec.Command(kubectl, "kustomize", filepath.Join(deployDir, v.kustomization)).Output()
			require.NoError(t, err, "%s: %s", v.kustomization, exitOutput(err))
			file, rendered := byKindName(manifestFile(t, v.file)), byKindName(manifests(t, v.kustomization, out))
			for key := range rendered {
				assert.Contains(t, file, key, "deploy/kubernetes/%s lacks what %s has: run deploy/kubernetes/render.sh", v.file, v.kustomization)
			}
			for key, obj := range file {
				assert.Equal(t, obj, rendered[key], "%s in deploy/kubernetes/%s is not what %s renders: run deploy/kubernetes/render.sh", key, v.file, v.kustomization)
			}
		}
	})
}

func exitOutput(err error) string {
	var e *exec.ExitError
	if errors.As(err, &e) {
		return string(e.Stderr)
	}
	return ""
}

// kubeadmCorefile is the Corefile kubeadm gives the cluster's CoreDNS, with
// a line that needs escaping in JSON.
const kubeadmCorefile = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
	# a "quoted" \word, after a tab
}
`

// tpdnsBlock is the block coredns-forward.sh writes for forward's address.
func tpdnsBlock(keys, ip string) string {
	return `# tpdns: begin (written by deploy/kubernetes/coredns-forward.sh, which replaces the lines up to "# tpdns: end")
` + keys + ` {
    errors
    cache 10
    forward . ` + ip + `
}
# tpdns: end
`
}

// TestDeployCorednsForward runs deploy/kubernetes/coredns-forward.sh with
// kubectl against a fake API server holding the tpdns Service and the
// cluster's CoreDNS ConfigMap.
func TestDeployCorednsForward(t *testing.T) {
	kubectlPath(t)
	const svc = "/api/v1/namespaces/tpdns/services/tpdns"
	const coredns = "/api/v1/namespaces/kube-system/configmaps/coredns"
	const custom = "/api/v1/namespaces/kube-system/configmaps/coredns-custom"
	api := newKubeAPI(t)
	api.put(svc, map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "tpdns", "namespace": "tpdns"},
		"spec":     map[string]any{"clusterIP": "10.96.114.7", "type": "ClusterIP"}})
	api.put(coredns, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "coredns", "namespace": "kube-system"},
		"data":     map[string]any{"Corefile": kubeadmCorefile}})
	corefile := func() string { return fmt.Sprint(at(api.get(coredns), "data", "Corefile")) }
	withBlock := kubeadmCorefile + "\n" + tpdnsBlock("tp.internal:53", "10.96.114.7")

	// Added once; the same again changes nothing.
	code, out, stderr := api.script()
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, withBlock, corefile())
	assert.Contains(t, out, "forwards tp.internal to 10.96.114.7")
	assert.Contains(t, out, "reload plugin")
	assert.Equal(t, []string{"PATCH " + coredns}, api.writes())
	code, out, _ = api.script()
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "nothing changed")
	assert.Len(t, api.writes(), 1)

	// The block is valid for the forward, cache and errors that tpdns and
	// CoreDNS share.
	block := tpdnsBlock("tp.internal:53", "10.96.114.7")
	assert.NoError(t, server.Validate(server.Input{Filename: "block", Contents: []byte(block)}))

	// A dry run prints the Corefile and writes nothing.
	code, out, _ = api.script("-d", "-z", "tp.internal", "-z", "2.0.192.in-addr.arpa")
	assert.Equal(t, 0, code)
	assert.Equal(t, kubeadmCorefile+"\n"+tpdnsBlock("tp.internal:53 2.0.192.in-addr.arpa:53", "10.96.114.7"), out)
	assert.Len(t, api.writes(), 1)

	// A new ClusterIP replaces the block in place.
	api.update(svc, func(o map[string]any) { o["spec"].(map[string]any)["clusterIP"] = "fd00:10:96::a" })
	code, _, stderr = api.script()
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, kubeadmCorefile+"\n"+tpdnsBlock("tp.internal:53", "fd00:10:96::a"), corefile())

	// Someone else's change between our read and our write: ours fails
	// (409), theirs stays.
	api.update(svc, func(o map[string]any) { o["spec"].(map[string]any)["clusterIP"] = "10.96.114.8" })
	api.afterGet(coredns, func() {
		api.update(coredns, func(o map[string]any) { o["data"].(map[string]any)["Corefile"] = "theirs\n" })
	})
	code, _, stderr = api.script()
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "changed meanwhile")
	assert.Equal(t, "theirs\n", corefile())
	api.update(coredns, func(o map[string]any) { o["data"].(map[string]any)["Corefile"] = withBlock })

	// Removed: the Corefile as it was, then nothing to do.
	code, out, stderr = api.script("-r")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, kubeadmCorefile, corefile())
	assert.Contains(t, out, "out of the Corefile")
	n := len(api.writes())
	code, out, _ = api.script("-r")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "nothing changed")
	assert.Len(t, api.writes(), n)

	// What stops it, with nothing written: a server block for the zone that
	// the script did not write (CoreDNS would refuse the Corefile with two),
	// a headless Service, no Service.
	for _, key := range []string{"tp.internal", "tp.internal.:53", "dns://TP.internal:53"} {
		api.update(coredns, func(o map[string]any) {
			o["data"].(map[string]any)["Corefile"] = kubeadmCorefile + key + " {\n    forward . 10.0.0.1\n}\n"
		})
		code, _, stderr = api.script()
		assert.Equal(t, 1, code, key)
		assert.Contains(t, stderr, "already serves tp.internal on port 53 (Corefile line 22", key)
	}
	api.update(coredns, func(o map[string]any) {
		o["data"].(map[string]any)["Corefile"] = kubeadmCorefile + "tp.internal:5353 {\n    forward . 10.0.0.1\n}\n"
	})
	code, _, stderr = api.script("-d")
	assert.Equal(t, 0, code, "another port is another server: %s", stderr)
	api.update(svc, func(o map[string]any) { o["spec"].(map[string]any)["clusterIP"] = "None" })
	code, _, stderr = api.script()
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the Service tpdns/tpdns has no ClusterIP (None)")
	code, _, stderr = api.script("-n", "elsewhere")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "cannot read the Service elsewhere/tpdns")
	assert.Len(t, api.writes(), n)

	// -c: coredns-custom's tpdns.server (AKS, k3s), created, then kept.
	api.update(svc, func(o map[string]any) { o["spec"].(map[string]any)["clusterIP"] = "10.96.114.7" })
	n = len(api.writes())
	code, out, stderr = api.script("-c")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, block, at(api.get(custom), "data", "tpdns.server"))
	assert.Contains(t, out, "rollout restart deployment coredns")
	code, out, _ = api.script("-c")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "nothing changed")
	code, _, stderr = api.script("-c", "-r")
	require.Equal(t, 0, code, stderr)
	assert.Nil(t, at(api.get(custom), "data", "tpdns.server"))
	assert.Equal(t, []string{"POST /api/v1/namespaces/kube-system/configmaps", "PATCH " + custom}, api.writes()[n:])
}

// kubeAPI is a fake Kubernetes API server on loopback, enough for kubectl's
// get, create, patch (JSON merge patch, with metadata.resourceVersion as a
// precondition) and apply --dry-run=client: discovery of the kinds
// deploy/ uses, and objects kept by path.
type kubeAPI struct {
	t   *testing.T
	env []string

	mu       sync.Mutex
	objects  map[string]map[string]any
	version  int
	written  []string
	hookPath string // after the next GET of it, hook runs (once)
	hook     func()
}

// kubeResources are the resources the fake API server knows.
var kubeResources = []struct {
	groupVersion, name, kind string
	namespaced               bool
	short                    []string
}{
	{"v1", "namespaces", "Namespace", false, []string{"ns"}},
	{"v1", "configmaps", "ConfigMap", true, []string{"cm"}},
	{"v1", "secrets", "Secret", true, nil},
	{"v1", "services", "Service", true, []string{"svc"}},
	{"v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, []string{"pvc"}},
	{"apps/v1", "deployments", "Deployment", true, []string{"deploy"}},
	{"policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", true, []string{"pdb"}},
	{"v1", "serviceaccounts", "ServiceAccount", true, []string{"sa"}},
	{"apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false, []string{"crd", "crds"}},
	{"rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", false, nil},
	{"rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", false, nil},
	{"rbac.authorization.k8s.io/v1", "roles", "Role", true, nil},
	{"rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true, nil},
}

func newKubeAPI(t *testing.T) *kubeAPI {
	k := &kubeAPI{t: t, objects: map[string]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	config := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(config, []byte(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "`+srv.URL+`"}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: default}}]
current-context: fake
`), 0o600))
	for _, e := range os.Environ() {
		switch strings.SplitN(e, "=", 2)[0] {
		case "KUBECONFIG", "HOME", "KUBECTL", "COREDNS_NAMESPACE", "COREDNS_CONFIGMAP":
		default:
			k.env = append(k.env, e)
		}
	}
	k.env = append(k.env, "KUBECONFIG="+config, "HOME="+dir) // kubectl's cache in HOME
	return k
}

// kubectl runs kubectl against k.
func (k *kubeAPI) kubectl(args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// script runs coredns-forward.sh against k, with POSIX sh.
func (k *kubeAPI) script(args ...string) (int, string, string) {
	k.t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(deployDir, "coredns-forward.sh")}, args...)...)
	cmd.Env = k.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		k.t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// put stores an object at its path; update changes one (each a write that
// gives it a new resourceVersion, as the API server's own).
func (k *kubeAPI) put(path string, obj map[string]any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.store(path, obj)
}

func (k *kubeAPI) update(path string, f func(map[string]any)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := k.objects[path]
	f(obj)
	k.store(path, obj)
}

// afterGet runs f once, after the next GET of the object at path: another
// client's write between a read and a write.
func (k *kubeAPI) afterGet(path string, f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hookPath, k.hook = path, f
}

func (k *kubeAPI) store(path string, obj map[string]any) {
	k.version++
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(k.version)
	k.objects[path] = obj
}

// get returns a copy of the object at path, or nil.
func (k *kubeAPI) get(path string) map[string]any {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, _ := json.Marshal(k.objects[path])
	var obj map[string]any
	_ = json.Unmarshal(b, &obj)
	return obj
}

// writes returns every request that changed an object, in order.
func (k *kubeAPI) writes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.written...)
}

func (k *kubeAPI) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	status := func(code int, reason, msg string) {
		reply(code, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
			"message": msg, "reason": reason, "code": code})
	}

	// Discovery.
	switch p {
	case "/api":
		reply(200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []any{map[string]any{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
		return
	case "/apis":
		var groups []any
		seen := map[string]bool{}
		for _, res := range kubeResources {
			gv := res.groupVersion
			if gv == "v1" || seen[gv] {
				continue
			}
			seen[gv] = true
			g, v, _ := strings.Cut(gv, "/")
			ver := map[string]any{"groupVersion": gv, "version": v}
			groups = append(groups, map[string]any{"name": g, "versions": []any{ver}, "preferredVersion": ver})
		}
		reply(200, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
		return
	case "/version":
		reply(200, map[string]any{"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
		return
	}
	gv, rest := "", ""
	if s, ok := strings.CutPrefix(p, "/api/v1"); ok {
		gv, rest = "v1", s
	} else if s, ok := strings.CutPrefix(p, "/apis/"); ok {
		parts := strings.SplitN(s, "/", 3)
		if len(parts) >= 2 {
			gv = parts[0] + "/" + parts[1]
			if len(parts) == 3 {
				rest = "/" + parts[2]
			}
		}
	}
	if gv != "" && rest == "" && r.Method == http.MethodGet {
		var resources []any
		for _, res := range kubeResources {
			if res.groupVersion == gv {
				resources = append(resources, map[string]any{"name": res.name, "singularName": strings.ToLower(res.kind),
					"namespaced": res.namespaced, "kind": res.kind, "shortNames": res.short,
					"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"}})
			}
		}
		if resources != nil {
			reply(200, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
			return
		}
	}

	// Objects: .../namespaces/NS/RESOURCE[/NAME] or .../RESOURCE[/NAME].
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) >= 3 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	if gv == "" || len(segs) == 0 || len(segs) > 2 {
		status(404, "NotFound", "the server could not find the requested resource")
		return
	}
	collection := len(segs) == 1
	k.mu.Lock()
	obj := k.objects[p]
	switch {
	case r.Method == http.MethodGet && !collection:
		k.mu.Unlock()
		if obj == nil {
			status(404, "NotFound", fmt.Sprintf("%s %q not found", segs[0], segs[1]))
			return
		}
		reply(200, k.get(p))
		k.mu.Lock()
		f := k.hook
		if k.hookPath != p {
			f = nil
		} else {
			k.hookPath, k.hook = "", nil
		}
		k.mu.Unlock()
		if f != nil {
			f()
		}
	case r.Method == http.MethodPost && collection:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			k.mu.Unlock()
			status(400, "BadRequest", err.Error())
			return
		}
		path := p + "/" + fmt.Sprint(at(body, "metadata", "name"))
		if k.objects[path] != nil {
			k.mu.Unlock()
			status(409, "AlreadyExists", path+" already exists")
			return
		}
		k.store(path, body)
		k.written = append(k.written, "POST "+p)
		k.mu.Unlock()
		reply(201, k.get(path))
	case r.Method == http.MethodPatch && !collection && obj != nil:
		if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
			k.mu.Unlock()
			status(415, "UnsupportedMediaType", "the fake takes merge patches only, not "+ct)
			return
		}
		var patch map[string]any
		if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
			k.mu.Unlock()
			status(400, "BadRequest", err.Error())
			return
		}
		if want := at(patch, "metadata", "resourceVersion"); want != nil && want != at(obj, "metadata", "resourceVersion") {
			k.mu.Unlock()
			status(409, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", segs[0], segs[1]))
			return
		}
		mergePatch(obj, patch)
		k.store(p, obj)
		k.written = append(k.written, "PATCH "+p)
		k.mu.Unlock()
		reply(200, k.get(p))
	default:
		k.mu.Unlock()
		k.t.Logf("fake API server: %s %s: not served", r.Method, p)
		status(404, "NotFound", fmt.Sprintf("%s %s: not found", r.Method, p))
	}
}

// mergePatch applies a JSON merge patch (RFC 7386) to obj.
func mergePatch(obj, patch map[string]any) {
	for key, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(obj, key)
		case map[string]any:
			m, ok := obj[key].(map[string]any)
			if !ok {
				m = map[string]any{}
				obj[key] = m
			}
			mergePatch(m, v)
		default:
			obj[key] = v
		}
	}
}

// TestDeployImage checks what the image is built from: the revision passed
// as the Makefile passes it, and a build context without the secrets and
// state of `make run`.
func TestDeployImage(t *testing.T) {
	b, err := os.ReadFile("../deploy/Dockerfile")
	require.NoError(t, err)
	dockerfile := string(b)
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	ldflags := regexp.MustCompile(`-X (main\.gitCommit)=`).FindSubmatch(makefile)
	require.NotNil(t, ldflags, "the Makefile's -X main.gitCommit")
	assert.Contains(t, dockerfile, "ARG GIT_COMMIT")
	assert.Regexp(t, `go build [^\n]*-ldflags "[^"]*-X `+regexp.QuoteMeta(string(ldflags[1]))+`=\$\{GIT_COMMIT\}[^"]*"[^\n]* \./cmd/tpdns\b`, dockerfile)

	b, err = os.ReadFile("../.dockerignore")
	require.NoError(t, err)
	ignored := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignored[strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/")] = true
		}
	}
	for _, name := range []string{".git", "bin", "tpdns.token", "tpdns.db"} {
		assert.True(t, ignored[name], ".dockerignore leaves %s in the build context", name)
	}
	// The build needs the main module only.
	for _, name := range []string{"go.mod", "go.sum", "cmd", "plugin"} {
		assert.False(t, ignored[name], ".dockerignore leaves out %s", name)
	}
}

// TestDeployBillingExample: the registry file that README's "Register a
// service" applies is valid, with the service its curl commands register.
func TestDeployBillingExample(t *testing.T) {
	b, err := os.ReadFile("../examples/billing.yaml")
	require.NoError(t, err)
	svcs, err := config.ParseYAML("billing.yaml", b, config.Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err)
	var names []string
	for _, s := range svcs {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"billing"}, names)
}

// TestDeployDocLinks: the relative links of the operator documentation
// lead somewhere.
func TestDeployDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#]+)[^)]*\)`)
	for _, doc := range []string{"deploy/kubernetes/README.md", "coredns/README.md", "docs/coming-from-coredns-consul.md", "docs/kubernetes-source.md", "README.md"} {
		b, err := os.ReadFile(filepath.Join("..", doc))
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			_, err := os.Stat(filepath.Join("..", filepath.Dir(doc), target))
			assert.NoError(t, err, "%s links to %s", doc, target)
		}
	}
}
