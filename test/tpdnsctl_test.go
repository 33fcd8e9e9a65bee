package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctl runs tpdnsctl against r and returns its exit code and output.
func (r *registrar) ctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(tpdnsctlBinary, args...)
	cmd.Env = append(os.Environ(), "TPDNS_SERVER=http://"+r.api, "TPDNS_TOKEN="+r.token, "NO_COLOR=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestTpdnsctlAgainstARunningServer(t *testing.T) {
	r := newRegistrar(t)
	r.start(t)
	apply := filepath.Join(r.dir, "billing.yaml")
	require.NoError(t, os.WriteFile(apply, []byte(`services:
  - name: billing
    ports: [{name: api, port: 8443}]
    endpoints: [192.0.2.50]
    connection: {BILLING_URL: "https://billing.tp.internal:8443"}
    secrets: {BILLING_KEY: k3y}
`), 0o644))

	code, out, stderr := r.ctl(t, "services", "apply", "-f", apply)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service billing created\n", out)
	code, out, _ = r.ctl(t, "services", "apply", "-f", apply)
	assert.Equal(t, 0, code)
	assert.Equal(t, "service billing configured\n", out)

	code, out, stderr = r.ctl(t, "endpoints", "add", "billing", "192.0.2.51", "--weight", "5", "--name", "second")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "endpoint 192.0.2.51 of billing added\n", out)
	assert.Equal(t, map[string]bool{"192.0.2.50": true, "192.0.2.51": true}, r.addresses(t, "billing.tp.internal.", dns.TypeA))

	code, out, _ = r.ctl(t, "services", "list")
	assert.Equal(t, 0, code)
	assert.Equal(t, "NAME     ORIGIN  ENDPOINTS  PORTS         TTL\nbilling  store   2/2        api:8443/tcp  -\n", out)

	code, out, _ = r.ctl(t, "health", "billing")
	assert.Equal(t, 0, code)
	assert.Regexp(t, regexp.MustCompile(`^SERVICE\s+ADDRESS\s+STATE\s+LAST CHECK\s+LATENCY\s+LAST ERROR\n`+
		`billing\s+192\.0\.2\.50\s+healthy\s+-\s+-\s+-\n`+
		`billing\s+192\.0\.2\.51\s+healthy\s+-\s+-\s+-\n$`), out)

	code, out, _ = r.ctl(t, "services", "get", "billing", "-o", "json")
	assert.Equal(t, 0, code)
	var got struct {
		Name      string
		Origin    string
		Secrets   map[string]string
		Endpoints []struct{ Address, Name string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, "billing", got.Name)
	assert.Equal(t, "store", got.Origin)
	assert.Equal(t, map[string]string{"BILLING_KEY": "***"}, got.Secrets)
	require.Len(t, got.Endpoints, 2)
	assert.Equal(t, "second", got.Endpoints[1].Name)

	code, out, _ = r.ctl(t, "endpoints", "remove", "billing", "192.0.2.51")
	assert.Equal(t, 0, code)
	assert.Equal(t, "endpoint 192.0.2.51 of billing removed\n", out)

	// Errors print the API's message and exit 1.
	code, _, stderr = r.ctl(t, "endpoints", "add", "nope", "192.0.2.9")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: no service nope (field name)\n", stderr)
	code, _, stderr = r.ctl(t, "endpoints", "add", "billing", "192.0.2.9", "--port", "99999")
	assert.Equal(t, 2, code, "a port out of range is a usage error: %s", stderr)

	code, out, _ = r.ctl(t, "services", "delete", "billing")
	assert.Equal(t, 0, code)
	assert.Equal(t, "service billing deleted\n", out)
	assert.Empty(t, r.addresses(t, "billing.tp.internal.", dns.TypeA))
	code, _, stderr = r.ctl(t, "services", "get", "billing")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: no service billing (field name)\n", stderr)
}
