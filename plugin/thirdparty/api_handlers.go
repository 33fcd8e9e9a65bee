package thirdparty

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/netip"
	"slices"
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
}

func (e *apiError) Error() string { return e.msg }

type errorBody struct {
	Error  string      `json:"error"`
	Field  string      `json:"field,omitempty"`
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
	mux.HandleFunc("/v1/services", methods("GET"))
	mux.HandleFunc("/v1/services/{name}", methods("GET, PUT, DELETE"))
	mux.HandleFunc("/v1/services/{name}/endpoints/{address}", methods("PUT, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, msg: "no such route: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tpdns"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, msg: "a valid bearer token is required (Authorization: Bearer TOKEN)"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

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
	var out []serviceJSON
	for _, s := range state.File {
		out = append(out, a.tp.describe(s, originFile, nil, ""))
	}
	for _, name := range slices.Sorted(maps.Keys(state.Stored)) {
		s := state.Stored[name]
		out = append(out, a.tp.describe(s.Service, originStore, s.Endpoints, state.Conflicts[name]))
	}
	slices.SortStableFunc(out, func(x, y serviceJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, struct {
		Services []serviceJSON `json:"services"`
	}{Services: append([]serviceJSON{}, out...)})
}

func (a *apiServer) get(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	state := a.tp.reg.Snapshot()
	if s, ok := state.FileService(name); ok {
		writeJSON(w, http.StatusOK, a.tp.describe(s, originFile, nil, ""))
		return
	}
	if s, ok := state.Stored[name]; ok {
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
	created, stored, err := a.tp.reg.Put(r.Context(), svc)
	if err != nil {
		writeFailed(w, name, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	log.Printf("[INFO] plugin/thirdparty: api: service %s %s", name, map[bool]string{true: "created", false: "replaced"}[created])
	writeJSON(w, status, a.tp.describe(stored.Service, originStore, stored.Endpoints, ""))
}

// decodeService decodes a PUT body for the service name: its "name", when
// given, must be that name.
func (a *apiServer) decodeService(name string, body []byte) (config.Service, error) {
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
	if err := a.tp.reg.Delete(r.Context(), name); err != nil {
		writeFailed(w, name, err)
		return
	}
	log.Printf("[INFO] plugin/thirdparty: api: service %s deleted", name)
	w.WriteHeader(http.StatusNoContent)
}

// endpointBody is the optional body of PUT .../endpoints/{address}.
type endpointBody struct {
	Port     *uint16 `json:"port"`
	Name     *string `json:"name"`
	Priority *uint16 `json:"priority"`
	Weight   *uint16 `json:"weight"`
	Disabled *bool   `json:"disabled"`
	TTL      *int64  `json:"ttl"` // seconds; the endpoint expires unless PUT again within it
}

func decodeEndpointBody(b []byte) (endpointBody, error) {
	var body endpointBody
	if len(bytes.TrimSpace(b)) == 0 {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return body, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("want %s, got %s", te.Type, te.Value), field: te.Field}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return body, &apiError{status: http.StatusBadRequest, msg: "unknown field", field: strings.Trim(f, `"`)}
		}
		return body, &apiError{status: http.StatusBadRequest, msg: "invalid JSON: " + err.Error()}
	}
	if dec.More() {
		return body, &apiError{status: http.StatusBadRequest, msg: "invalid JSON: data after the object"}
	}
	if body.TTL != nil && *body.TTL < 1 {
		return body, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("%d is not a number of seconds (1 or more)", *body.TTL), field: "ttl"}
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
	var ttl time.Duration
	if body.TTL != nil {
		ttl = time.Duration(*body.TTL) * time.Second
	}
	created, stored, err := a.tp.reg.PutEndpoint(r.Context(), name, addr, body.apply, ttl)
	if err != nil {
		writeFailed(w, name, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, a.tp.describe(stored.Service, originStore, stored.Endpoints, ""))
}

func (b endpointBody) apply(e *config.EndpointDoc) {
	if b.Port != nil {
		e.Port = *b.Port
	}
	if b.Name != nil {
		e.Name = *b.Name
	}
	if b.Priority != nil {
		e.Priority = *b.Priority
	}
	if b.Weight != nil {
		e.Weight = *b.Weight
	}
	if b.Disabled != nil {
		e.Disabled = *b.Disabled
	}
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
	err := a.tp.reg.DeleteEndpoint(r.Context(), name, addr)
	if errors.Is(err, registry.ErrNoEndpoint) {
		err = &apiError{status: http.StatusNotFound, msg: "service " + name + " has no endpoint " + addr, field: "address"}
	}
	if err != nil {
		writeFailed(w, name, err)
		return
	}
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
	out := serviceJSON{Document: config.NewDocument(s), Origin: origin, Conflict: conflict}
	if len(out.Secrets) > 0 {
		masked := make(map[string]string, len(out.Secrets))
		for k := range out.Secrets {
			masked[k] = "***"
		}
		out.Secrets = masked
	}
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
