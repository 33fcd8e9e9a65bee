package test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
	// No check: always up, which is no probe's result.
	assert.Regexp(t, regexp.MustCompile(`^SERVICE\s+ADDRESS\s+STATE\s+LAST CHECK\s+LATENCY\s+LAST ERROR\n`+
		`billing\s+192\.0\.2\.50\s+healthy\s+no check\s+-\s+-\n`+
		`billing\s+192\.0\.2\.51\s+healthy\s+no check\s+-\s+-\n$`), out)

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

// TestTpdnsctlConditionalWritesAndTokens: create, apply --if-match and
// delete --if-match against a running server, and a token of the tokens
// file refused outside its scope.
func TestTpdnsctlConditionalWritesAndTokens(t *testing.T) {
	r := newRegistrar(t)
	sum := sha256.Sum256([]byte("ci-t0ken"))
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "tokens.yaml"), []byte(
		"tokens:\n  - {name: ci-finance, sha256: "+hex.EncodeToString(sum[:])+", role: write, services: [\"finance.*\"]}\n"), 0o600))
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  store bolt tpdns.db\n  api %s {\n   tokens tokens.yaml\n  }\n }\n}\n", strings.TrimPrefix(r.dns, "127.0.0.1:"), r.api)
	require.NoError(t, os.WriteFile(r.corefile, []byte(conf), 0o644))
	r.start(t)
	file := func(name, addr string) string {
		path := filepath.Join(r.dir, name+".yaml")
		require.NoError(t, os.WriteFile(path, []byte("services:\n  - name: "+name+"\n    endpoints: ["+addr+"]\n"), 0o644))
		return path
	}
	etag := func(name string) string {
		code, out, stderr := r.ctl(t, "services", "get", name)
		require.Equal(t, 0, code, stderr)
		m := regexp.MustCompile(`(?m)^ETag:\s+("[0-9]+")$`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		return m[1]
	}

	code, out, stderr := r.ctl(t, "services", "create", "-f", file("billing", "192.0.2.50"))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service billing created\n", out)
	code, out, stderr = r.ctl(t, "services", "create", "-f", file("billing", "192.0.2.51"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "", out)
	assert.Equal(t, "tpdnsctl: service billing exists already; services apply replaces it\n", stderr)
	assert.Equal(t, map[string]bool{"192.0.2.50": true}, r.addresses(t, "billing.tp.internal.", dns.TypeA))

	read := etag("billing")
	code, out, stderr = r.ctl(t, "services", "apply", "-f", file("billing", "192.0.2.52"), "--if-match", read)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service billing configured\n", out)
	now := etag("billing")
	assert.NotEqual(t, read, now)
	code, _, stderr = r.ctl(t, "services", "apply", "-f", file("billing", "192.0.2.53"), "--if-match", read)
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: service billing changed since you read it: it is at ETag "+now+", not "+read+"; get it again, then retry\n", stderr)
	assert.Equal(t, map[string]bool{"192.0.2.52": true}, r.addresses(t, "billing.tp.internal.", dns.TypeA))
	code, _, stderr = r.ctl(t, "services", "delete", "billing", "--if-match", read)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "changed since you read it")
	code, out, stderr = r.ctl(t, "services", "delete", "billing", "--if-match", strings.Trim(now, `"`))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service billing deleted\n", out)

	// A token of the tokens file: in its scope, and out of it.
	admin := r.token
	r.token = "ci-t0ken"
	defer func() { r.token = admin }()
	code, out, stderr = r.ctl(t, "services", "apply", "-f", file("finance.ledger", "192.0.2.60"))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service finance.ledger created\n", out)
	code, _, stderr = r.ctl(t, "services", "apply", "-f", file("payroll", "192.0.2.61"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: service payroll: token ci-finance may not write service payroll\n", stderr)
	code, out, _ = r.ctl(t, "services", "list")
	assert.Equal(t, 0, code)
	assert.Equal(t, "NAME            ORIGIN  ENDPOINTS  PORTS  TTL\nfinance.ledger  store   1/1        -      -\n", out)
	r.token = "wrong"
	code, _, stderr = r.ctl(t, "services", "list")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: a valid bearer token is required (Authorization: Bearer TOKEN); check --token-file or TPDNS_TOKEN\n", stderr)
}

// TestTpdnsctlEnv: env prints what DNS gives a workload, as export lines a
// shell reads back exactly; the secrets only with a key the service lists
// in secrets_keys, whose reply is signed.
func TestTpdnsctlEnv(t *testing.T) {
	const secret = "jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM="
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(`services:
  - name: oracle.finance
    ports: [{name: db, port: 1521}]
    endpoints: [192.0.2.10]
    connection: {DB_NAME: orcl, NOTE: "it's a \"quoted\" \\ value"}
    secrets: {DB_PASSWORD: "s3cret'; rm -rf /"}
    secrets_keys: [app-finance]
`), 0o644))
	keyFile := func(name, s string) string {
		p := filepath.Join(dir, name+".key")
		require.NoError(t, os.WriteFile(p, []byte("key \""+name+"\" {\n\talgorithm hmac-sha256;\n\tsecret \""+s+"\";\n};\n"), 0o600))
		return p
	}
	port := FreePort(t)
	RunBinary(t, tpdnsBinary, "tp.internal:"+port+" {\n bind 127.0.0.1\n tsig {\n  secret app-finance. "+secret+"\n }\n thirdparty {\n  services "+
		filepath.Join(dir, "services.yaml")+"\n }\n}\n", "127.0.0.1:"+port)

	env := func(args ...string) (int, string, string) {
		cmd := exec.Command(tpdnsctlBinary, append([]string{"env", "--dns", "127.0.0.1:" + port}, args...)...)
		cmd.Env = append(os.Environ(), "TPDNS_TOKEN=", "TPDNS_ZONE=tp.internal")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	public := "export DB_HOST='oracle.finance.tp.internal'\n" +
		"export DB_NAME='orcl'\n" +
		"export DB_PORT='1521'\n" +
		`export NOTE='it'\''s a "quoted" \ value'` + "\n"
	code, out, stderr := env("oracle.finance")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, public, out)

	code, out, stderr = env("oracle.finance", "--tsig-key", keyFile("app-finance", secret))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "export DB_HOST='oracle.finance.tp.internal'\n"+
		"export DB_NAME='orcl'\n"+
		`export DB_PASSWORD='s3cret'\''; rm -rf /'`+"\n"+
		"export DB_PORT='1521'\n"+
		`export NOTE='it'\''s a "quoted" \ value'`+"\n", out)

	// A shell reads the values back exactly.
	sh := exec.Command("sh", "-c", out+`printf '%s|%s' "$NOTE" "$DB_PASSWORD"`)
	got, err := sh.Output()
	require.NoError(t, err)
	assert.Equal(t, `it's a "quoted" \ value|s3cret'; rm -rf /`, string(got))

	code, _, stderr = env("oracle.finance", "--tsig-key", keyFile("app-finance", "Tm90IHRoZSBzZWNyZXQgYXQgYWxsLCAzMiBieXRlcyE="))
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: oracle.finance.tp.internal.: the server refused the key: BADSIG\n", stderr)
	code, _, stderr = env("oracle.finance", "--tsig-key", keyFile("nobody", secret))
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: oracle.finance.tp.internal.: the server refused the key: BADKEY\n", stderr)
	code, _, stderr = env("nope.finance")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: nope.finance.tp.internal.: no such service (NXDOMAIN)\n", stderr)
	code, out, _ = env("oracle.finance.tp.internal.", "-o", "json")
	assert.Equal(t, 0, code)
	assert.JSONEq(t, `{"DB_HOST":"oracle.finance.tp.internal","DB_NAME":"orcl","DB_PORT":"1521","NOTE":"it's a \"quoted\" \\ value"}`, out)
	code, out, _ = env("oracle.finance", "-o", "yaml")
	assert.Equal(t, 0, code)
	assert.Equal(t, "DB_HOST: oracle.finance.tp.internal\nDB_NAME: orcl\nDB_PORT: \"1521\"\nNOTE: it's a \"quoted\" \\ value\n", out)
}

