package ready

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/test"
)

// flag is a plugin whose readiness the test sets.
type flag struct {
	name string
	ok   atomic.Bool
}

func (f *flag) Ready() bool  { return f.ok.Load() }
func (f *flag) Name() string { return f.name }

// flags are the flags of the configuration set up last, by name.
var flags sync.Map

func flip(t *testing.T, name string, ok bool) {
	t.Helper()
	f, found := flags.Load(name)
	require.True(t, found, name)
	f.(*flag).ok.Store(ok)
}

// "testready NAME..." reports a flag per NAME; it runs after ready in the
// chain order, as thirdparty does.
func init() {
	plugin.Register("testready", func(c *caddy.Controller) (plugin.Plugin, error) {
		for c.Next() {
			for _, name := range c.RemainingArgs() {
				f := &flag{name: name}
				flags.Store(name, f)
				plugin.ReportReadiness(c, f)
			}
		}
		return nil, nil
	})
}

// get requests url on a connection of its own, so that no idle connection
// outlives the test.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestReady(t *testing.T) {
	dnsPort, addr := test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	url := "http://" + addr + "/ready"
	corefile := "tp.internal:" + dnsPort + " {\n bind 127.0.0.1\n ready " + addr + "\n testready beta alpha\n whoami\n}\n" +
		"example.org:" + dnsPort + " {\n bind 127.0.0.1\n ready " + addr + "\n testready gamma\n whoami\n}\n"
	inst := test.Start(t, corefile)

	type answer struct {
		status int
		body   string
	}
	check := func(want answer, msg string) {
		t.Helper()
		status, body := get(t, url)
		assert.Equal(t, want, answer{status, body}, msg)
	}
	check(answer{http.StatusServiceUnavailable, "alpha\nbeta\ngamma\n"}, "none ready")
	flip(t, "alpha", true)
	flip(t, "gamma", true)
	check(answer{http.StatusServiceUnavailable, "beta\n"}, "beta not ready")
	flip(t, "beta", true)
	check(answer{http.StatusOK, "OK"}, "all ready")
	flip(t, "alpha", false)
	check(answer{http.StatusOK, "OK"}, "ready for the life of the configuration")

	// The next configuration serves on the same port, with its own plugins.
	require.NoError(t, inst.Reload(corefile))
	check(answer{http.StatusServiceUnavailable, "alpha\nbeta\ngamma\n"}, "reloaded, none ready")
	for _, name := range []string{"alpha", "beta", "gamma"} {
		flip(t, name, true)
	}
	check(answer{http.StatusOK, "OK"}, "reloaded, all ready")

	// Without plugins that report readiness, ready at once.
	require.NoError(t, inst.Reload("tp.internal:"+dnsPort+" {\n bind 127.0.0.1\n ready "+addr+"\n whoami\n}\n"))
	check(answer{http.StatusOK, "OK"}, "nothing to wait for")

	// Shutting down, it is not ready any more.
	rd := inst.Storage[storagePrefix+addr].(*ready)
	require.NoError(t, rd.onShutdown())
	check(answer{http.StatusServiceUnavailable, "Shutting down"}, "shutting down")
}

type unnamed struct{}

func (unnamed) Ready() bool { return false }

func TestName(t *testing.T) {
	assert.Equal(t, "alpha", name(&flag{name: "alpha"}))
	assert.Equal(t, "ready", name(unnamed{}), "the package names a plugin without Name")
	assert.Equal(t, "ready", name(&unnamed{}))
}
