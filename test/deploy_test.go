package test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/server"
)

// manifests decodes every document of a multi-document YAML file.
func manifests(t *testing.T, path string) []map[string]any {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		docs = append(docs, doc)
	}
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

func TestKubernetesManifests(t *testing.T) {
	for _, path := range []string{"../deploy/kubernetes/tpdns.yaml", "../deploy/kubernetes/tpdns-etcd.yaml"} {
		t.Run(filepath.Base(path), func(t *testing.T) { checkManifests(t, path) })
	}
}

func checkManifests(t *testing.T, path string) {
	byKind := map[string]map[string]any{}
	for _, doc := range manifests(t, path) {
		require.NotEmpty(t, doc["apiVersion"])
		require.NotEmpty(t, at(doc, "metadata", "name"))
		byKind[doc["kind"].(string)] = doc
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		require.Contains(t, byKind, kind)
	}

	dep := byKind["Deployment"]
	assert.Equal(t, 2, at(dep, "spec", "replicas"))
	c := at(dep, "spec", "template", "spec", "containers", 0)
	assert.Equal(t, "/health", at(c, "livenessProbe", "httpGet", "path"))
	assert.Equal(t, 8080, at(c, "livenessProbe", "httpGet", "port"))
	assert.Equal(t, "/ready", at(c, "readinessProbe", "httpGet", "path"))
	assert.Equal(t, 8181, at(c, "readinessProbe", "httpGet", "port"))
	assert.Equal(t, at(dep, "spec", "selector", "matchLabels"), at(dep, "spec", "template", "metadata", "labels"))
	assert.Equal(t, at(dep, "spec", "selector", "matchLabels"), at(byKind["Service"], "spec", "selector"))
	assert.Equal(t, at(dep, "spec", "selector", "matchLabels"), at(byKind["PodDisruptionBudget"], "spec", "selector", "matchLabels"))

	var protocols []string
	for i := range 2 { // DNS: UDP and TCP
		port := at(byKind["Service"], "spec", "ports", i)
		assert.Equal(t, 53, at(port, "port"))
		protocols = append(protocols, at(port, "protocol").(string))
	}
	assert.ElementsMatch(t, []string{"UDP", "TCP"}, protocols)

	// The ConfigMap's Corefile and registry are valid, with the registry at
	// the path the Corefile names.
	cm := byKind["ConfigMap"]
	dir := t.TempDir()
	registry := at(cm, "data", "services.yaml").(string)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	_, err := config.ParseYAML("services.yaml", []byte(registry), config.Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err)
	corefile := strings.ReplaceAll(at(cm, "data", "Corefile").(string), "/etc/tpdns/services.yaml", filepath.Join(dir, "services.yaml"))
	require.NoError(t, server.Validate(server.Input{Filename: "Corefile", Contents: []byte(corefile)}))

	if filepath.Base(path) != "tpdns.yaml" {
		return
	}
	// The stub domain for the cluster's CoreDNS: forward's syntax is the same.
	stub := manifests(t, "../deploy/kubernetes/coredns-stubdomain.yaml")
	require.Len(t, stub, 1)
	block := strings.ReplaceAll(at(stub[0], "data", "tpdns.server").(string), "TPDNS_SERVICE_IP", "10.96.0.53")
	require.NoError(t, server.Validate(server.Input{Filename: "tpdns.server", Contents: []byte(block)}))
}
