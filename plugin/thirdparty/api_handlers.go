package thirdparty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/registry"
	"github.com/tpdns/tpdns/store"
)

// apiError is a reply other than success: a status and the body
// {"error", "field"}, with every error when validation found several.
type apiError struct {
	status int
	msg    string
	field  string
	all    config.ErrorList
	etag   string // the ETag header of a 412, when the service exists
}

func (e *apiError) Error() string { return e.msg }

type errorBody struct {
	Error  string      `json:"error"`
	Field  string      `json:"field"`
	Errors []errorBody `json:"errors,omitempty"`
}

func (a *apiServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/services", a.list)
	mux.HandleFunc("GET /v1/services/{name}", a.get)
	mux.HandleFunc("PUT /v1/services/{name}", a.putService)
	mux.HandleFunc("DELETE /v1/services/{name}", a.deleteService)
	mux.HandleFunc("PUT /v1/services/{name}/endpoints/{address}", a.putEndpoint)
	mux.HandleFunc("DELETE /v1/services/{name}/endpoints/{address}", a.deleteEndpoint)
	mux.HandleFunc("GET /v1/events", a.events)
	mux.HandleFunc("/v1/services", methods("GET"))
	mux.HandleFunc("/v1/services/{name}", methods("GET, PUT, DELETE"))
	mux.HandleFunc("/v1/services/{name}/endpoints/{address}", methods("PUT, DELETE"))
	mux.HandleFunc("/v1/events", methods("GET"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, msg: "no such route: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The status page holds no data: it is the one route served
		// without a token (it asks for one, for the data it requests).
		if isUIPage(r) {
			serveUI(w, r)
			return
		}
		tok := a.authenticate(r)
		if tok == nil {
			// A client without a token gets no more of the server: its
			// connection is not kept for another try.
			w.Header().Set("WWW-Authenticate", `Bearer realm="tpdns"`)
			w.Header().Set("Connection", "close")
			a.host.lim.closed.WithLabelValues(closedUnauthorized).Inc()
			writeError(w, &apiError{status: http.StatusUnauthorized, msg: "a valid bearer token is required (Authorization: Bearer TOKEN)"})
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	})
}

// tokenKey is the context key of the token a request was authenticated
// with.
type tokenKey struct{}

// authenticate returns the token of r's "Authorization: Bearer TOKEN"
// header (the scheme in any case, RFC 7235), or nil. The token is hashed
// and looked up, never compared byte by byte.
func (a *apiServer) authenticate(r *http.Request) *apiToken {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return nil
	}
	return a.tokens.Load().lookup(token)
}

// requestToken is the token r was authenticated with.
func requestToken(r *http.Request) *apiToken {
	t, _ := r.Context().Value(tokenKey{}).(*apiToken)
	return t
}

// verbs name the actions in a 403.
var verbs = map[role]string{roleRead: "read", roleRegister: "register", roleWrite: "write", roleAdmin: "administer"}

// allowed reports whether the token of r may do act (the least role it
// needs) to the service name; if not, it replies 403.
func allowed(w http.ResponseWriter, r *http.Request, act role, name string) bool {
	tok := requestToken(r)
	if tok != nil && tok.may(act, name) {
		return true
	}
	who := "?"
	if tok != nil {
		who = tok.name
	}
	writeError(w, &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("token %s may not %s service %s", who, verbs[act], name)})
	return false
}

// logWrite logs a write that was applied: the method, what it changed and
// the token's name; never a secret.
func logWrite(r *http.Request, target string) {
	log.Printf("[INFO] plugin/thirdparty: api: %s %s by %s", r.Method, target, requestToken(r).name)
}

// etag is the ETag of a store service at revision rev.
func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }

func methods(allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, msg: r.Method + " is not allowed here; use " + allowed})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var (
		ae      *apiError
		clash   *registry.ClashError
		invalid *registry.InvalidError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &clash):
		ae = &apiError{status: http.StatusConflict, msg: clash.Error(), field: "name"}
	case errors.As(err, &invalid) && invalid.Endpoint >= 0:
		ae = endpointInvalid(invalid.Err, invalid.Endpoint)
	case errors.As(err, &invalid):
		ae = invalidBody(invalid.Err)
	case errors.Is(err, store.ErrUnavailable):
		storeUp.Set(0)
		ae = &apiError{status: http.StatusServiceUnavailable, msg: err.Error()}
	default:
		log.Printf("[ERROR] plugin/thirdparty: api: %v", err)
		ae = &apiError{status: http.StatusInternalServerError, msg: err.Error()}
	}
	if ae.etag != "" {
		w.Header().Set("ETag", ae.etag)
	}
	body := errorBody{Error: ae.msg, Field: ae.field}
	if len(ae.all) > 1 {
		for _, e := range ae.all {
			body.Errors = append(body.Errors, errorBody{Error: e.Msg, Field: e.Field})
		}
	}
	writeJSON(w, ae.status, body)
}

