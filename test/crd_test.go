package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tpdns/tpdns/config"
)

// The CustomResourceDefinition of the kubernetes source (SPEC section 8)
// and its example object. The schema is checked here against the config
// package, which decodes the registry file, the API's bodies and (through
// DecodeJSON) the objects' specs: field for field, and on the registry's
// own examples converted to objects. Whether a real API server takes the
// CRD is the kubernetes source's end-to-end test's business.
const (
	crdFile        = "../deploy/kubernetes/crd/thirdpartyservices.yaml"
	crdExampleFile = "../deploy/kubernetes/crd/example-oracle.yaml"
)

// crd is the part of a CustomResourceDefinition that the file has; it is
// decoded with known fields only, so that a misspelt keyword (minimun,
// x-kubernetes-int-or-strings) fails here instead of being ignored.
type crd struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Group string `yaml:"group"`
		Scope string `yaml:"scope"`
		Names struct {
			Kind       string   `yaml:"kind"`
			ListKind   string   `yaml:"listKind"`
			Plural     string   `yaml:"plural"`
			Singular   string   `yaml:"singular"`
			ShortNames []string `yaml:"shortNames"`
		} `yaml:"names"`
		Versions []struct {
			Name         string `yaml:"name"`
			Served       bool   `yaml:"served"`
			Storage      bool   `yaml:"storage"`
			Subresources struct {
				Status *struct{} `yaml:"status"`
			} `yaml:"subresources"`
			Columns []struct {
				Name        string `yaml:"name"`
				Type        string `yaml:"type"`
				Description string `yaml:"description"`
				JSONPath    string `yaml:"jsonPath"`
			} `yaml:"additionalPrinterColumns"`
			Schema struct {
				OpenAPIV3Schema *schema `yaml:"openAPIV3Schema"`
			} `yaml:"schema"`
		} `yaml:"versions"`
	} `yaml:"spec"`
}

// schema is the structural subset of OpenAPI v3 the CRD uses.
type schema struct {
	Type                 string             `yaml:"type"`
	Format               string             `yaml:"format"`
	Description          string             `yaml:"description"`
	Properties           map[string]*schema `yaml:"properties"`
	AdditionalProperties *schema            `yaml:"additionalProperties"`
	Items                *schema            `yaml:"items"`
	Required             []string           `yaml:"required"`
	Enum                 []any              `yaml:"enum"`
	Minimum              *int64             `yaml:"minimum"`
	Maximum              *int64             `yaml:"maximum"`
	MinLength            *int               `yaml:"minLength"`
	MaxLength            *int               `yaml:"maxLength"`
	Pattern              string             `yaml:"pattern"`
	IntOrString          bool               `yaml:"x-kubernetes-int-or-string"`
	ListType             string             `yaml:"x-kubernetes-list-type"`
	ListMapKeys          []string           `yaml:"x-kubernetes-list-map-keys"`
}

func loadCRD(t *testing.T) (*crd, *schema) {
	t.Helper()
	b, err := os.ReadFile(crdFile)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c crd
	require.NoError(t, dec.Decode(&c), "%s", crdFile)
	require.Len(t, c.Spec.Versions, 1)
	root := c.Spec.Versions[0].Schema.OpenAPIV3Schema
	require.NotNil(t, root, "openAPIV3Schema")
	require.NoError(t, structural(root, ""))
	return &c, root
}

