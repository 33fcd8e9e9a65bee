package thirdparty_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUIPage: the status page is served without a token, whole (no
// external asset), with a CSP that allows its own inline script and style
// only; no other route is.
func TestUIPage(t *testing.T) {
	f := startAPIServer(t, "")
	status, page, h := f.request(t, "GET", "/ui/", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	assert.Contains(t, page, "<title>tpdns status</title>")
	assert.NotRegexp(t, `(?i)(src|href)\s*=|https?://|@import|url\(`, page, "no external asset")
	csp := h.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "connect-src 'self'")
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindStringSubmatch(page)
		require.NotNil(t, m, tag)
		sum := sha256.Sum256([]byte(m[1]))
		assert.Contains(t, csp, tag+"-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))

	status, body, _ := f.request(t, "HEAD", "/ui/", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, body)
	status, _, _ = f.request(t, "GET", "/ui/", "", "", "If-None-Match", h.Get("ETag"))
	assert.Equal(t, http.StatusNotModified, status)

	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, _, h = f.request(t, "GET", "/ui", "", "")
	assert.Equal(t, http.StatusMovedPermanently, status)
	assert.Equal(t, "/ui/", h.Get("Location"))

	// Everything else needs the token, however the path is spelt.
	for _, req := range []string{"GET /ui/index.html", "GET /ui/x", "GET /ui//", "GET /UI/", "GET /ui/../v1/services",
		"GET /ui/%2e%2e/v1/services", "GET /v1/services", "GET /v1/events", "GET /", "POST /ui/", "PUT /ui/", "DELETE /ui/", "OPTIONS /ui/"} {
		method, path, _ := strings.Cut(req, " ")
		status, body, _ := f.request(t, method, path, "", "")
		assert.Equal(t, http.StatusUnauthorized, status, "%s: %s", req, body)
	}
	// With a token, a wrong method is no page either.
	status, _, _ = f.request(t, "POST", "/ui/", "", f.token)
	assert.Equal(t, http.StatusNotFound, status)
}