// invalidBody turns a validation error of the config package into a 400
// that names the field.
func invalidBody(err error) *apiError {
	var list config.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return &apiError{status: http.StatusBadRequest, msg: list[0].Msg, field: list[0].Field, all: list}
	}
	return &apiError{status: http.StatusBadRequest, msg: err.Error()}
}

// readBody reads at most maxBody bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, msg: "the body is over 1 MiB"}
	}
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, msg: "reading the body: " + err.Error()}
	}
	return b, nil
}

func (a *apiServer) list(w http.ResponseWriter, r *http.Request) {
	state := a.tp.reg.Snapshot()
	tok := requestToken(r)
	var out []serviceJSON
	for _, s := range state.File {
		if tok.may(roleRead, s.Name) {
			out = append(out, a.tp.describe(s, originFile, nil, ""))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(state.Stored)) {
		if !tok.may(roleRead, name) {
			continue
		}
		s := state.Stored[name]
		out = append(out, a.tp.describe(s.Service, originStore, s.Endpoints, state.Conflicts[name]))
	}
	slices.SortStableFunc(out, func(x, y serviceJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, struct {
		Services []serviceJSON `json:"services"`
	}{Services: append([]serviceJSON{}, out...)})
}

// get replies with one service. A store service's ETag is its revision
// (registry.Stored.Revision), which changes with its definition and its
// registered endpoints, not with their health. A file service has none:
// the API cannot write it, conditionally or not.
func (a *apiServer) get(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	if !allowed(w, r, roleRead, name) {
		return
	}
	state := a.tp.reg.Snapshot()
	if s, ok := state.FileService(name); ok {
		writeJSON(w, http.StatusOK, a.tp.describe(s, originFile, nil, ""))
		return
	}
	if s, ok := state.Stored[name]; ok {
		w.Header().Set("ETag", etag(s.Revision))
		writeJSON(w, http.StatusOK, a.tp.describe(s.Service, originStore, s.Endpoints, state.Conflicts[name]))
		return
	}
	writeError(w, notFound(name))
}

func notFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound, msg: "no service " + name, field: "name"}
}

func fileOwned(name string) *apiError {
	return &apiError{status: http.StatusConflict, msg: "service " + name + " is defined in the registry file; change it there", field: "name"}
}

// writeFailed replies to a write to the service name that failed.
func writeFailed(w http.ResponseWriter, name string, err error) {
	switch {
	case errors.Is(err, registry.ErrFileOwned):
		err = fileOwned(name)
	case errors.Is(err, registry.ErrNotFound):
		err = notFound(name)
	}
	writeError(w, err)
}