// structural checks what makes a schema structural: every node has a type
// (or is int-or-string), properties and additionalProperties go with
// objects only, and not together; items with arrays, and patterns compile.
func structural(s *schema, path string) error {
	switch {
	case s.IntOrString && s.Type != "":
		return fmt.Errorf("%s: int-or-string with type %s", path, s.Type)
	case !s.IntOrString && s.Type == "":
		return fmt.Errorf("%s: no type", path)
	case (s.Properties != nil || s.AdditionalProperties != nil || s.Required != nil) && s.Type != "object":
		return fmt.Errorf("%s: properties of a %s", path, s.Type)
	case s.Properties != nil && s.AdditionalProperties != nil:
		return fmt.Errorf("%s: both properties and additionalProperties", path)
	case (s.Items != nil) != (s.Type == "array"):
		return fmt.Errorf("%s: an array needs items, and only an array has them", path)
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			return fmt.Errorf("%s: pattern: %w", path, err)
		}
	}
	for _, r := range s.Required {
		if s.Properties[r] == nil {
			return fmt.Errorf("%s: required %s is not a property", path, r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		if err := structural(s.Properties[name], path+"."+name); err != nil {
			return err
		}
	}
	if s.AdditionalProperties != nil {
		if err := structural(s.AdditionalProperties, path+".*"); err != nil {
			return err
		}
	}
	if s.Items != nil {
		return structural(s.Items, path+"[]")
	}
	return nil
}

// validate checks v, as a YAML or JSON decoder gives it, against s, as the
// API server's schema validation does with unknown fields rejected
// (kubectl's default field validation, Strict). It returns every problem.
func validate(s *schema, v any, path string) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	typ := s.Type
	if s.IntOrString {
		switch v.(type) {
		case int:
			typ = "integer"
		case string:
			typ = "string"
		default:
			bad("want an integer or a string, got %T", v)
			return errs
		}
	}
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return errs
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				bad("%s is required", r)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			switch {
			case s.Properties[k] != nil:
				errs = append(errs, validate(s.Properties[k], m[k], path+"."+k)...)
			case s.AdditionalProperties != nil:
				errs = append(errs, validate(s.AdditionalProperties, m[k], path+"."+k)...)
			case s.Properties != nil:
				bad("unknown field %q", k)
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return errs
		}
		for i, item := range l {
			errs = append(errs, validate(s.Items, item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return errs
		}
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			bad("%q: length out of range", str)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			bad("%q does not match %s", str, s.Pattern)
		}
		if s.Enum != nil && !slices.Contains(s.Enum, any(str)) {
			bad("%q is not one of %v", str, s.Enum)
		}
	case "integer":
		i, ok := v.(int)
		if !ok {
			bad("want an integer, got %T", v)
			return errs
		}
		if s.Minimum != nil && int64(i) < *s.Minimum || s.Maximum != nil && int64(i) > *s.Maximum {
			bad("%d is out of range", i)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	default:
		bad("unknown type %q", typ)
	}
	return errs
}

func TestCRDNames(t *testing.T) {
	c, root := loadCRD(t)
	assert.Equal(t, "apiextensions.k8s.io/v1", c.APIVersion)
	assert.Equal(t, "CustomResourceDefinition", c.Kind)
	assert.Equal(t, "thirdpartyservices.tpdns.io", c.Metadata.Name)
	assert.Equal(t, "tpdns.io", c.Spec.Group)
	assert.Equal(t, "Namespaced", c.Spec.Scope)
	n := c.Spec.Names
	assert.Equal(t, []string{"ThirdPartyService", "ThirdPartyServiceList", "thirdpartyservices", "thirdpartyservice"},
		[]string{n.Kind, n.ListKind, n.Plural, n.Singular})
	assert.Equal(t, []string{"tps"}, n.ShortNames)

	v := c.Spec.Versions[0]
	assert.Equal(t, "v1alpha1", v.Name)
	assert.True(t, v.Served && v.Storage, "v1alpha1 served and stored")
	assert.NotNil(t, v.Subresources.Status, "status subresource")

	var cols []string
	for _, col := range v.Columns {
		cols = append(cols, col.Name+" "+col.Type+" "+col.JSONPath)
		if p, ok := strings.CutPrefix(col.JSONPath, ".status."); ok {
			// A column shows a field of the status schema, of its type.
			f := root.Properties["status"].Properties[p]
			if assert.NotNil(t, f, "column %s: no %s in the status", col.Name, col.JSONPath) {
				assert.Equal(t, col.Type, f.Type, "column %s", col.Name)
			}
		}
	}
	assert.Equal(t, []string{"HEALTHY integer .status.healthy", "TOTAL integer .status.total", "AGE date .metadata.creationTimestamp"}, cols)

	st := root.Properties["status"]
	require.NotNil(t, st)
	assert.ElementsMatch(t, []string{"observedGeneration", "healthy", "total", "endpoints", "conditions"}, slices.Collect(maps.Keys(st.Properties)))
	assert.ElementsMatch(t, []string{"address", "port", "state", "lastCheck", "lastError"}, slices.Collect(maps.Keys(st.Properties["endpoints"].Items.Properties)))
	cond := st.Properties["conditions"]
	assert.Equal(t, "map", cond.ListType)
	assert.Equal(t, []string{"type"}, cond.ListMapKeys)
	assert.ElementsMatch(t, []string{"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"}, slices.Collect(maps.Keys(cond.Items.Properties)))
	assert.Equal(t, []string{"spec"}, root.Required)
}

// registryFields reads the keys the config package's decoder accepts out
// of its source, the lists that its unknown-field errors come from: a key
// added there and not here (or the other way round) fails
// TestCRDCoversRegistry. It also returns the check types, the package's
// Check* constants.
func registryFields(t *testing.T) (fields map[string][]string, checkTypes []string) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../config/*.go")
	require.NoError(t, err)
	fields = make(map[string][]string)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range g.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						break
					}
					switch {
					case g.Tok == token.VAR && strings.HasSuffix(name.Name, "Fields"):
						lit, ok := vs.Values[i].(*ast.CompositeLit)
						if !ok {
							continue
						}
						for _, e := range lit.Elts {
							if s, ok := e.(*ast.BasicLit); ok && s.Kind == token.STRING {
								v, _ := strconv.Unquote(s.Value)
								fields[name.Name] = append(fields[name.Name], v)
							}
						}
					case g.Tok == token.CONST && regexp.MustCompile(`^Check[A-Z]`).MatchString(name.Name):
						if s, ok := vs.Values[i].(*ast.BasicLit); ok && s.Kind == token.STRING {
							v, _ := strconv.Unquote(s.Value)
							checkTypes = append(checkTypes, v)
						}
					}
				}
			}
		}
	}
	for _, want := range []string{"serviceFields", "portFields", "endpointFields", "checkFields"} {
		require.NotEmpty(t, fields[want], "config's %s not found", want)
	}
	require.NotEmpty(t, checkTypes, "config's Check* constants not found")
	return fields, checkTypes
}

func TestCRDCoversRegistry(t *testing.T) {
	_, root := loadCRD(t)
	fields, checkTypes := registryFields(t)
	spec := root.Properties["spec"]
	require.NotNil(t, spec)

	// The service without name (the object's) and secrets (never inline:
	// secretsFrom names a Secret).
	want := slices.DeleteFunc(slices.Clone(fields["serviceFields"]), func(f string) bool { return f == "name" || f == "secrets" })
	want = append(want, "secretsFrom")
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(spec.Properties)), "spec")
	assert.Nil(t, spec.Properties["secrets"], "no inline secrets")
	assert.Equal(t, []string{"secretName"}, slices.Collect(maps.Keys(spec.Properties["secretsFrom"].Properties)))

	assert.ElementsMatch(t, fields["portFields"], slices.Collect(maps.Keys(spec.Properties["ports"].Items.Properties)), "spec.ports[]")
	assert.ElementsMatch(t, fields["endpointFields"], slices.Collect(maps.Keys(spec.Properties["endpoints"].Items.Properties)), "spec.endpoints[]")
	check := spec.Properties["check"]
	assert.ElementsMatch(t, fields["checkFields"], slices.Collect(maps.Keys(check.Properties)), "spec.check")

	var enum []string
	for _, e := range check.Properties["type"].Enum {
		enum = append(enum, fmt.Sprint(e))
	}
	assert.ElementsMatch(t, checkTypes, enum, "spec.check.type")
}

// toSpec turns a service of a registry file into the spec of an object:
// without its name, its secrets moved into a Secret (returned), endpoints
// in the long form, and the values of connection and check.headers as
// strings, as the CRD has them.
func toSpec(t *testing.T, svc map[string]any) (spec map[string]any, secrets map[string]any) {
	t.Helper()
	spec = maps.Clone(svc)
	name, _ := spec["name"].(string)
	delete(spec, "name")
	if s, ok := spec["secrets"].(map[string]any); ok {
		secrets = stringValues(s)
		delete(spec, "secrets")
		spec["secretsFrom"] = map[string]any{"secretName": strings.ReplaceAll(name, ".", "-")}
	}
	if eps, ok := spec["endpoints"].([]any); ok {
		long := make([]any, len(eps))
		for i, ep := range eps {
			s, ok := ep.(string)
			if !ok {
				long[i] = ep
				continue
			}
			host, port, err := net.SplitHostPort(s)
			if n, perr := strconv.Atoi(port); err == nil && perr == nil {
				long[i] = map[string]any{"address": host, "port": n}
			} else {
				long[i] = map[string]any{"address": s}
			}
		}
		spec["endpoints"] = long
	}
	if c, ok := spec["connection"].(map[string]any); ok {
		spec["connection"] = stringValues(c)
	}
	if c, ok := spec["check"].(map[string]any); ok {
		c = maps.Clone(c)
		if h, ok := c["headers"].(map[string]any); ok {
			c["headers"] = stringValues(h)
		}
		spec["check"] = c
	}
	return spec, secrets
}

func stringValues(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v == nil {
			v = ""
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

// fromSpec is the service an object declares, as the kubernetes source
// hands it to config.DecodeJSON: the spec with the name and the Secret's
// keys, without secretsFrom.
func fromSpec(t *testing.T, name string, spec, secrets map[string]any) config.Service {
	t.Helper()
	body := maps.Clone(spec)
	delete(body, "secretsFrom")
	body["name"] = name
	if secrets != nil {
		body["secrets"] = secrets
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	svc, err := config.DecodeJSON(b, config.Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err, "%s as an object", name)
	return svc
}

// registryDocs are the registry files whose services must each make a
// valid object that declares the same service.
var registryDocs = []string{
	"../examples/services.yaml",
	"../examples/billing.yaml",
	"../deploy/kubernetes/base/services.yaml",
	"../config/testdata/spec-example.yaml",
}

func TestCRDRegistryExamples(t *testing.T) {
	_, root := loadCRD(t)
	spec := root.Properties["spec"]
	for _, file := range registryDocs {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		want, err := config.ParseYAML(file, data, config.Options{Zones: []string{"tp.internal."}})
		require.NoError(t, err, "%s is valid", file)
		var doc struct {
			Services []map[string]any `yaml:"services"`
		}
		require.NoError(t, yaml.Unmarshal(data, &doc))
		require.Len(t, doc.Services, len(want))
		for i, svc := range doc.Services {
			name := want[i].Name
			s, secrets := toSpec(t, svc)
			assert.Empty(t, validate(spec, s, "spec"), "%s: %s", file, name)
			assert.Equal(t, want[i], fromSpec(t, name, s, secrets), "%s: %s as an object declares the same service", file, name)
		}
	}
}

func TestCRDExampleObject(t *testing.T) {
	_, root := loadCRD(t)
	data, err := os.ReadFile(crdExampleFile)
	require.NoError(t, err)
	var obj, secret map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o map[string]any
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		switch o["kind"] {
		case "ThirdPartyService":
			obj = o
		case "Secret":
			secret = o
		}
	}
	require.NotNil(t, obj, "a ThirdPartyService")
	require.NotNil(t, secret, "its Secret")
	assert.Equal(t, "tpdns.io/v1alpha1", obj["apiVersion"])
	assert.Empty(t, validate(root, obj, ""))

	meta, smeta := obj["metadata"].(map[string]any), secret["metadata"].(map[string]any)
	name := fmt.Sprintf("%s.%s", meta["name"], meta["namespace"])
	assert.Equal(t, "oracle.finance", name)
	spec := obj["spec"].(map[string]any)
	assert.Equal(t, spec["secretsFrom"].(map[string]any)["secretName"], smeta["name"], "secretsFrom names the Secret")
	assert.Equal(t, meta["namespace"], smeta["namespace"], "the Secret is in the object's namespace")

	// The object declares examples/services.yaml's oracle.finance, but for
	// the secrets' values (placeholders in the Secret).
	secrets := secret["stringData"].(map[string]any)
	got := fromSpec(t, name, spec, secrets)
	data, err = os.ReadFile(registryDocs[0])
	require.NoError(t, err)
	services, err := config.ParseYAML(registryDocs[0], data, config.Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err)
	i := slices.IndexFunc(services, func(s config.Service) bool { return s.Name == name })
	require.GreaterOrEqual(t, i, 0)
	want := services[i]
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want.Secrets)), slices.Collect(maps.Keys(got.Secrets)), "the Secret's keys")
	want.Secrets, got.Secrets = nil, nil
	assert.Equal(t, want, got)
}

// TestCRDRejects shows that the schema refuses what a spec must not have,
// as the API server would, before tpdns sees it.
func TestCRDRejects(t *testing.T) {
	_, root := loadCRD(t)
	spec := root.Properties["spec"]
	for _, tc := range []struct{ name, spec, want string }{
		{"inline secrets", `{secrets: {DB_PASSWORD: x}}`, `spec: unknown field "secrets"`},
		{"name", `{name: oracle}`, `spec: unknown field "name"`},
		{"short endpoint", `{endpoints: [192.0.2.10]}`, `spec.endpoints[0]: want an object`},
		{"endpoint without address", `{endpoints: [{port: 1}]}`, `address is required`},
		{"unknown endpoint field", `{endpoints: [{address: 192.0.2.1, ip: x}]}`, `unknown field "ip"`},
		{"port 0", `{ports: [{name: db, port: 0}]}`, `spec.ports[0].port: 0 is out of range`},
		{"protocol", `{ports: [{name: db, port: 1, protocol: sctp}]}`, `"sctp" is not one of`},
		{"check type", `{check: {type: ping}}`, `"ping" is not one of`},
		{"rise 0", `{check: {rise: 0}}`, `spec.check.rise: 0 is out of range`},
		{"secretsFrom without a name", `{secretsFrom: {}}`, `secretName is required`},
		{"connection value not a string", `{connection: {DB_PORT: 1521}}`, `want a string`},
	} {
		var v map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(tc.spec), &v))
		errs := validate(spec, v, "spec")
		assert.True(t, slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tc.want) }),
			"%s: want %q, got %q", tc.name, tc.want, errs)
	}
}

// crdGaps are what the registry file takes and the CRD does not, each
// said in the CRD's descriptions and in docs/kubernetes-source.md: a
// number of seconds with a fraction (a structural schema has integer or
// string, not number or string: "0.5" is quoted), a value of connection or
// check.headers that is not a string (quoted: "1521"), and the check types
// and protocols in capitals but for TCP and UDP (Kubernetes's spelling).
// The short form of an endpoint, a plain string, is TestCRDRejects's.
var crdGaps = map[string]bool{
	"check.interval 0.5":      true,
	"check.timeout 0.5":       true,
	"connection.DB_PORT 1521": true,
	"connection.DEBUG true":   true,
	"check.headers.X-Probe 1": true,
	"check.type TCP":          true,
	"ports[0].protocol Tcp":   true,
}

// TestCRDPatterns holds the schema's patterns and bounds to the registry:
// whatever the registry accepts, the schema accepts too (it may be looser;
// tpdns then reports the object invalid in its status), but for crdGaps.
func TestCRDPatterns(t *testing.T) {
	_, root := loadCRD(t)
	spec := root.Properties["spec"]
	base := func() map[string]any {
		return map[string]any{
			"ports":     []any{map[string]any{"name": "db", "port": 1521}},
			"endpoints": []any{map[string]any{"address": "192.0.2.10"}},
		}
	}
	values := map[string][]string{
		"ports[0].name":          {"db", "a-b", "1a", "a1", "1-a", "DB", "x", "abcdefghijklmno", "a--b", "-a", "a-", "123", "abcdefghijklmnop", "a_b"},
		"ports[0].protocol":      {"tcp", "udp", "TCP", "UDP", "Tcp", "sctp"},
		"endpoints[0].name":      {"standby", "a-1", "A", "", "a.b", "-a"},
		"ttl":                    {"30", "0", "30s", "1m", `"30"`, `"0"`, "1.5s", "-1", "2147483647", "2147483648", "x"},
		"check.interval":         {"10s", "10", `"10"`, "0.5", `"0.5"`, "1m30s", "1.5s", "500ms", "+10s", "1h", "0", "-1s", "abc", "10 s"},
		"check.timeout":          {"1s", "1", `"1"`, "0.5", `"0.5"`, "100ms", "0s"},
		"check.expect":           {"200-399", "204", `"204"`, "99", "600", "2xx", "399-200"},
		"check.port":             {"db", "1521", `"1521"`, "0", "65536", "other"},
		"check.service_name":     {"ORCL", "orcl.example.com", "a$b#c_d-e", "a(b", ""},
		"check.path":             {"/", "/healthz?x=1", "healthz", "/a b"},
		"check.host":             {"db.example.com", ""},
		"check.rise":             {"1", "0", "3"},
		"connection.DB_NAME":     {`"orcl"`, `""`, `"${DB_HOST}"`},
		"connection.DB_PORT":     {"1521"},
		"connection.DEBUG":       {"true"},
		"check.headers.X-Probe":  {`"tpdns"`, `""`, "1"},
		"check.type":             {"tcp", "none", "https", "TCP"},
		"endpoints[0].priority":  {"0", "65535", "65536", "-1"},
		"endpoints[0].weight":    {"0", "65535", "65536"},
		"endpoints[0].disabled":  {"true", "false"},
		"endpoints[0].port":      {"1", "65535", "0"},
		"secretsFrom.secretName": {`"oracle-finance"`},
	}
	accepted := 0
	for _, field := range slices.Sorted(maps.Keys(values)) {
		for _, text := range values[field] {
			var v any
			require.NoError(t, yaml.Unmarshal([]byte(text), &v), text)
			if v == nil {
				v = ""
			}
			s := base()
			set(s, field, v)
			if field == "check.service_name" || field == "check.path" || field == "check.host" || strings.HasPrefix(field, "check.headers") {
				s["check"].(map[string]any)["type"] = "tns"
				if field != "check.service_name" {
					s["check"].(map[string]any)["type"] = "http"
				}
			}
			if field == "check.timeout" {
				s["check"].(map[string]any)["interval"] = "10s"
			}
			body := maps.Clone(s)
			delete(body, "secretsFrom")
			body["name"] = "svc"
			b, err := json.Marshal(body)
			require.NoError(t, err)
			_, regErr := config.DecodeJSON(b, config.Options{Zones: []string{"tp.internal."}})
			schemaErrs := validate(spec, s, "spec")
			switch {
			case crdGaps[field+" "+text]:
				assert.NoError(t, regErr, "%s: %s: the registry takes it", field, text)
				assert.NotEmpty(t, schemaErrs, "%s: %s is a gap no more: take it out of crdGaps and the docs", field, text)
			case regErr == nil:
				accepted++
				assert.Empty(t, schemaErrs, "%s: %s: the registry takes it, the schema must too", field, text)
			}
		}
	}
	assert.Greater(t, accepted, 50)
}

// set sets the field at path ("check.interval", "ports[0].name") of m,
// making the objects on the way.
func set(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	var cur any = m
	for i, p := range parts {
		last := i == len(parts)-1
		name, index, isItem := strings.Cut(p, "[")
		obj := cur.(map[string]any)
		if isItem {
			n, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
			item := obj[name].([]any)[n].(map[string]any)
			cur = item
			continue
		}
		if last {
			obj[name] = v
			return
		}
		next, ok := obj[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[name] = next
		}
		cur = next
	}
}

// TestCRDOverlay checks deploy/kubernetes/overlays/crd, rendered as
// tpdns-crd.yaml: the CRD is the one of crd/, the pods run as the
// ServiceAccount that the bindings name and know their namespace
// (POD_NAMESPACE, where the writer's Lease is), the RBAC grants exactly what
// the kubernetes source reads and writes, and the Corefile enables the
// source with status and endpointslices. (TestDeployManifests checks the
// parts the overlay shares with the base: its row tpdns-crd.yaml.)
func TestCRDOverlay(t *testing.T) {
	objs := byKindName(manifestFile(t, "tpdns-crd.yaml"))

	c := objs["CustomResourceDefinition/thirdpartyservices.tpdns.io"]
	require.NotNil(t, c)
	b, err := os.ReadFile(crdFile)
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, yaml.Unmarshal(b, &want))
	assert.Equal(t, want, c, "the CRD of crd/thirdpartyservices.yaml, unchanged")

	for key, doc := range objs {
		switch doc["kind"] {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
			assert.Nil(t, at(doc, "metadata", "namespace"), "%s is cluster-scoped", key)
		default:
			assert.Equal(t, "tpdns", at(doc, "metadata", "namespace"), key)
		}
	}
	sa := objs["ServiceAccount/tpdns"]
	require.NotNil(t, sa)
	assert.Equal(t, "tpdns", at(objs["Deployment/tpdns"], "spec", "template", "spec", "serviceAccountName"))
	var namespaceEnv any
	for _, e := range list(objs["Deployment/tpdns"], "spec", "template", "spec", "containers", 0, "env") {
		if e["name"] == "POD_NAMESPACE" {
			namespaceEnv = e["valueFrom"]
		}
	}
	assert.Equal(t, map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}, namespaceEnv,
		"POD_NAMESPACE from the downward API")
	for _, key := range []string{"ClusterRoleBinding/tpdns", "RoleBinding/tpdns-writer"} {
		binding := objs[key]
		require.NotNil(t, binding, key)
		assert.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": "tpdns", "namespace": "tpdns"}}, binding["subjects"], key)
		role := fmt.Sprintf("%v/%v", at(binding, "roleRef", "kind"), at(binding, "roleRef", "name"))
		assert.NotNil(t, objs[role], "%s: %s", key, role)
	}

	// resource (group/name) -> verbs, one rule each.
	rules := func(key string) map[string][]string {
		out := map[string][]string{}
		for _, r := range list(objs[key], "rules") {
			for _, g := range r["apiGroups"].([]any) {
				for _, res := range r["resources"].([]any) {
					name := fmt.Sprintf("%v/%v", g, res)
					assert.NotContains(t, out, name, "%s: %s in two rules", key, name)
					for _, v := range r["verbs"].([]any) {
						out[name] = append(out[name], v.(string))
					}
				}
			}
		}
		return out
	}
	// Exactly what the source does (test/kube's TestOverlayRBAC runs it
	// with these rules): informers list and watch, the writer patches the
	// status, keeps Services and EndpointSlices, records events.
	watch := []string{"list", "watch"}
	assert.Equal(t, map[string][]string{
		"tpdns.io/thirdpartyservices":            watch,
		"tpdns.io/thirdpartyservices/status":     {"patch"},
		"tpdns.io/thirdpartyservices/finalizers": {"update"},
		"/secrets":                               watch,
		"/events":                                {"create"},
		"/services":                              {"get", "create", "update", "delete"},
		"discovery.k8s.io/endpointslices":        {"list", "create", "update", "delete"},
	}, rules("ClusterRole/tpdns"))
	assert.Equal(t, map[string][]string{
		"coordination.k8s.io/leases": {"get", "create", "update"},
	}, rules("Role/tpdns-writer"))

	// The namespaced variant grants the ClusterRole's rules, in a namespace.
	b, err = os.ReadFile("../deploy/kubernetes/crd/rbac-namespaced.yaml")
	require.NoError(t, err)
	ns := byKindName(manifests(t, "rbac-namespaced.yaml", b))
	objs["Role/tpdns"] = ns["Role/tpdns"]
	assert.Equal(t, rules("ClusterRole/tpdns"), rules("Role/tpdns"), "crd/rbac-namespaced.yaml")
	assert.Equal(t, objs["ClusterRoleBinding/tpdns"]["subjects"], ns["RoleBinding/tpdns"]["subjects"])

	corefile, _ := at(objs["ConfigMap/tpdns"], "data", "Corefile").(string)
	assert.Regexp(t, `(?m)^\s+kubernetes \{\n\s+status\n\s+endpointslices\n\s+\}$`, corefile)
	assert.Contains(t, corefile, "services /etc/tpdns/services.yaml")

	// The plain manifest is what the kustomization renders (render.sh).
	kubectl := kubectlPath(t)
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(deployDir, "overlays/crd")).Output()
	require.NoError(t, err, "%s", exitOutput(err))
	rendered := byKindName(manifests(t, "overlays/crd", out))
	delete(objs, "Role/tpdns")
	assert.Equal(t, slices.Sorted(maps.Keys(rendered)), slices.Sorted(maps.Keys(objs)))
	for key, obj := range objs {
		assert.Equal(t, obj, rendered[key], "%s in deploy/kubernetes/tpdns-crd.yaml is not what overlays/crd renders: run deploy/kubernetes/render.sh", key)
	}
}