// TestTpdnsctlEnvRefusesWhatAShellWouldRun: a reply to a signed query
// that is not signed is refused, and a key that is not a variable name is
// never printed into the export lines (whoever answers: a spoofed reply,
// a forwarder).
func TestTpdnsctlEnvRefusesWhatAShellWouldRun(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{
			&dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 10}, Txt: []string{"X;touch /tmp/pwned;Y=1"}},
			&dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 10}, Txt: []string{"GOOD=1"}},
		}
		w.WriteMsg(m) // never signed
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })

	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(tpdnsctlBinary, append([]string{"env", "--dns", pc.LocalAddr().String()}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	code, out, stderr := run("db")
	assert.Equal(t, 0, code)
	assert.Equal(t, "export GOOD='1'\n", out)
	assert.Equal(t, `tpdnsctl: skipped "X;touch /tmp/pwned;Y=1": not KEY=value with KEY a variable name`+"\n", stderr)

	key := filepath.Join(t.TempDir(), "k.key")
	require.NoError(t, os.WriteFile(key, []byte("key \"app-finance\" {\n\tsecret \"jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM=\";\n};\n"), 0o600))
	code, out, stderr = run("db", "--tsig-key", key)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "tpdnsctl: the reply from "+pc.LocalAddr().String()+" is not signed with the key\n", stderr)
}

