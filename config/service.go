// Package config is the model of a third-party service and its decoding
// from the registry file (YAML) and the registration API (JSON), with
// validation whose every error names the place: file:line and field.
package config

import (
	"net/netip"
	"time"
)

// Defaults, applied by the decoder when a field is absent. The plugin's
// README lists each of them.
const (
	DefaultProtocol      = "tcp"
	DefaultWeight        = 1
	DefaultCheckType     = CheckNone
	DefaultCheckPath     = "/"
	DefaultCheckInterval = 10 * time.Second
	// DefaultCheckTimeout is the timeout of a check, or half its interval
	// when that is less.
	DefaultCheckTimeout = 2 * time.Second
	DefaultCheckRise    = 1
	DefaultCheckFall    = 3
	DefaultExpectMin    = 200
	DefaultExpectMax    = 399
)

// Check types. The database checks (package health, dbcheck_*.go) speak
// just enough of their protocol to tell a database that serves from a
// port that merely accepts, with no credentials.
const (
	CheckNone  = "none"
	CheckTCP   = "tcp"
	CheckHTTP  = "http"
	CheckHTTPS = "https"
	// CheckPostgres sends a PostgreSQL startup message.
	CheckPostgres = "postgres"
	// CheckMySQL reads the MySQL or MariaDB server's handshake.
	CheckMySQL = "mysql"
	// CheckRedis sends PING.
	CheckRedis = "redis"
	// CheckTNS asks an Oracle listener for Check.ServiceName.
	CheckTNS = "tns"
	// CheckMSSQL sends a SQL Server (TDS) pre-login message.
	CheckMSSQL = "mssql"
)

// Service is one third-party service: its name relative to the zone, the
// ports it offers, where it runs, and what clients need to use it.
type Service struct {
	// Name is relative to the zone and lower-case: "oracle.finance".
	Name string
	// Ports are the service's named ports, in the order given.
	Ports []Port
	// Endpoints are all IP addresses or all host names, never mixed.
	Endpoints []Endpoint
	// Connection is served as TXT "KEY=value" strings to every client.
	Connection map[string]string
	// Secrets are served as TXT "KEY=value" strings to clients in
	// SecretsAllow only.
	Secrets      map[string]string
	SecretsAllow []netip.Prefix
	// SecretsKeys are the TSIG keys (fully qualified, lower-case names)
	// whose validly signed queries get the secrets too, wherever they come
	// from.
	SecretsKeys []string
	// Allow lists who may resolve the service at all; empty: everyone.
	Allow []netip.Prefix
	// TTL overrides the plugin's ttl when set.
	TTL *uint32
	// Check is how the endpoints are probed.
	Check Check
}

// Port is a named port of a service.
type Port struct {
	Name     string // RFC 6335 service name: _Name._Protocol.service
	Number   uint16
	Protocol string // "tcp" or "udp"
}

// Endpoint is one place a service runs: an IP address or a host name.
type Endpoint struct {
	// Address is an IP address in canonical form (netip.Addr.String) or a
	// lower-case host name without the trailing dot.
	Address string
	// IP is Address parsed; the zero Addr for a host name.
	IP netip.Addr
	// Port replaces the number of the service's only port; 0 keeps it.
	Port uint16
	// Label names the endpoint inside the service (Label.Name.zone). It
	// defaults to Address with "." and ":" replaced by "-"; host names have
	// none.
	Label    string
	Priority uint16
	Weight   uint16
	// Disabled endpoints are never answered or probed.
	Disabled bool
}

// IsHost reports whether the endpoint is a host name, not an IP address.
func (e Endpoint) IsHost() bool { return !e.IP.IsValid() }

// Check says how to probe a service's endpoints.
type Check struct {
	Type string // one of the Check constants: CheckNone, CheckTCP, ...
	// ServiceName is the Oracle service a tns check asks the listener for
	// (required there, meaningless to the other types).
	ServiceName string
	// Port is a port name or number as written; empty: the endpoint's
	// first port.
	Port string
	// Path, Host, Headers, ExpectMin/Max and TLSSkipVerify apply to http
	// and https checks only.
	Path          string
	Host          string
	Headers       map[string]string
	ExpectMin     int
	ExpectMax     int
	TLSSkipVerify bool
	Interval      time.Duration
	Timeout       time.Duration
	Rise          int
	Fall          int
}
