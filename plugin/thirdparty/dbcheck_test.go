package thirdparty_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
)

// startRedis runs redis-server on 127.0.0.51:port, without persistence.
func startRedis(t *testing.T, port string) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found: the redis-server package must be installed (make test does it)")
		}
		t.Skip("redis-server not found; `make test` installs it")
	}
	cmd := exec.Command(path, "--bind", "127.0.0.51", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// TestDatabaseCheckReasons: a database check is up against the real
// server and down against a port that is not that database, and the reason
// is the endpoint's last error in the API and in _health.S.Z (issue 16's
// second "must show"; each check's protocol cases are in package health,
// against the real servers).
func TestDatabaseCheckReasons(t *testing.T) {
	port := test.FreePort(t)
	startRedis(t, port)
	web := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.52:"+port)
	require.NoError(t, err)
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })

	f := startAPIFixture(t, "", "", nil)
	for name, addr := range map[string]string{"cache": "127.0.0.51", "notredis": "127.0.0.52"} {
		body := fmt.Sprintf(`{"ports": [{"name": "redis", "port": %s}], "endpoints": ["%s"],
			"check": {"type": "redis", "interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1}}`, port, addr)
		status, reply := f.do(t, "PUT", "/v1/services/"+name, body)
		require.Equal(t, http.StatusCreated, status, reply)
	}
	type endpoint struct {
		Address string `json:"address"`
		Health  struct {
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"health"`
	}
	state := func(name string) endpoint {
		_, reply := f.do(t, "GET", "/v1/services/"+name, "")
		var s struct{ Endpoints []endpoint }
		require.NoError(t, json.Unmarshal([]byte(reply), &s), reply)
		require.Len(t, s.Endpoints, 1, reply)
		return s.Endpoints[0]
	}
	deadline := time.Now().Add(5 * time.Second)
	for state("cache").Health.State != "healthy" || state("notredis").Health.State != "unhealthy" {
		require.True(t, time.Now().Before(deadline), "cache %+v, notredis %+v", state("cache"), state("notredis"))
		time.Sleep(20 * time.Millisecond)
	}
	why := `not a Redis server: it answered "HTTP/1.1 400 Bad Request`
	assert.Empty(t, state("cache").Health.LastError)
	assert.Contains(t, state("notredis").Health.LastError, why)

	txt := func(name string) []string {
		m := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("_health."+name+".tp.internal.", dns.TypeTXT, 1232))
		require.Len(t, m.Answer, 1)
		return m.Answer[0].(*dns.TXT).Txt
	}
	up := txt("cache")
	assert.Equal(t, []string{"address=127.0.0.51", "state=healthy"}, up[:2])
	assert.Len(t, up, 3, "address, state, checked: no error")
	down := txt("notredis")
	assert.Equal(t, []string{"address=127.0.0.52", "state=unhealthy"}, down[:2])
	require.Len(t, down, 4)
	assert.True(t, strings.HasPrefix(down[3], `error=`+strings.ReplaceAll(why, `"`, `\"`)), down[3])

	// A NODATA of the service that is down says why, with EDNS.
	m := exchange(t, "udp", f.dns, "127.0.0.1", test.Query("notredis.tp.internal.", dns.TypeA, 1232))
	assert.Empty(t, m.Answer)
	assert.Equal(t, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "no healthy endpoint"}, edeOf(m))
}
