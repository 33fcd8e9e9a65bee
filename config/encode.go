package config

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Document is a service as the registration API shows it: the registry's
// fields, with their names. DecodeJSON reads what EncodeJSON writes.
type Document struct {
	Name         string            `json:"name"`
	Ports        []PortDocument    `json:"ports,omitempty"`
	Endpoints    []EndpointDoc     `json:"endpoints,omitempty"`
	Connection   map[string]string `json:"connection,omitempty"`
	Secrets      map[string]string `json:"secrets,omitempty"`
	SecretsAllow []string          `json:"secrets_allow,omitempty"`
	SecretsKeys  []string          `json:"secrets_keys,omitempty"`
	Allow        []string          `json:"allow,omitempty"`
	TTL          *uint32           `json:"ttl,omitempty"`
	Check        *CheckDocument    `json:"check,omitempty"`
}

// PortDocument is a Port in a Document.
type PortDocument struct {
	Name     string `json:"name"`
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"`
}

// EndpointDoc is an Endpoint in a Document, always in the long form.
type EndpointDoc struct {
	Address  string `json:"address"`
	Port     uint16 `json:"port,omitempty"`
	Name     string `json:"name,omitempty"`
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Disabled bool   `json:"disabled"`
}

// CheckDocument is a Check in a Document; absent when the type is none.
type CheckDocument struct {
	Type          string            `json:"type"`
	ServiceName   string            `json:"service_name,omitempty"`
	Port          string            `json:"port,omitempty"`
	Path          string            `json:"path,omitempty"`
	Host          string            `json:"host,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Expect        string            `json:"expect,omitempty"`
	TLSSkipVerify bool              `json:"tls_skip_verify,omitempty"`
	Interval      string            `json:"interval"`
	Timeout       string            `json:"timeout"`
	Rise          int               `json:"rise"`
	Fall          int               `json:"fall"`
}

// NewDocument renders s for JSON.
func NewDocument(s Service) Document {
	d := Document{Name: s.Name, Connection: s.Connection, Secrets: s.Secrets, SecretsKeys: s.SecretsKeys, TTL: s.TTL}
	for _, p := range s.Ports {
		d.Ports = append(d.Ports, PortDocument{Name: p.Name, Port: p.Number, Protocol: p.Protocol})
	}
	for _, ep := range s.Endpoints {
		e := EndpointDoc{Address: ep.Address, Port: ep.Port, Priority: ep.Priority, Weight: ep.Weight, Disabled: ep.Disabled}
		if !ep.IsHost() && ep.Label != dashLabel(ep.Address) {
			e.Name = ep.Label
		}
		d.Endpoints = append(d.Endpoints, e)
	}
	for _, p := range s.SecretsAllow {
		d.SecretsAllow = append(d.SecretsAllow, p.String())
	}
	for _, p := range s.Allow {
		d.Allow = append(d.Allow, p.String())
	}
	if c := s.Check; c.Type != CheckNone && c.Type != "" {
		d.Check = &CheckDocument{
			Type: c.Type, ServiceName: c.ServiceName, Port: c.Port, Path: c.Path, Host: c.Host, Headers: c.Headers,
			Expect: expectString(c.ExpectMin, c.ExpectMax), TLSSkipVerify: c.TLSSkipVerify,
			Interval: durationString(c.Interval), Timeout: durationString(c.Timeout), Rise: c.Rise, Fall: c.Fall,
		}
	}
	return d
}

// Masked is what the API shows in place of a value it never shows.
const Masked = "***"

// Redacted returns d as the API shows it to anyone: the values of its
// secrets and of its check's headers (which carry credentials, such as an
// Authorization header) replaced by Masked, their keys kept. d itself, and
// the maps it shares with its Service, are left as they are.
func (d Document) Redacted() Document {
	d.Secrets = masked(d.Secrets)
	if d.Check != nil && len(d.Check.Headers) > 0 {
		c := *d.Check
		c.Headers = masked(c.Headers)
		d.Check = &c
	}
	return d
}

// masked returns a copy of m with every value Masked; nil for an empty m.
func masked(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = Masked
	}
	return out
}

// EncodeJSON renders s as the JSON object of the registration API.
func EncodeJSON(s Service) ([]byte, error) { return json.Marshal(NewDocument(s)) }

func expectString(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// durationString drops the zero units time.Duration.String writes ("10m0s").
func durationString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
