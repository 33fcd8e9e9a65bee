// Package kubesource makes services of ThirdPartyService objects
// (tpdns.io/v1alpha1), the Kubernetes source of the thirdparty plugin:
// the object oracle in the namespace finance is the service
// oracle.finance, its spec the registry's service object without a name,
// its secrets the keys of a Secret of the same namespace.
package kubesource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tpdns/tpdns/config"
)

// The CRD's names (deploy/kubernetes/crd).
const (
	Group    = "tpdns.io"
	Version  = "v1alpha1"
	Kind     = "ThirdPartyService"
	Resource = "thirdpartyservices"
)

// ServiceName is the name of the service of the object name in namespace.
func ServiceName(namespace, name string) string { return name + "." + namespace }

// Secrets returns the data of the Secret name in the object's namespace.
type Secrets func(name string) (map[string][]byte, error)

// Convert makes the service of the object name in namespace, whose spec
// is given as the API server holds it (JSON-decoded). Its errors name the
// field of the object: "spec.endpoints[1].port: ...".
func Convert(namespace, name string, spec map[string]any, secrets Secrets, opts config.Options) (config.Service, error) {
	if spec == nil {
		return config.Service{}, errors.New("spec: missing")
	}
	doc := make(map[string]any, len(spec)+1)
	for k, v := range spec {
		doc[k] = v
	}
	for _, field := range []string{"name", "secrets"} {
		if _, ok := doc[field]; ok {
			return config.Service{}, fmt.Errorf("spec.%s: not a field of a ThirdPartyService (%s)", field, map[string]string{
				"name":    "the service's name is the object's name and namespace",
				"secrets": "secrets come from a Secret, by spec.secretsFrom",
			}[field])
		}
	}
	doc["name"] = ServiceName(namespace, name)
	if from, ok := doc["secretsFrom"]; ok {
		delete(doc, "secretsFrom")
		ref, _ := from.(map[string]any)
		secretName, _ := ref["secretName"].(string)
		if secretName == "" {
			return config.Service{}, errors.New("spec.secretsFrom.secretName: missing")
		}
		data, err := secrets(secretName)
		if err != nil {
			return config.Service{}, fmt.Errorf("spec.secretsFrom: secret %s/%s: %w", namespace, secretName, err)
		}
		values := make(map[string]any, len(data))
		for k, v := range data {
			values[k] = string(v)
		}
		doc["secrets"] = values
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return config.Service{}, fmt.Errorf("spec: %w", err)
	}
	svc, err := config.DecodeJSON(b, opts)
	if err != nil {
		return config.Service{}, inSpec(err)
	}
	return svc, nil
}

// inSpec makes the config package's errors name the object's fields.
func inSpec(err error) error {
	var list config.ErrorList
	if !errors.As(err, &list) {
		return fmt.Errorf("spec: %w", err)
	}
	out := make(config.ErrorList, len(list))
	for i, e := range list {
		c := *e
		switch {
		case c.Field == "name":
			c.Field = "metadata.name"
		case c.Field == "secrets" || strings.HasPrefix(c.Field, "secrets."):
			c.Field = "spec.secretsFrom (" + c.Field + ")"
		case c.Field == "":
			c.Field = "spec"
		default:
			c.Field = "spec." + c.Field
		}
		out[i] = &c
	}
	return out
}