// newFileRegistrar is newRegistrar with a registry file of its own,
// services.yaml, beside the store.
func newFileRegistrar(t *testing.T, registry string) *registrar {
	r := newRegistrar(t)
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "services.yaml"), []byte(registry), 0o644))
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  store bolt tpdns.db\n  api %s\n }\n}\n",
		strings.TrimPrefix(r.dns, "127.0.0.1:"), r.api)
	require.NoError(t, os.WriteFile(r.corefile, []byte(conf), 0o644))
	return r
}

// ctlFile writes content to name in r's directory and returns its path.
func (r *registrar) ctlFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(r.dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// fileService is the registry file of the tpdnsctl tests that need one.
const fileService = `services:
  - name: oracle.finance
    ports: [{name: db, port: 1521}]
    endpoints: [192.0.2.10, {address: 192.0.2.11, name: standby}]
`

// storeServices are services with a bit of every field, their durations
// in both forms. The checks probe loopback addresses nothing listens on.
const storeServices = `services:
  - name: pg
    ports:
      - {name: db, port: 5432}
      - {name: metrics, port: 9187, protocol: udp}
    endpoints:
      - {address: 127.0.0.20, name: primary}
      - {address: 127.0.0.21, priority: 10, weight: 0, disabled: true}
    connection: {PGDATABASE: app, URL: "postgres://${DB_HOST}:${DB_PORT}/app", PORT: 5432}
    secrets_allow: [10.244.0.0/16]
    secrets_keys: [app-finance]
    allow: [10.0.0.0/8, 127.0.0.0/8]
    ttl: 1m
    check: {type: tcp, port: db, interval: 30, timeout: 1.5s, rise: 2}
  - name: web
    ports: [{name: https, port: 8443}]
    endpoints: ["127.0.0.22:9443"]
    check: {type: https, path: /healthz, expect: 204, tls_skip_verify: true, host: web.example.com}
  - name: cache
    endpoints: ["fd00::7", 192.0.2.7]
    ttl: 0
`

// wantExport is storeServices as services export writes them, with the
// endpoints added by tpdnsctl: one for good, one with a ttl.
const wantExport = `services:
  - name: cache
    endpoints:
      - fd00::7
      - 192.0.2.7
    ttl: 0
  - name: pg
    ports:
      - name: db
        port: 5432
      - name: metrics
        port: 9187
        protocol: udp
    endpoints:
      - address: 127.0.0.20
        name: primary
      - address: 127.0.0.21
        priority: 10
        weight: 0
        disabled: true
    connection:
      PGDATABASE: app
      PORT: "5432"
      URL: postgres://${DB_HOST}:${DB_PORT}/app
    secrets_allow: [10.244.0.0/16]
    secrets_keys: [app-finance.]
    allow: [10.0.0.0/8, 127.0.0.0/8]
    ttl: 60
    check:
      type: tcp
      port: db
      interval: 30s
      timeout: 1.5s
      rise: 2
  # endpoint 127.0.0.24 left out: registered with a ttl, it is kept by its heartbeat
  - name: web
    ports:
      - name: https
        port: 8443
    endpoints:
      - 127.0.0.22:9443
      - address: 127.0.0.23
        weight: 3
    check:
      type: https
      path: /healthz
      host: web.example.com
      expect: "204"
      tls_skip_verify: true
`

// TestTpdnsctlExportApplyRoundTrip: services export writes the store's
// services as a registry file that services apply takes back unchanged:
// export, apply, export gives the same bytes, on the same server and on
// a fresh one. Secrets, which the API never shows, stop the export unless
// --omit-secrets leaves them out.
func TestTpdnsctlExportApplyRoundTrip(t *testing.T) {
	a := newFileRegistrar(t, fileService)
	a.start(t)
	code, _, stderr := a.ctl(t, "services", "apply", "-f", a.ctlFile(t, "store.yaml", storeServices))
	require.Equal(t, 0, code, stderr)
	code, _, stderr = a.ctl(t, "endpoints", "add", "web", "127.0.0.23", "--weight", "3")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = a.ctl(t, "endpoints", "add", "web", "127.0.0.24", "--ttl", "300")
	require.Equal(t, 0, code, stderr)

	code, first, stderr := a.ctl(t, "services", "export")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "tpdnsctl: not exported, as the registry file has them: oracle.finance\n", stderr)
	assert.Equal(t, wantExport, first)

	exported := a.ctlFile(t, "exported.yaml", first)
	code, out, stderr := a.ctl(t, "services", "apply", "-f", exported)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service cache configured\nservice pg configured\nservice web configured\n", out)
	code, second, _ := a.ctl(t, "services", "export")
	assert.Equal(t, 0, code)
	assert.Equal(t, first, second, "export | apply | export")

	// A fresh server takes the file whole; only the endpoint registered
	// with a ttl is not there.
	b := newFileRegistrar(t, fileService)
	b.start(t)
	code, out, stderr = b.ctl(t, "services", "apply", "-f", exported)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "service cache created\nservice pg created\nservice web created\n", out)
	code, third, _ := b.ctl(t, "services", "export")
	assert.Equal(t, 0, code)
	assert.Equal(t, strings.Replace(first, "  # endpoint 127.0.0.24 left out: registered with a ttl, it is kept by its heartbeat\n", "", 1), third)
	assert.Equal(t, map[string]bool{"192.0.2.7": true}, b.addresses(t, "cache.tp.internal.", dns.TypeA))
	code, out, _ = b.ctl(t, "services", "export", "web", "cache")
	assert.Equal(t, 0, code)
	assert.Equal(t, "services:\n"+third[strings.Index(third, "  - name: web"):]+third[len("services:\n"):strings.Index(third, "  - name: pg")], out, "in the order named")

	// Secrets and a check's headers: the API shows "***", which export
	// must never write for apply to send back.
	code, _, stderr = a.ctl(t, "services", "apply", "-f", a.ctlFile(t, "vault.yaml", `services:
  - name: vault
    ports: [{name: http, port: 8200}]
    endpoints: [127.0.0.30]
    secrets: {VAULT_TOKEN: s3cret}
    check: {type: http, headers: {Authorization: "Bearer s3cret"}}
`))
	require.Equal(t, 0, code, stderr)
	code, out, stderr = a.ctl(t, "services", "export")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "tpdnsctl: not exported, as the registry file has them: oracle.finance\n"+
		"tpdnsctl: the API never shows the values of secrets and check headers, so these would be lost:\n"+
		"  vault: secrets VAULT_TOKEN and check headers Authorization\n"+
		"Give --omit-secrets to export them without (applying the file then removes them), or name the services to export.\n", stderr)
	code, out, _ = a.ctl(t, "services", "export", "vault", "--omit-secrets")
	assert.Equal(t, 0, code)
	assert.Equal(t, `services:
  # secrets VAULT_TOKEN and check headers Authorization left out: the API does not show their values
  - name: vault
    ports:
      - name: http
        port: 8200
    endpoints:
      - 127.0.0.30
    check:
      type: http
`, out)
	code, out, _ = a.ctl(t, "services", "export", "pg", "web")
	assert.Equal(t, 0, code, "the services named have no secrets")
	assert.NotContains(t, out, "***")
	code, _, stderr = a.ctl(t, "services", "export", "oracle.finance")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: service oracle.finance is the registry file's: export writes the store's services\n", stderr)
}

