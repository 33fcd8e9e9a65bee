package thirdparty_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIDurations: the API's durations (a service's ttl, a heartbeat's
// ttl, a check's interval and timeout) are a number of seconds or a Go
// duration (SPEC 5, v2), and a refused one names its field and its
// limits.
func TestAPIDurations(t *testing.T) {
	f := startAPIServer(t, "")
	status, body := f.do(t, "PUT", "/v1/services/db", `{"ports":[{"name":"db","port":5432}],"endpoints":["10.1.0.1"],
		"ttl":"1m","check":{"type":"tcp","interval":20,"timeout":"1.5s"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	var got struct {
		TTL   int
		Check struct{ Interval, Timeout string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, 60, got.TTL)
	assert.Equal(t, "20s", got.Check.Interval)
	assert.Equal(t, "1.5s", got.Check.Timeout)

	f.waitDNS(t, "db.tp.internal.", []string{"10.1.0.1"}, 0)
	m := new(dns.Msg)
	m.SetQuestion("db.tp.internal.", dns.TypeA)
	r, err := dns.Exchange(m, f.dns)
	require.NoError(t, err)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, uint32(60), r.Answer[0].Header().Ttl)

	status, body = f.do(t, "PUT", "/v1/services/db/endpoints/10.1.0.2", `{"ttl":"30s"}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, `"expires"`)
	status, body = f.do(t, "PUT", "/v1/services/db/endpoints/10.1.0.2", `{"ttl":"1m30s"}`)
	require.Equal(t, http.StatusOK, status, body)

	for _, c := range []struct{ path, body, want string }{
		{"/v1/services/db", `{"ttl":"1500ms"}`, `{"error":"\"1500ms\" is not a whole number of seconds","field":"ttl"}`},
		{"/v1/services/db", `{"ttl":"soon"}`, `{"error":"want a number of seconds or a duration such as \"30s\", got \"soon\"","field":"ttl"}`},
		{"/v1/services/db", `{"ports":[{"name":"db","port":5432}],"check":{"type":"tcp","interval":"0s"}}`, `{"error":"0s must be above zero","field":"check.interval"}`},
		{"/v1/services/db/endpoints/10.1.0.2", `{"ttl":"25h"}`, `{"error":"\"25h\" is out of range 1s-24h","field":"ttl"}`},
		{"/v1/services/db/endpoints/10.1.0.2", `{"weight":70000}`, `{"error":"70000 is out of range 0-65535","field":"weight"}`},
	} {
		status, body := f.do(t, "PUT", c.path, c.body)
		assert.Equal(t, http.StatusBadRequest, status, c.body)
		assert.JSONEq(t, c.want, body, c.body)
	}
}
