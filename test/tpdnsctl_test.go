package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
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
