package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// chromium returns the path of a Chromium (or Chrome) binary. Outside CI a
// machine without one skips the test; `make test` installs Debian's
// chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: the chromium package must be installed (make test does it)")
	}
	t.Skip("chromium not found; `make test` installs it")
	return ""
}

// uiRegistry is the registry of the status page test: two checked
// services on loopback addresses listening on port, and one without a
// check with a disabled endpoint. Connection information and secrets are
// there to show that the page never shows them.
const uiRegistry = `services:
  - name: oracle.finance
    ports: [{name: db, port: %[1]s}]
    endpoints: [{address: 127.0.0.41, name: primary}, {address: 127.0.0.42, name: standby}]
    connection: {DB_USER: app, DB_NAME: orcl}
    secrets: {DB_PASSWORD: hunter2}
    check: {type: tcp, interval: 250ms, timeout: 200ms, rise: 1, fall: 1}
  - name: postgres.billing
    ports: [{name: pg, port: %[1]s}]
    endpoints: [127.0.0.43]
    check: {type: tcp, interval: 250ms, timeout: 200ms, rise: 1, fall: 1}
  - name: ldap
    ports: [{name: ldap, port: 389}]
    endpoints: [192.0.2.10, {address: 192.0.2.11, disabled: true}]
`

// TestUIInChromium opens the status page in headless Chromium with the
// token in the URL fragment, finds every endpoint with its state, closes
// the listener of one and sees it go unhealthy, in its row and in the last
// changes, without a reload (the page's own state survives). With
// TPDNS_SCREENSHOT=FILE it saves a screenshot there (docs/ui.png).
func TestUIInChromium(t *testing.T) {
	browser := chromium(t)
	port := FreePort(t)
	var listeners []net.Listener
	for _, ip := range []string{"127.0.0.41", "127.0.0.42", "127.0.0.43"} {
		ln, err := net.Listen("tcp", ip+":"+port)
		require.NoError(t, err)
		defer ln.Close()
		listeners = append(listeners, ln)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(fmt.Sprintf(uiRegistry, port)), 0o644))
	dnsPort, api := FreePort(t), "127.0.0.1:"+FreePort(t)
	corefile := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n  store bolt tpdns.db\n  api %s\n }\n}\n", dnsPort, api)
	StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	b, err := os.ReadFile(filepath.Join(dir, "tpdns.token"))
	require.NoError(t, err)
	token := strings.TrimSpace(string(b))
	waitEndpointState(t, api, token, "oracle.finance", "127.0.0.42", "healthy")
	waitEndpointState(t, api, token, "postgres.billing", "127.0.0.43", "healthy")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1280, 720),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	step := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			page, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, page)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(c, chromedp.Evaluate[string](expr))
		require.NoError(t, err, expr)
		return s
	}
	// shown waits until an element matches the CSS selector sel: the page
	// replaces its rows when it loads the services again.
	shown := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf("document.querySelector(%q) !== null", sel),
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0))
	}
	row := func(address, state string) chromedp.Action[chromedp.Void] {
		return shown(fmt.Sprintf(`tr[data-address=%q][data-state=%q]`, address, state))
	}

	// The browser starts with the first action on ctx itself: one on a
	// context with a timeout would close it with that context.
	require.NoError(t, chromedp.Do(ctx), "starting %s", browser)
	step("open the page", 30*time.Second, chromedp.Navigate("http://"+api+"/ui/#token="+token))
	step("every endpoint with its state", 10*time.Second,
		row("127.0.0.41", "healthy"), row("127.0.0.42", "healthy"), row("127.0.0.43", "healthy"),
		row("192.0.2.10", "healthy"), row("192.0.2.11", "disabled"), shown(`#conn.live`))
	assert.Equal(t, "", eval(`location.hash`), "the token left the address bar")
	assert.Equal(t, "standby", eval(`document.querySelector('tr[data-address="127.0.0.42"] td.name').textContent`))
	assert.NotEmpty(t, eval(`document.querySelector('tr[data-address="127.0.0.42"] td.time').textContent`), "last check")
	assert.NotEmpty(t, eval(`document.querySelector('tr[data-address="127.0.0.42"] td.latency').textContent`), "latency")
	eval(`window.tpdnsTestMark = "same page"; ""`)

	// The standby goes down: the page follows the event stream.
	listeners[1].Close()
	step("the change, live", 10*time.Second,
		row("127.0.0.42", "unhealthy"), shown(`li[data-change="oracle.finance|127.0.0.42|healthy|unhealthy"]`))
	assert.Equal(t, "same page", eval(`String(window.tpdnsTestMark)`), "no reload")
	assert.Contains(t, eval(`document.querySelector('tr[data-address="127.0.0.42"] td.error').textContent`), "connection refused")
	assert.Contains(t, eval(`document.querySelector('section[data-service="oracle.finance"] .count').textContent`), "1 of 2 answered")
	assert.Equal(t, "healthy", eval(`document.querySelector('tr[data-address="127.0.0.41"]').dataset.state`), "the other endpoint stays")

	// Connection information and secrets are never shown, nor the token.
	html := eval(`document.documentElement.outerHTML`)
	for _, s := range []string{"hunter2", "***", "DB_PASSWORD", "DB_USER", "orcl", token} {
		assert.NotContains(t, html, s)
	}

	if path := os.Getenv("TPDNS_SCREENSHOT"); path != "" {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot: %s", path)
	}
}

// waitEndpointState polls the API until the endpoint address of service is
// in state.
func waitEndpointState(t *testing.T, api, token, service, address, state string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	require.Eventually(t, func() bool {
		req, err := http.NewRequest("GET", "http://"+api+"/v1/services/"+service, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var s struct {
			Endpoints []struct {
				Address string
				Health  struct{ State string }
			}
		}
		if json.NewDecoder(resp.Body).Decode(&s) != nil {
			return false
		}
		for _, ep := range s.Endpoints {
			if ep.Address == address {
				return ep.Health.State == state
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "%s %s never %s", service, address, state)
}