// TestTpdnsctlWording: the durations, limits, clashes and syntax errors of
// issue 17, as tpdnsctl words them against a running server.
func TestTpdnsctlWording(t *testing.T) {
	r := newFileRegistrar(t, fileService)
	r.start(t)
	code, _, stderr := r.ctl(t, "services", "apply", "-f", r.ctlFile(t, "web.yaml", "services:\n  - name: web\n    endpoints: [127.0.0.40]\n    ttl: 30s\n"))
	require.Equal(t, 0, code, stderr)

	// Durations: a number of seconds or a Go duration, on the command line
	// and in the API's bodies.
	for _, ttl := range []string{"30", "30s", "0.5m"} {
		code, _, stderr = r.ctl(t, "endpoints", "add", "web", "127.0.0.41", "--ttl", ttl)
		assert.Equal(t, 0, code, "--ttl %s: %s", ttl, stderr)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	assert.Equal(t, http.StatusOK, r.put(client, "/v1/services/web/endpoints/127.0.0.41", `{"ttl": "30s"}`))
	assert.Equal(t, http.StatusOK, r.put(client, "/v1/services/web", `{"endpoints": ["127.0.0.40"], "ttl": "1m"}`))
	code, out, _ := r.ctl(t, "services", "get", "web", "-o", "yaml")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "\n    ttl: 60\n")

	// Limits named, and the flag to use.
	usage := func(cmd string) string {
		return "Usage: tpdnsctl " + cmd + " SERVICE ADDRESS [flags]\nRun 'tpdnsctl " + cmd + " --help' for the flags.\n"
	}
	code, _, stderr = r.ctl(t, "endpoints", "add", "web", "127.0.0.42", "--weight", "70000")
	assert.Equal(t, 2, code)
	assert.Equal(t, "tpdnsctl: --weight 70000: out of range 0-65535\n"+usage("endpoints add"), stderr)
	code, _, stderr = r.ctl(t, "endpoints", "add", "web", "192.0.2.52:99")
	assert.Equal(t, 2, code)
	assert.Equal(t, "tpdnsctl: ADDRESS 192.0.2.52:99 has a port: give the address alone, 192.0.2.52, and the port with --port 99\n"+usage("endpoints add"), stderr)
	code, _, stderr = r.ctl(t, "endpoints", "add", "web", "127.0.0.42", "--ttl", "25h")
	assert.Equal(t, 2, code)
	assert.Equal(t, "tpdnsctl: --ttl 25h: out of range 1s-24h\n"+usage("endpoints add"), stderr)
	// The server's refusal names the flag the field came from.
	code, _, stderr = r.ctl(t, "endpoints", "add", "web", "127.0.0.42", "--port", "8080")
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: a port per endpoint needs the service to have exactly one port, it has 0 (--port)\n", stderr)

	// A clash says which origin holds the name.
	code, _, stderr = r.ctl(t, "services", "apply", "-f", r.ctlFile(t, "standby.yaml", "services:\n  - name: standby.oracle.finance\n    endpoints: [127.0.0.43]\n"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: service standby.oracle.finance: the name standby.oracle.finance is already used by the registry file's service oracle.finance (field name)\n", stderr)
	code, _, stderr = r.ctl(t, "endpoints", "add", "web", "127.0.0.44", "--name", "api")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = r.ctl(t, "services", "apply", "-f", r.ctlFile(t, "api.yaml", "services:\n  - name: api.web\n    endpoints: [127.0.0.45]\n"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdnsctl: service api.web: the name api.web is already used by the store's service web (field name)\n", stderr)

	// A syntax error on line 58 is reported at line 58 (yaml.v3 says 51).
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - name: svc%d\n    ports:\n      - name: db\n        port: 5432\n    endpoints:\n      - 127.0.1.%d\n      - address: 127.0.2.%d\n        weight: 2\n    ttl: 30\n    check: {type: tcp}\n", i, i+1, i+1)
	}
	b.WriteString("  - name: last\n    ports:\n      - name: db\n        port: 1\n    endpoints:\n      - 127.0.3.1\n    - 127.0.3.2\n    ttl: 30\n")
	broken := r.ctlFile(t, "broken.yaml", b.String())
	code, _, stderr = r.ctl(t, "services", "apply", "-f", broken)
	assert.Equal(t, 1, code)
	assert.Equal(t, broken+":58: invalid YAML: did not find expected key\n", stderr)
}

// TestTpdnsctlHeartbeatSummary: endpoints heartbeat -v prints each
// renewal, and on SIGINT how many there were, and exits 0.
func TestTpdnsctlHeartbeatSummary(t *testing.T) {
	r := newRegistrar(t)
	r.start(t)
	code, _, stderr := r.ctl(t, "services", "apply", "-f", r.ctlFile(t, "web.yaml", "services:\n  - name: web\n    endpoints: [127.0.0.50]\n"))
	require.Equal(t, 0, code, stderr)

	cmd := exec.Command(tpdnsctlBinary, "endpoints", "heartbeat", "web", "127.0.0.51", "--ttl", "1", "-v")
	cmd.Env = append(os.Environ(), "TPDNS_SERVER=http://"+r.api, "TPDNS_TOKEN="+r.token)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	var got []string
	for len(got) < 3 && lines.Scan() { // added, then two renewals
		got = append(got, lines.Text())
	}
	require.Equal(t, []string{"endpoint 127.0.0.51 of web added", "endpoint 127.0.0.51 of web renewed", "endpoint 127.0.0.51 of web renewed"}, got, errOut.String())
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	for lines.Scan() {
		got = append(got, lines.Text())
	}
	require.NoError(t, cmd.Wait(), errOut.String())
	assert.Empty(t, errOut.String())
	renewed := len(got) - 2
	for _, l := range got[1 : len(got)-1] {
		assert.Equal(t, "endpoint 127.0.0.51 of web renewed", l)
	}
	assert.Equal(t, fmt.Sprintf("endpoint 127.0.0.51 of web: %d renewals, 0 failed; left to expire within 1s", renewed), got[len(got)-1])
}

// TestTpdnsctlMakeInstall: make install puts tpdns and tpdnsctl in
// $(go env GOPATH)/bin.
func TestTpdnsctlMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found")
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	gopath := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "install")
	cmd.Dir = ".."
	// The modules where they are: a GOPATH of its own would fetch them again.
	// Not the jobserver of a make this test may run under (make test).
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	cmd.Env = append(env, "GOPATH="+gopath, "GOMODCACHE="+strings.TrimSpace(string(modcache)))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "installed tpdns and tpdnsctl in "+filepath.Join(gopath, "bin")+"\n", string(out))
	for bin, flag := range map[string]string{"tpdns": "--version", "tpdnsctl": "--help"} {
		out, err := exec.Command(filepath.Join(gopath, "bin", bin), flag).CombinedOutput()
		assert.NoError(t, err, "%s %s: %s", bin, flag, out)
	}
}
