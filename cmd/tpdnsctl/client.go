package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// client talks to the registration API of one tpdns server.
type client struct {
	base  string // scheme, host and any path prefix, without a trailing slash
	token string
	http  *http.Client
}

// newClient returns a client for the server and token the invocation
// names, directly or through the environment. It fails without a token,
// so that no request goes out that the server must refuse.
func newClient(inv *invocation, getenv func(string) string) (*client, error) {
	server := inv.opts.server
	if !inv.flags.Changed("server") && getenv("TPDNS_SERVER") != "" {
		server = getenv("TPDNS_SERVER")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want http://HOST:PORT or https://HOST:PORT", server)
	}
	token, err := readToken(inv.opts.tokenFile, getenv)
	if err != nil {
		return nil, err
	}
	return &client{
		base:  strings.TrimSuffix(u.String(), "/"),
		token: token,
		http:  &http.Client{Timeout: inv.opts.timeout},
	}, nil
}

// readToken returns the bearer token: the content of file when one is
// named, else $TPDNS_TOKEN.
func readToken(file string, getenv func(string) string) (string, error) {
	if file == "" {
		if t := strings.TrimSpace(getenv("TPDNS_TOKEN")); t != "" {
			return t, nil
		}
		return "", errors.New("no token: give --token-file PATH or set TPDNS_TOKEN")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return t, nil
}

// do sends a request, with body as JSON unless it is nil, and returns the
// status and body of a 2xx reply. Any other status is an *apiError.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	status, data, _, err := c.send(ctx, method, path, body)
	return status, data, err
}

// send is do with more request headers (name, value, ...), returning the
// reply's headers too.
func (c *client) send(ctx context.Context, method, path string, body []byte, header ...string) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tpdnsctl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err // a *url.Error, which names the method and URL
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: read reply: %w", method, req.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		e := newAPIError(resp.StatusCode, data)
		e.etag = resp.Header.Get("ETag")
		return resp.StatusCode, nil, resp.Header, e
	}
	return resp.StatusCode, data, resp.Header, nil
}

// get sends a GET and returns the reply's body.
func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	_, data, err := c.do(ctx, http.MethodGet, path, nil)
	return data, err
}

// servicePath is the API path of a service.
func servicePath(name string) string {
	return "/v1/services/" + url.PathEscape(name)
}

// endpointPath is the API path of an endpoint of a service.
func endpointPath(service, address string) string {
	return servicePath(service) + "/endpoints/" + url.PathEscape(address)
}

// apiError is a reply of the API that is not a success.
type apiError struct {
	Message string       `json:"error"`
	Field   string       `json:"field"`
	Errors  []fieldError `json:"errors"` // when the server found several

	status int
	etag   string // the service's, with a 412
	// rename, when set, names what a field came from ("--weight"), or
	// returns "" to name the field.
	rename func(field string) string
}

// fieldError is one of several errors in a request.
type fieldError struct {
	Message string `json:"error"`
	Field   string `json:"field"`
}

// newAPIError reads the error in a reply of the given status.
func newAPIError(status int, body []byte) *apiError {
	e := &apiError{}
	if err := json.Unmarshal(body, e); err != nil {
		e = &apiError{}
	}
	if e.Message == "" {
		// Not the API's own error, such as a proxy's page.
		e.Message = fmt.Sprintf("server replied %d %s", status, http.StatusText(status))
	}
	if status == http.StatusUnauthorized {
		e.Message += "; check --token-file or TPDNS_TOKEN"
	}
	e.status = status
	return e
}

// Error is the message and its field, then each other error of several
// indented on a line of its own. The server repeats its message among
// them, which is not shown twice.
func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.withField(e.Message, e.Field))
	for _, fe := range e.Errors {
		if fe != (fieldError{e.Message, e.Field}) {
			b.WriteString("\n  " + e.withField(fe.Message, fe.Field))
		}
	}
	return b.String()
}

// withField is msg with the field it is about: "(field weight)", or what
// rename says it came from, "(--weight)".
func (e *apiError) withField(msg, field string) string {
	if field == "" {
		return msg
	}
	if e.rename != nil {
		if from := e.rename(field); from != "" {
			return msg + " (" + from + ")"
		}
	}
	return msg + " (field " + field + ")"
}
