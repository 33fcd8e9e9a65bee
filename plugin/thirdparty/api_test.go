package thirdparty_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// apiFixture is a server with a registry file, a bolt store and the API.
type apiFixture struct {
	dir, dns, api, token string
	client               *http.Client
	scheme               string
	inst                 *test.Instance
}

const apiRegistry = `services:
  - name: oracle.finance
    ports: [{name: db, port: 1521}]
    endpoints: [10.0.0.10, {address: 10.0.0.11, name: standby}]
`

func startAPIServer(t *testing.T, apiBlock string) *apiFixture {
	t.Helper()
	return startAPIFixture(t, apiBlock, "", nil)
}

// startAPIFixture is startAPIServer with more thirdparty properties and
// files written to the directory first (name → content).
func startAPIFixture(t *testing.T, apiBlock, properties string, files map[string]string) *apiFixture {
	t.Helper()
	f := &apiFixture{dir: t.TempDir(), client: &http.Client{Timeout: 5 * time.Second}, scheme: "http"}
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "services.yaml"), []byte(apiRegistry), 0o644))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600))
	}
	port, apiPort := test.FreePort(t), test.FreePort(t)
	f.dns, f.api = "127.0.0.1:"+port, "127.0.0.1:"+apiPort
	corefile := fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    thirdparty {
        services services.yaml
        store bolt tpdns.db
        api %s %s
        %s
    }
}`, port, f.api, apiBlock, properties)
	f.inst = test.StartInput(t, server.Input{Filename: filepath.Join(f.dir, "Corefile"), Contents: []byte(corefile)})
	token, err := os.ReadFile(filepath.Join(f.dir, "tpdns.token"))
	require.NoError(t, err)
	f.token = strings.TrimSpace(string(token))
	return f
}

// do sends a request and returns the status and the body.
func (f *apiFixture) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return f.doToken(t, method, path, body, f.token)
}

func (f *apiFixture) doToken(t *testing.T, method, path, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.scheme+"://"+f.api+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// waitDNS polls until name's A records are want (sorted), for at most 1s
// more than extra.
func (f *apiFixture) waitDNS(t *testing.T, name string, want []string, extra time.Duration) {
	t.Helper()
	waitAddresses(t, f.dns, name, want, time.Second+extra)
}

func TestAPIAuthentication(t *testing.T) {
	f := startAPIServer(t, "")
	info, err := os.Stat(filepath.Join(f.dir, "tpdns.token"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Regexp(t, `^[0-9a-f]{64}$`, f.token)

	for _, token := range []string{"", "wrong", f.token + "x", strings.ToUpper(f.token)} {
		status, body := f.doToken(t, "GET", "/v1/services", "", token)
		assert.Equal(t, http.StatusUnauthorized, status, token)
		assert.JSONEq(t, `{"error":"a valid bearer token is required (Authorization: Bearer TOKEN)","field":""}`, body)
	}
	status, _ := f.doToken(t, "PUT", "/v1/services/x", `{"endpoints":["10.1.1.1"]}`, "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = f.do(t, "GET", "/v1/services/x", "")
	assert.Equal(t, http.StatusNotFound, status, "nothing was written without the token")
}

func TestAPIRoutes(t *testing.T) {
	f := startAPIServer(t, "")

	status, body := f.do(t, "GET", "/v1/services", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"services":[{"name":"oracle.finance","origin":"file",
		"ports":[{"name":"db","port":1521,"protocol":"tcp"}],
		"endpoints":[
			{"address":"10.0.0.10","name":"10-0-0-10","priority":0,"weight":1,"disabled":false,"health":{"state":"healthy"}},
			{"address":"10.0.0.11","name":"standby","priority":0,"weight":1,"disabled":false,"health":{"state":"healthy"}}]}]}`, body)

	// Create, then replace.
	svc := `{"ports":[{"name":"http","port":8080}],"endpoints":["192.0.2.1"],"connection":{"URL":"http://x"},"secrets":{"PASS":"s3cret"},"secrets_allow":["127.0.0.0/8"]}`
	status, body = f.do(t, "PUT", "/v1/services/Web.Legacy", svc)
	assert.Equal(t, http.StatusCreated, status, body)
	assert.JSONEq(t, `{"name":"web.legacy","origin":"store",
		"ports":[{"name":"http","port":8080,"protocol":"tcp"}],
		"endpoints":[{"address":"192.0.2.1","name":"192-0-2-1","priority":0,"weight":1,"disabled":false,"health":{"state":"healthy"}}],
		"connection":{"URL":"http://x"},"secrets":{"PASS":"***"},"secrets_allow":["127.0.0.0/8"]}`, body)
	assert.NotContains(t, body, "s3cret")
	f.waitDNS(t, "web.legacy.tp.internal.", []string{"192.0.2.1"}, 0)
	r := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("web.legacy.tp.internal.", dns.TypeTXT, 0))
	assert.Equal(t, []string{
		`web.legacy.tp.internal. 10 IN TXT "HTTP_HOST=web.legacy.tp.internal"`,
		`web.legacy.tp.internal. 10 IN TXT "HTTP_PORT=8080"`,
		`web.legacy.tp.internal. 10 IN TXT "PASS=s3cret"`,
		`web.legacy.tp.internal. 10 IN TXT "URL=http://x"`,
	}, rrs(r.Answer))

	status, _ = f.do(t, "PUT", "/v1/services/web.legacy", `{"name":"web.legacy","endpoints":["192.0.2.2"]}`)
	assert.Equal(t, http.StatusOK, status)
	f.waitDNS(t, "web.legacy.tp.internal.", []string{"192.0.2.2"}, 0)

	status, body = f.do(t, "GET", "/v1/services/web.legacy", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `"origin": "store"`)

	// Endpoints: add, update, a heartbeat, remove.
	status, body = f.do(t, "PUT", "/v1/services/web.legacy/endpoints/192.0.2.3", "")
	assert.Equal(t, http.StatusCreated, status, body)
	f.waitDNS(t, "web.legacy.tp.internal.", []string{"192.0.2.2", "192.0.2.3"}, 0)
	status, body = f.do(t, "PUT", "/v1/services/web.legacy/endpoints/192.0.2.3", `{"name":"three","priority":5,"weight":7}`)
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"name": "three"`)
	waitAddresses(t, f.dns, "three.web.legacy.tp.internal.", []string{"192.0.2.3"}, time.Second)

	status, body = f.do(t, "PUT", "/v1/services/web.legacy/endpoints/2001:db8::9", `{"ttl":1}`)
	assert.Equal(t, http.StatusCreated, status, body)
	assert.Regexp(t, `"address": "2001:db8::9",[^}]*"expires": "`, body)
	waitAAAA := func(want int) {
		deadline := time.Now().Add(2 * time.Second)
		for {
			r := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("web.legacy.tp.internal.", dns.TypeAAAA, 0))
			if len(r.Answer) == want {
				return
			}
			require.True(t, time.Now().Before(deadline), "AAAA: %d records, want %d", len(r.Answer), want)
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAAAA(1)
	waitAAAA(0) // no heartbeat: gone within ttl + 1s

	status, _ = f.do(t, "DELETE", "/v1/services/web.legacy/endpoints/192.0.2.3", "")
	assert.Equal(t, http.StatusNoContent, status)
	status, body = f.do(t, "DELETE", "/v1/services/web.legacy/endpoints/192.0.2.3", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.JSONEq(t, `{"error":"service web.legacy has no endpoint 192.0.2.3","field":"address"}`, body)
	f.waitDNS(t, "web.legacy.tp.internal.", []string{"192.0.2.2"}, 0)

	status, _ = f.do(t, "DELETE", "/v1/services/web.legacy", "")
	assert.Equal(t, http.StatusNoContent, status)
	status, body = f.do(t, "DELETE", "/v1/services/web.legacy", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.JSONEq(t, `{"error":"no service web.legacy","field":"name"}`, body)
	f.waitDNS(t, "web.legacy.tp.internal.", nil, 0)

	status, body = f.do(t, "GET", "/v1/nothing", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.JSONEq(t, `{"error":"no such route: /v1/nothing","field":""}`, body)
	status, body = f.do(t, "POST", "/v1/services/x", "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.JSONEq(t, `{"error":"POST is not allowed here; use GET, PUT, DELETE","field":""}`, body)
}

func TestAPIBadInputChangesNothing(t *testing.T) {
	f := startAPIServer(t, "")
	status, _ := f.do(t, "PUT", "/v1/services/db", `{"ports":[{"name":"db","port":5432},{"name":"m","port":9100}],"endpoints":["10.1.0.1"]}`)
	require.Equal(t, http.StatusCreated, status)
	_, before := f.do(t, "GET", "/v1/services", "")

	for _, c := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"unknown field", "PUT", "/v1/services/new", `{"endpoints":["10.1.0.2"],"adress":"x"}`, 400, `{"error":"unknown field","field":"adress"}`},
		{"wrong type", "PUT", "/v1/services/new", `{"ttl":"soon"}`, 400, `{"error":"want a number of seconds or a duration such as \"30s\", got \"soon\"","field":"ttl"}`},
		{"invalid value", "PUT", "/v1/services/new", `{"ports":[{"name":"db","port":99999}]}`, 400, `{"error":"99999 is out of range 1-65535","field":"ports[0].port"}`},
		{"bad reference", "PUT", "/v1/services/new", `{"ports":[{"name":"db","port":1}],"connection":{"URL":"${DB_HOST}/${PASS}"},"secrets":{"PASS":"p"}}`, 400, `{"error":"${PASS} is a secret; connection is served to every client and may not refer to one","field":"connection.URL"}`},
		{"several errors", "PUT", "/v1/services/new", `{"ports":[{"name":"db","port":0}],"allow":["nope"]}`, 400,
			`{"error":"\"nope\" is not a CIDR prefix or IP address","field":"allow[0]","errors":[{"error":"\"nope\" is not a CIDR prefix or IP address","field":"allow[0]"},{"error":"0 is out of range 1-65535","field":"ports[0].port"}]}`},
		{"bad name", "PUT", "/v1/services/_bad", `{}`, 400, `{"error":"","field":"name"}`},
		{"name differs", "PUT", "/v1/services/new", `{"name":"other"}`, 400, `{"error":"\"other\" differs from \"new\", the name in the path","field":"name"}`},
		{"not JSON", "PUT", "/v1/services/new", `{"endpoints":[`, 400, ``},
		{"file-owned", "PUT", "/v1/services/oracle.finance", `{}`, 409, `{"error":"service oracle.finance is defined in the registry file; change it there","field":"name"}`},
		{"file-owned delete", "DELETE", "/v1/services/oracle.finance", ``, 409, `{"error":"service oracle.finance is defined in the registry file; change it there","field":"name"}`},
		{"file-owned endpoint", "PUT", "/v1/services/oracle.finance/endpoints/10.0.0.12", ``, 409, `{"error":"service oracle.finance is defined in the registry file; change it there","field":"name"}`},
		{"name taken by a file endpoint", "PUT", "/v1/services/standby.oracle.finance", `{}`, 409, `{"error":"the name standby.oracle.finance is already used by the registry file's service oracle.finance","field":"name"}`},
		{"endpoint of unknown service", "PUT", "/v1/services/nope/endpoints/10.1.0.9", ``, 404, `{"error":"no service nope","field":"name"}`},
		{"endpoint port on two ports", "PUT", "/v1/services/db/endpoints/10.1.0.9", `{"port":5433}`, 400, ``},
		{"endpoint unknown field", "PUT", "/v1/services/db/endpoints/10.1.0.9", `{"prio":1}`, 400, `{"error":"unknown field","field":"prio"}`},
		{"endpoint wrong type", "PUT", "/v1/services/db/endpoints/10.1.0.9", `{"weight":"heavy"}`, 400, `{"error":"want an integer, got \"heavy\"","field":"weight"}`},
		{"endpoint bad ttl", "PUT", "/v1/services/db/endpoints/10.1.0.9", `{"ttl":0}`, 400, `{"error":"0 is out of range 1-86400 (seconds: 1s to 24h)","field":"ttl"}`},
		{"endpoint bad address", "PUT", "/v1/services/db/endpoints/not_a_host", ``, 400, ``},
		{"too big", "PUT", "/v1/services/new", `{"connection":{"A":"` + strings.Repeat("x", 1<<20) + `"}}`, 413, `{"error":"the body is over 1 MiB","field":""}`},
	} {
		status, body := f.do(t, c.method, c.path, c.body)
		assert.Equal(t, c.status, status, "%s: %s", c.name, body)
		switch {
		case c.name == "bad name":
			var e struct{ Error, Field string }
			require.NoError(t, json.Unmarshal([]byte(body), &e))
			assert.Equal(t, "name", e.Field)
			assert.Contains(t, e.Error, "_")
		case c.want != "":
			assert.JSONEq(t, c.want, body, c.name)
		default:
			assert.Contains(t, body, `"error"`, c.name)
		}
	}
	_, after := f.do(t, "GET", "/v1/services", "")
	assert.Equal(t, before, after, "no bad request changed the store")
}

func TestAPIOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	f := startAPIServer(t, fmt.Sprintf("{\n tls %s %s\n }", cert, key))
	f.scheme = "https"
	f.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	status, body := f.do(t, "GET", "/v1/services/oracle.finance", "")
	assert.Equal(t, http.StatusOK, status, body)

	f.scheme = "http"
	status, _ = f.do(t, "GET", "/v1/services/oracle.finance", "")
	assert.Equal(t, http.StatusBadRequest, status, "plain HTTP to the TLS port")
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tpdns test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	parsed, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(parsed)
	return cert, key, pool
}

func TestAPISurvivesCorefileReload(t *testing.T) {
	f := startAPIServer(t, "")
	status, _ := f.do(t, "PUT", "/v1/services/kept", `{"endpoints":["192.0.2.7"]}`)
	require.Equal(t, http.StatusCreated, status)
	f.waitDNS(t, "kept.tp.internal.", []string{"192.0.2.7"}, 0)

	// The same store and API address: both are handed over, not reopened.
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  store bolt tpdns.db\n  api %s\n  ttl 42\n }\n}", strings.TrimPrefix(f.dns, "127.0.0.1:"), f.api)
	require.NoError(t, f.inst.Reload(corefile))
	r := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("kept.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, []string{"kept.tp.internal. 42 IN A 192.0.2.7"}, rrs(r.Answer))
	status, _ = f.do(t, "PUT", "/v1/services/after", `{"endpoints":["192.0.2.8"]}`)
	assert.Equal(t, http.StatusCreated, status)
	f.waitDNS(t, "after.tp.internal.", []string{"192.0.2.8"}, 0)
}

