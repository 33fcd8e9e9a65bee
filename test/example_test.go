package test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startExample runs the binary on Corefile.example and examples/, moved to
// free ports: the DNS port, and the fixed HTTP ports by the ones that
// replace them.
func startExample(t *testing.T) (string, map[string]string) {
	port := FreePort(t)
	dir := t.TempDir()
	corefile, err := os.ReadFile("../Corefile.example")
	require.NoError(t, err)
	registry, err := os.ReadFile("../examples/services.yaml")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "examples"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "examples", "services.yaml"), registry, 0o644))
	path := filepath.Join(dir, "Corefile")
	moved := strings.ReplaceAll(string(corefile), ":1053", ":"+port)
	ports := map[string]string{}
	for _, fixed := range []string{"8053", "9153", "8080", "8181"} {
		ports[fixed] = FreePort(t)
		moved = strings.ReplaceAll(moved, "127.0.0.1:"+fixed, "127.0.0.1:"+ports[fixed])
	}
	// Host names are resolved on loopback only, by no one: the example's
	// corp.example.com hosts answer the CNAME alone.
	moved = strings.Replace(moved, "thirdparty {", "thirdparty {\n        resolver 127.0.0.1:"+FreePort(t), 1)
	require.NoError(t, os.WriteFile(path, []byte(moved), 0o644))
	StartBinary(t, tpdnsBinary, path, "127.0.0.1:"+port)
	return port, ports
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// lines returns dig's output lines, tabs folded, sorted.
func lines(out string) []string {
	var l []string
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		if s != "" {
			l = append(l, strings.Join(strings.Fields(s), " "))
		}
	}
	slices.Sort(l)
	return l
}

func TestExampleWithDig(t *testing.T) {
	port, ports := startExample(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"oracle.finance.tp.internal", "+short"}, []string{"192.0.2.10", "192.0.2.11"}},
		{[]string{"Oracle.Finance.TP.Internal", "SRV", "+noall", "+answer", "+additional"}, nil},
		{[]string{"oracle.finance.tp.internal", "TXT", "+short"}, []string{
			`"DB_HOST=oracle.finance.tp.internal"`, `"DB_NAME=orcl"`, `"DB_PASSWORD=s3cret"`, `"DB_PORT=1521"`, `"DB_USER=app"`}},
		{[]string{"standby.oracle.finance.tp.internal", "+short"}, []string{"192.0.2.11"}},
		{[]string{"web.tp.internal", "AAAA", "+short"}, []string{"2001:db8::20"}},
		{[]string{"_https._tcp.web.tp.internal", "SRV", "+short"}, []string{
			"0 1 443 192-0-2-20.web.tp.internal.", "0 1 443 192-0-2-21.web.tp.internal.", "0 1 443 2001-db8--20.web.tp.internal."}},
		{[]string{"dotnet.legacy.tp.internal", "+noall", "+answer"}, nil},
		{[]string{"-x", "192.0.2.20", "+short"}, []string{"192-0-2-20.web.tp.internal."}},
		{[]string{"-x", "2001:db8::20", "+short"}, []string{"2001-db8--20.web.tp.internal."}},
		{[]string{"tp.internal", "NS", "+short"}, []string{"ns.dns.tp.internal."}},
		{[]string{"whoami.tp.internal", "+noall", "+additional"}, nil},
	} {
		out := dig(t, port, c.args...)
		switch c.args[0] {
		case "Oracle.Finance.TP.Internal":
			// The question as asked, and every owner under it in its
			// case, as Knot answers (the SRV targets are never
			// compressed: in lower case).
			assert.Equal(t, []string{
				"192-0-2-10.Oracle.Finance.TP.Internal. 10 IN A 192.0.2.10",
				"Oracle.Finance.TP.Internal. 10 IN SRV 0 1 1521 192-0-2-10.oracle.finance.tp.internal.",
				"Oracle.Finance.TP.Internal. 10 IN SRV 10 1 1521 standby.oracle.finance.tp.internal.",
				"standby.Oracle.Finance.TP.Internal. 10 IN A 192.0.2.11",
			}, lines(out))
		case "dotnet.legacy.tp.internal":
			assert.Regexp(t, `^dotnet\.legacy\.tp\.internal\.\s+10\s+IN\s+CNAME\s+winsrv0[12]\.corp\.example\.com\.\n$`, out)
		case "whoami.tp.internal":
			assert.Regexp(t, `^whoami\.tp\.internal\.\s+0\s+IN\s+A\s+127\.0\.0\.1\n_udp\.whoami\.tp\.internal\.\s+0\s+IN\s+SRV\s+0 0 \d+ \.\n$`, out)
		default:
			assert.Equal(t, c.want, lines(out), strings.Join(c.args, " "))
		}
	}

	// The README's signed query: the reply is signed too, and dig
	// verifies it (it would warn "TSIG verify failed" otherwise).
	out := dig(t, port, "-y", "hmac-sha256:app-finance:jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM=", "oracle.finance.tp.internal", "TXT")
	assert.Contains(t, out, `"DB_PASSWORD=s3cret"`)
	assert.Regexp(t, `(?m)^app-finance\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0\s*$`, out)
	assert.NotContains(t, out, "verify")
	out = dig(t, port, "-y", "hmac-sha256:app-finance:Tm90IHRoZSBzZWNyZXQgYXQgYWxsLCAzMiBieXRlcyE=", "oracle.finance.tp.internal", "TXT")
	assert.Contains(t, out, "status: NOTAUTH")
	assert.Contains(t, out, "BADSIG")

	out = dig(t, port, "nope.tp.internal")
	assert.Contains(t, out, "status: NXDOMAIN")
	assert.Contains(t, out, "flags: qr aa rd;")
	// The HTTP side of the example: health, readiness (no checks in the
	// example registry: ready at once), metrics, the API.
	code, body := httpGet(t, "http://127.0.0.1:"+ports["8080"]+"/health")
	assert.Equal(t, 200, code)
	assert.Equal(t, "OK", body)
	waitFor(t, 5*time.Second, "/ready", func() bool {
		code, _ := httpGet(t, "http://127.0.0.1:"+ports["8181"]+"/ready")
		return code == 200
	})
	_, body = httpGet(t, "http://127.0.0.1:"+ports["9153"]+"/metrics")
	assert.Regexp(t, `tpdns_dns_requests_total\{family="1",proto="udp",server="dns://127\.0\.0\.1:`+port+`",type="A",zone="tp\.internal\."\} \d+`, body)
	assert.Contains(t, body, `tpdns_thirdparty_endpoints{service="oracle.finance",state="healthy"} 2`)
	code, _ = httpGet(t, "http://127.0.0.1:"+ports["8053"]+"/v1/services")
	assert.Equal(t, 401, code, "the API wants its token")

	assert.Regexp(t, regexp.MustCompile(`tp\.internal\.\s+10\s+IN\s+SOA\s+ns\.dns\.tp\.internal\. hostmaster\.tp\.internal\. \d+ 7200 1800 86400 10`), out)
}
