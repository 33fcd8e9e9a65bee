package thirdparty_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

func sha(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// The tokens of the permission tests: the token, then its file entry.
var roleTokens = map[string]string{
	"ci-read":     "r34d-t0ken",
	"ci-register": "r3g1ster-t0ken",
	"ci-write":    "wr1te-t0ken",
	"ci-admin":    "adm1n-t0ken",
}

var tokensFile = `tokens:
  - {name: ci-read, sha256: ` + sha("r34d-t0ken") + `, role: read, services: [billing, "finance.*"]}
  - {name: ci-register, sha256: ` + sha("r3g1ster-t0ken") + `, role: register, services: [billing, "finance.*"]}
  - name: ci-write
    sha256: ` + sha("wr1te-t0ken") + `
    role: write
    services: [billing, "finance.*"]
  - {name: ci-admin, sha256: ` + sha("adm1n-t0ken") + `, role: admin}
`

// request sends a request with token (none when "") and more headers, and
// returns the status, the body and the reply's headers.
func (f *apiFixture) request(t *testing.T, method, path, body, token string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.scheme+"://"+f.api+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// addresses returns the endpoints of a service as GET shows it to the
// admin, nil when there is no such service.
func (f *apiFixture) addresses(t *testing.T, name string) []string {
	t.Helper()
	status, body := f.do(t, "GET", "/v1/services/"+name, "")
	if status == http.StatusNotFound {
		return nil
	}
	require.Equal(t, http.StatusOK, status, body)
	var s struct{ Endpoints []struct{ Address string } }
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	out := []string{}
	for _, e := range s.Endpoints {
		out = append(out, e.Address)
	}
	return out
}

// names returns the names of a GET /v1/services reply.
func names(t *testing.T, body string) []string {
	t.Helper()
	var l struct{ Services []struct{ Name string } }
	require.NoError(t, json.Unmarshal([]byte(body), &l), body)
	out := []string{}
	for _, s := range l.Services {
		out = append(out, s.Name)
	}
	return out
}

// TestAPIRolesAndScopes tries every role on every action, on a service in
// its scope (billing) and one outside it (payroll): the status, the 403's
// exact body, what the store holds afterwards, and the log line of each
// write.
func TestAPIRolesAndScopes(t *testing.T) {
	logs := test.CaptureLog(t)
	f := startAPIFixture(t, "{\n tokens tokens.yaml\n }", "", map[string]string{"tokens.yaml": tokensFile})
	reset := func() {
		for _, name := range []string{"billing", "payroll", "finance.ledger"} {
			f.do(t, "DELETE", "/v1/services/"+name, "")
			status, body := f.do(t, "PUT", "/v1/services/"+name, `{"endpoints":["192.0.2.10","192.0.2.12"]}`)
			require.Equal(t, http.StatusCreated, status, body)
		}
	}
	reset()

	// Listing shows the services in scope only.
	for name, want := range map[string][]string{
		"ci-read":     {"billing", "finance.ledger"},
		"ci-register": {"billing", "finance.ledger"},
		"ci-write":    {"billing", "finance.ledger"},
		"ci-admin":    {"billing", "finance.ledger", "oracle.finance", "payroll"},
	} {
		status, body, _ := f.request(t, "GET", "/v1/services", "", roleTokens[name])
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, want, names(t, body), name)
	}

	unchanged := []string{"192.0.2.10", "192.0.2.12"}
	actions := []struct {
		name, method, path, body string
		verb                     string // what a 403 says the token may not do
		need                     int    // the least role: 1 read, 2 register, 3 write
		status                   int    // when allowed
		after                    []string
		logged                   string // the path of the log line, when allowed
	}{
		{"GET one", "GET", "", "", "read", 1, 200, unchanged, ""},
		{"PUT service", "PUT", "", `{"endpoints":["192.0.2.11"]}`, "write", 3, 200, []string{"192.0.2.11"}, "%s"},
		{"DELETE service", "DELETE", "", "", "write", 3, 204, nil, "%s"},
		{"PUT endpoint", "PUT", "/endpoints/192.0.2.51", `{"weight":5}`, "register", 2, 201, []string{"192.0.2.10", "192.0.2.12", "192.0.2.51"}, "%s/endpoints/192.0.2.51"},
		{"DELETE endpoint", "DELETE", "/endpoints/192.0.2.10", "", "register", 2, 204, []string{"192.0.2.12"}, "%s/endpoints/192.0.2.10"},
	}
	roles := []struct {
		token string
		level int
		all   bool // every service in scope
	}{{"ci-read", 1, false}, {"ci-register", 2, false}, {"ci-write", 3, false}, {"ci-admin", 4, true}}
	for _, r := range roles {
		for _, a := range actions {
			for _, service := range []string{"billing", "payroll"} {
				reset()
				allowed := r.level >= a.need && (r.all || service == "billing")
				status, body, _ := f.request(t, a.method, "/v1/services/"+service+a.path, a.body, roleTokens[r.token])
				what := fmt.Sprintf("%s %s %s", r.token, a.name, service)
				if !allowed {
					assert.Equal(t, http.StatusForbidden, status, what)
					assert.JSONEq(t, fmt.Sprintf(`{"error":"token %s may not %s service %s","field":""}`, r.token, a.verb, service), body, what)
					assert.Equal(t, unchanged, f.addresses(t, service), "%s: nothing changed", what)
					continue
				}
				assert.Equal(t, a.status, status, "%s: %s", what, body)
				assert.Equal(t, a.after, f.addresses(t, service), what)
				if a.logged != "" {
					line := fmt.Sprintf("[INFO] plugin/thirdparty: api: %s "+a.logged+" by %s\n", a.method, service, r.token)
					assert.Contains(t, logs.String(), line, what)
				}
			}
		}
	}
	assert.Contains(t, logs.String(), "[INFO] plugin/thirdparty: api: PUT billing by token_file\n")
	for _, secret := range roleTokens {
		assert.NotContains(t, logs.String(), secret)
	}
	assert.NotContains(t, logs.String(), f.token)
}

// TestAPIBearerScheme: the scheme is matched in any case (RFC 7235), the
// token exactly; a request without a valid token gets its connection
// closed after the 401.
func TestAPIBearerScheme(t *testing.T) {
	f := startAPIServer(t, "")
	for _, auth := range []string{"Bearer ", "bearer ", "BEARER ", "BeArEr   "} {
		req, err := http.NewRequest("GET", "http://"+f.api+"/v1/services/oracle.finance", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", auth+f.token)
		resp, err := f.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%q", auth)
		assert.False(t, resp.Close, "the connection is kept")
	}
	for _, auth := range []string{"Basic " + f.token, "Bearer", "Bearer " + strings.ToUpper(f.token), "Bearer" + f.token, ""} {
		req, err := http.NewRequest("GET", "http://"+f.api+"/v1/services/oracle.finance", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := f.client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%q", auth)
		assert.JSONEq(t, `{"error":"a valid bearer token is required (Authorization: Bearer TOKEN)","field":""}`, string(body))
		assert.True(t, resp.Close, "Connection: close after a 401")
		assert.Equal(t, `Bearer realm="tpdns"`, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestAPITokensReload: a change of the tokens file is in force within a
// poll; an invalid one leaves the last good tokens and is logged once,
// with its file:line errors; a deleted one revokes its tokens.
func TestAPITokensReload(t *testing.T) {
	logs := test.CaptureLog(t)
	f := startAPIFixture(t, "{\n tokens tokens.yaml\n }", "reload 50ms", map[string]string{"tokens.yaml": tokensFile})
	path := filepath.Join(f.dir, "tokens.yaml")
	get := func(token string) int {
		status, _, _ := f.request(t, "GET", "/v1/services", "", token)
		return status
	}
	waitStatus := func(token string, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for get(token) != want {
			require.True(t, time.Now().Before(deadline), "status %d for %s not reached", want, token)
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.Equal(t, http.StatusOK, get("r34d-t0ken"))
	require.Equal(t, http.StatusUnauthorized, get("n3w-t0ken"))

	// A token added, one removed.
	require.NoError(t, os.WriteFile(path, []byte("tokens:\n  - {name: newcomer, sha256: "+sha("n3w-t0ken")+", role: read}\n"), 0o600))
	waitStatus("n3w-t0ken", http.StatusOK)
	assert.Equal(t, http.StatusUnauthorized, get("r34d-t0ken"))
	assert.Equal(t, http.StatusOK, get(f.token), "token_file's token stays")
	assert.Contains(t, logs.String(), "[INFO] plugin/thirdparty: api tokens "+path+": 1 tokens\n")

	// A broken file: the last good tokens stay, the errors are logged once.
	broken := "tokens:\n  - {name: newcomer, sha256: " + sha("n3w-t0ken") + ", role: reader}\n"
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))
	want := "[ERROR] plugin/thirdparty: api tokens " + path + " is invalid; the last good tokens stay in force\n" +
		"[ERROR] plugin/thirdparty: " + path + `:2: tokens[0].role: want read, register, write or admin, got "reader"` + "\n"
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), want) {
		require.True(t, time.Now().Before(deadline), "no error logged:\n%s", logs)
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // several polls
	assert.Equal(t, 1, strings.Count(logs.String(), "is invalid"), "logged once")
	assert.Equal(t, http.StatusOK, get("n3w-t0ken"))

	// A file removed revokes its tokens (a credential fails closed); the
	// token_file's stays.
	require.NoError(t, os.Remove(path))
	waitStatus("n3w-t0ken", http.StatusUnauthorized)
	assert.Contains(t, logs.String(), "[WARNING] plugin/thirdparty: api tokens "+path+" is gone: its tokens are revoked, the token_file's remains\n")
	assert.Equal(t, http.StatusOK, get(f.token))

	// Written again: in force again.
	require.NoError(t, os.WriteFile(path, []byte(tokensFile), 0o600))
	waitStatus("r34d-t0ken", http.StatusOK)
	assert.Equal(t, http.StatusUnauthorized, get("n3w-t0ken"))
}

// TestAPIBadTokensFileStopsStartup: an invalid tokens file is a
// configuration error that names the file and lines.
func TestAPIBadTokensFileStopsStartup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.yaml")
	require.NoError(t, os.WriteFile(path, []byte("tokens:\n  - name: a\n    sha256: nothex\n    role: read\n    scope: [x]\n"), 0o600))
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  store bolt tpdns.db\n  api 127.0.0.1:%s {\n   tokens tokens.yaml\n  }\n }\n}\n", test.FreePort(t), test.FreePort(t))
	inst, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	if err == nil {
		server.Stop(inst)
		t.Fatal("started with an invalid tokens file")
	}
	assert.Contains(t, err.Error(), "api tokens "+path+" is invalid:\n"+
		path+`:3: tokens[0].sha256: want the SHA-256 of the token, 64 hex digits (sha256sum), got "nothex"`+"\n"+
		path+":5: tokens[0].scope: unknown field; want one of name, sha256, role, services")

	require.NoError(t, os.Remove(path))
	inst, err = server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	if err == nil {
		server.Stop(inst)
		t.Fatal("started without its tokens file")
	}
	assert.Contains(t, err.Error(), "api tokens: open "+path+": no such file or directory")
}
