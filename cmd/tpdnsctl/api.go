package main

import (
	"encoding/json"

	// Named so: health is the command that shows it.
	endpointhealth "github.com/tpdns/tpdns/health"
)

// Health states, as the API writes them.
const (
	stateHealthy   = "healthy"
	stateUnhealthy = "unhealthy"
	stateUnknown   = "unknown"
	stateDisabled  = "disabled"
)

// The types below are the API's replies, as far as tpdnsctl shows them.
// They are decoded leniently: a field the server adds is ignored, and one
// it leaves out reads as empty.

// serviceList is the reply of GET /v1/services.
type serviceList struct {
	Services []service `json:"services"`
}

// service is the reply of GET /v1/services/{name}: the registry's service
// with its origin and its endpoints' health.
type service struct {
	Name         string            `json:"name"`
	Origin       string            `json:"origin"`
	Conflict     string            `json:"conflict"`
	Ports        []port            `json:"ports"`
	Endpoints    []endpoint        `json:"endpoints"`
	Connection   map[string]string `json:"connection"`
	Secrets      map[string]string `json:"secrets"`
	SecretsAllow []string          `json:"secrets_allow"`
	Allow        []string          `json:"allow"`
	TTL          *int64            `json:"ttl"`
	Check        *check            `json:"check"`
	// ETag is the header of GET: a store service's revision.
	ETag string `json:"-"`
}

type port struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

type endpoint struct {
	Address  string `json:"address"`
	Port     int    `json:"port"`
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Weight   int    `json:"weight"`
	Disabled bool   `json:"disabled"`
	Expires  string `json:"expires"`
	Health   struct {
		State string `json:"state"`
		// LastCheck is RFC 3339, or empty before the first probe.
		LastCheck string `json:"last_check"`
		Latency   string `json:"latency"`
		LastError string `json:"last_error"`
	} `json:"health"`
}

type check struct {
	Type          string            `json:"type"`
	Port          text              `json:"port"`
	Path          string            `json:"path"`
	Host          string            `json:"host"`
	Headers       map[string]string `json:"headers"`
	Expect        text              `json:"expect"`
	TLSSkipVerify bool              `json:"tls_skip_verify"`
	Interval      text              `json:"interval"`
	Timeout       text              `json:"timeout"`
	Rise          int               `json:"rise"`
	Fall          int               `json:"fall"`
}

// text is a JSON string, or another scalar kept as written: a check's
// port is a name or a number, its expected status "200-399" or 200.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	switch {
	case string(b) == "null":
	case json.Unmarshal(b, &s) == nil:
		*t = text(s)
	default:
		*t = text(b)
	}
	return nil
}

// state is the endpoint's health state. A disabled endpoint is disabled
// whatever the prober last said, and one without a state is unknown.
func (e endpoint) state() string {
	switch {
	case e.Disabled:
		return stateDisabled
	case e.Health.State == "":
		return stateUnknown
	}
	return e.Health.State
}

// upTotal counts the endpoints that DNS answers with (healthy, or unknown
// as they are before the first probe) and those not disabled.
func (s service) upTotal() (up, total int) {
	for _, e := range s.Endpoints {
		st := endpointhealth.ParseState(e.state())
		if st == endpointhealth.Disabled {
			continue
		}
		if st.Serving() {
			up++
		}
		total++
	}
	return up, total
}
