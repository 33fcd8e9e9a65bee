package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

const registry = `services:
  - name: oracle.finance
    ports:
      - {name: db, port: 1521}
    endpoints:
      - 10.0.0.10
      - address: 10.0.0.11
        name: standby
        priority: 10
    connection: {DB_NAME: orcl}
    ttl: 30
    check: {type: tcp, port: db}
  - name: web.shop
    ports:
      - {name: http, port: 80}
    endpoints: ["[fd00::1]:8080"]
  - name: cache.shop
    ports:
      - {name: redis, port: 6379}
    endpoints: [10.0.1.1]
`

// sentService is what apply must send of a service, as far as the tests
// look: the server checks the rest.
type sentService struct {
	Name  string `json:"name"`
	Ports []struct {
		Name     string `json:"name"`
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
	} `json:"ports"`
	Endpoints []struct {
		Address  string `json:"address"`
		Port     int    `json:"port"`
		Name     string `json:"name"`
		Priority int    `json:"priority"`
	} `json:"endpoints"`
	Connection map[string]string `json:"connection"`
	TTL        *int              `json:"ttl"`
	Check      struct {
		Type string `json:"type"`
		Port string `json:"port"`
	} `json:"check"`
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestApply(t *testing.T) {
	file := writeFile(t, "services.yaml", registry)
	for _, tc := range []struct {
		name    string
		args    []string
		replies map[string][]reply
		want    result
		paths   []string // of the PUTs sent, in order
	}{{
		name: "created and configured",
		args: []string{"services", "apply", "-f", file},
		replies: map[string][]reply{
			"PUT /v1/services/oracle.finance": {{201, oracleJSON}},
			"PUT /v1/services/web.shop":       {{200, webStoreJSON}},
			"PUT /v1/services/cache.shop":     {{200, `{"name": "cache.shop"}`}},
		},
		want:  result{0, "service oracle.finance created\nservice web.shop configured\nservice cache.shop configured\n", ""},
		paths: []string{"/v1/services/oracle.finance", "/v1/services/web.shop", "/v1/services/cache.shop"},
	}, {
		name: "as JSON",
		args: []string{"services", "apply", "--filename=" + file, "-o", "json"},
		replies: map[string][]reply{
			"PUT /v1/services/oracle.finance": {{201, `{"name":"oracle.finance","origin":"store"}`}},
			"PUT /v1/services/web.shop":       {{201, `{"name":"web.shop","origin":"store"}`}},
			"PUT /v1/services/cache.shop":     {{200, `{"name":"cache.shop","origin":"store"}`}},
		},
		want: result{0, `{
  "name": "oracle.finance",
  "origin": "store"
}
{
  "name": "web.shop",
  "origin": "store"
}
{
  "name": "cache.shop",
  "origin": "store"
}
`, ""},
		paths: []string{"/v1/services/oracle.finance", "/v1/services/web.shop", "/v1/services/cache.shop"},
	}, {
		name: "stops at the first refusal",
		args: []string{"services", "apply", "-f", file},
		replies: map[string][]reply{
			"PUT /v1/services/oracle.finance": {{200, oracleJSON}},
			"PUT /v1/services/web.shop":       {{409, `{"error": "web.shop belongs to the registry file", "field": "name"}`}},
			"PUT /v1/services/cache.shop":     {{200, `{"name": "cache.shop"}`}},
		},
		want: result{1, "service oracle.finance configured\n",
			"tpdnsctl: service web.shop: web.shop belongs to the registry file (field name)\n"},
		paths: []string{"/v1/services/oracle.finance", "/v1/services/web.shop"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.replies)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
			var paths []string
			for _, r := range api.seen() {
				assert.Equal(t, http.MethodPut, r.Method)
				assert.Equal(t, "Bearer "+testToken, r.Auth)
				paths = append(paths, r.Path)
			}
			assert.Equal(t, tc.paths, paths)
		})
	}
}

func TestApplySends(t *testing.T) {
	file := writeFile(t, "services.yaml", registry)
	api := newFakeAPI(t, map[string][]reply{
		"PUT /v1/services/oracle.finance": {{201, oracleJSON}},
		"PUT /v1/services/web.shop":       {{201, webStoreJSON}},
		"PUT /v1/services/cache.shop":     {{201, `{}`}},
	})
	got := runApp(context.Background(), apiEnv(api), false, "services", "apply", "-f", file)
	require.Equal(t, 0, got.code, got.stderr)

	sent := api.seen()
	require.Len(t, sent, 3)
	var oracle, web sentService
	require.NoError(t, json.Unmarshal([]byte(sent[0].Body), &oracle))
	require.NoError(t, json.Unmarshal([]byte(sent[1].Body), &web))

	assert.Equal(t, "oracle.finance", oracle.Name)
	if assert.Len(t, oracle.Ports, 1) {
		assert.Equal(t, "db", oracle.Ports[0].Name)
		assert.Equal(t, 1521, oracle.Ports[0].Port)
		assert.Equal(t, "tcp", oracle.Ports[0].Protocol)
	}
	if assert.Len(t, oracle.Endpoints, 2) {
		assert.Equal(t, "10.0.0.10", oracle.Endpoints[0].Address)
		assert.Equal(t, "10.0.0.11", oracle.Endpoints[1].Address)
		assert.Equal(t, "standby", oracle.Endpoints[1].Name)
		assert.Equal(t, 10, oracle.Endpoints[1].Priority)
	}
	assert.Equal(t, map[string]string{"DB_NAME": "orcl"}, oracle.Connection)
	if assert.NotNil(t, oracle.TTL) {
		assert.Equal(t, 30, *oracle.TTL)
	}
	assert.Equal(t, "tcp", oracle.Check.Type)
	assert.Equal(t, "db", oracle.Check.Port)

	assert.Equal(t, "web.shop", web.Name)
	if assert.Len(t, web.Endpoints, 1) {
		assert.Equal(t, "fd00::1", web.Endpoints[0].Address)
		assert.Equal(t, 8080, web.Endpoints[0].Port)
	}
}

func TestApplyRefusesAFileWithErrors(t *testing.T) {
	const broken = `services:
  - name: oracle.finance
    ports:
      - {name: db, port: 99999}
    endpoints: [10.0.0.10]
    colour: blue
`
	file := writeFile(t, "broken.yaml", broken)
	_, parseErr := config.ParseYAML(file, []byte(broken), config.Options{})
	require.Error(t, parseErr)
	empty := writeFile(t, "empty.yaml", "services: []\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	for _, tc := range []struct {
		name string
		file string
		want result
	}{
		// The file's own errors, as the config package words them, one
		// file:line a line.
		{"broken", file, result{1, "", parseErr.Error() + "\n"}},
		{"empty", empty, result{1, "", "tpdnsctl: " + empty + ": no services to apply\n"}},
		{"missing", missing, result{1, "", "tpdnsctl: registry file: open " + missing + ": no such file or directory\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			got := runApp(context.Background(), apiEnv(api), false, "services", "apply", "-f", tc.file)
			assert.Equal(t, tc.want, got)
			assert.Empty(t, api.seen())
		})
	}
	// Two errors, each on a line of its own that starts with the file.
	q := regexp.QuoteMeta(file)
	assert.Regexp(t, `^`+q+`:4: .*\n`+q+`:6: .*$`, parseErr.Error())
}