func (a *apiServer) putService(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	if !allowed(w, r, roleWrite, name) {
		return
	}
	cond, err := parseConditions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	svc, err := a.decodeService(name, body)
	if err != nil {
		writeError(w, err)
		return
	}
	created, stored, err := a.tp.reg.PutIf(r.Context(), svc, cond.precondition(name, false))
	if err != nil {
		writeFailed(w, name, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	logWrite(r, name)
	w.Header().Set("ETag", etag(stored.Revision))
	writeJSON(w, status, a.tp.describe(stored.Service, originStore, stored.Endpoints, ""))
}

// decodeService decodes a PUT body for the service name: its "name", when
// given, must be that name.
func (a *apiServer) decodeService(name string, body []byte) (config.Service, error) {
	// Before the name is added: a key given twice would be lost.
	if err := config.CheckJSON(body); err != nil {
		return config.Service{}, invalidBody(err)
	}
	var obj map[string]json.RawMessage
	if json.Valid(body) && json.Unmarshal(body, &obj) == nil && obj != nil {
		if raw, ok := obj["name"]; ok {
			var given string
			if json.Unmarshal(raw, &given) == nil && strings.ToLower(given) != name {
				return config.Service{}, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("%q differs from %q, the name in the path", given, name), field: "name"}
			}
		} else {
			obj["name"], _ = json.Marshal(name)
			body, _ = json.Marshal(obj)
		}
	}
	svc, err := config.DecodeJSON(body, a.tp.configOptions())
	if err != nil {
		return config.Service{}, invalidBody(err)
	}
	return svc, nil
}

func (a *apiServer) deleteService(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	if !allowed(w, r, roleWrite, name) {
		return
	}
	cond, err := parseConditions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := a.tp.reg.DeleteIf(r.Context(), name, cond.precondition(name, true)); err != nil {
		writeFailed(w, name, err)
		return
	}
	logWrite(r, name)
	w.WriteHeader(http.StatusNoContent)
}

// decodeEndpointBody decodes the optional body of PUT
// .../endpoints/{address}: strict JSON, a ttl from config.MinTTL to
// config.MaxTTL.
func decodeEndpointBody(b []byte) (config.EndpointPatch, error) {
	body, err := config.DecodeEndpointJSON(b)
	if err != nil {
		return body, invalidBody(err)
	}
	return body, nil
}

// canonicalAddress writes an address from a path the way the registry
// keeps it.
func canonicalAddress(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.String()
	}
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

func (a *apiServer) putEndpoint(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	addr := canonicalAddress(r.PathValue("address"))
	if !allowed(w, r, roleRegister, name) {
		return
	}
	raw, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := decodeEndpointBody(raw)
	if err != nil {
		writeError(w, err)
		return
	}
	created, stored, err := a.tp.reg.PutEndpoint(r.Context(), name, addr, body.Apply, body.TTL)
	if err != nil {
		writeFailed(w, name, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	logWrite(r, name+"/endpoints/"+addr)
	w.Header().Set("ETag", etag(stored.Revision))
	writeJSON(w, status, a.tp.describe(stored.Service, originStore, stored.Endpoints, ""))
}

// endpointInvalid reports the validation errors of endpoint i by the
// fields of the endpoint body ("port", not "endpoints[3].port").
func endpointInvalid(err error, i int) *apiError {
	ae := invalidBody(err)
	prefix := fmt.Sprintf("endpoints[%d]", i)
	trim := func(f string) string {
		if f == prefix {
			return "address"
		}
		return strings.TrimPrefix(f, prefix+".")
	}
	ae.field = trim(ae.field)
	for _, e := range ae.all {
		e.Field = trim(e.Field)
	}
	return ae
}

func (a *apiServer) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	addr := canonicalAddress(r.PathValue("address"))
	if !allowed(w, r, roleRegister, name) {
		return
	}
	err := a.tp.reg.DeleteEndpoint(r.Context(), name, addr)
	if errors.Is(err, registry.ErrNoEndpoint) {
		err = &apiError{status: http.StatusNotFound, msg: "service " + name + " has no endpoint " + addr, field: "address"}
	}
	if err != nil {
		writeFailed(w, name, err)
		return
	}
	logWrite(r, name+"/endpoints/"+addr)
	w.WriteHeader(http.StatusNoContent)
}

// The origins of a service.
const (
	originFile  = "file"
	originStore = "store"
)

// serviceJSON is a service as the API shows it: its document (secrets
// masked), where it comes from, and its endpoints' health.
type serviceJSON struct {
	config.Document
	Origin    string         `json:"origin"`
	Conflict  string         `json:"conflict,omitempty"`
	Endpoints []endpointJSON `json:"endpoints,omitempty"`
}

type endpointJSON struct {
	config.EndpointDoc
	Name    string     `json:"name,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	Health  healthJSON `json:"health"`
}

type healthJSON struct {
	State     string     `json:"state"`
	LastCheck *time.Time `json:"last_check,omitempty"`
	Latency   string     `json:"latency,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// describe renders s for the API.
func (tp *ThirdParty) describe(s config.Service, origin string, registered map[string]store.Endpoint, conflict string) serviceJSON {
	out := serviceJSON{Document: config.NewDocument(s).Redacted(), Origin: origin, Conflict: conflict}
	for i, ep := range s.Endpoints {
		e := endpointJSON{EndpointDoc: out.Document.Endpoints[i], Name: ep.Label}
		if deadline := registered[ep.Address].Expires; !deadline.IsZero() {
			e.Expires = &deadline
		}
		e.Health = tp.endpointHealth(&s, ep, conflict != "")
		out.Endpoints = append(out.Endpoints, e)
	}
	return out
}

func (tp *ThirdParty) endpointHealth(s *config.Service, ep config.Endpoint, notServed bool) healthJSON {
	st := tp.endpointStatus(s, ep, "")
	switch {
	case notServed && st.State != health.Disabled:
		return healthJSON{State: health.Unknown.String()}
	case s.Check.Type == config.CheckNone && st.State == health.Healthy:
		// Always up; a host name that does not resolve says why here.
		return healthJSON{State: st.State.String(), LastError: tp.hostError(ep)}
	case st.LastCheck.IsZero():
		return healthJSON{State: st.State.String()}
	}
	return healthJSON{State: st.State.String(), LastCheck: &st.LastCheck, Latency: st.LastLatency.Round(time.Microsecond).String(), LastError: st.LastError}
}
