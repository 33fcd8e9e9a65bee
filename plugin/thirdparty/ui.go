package thirdparty

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// The status page, GET /ui/: one HTML file with its style and script
// inline, which fetch the data from the API with the token the user gives.
// It holds no data itself, so it is the one route served without a token.
const (
	uiPath     = "/ui/"
	uiFileName = "ui/index.html"
)

//go:embed ui/index.html
var uiFiles embed.FS

var (
	uiPage = mustReadUI()
	uiETag = func() string { s := sha256.Sum256(uiPage); return `"` + hex.EncodeToString(s[:8]) + `"` }()
	// uiCSP lets the page run its own inline style and script (by their
	// hashes) and talk to this server, and nothing else: no other script,
	// frame, form target or external asset.
	uiCSP = "default-src 'none'; " +
		"script-src " + inlineHashes(uiPage, "script") + "; " +
		"style-src " + inlineHashes(uiPage, "style") + "; " +
		"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func mustReadUI() []byte {
	b, err := uiFiles.ReadFile(uiFileName)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return b
}

// inlineHashes returns the CSP sources of the contents of every <tag>
// element of page: 'sha256-...' each.
func inlineHashes(page []byte, tag string) string {
	var out []string
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	for rest := page; ; {
		i := bytes.Index(rest, open)
		if i < 0 {
			break
		}
		rest = rest[i+len(open):]
		j := bytes.Index(rest, end)
		if j < 0 {
			break
		}
		sum := sha256.Sum256(rest[:j])
		out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		rest = rest[j+len(end):]
	}
	if len(out) == 0 {
		return "'none'"
	}
	return strings.Join(out, " ")
}

// isUIPage reports whether r asks for the status page: GET or HEAD of
// exactly /ui/, or of /ui, which is redirected there. No other path is
// served without a token.
func isUIPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == uiPath || r.URL.Path == "/ui")
}

// serveUI answers a request for which isUIPage is true.
func serveUI(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != uiPath {
		http.Redirect(w, r, uiPath, http.StatusMovedPermanently)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", uiETag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(uiPage))
}