func TestAPIDeleteRemovesAnOverriddenEndpoint(t *testing.T) {
	f := startAPIServer(t, "")
	status, _ := f.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1","192.0.2.2"]}`)
	require.Equal(t, http.StatusCreated, status)
	// Registering an endpoint of the document overrides it...
	status, body := f.do(t, "PUT", "/v1/services/db/endpoints/192.0.2.2", `{"weight":9}`)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"weight": 9`)
	// ...and deleting it removes it altogether.
	status, _ = f.do(t, "DELETE", "/v1/services/db/endpoints/192.0.2.2", "")
	require.Equal(t, http.StatusNoContent, status)
	f.waitDNS(t, "db.tp.internal.", []string{"192.0.2.1"}, 0)
	status, _ = f.do(t, "DELETE", "/v1/services/db/endpoints/192.0.2.2", "")
	assert.Equal(t, http.StatusNotFound, status)
	// A PUT of the whole service keeps a registered endpoint.
	status, _ = f.do(t, "PUT", "/v1/services/db/endpoints/192.0.2.3", "")
	require.Equal(t, http.StatusCreated, status)
	status, _ = f.do(t, "PUT", "/v1/services/db", `{"endpoints":["192.0.2.1"],"ttl":30}`)
	require.Equal(t, http.StatusOK, status)
	r := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("db.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, []string{"db.tp.internal. 30 IN A 192.0.2.1", "db.tp.internal. 30 IN A 192.0.2.3"}, rrs(r.Answer))
}

// TestAPIReferences: a service PUT with references is served expanded in
// DNS, and GET shows it as written, its secrets as "***".
func TestAPIReferences(t *testing.T) {
	f := startAPIServer(t, "")
	svc := `{"ports":[{"name":"db","port":5432}],"endpoints":["192.0.2.1"],"connection":{"URL":"pg://${DB_HOST}:${DB_PORT}/x"},"secrets":{"DSN":"${URL}?p=s3cret"},"secrets_allow":["127.0.0.1/32"]}`
	status, body := f.do(t, "PUT", "/v1/services/pg", svc)
	require.Equal(t, http.StatusCreated, status, body)
	f.waitDNS(t, "pg.tp.internal.", []string{"192.0.2.1"}, 0)
	status, body = f.do(t, "GET", "/v1/services/pg", "")
	require.Equal(t, http.StatusOK, status, body)
	var got struct{ Connection, Secrets map[string]string }
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, map[string]string{"URL": "pg://${DB_HOST}:${DB_PORT}/x"}, got.Connection)
	assert.Equal(t, map[string]string{"DSN": "***"}, got.Secrets)
	assert.NotContains(t, body, "s3cret")
	r := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("pg.tp.internal.", dns.TypeTXT, 0))
	assert.Equal(t, []string{
		`pg.tp.internal. 10 IN TXT "DB_HOST=pg.tp.internal"`,
		`pg.tp.internal. 10 IN TXT "DB_PORT=5432"`,
		`pg.tp.internal. 10 IN TXT "DSN=pg://pg.tp.internal:5432/x?p=s3cret"`,
		`pg.tp.internal. 10 IN TXT "URL=pg://pg.tp.internal:5432/x"`,
	}, rrs(r.Answer))
}
