package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of the global flags.
const (
	defaultServer  = "http://127.0.0.1:8053"
	defaultOutput  = outputTable
	defaultTimeout = 10 * time.Second
)

// Output formats.
const (
	outputTable = "table"
	outputWide  = "wide" // the table with more columns
	outputJSON  = "json" // the API's reply
	outputYAML  = "yaml" // a registry file where the command shows services, else the reply
)

// options are the flags of one invocation: the global ones and those of
// its command.
type options struct {
	server    string
	tokenFile string
	output    string
	timeout   time.Duration
	help      bool

	file        string          // services apply and create
	ifMatch     string          // services apply and delete
	omitSecrets bool            // services export
	endpoint    endpointOptions // endpoints add and heartbeat
	verbose     bool            // endpoints heartbeat
	dns         string          // env
	zone        string
	tsigKey     string
}

// endpointOptions are the optional fields of an endpoint PUT. Only those
// given on the command line are sent, so that an update leaves the rest.
type endpointOptions struct {
	port     uint16
	name     string
	priority uint16
	weight   uint16
	disabled bool
	ttl      time.Duration
}

// flagGroup defines some flags on fs, bound to o.
type flagGroup func(fs *pflag.FlagSet, o *options)

// newFlagSet returns a flag set with the groups' flags, which parses
// flags and words in any order and prints nothing itself: the errors are
// ours to word.
func newFlagSet(o *options, groups ...flagGroup) *pflag.FlagSet {
	fs := pflag.NewFlagSet("tpdnsctl", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	for _, g := range groups {
		if g != nil {
			g(fs, o)
		}
	}
	return fs
}

// globalFlags are the flags of every command.
func globalFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.server, "server", defaultServer, "the tpdns API at `URL` (env TPDNS_SERVER)")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the bearer token from `PATH` (else env TPDNS_TOKEN)")
	fs.StringVarP(&o.output, "output", "o", defaultOutput, "output `FORMAT`: table, wide, json or yaml, as the command has them")
	o.timeout = defaultTimeout
	fs.Var(&durationValue{d: &o.timeout}, "timeout", "give up on a request after `DURATION` (10s, or 10 for seconds)")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help")
}

// fileFlags are the flags of services create.
func fileFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVarP(&o.file, "filename", "f", "", "the registry `FILE` (YAML) to apply")
}

// applyFlags are the flags of services apply.
func applyFlags(fs *pflag.FlagSet, o *options) {
	fileFlags(fs, o)
	ifMatchFlags(fs, o)
}

// ifMatchFlags are the flags of a conditional write of a service.
func ifMatchFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.ifMatch, "if-match", "", "only if the service is still at `ETAG`, as services get shows it")
}

// endpointFlags are the flags of endpoints add and heartbeat.
func endpointFlags(fs *pflag.FlagSet, o *options) {
	e := &o.endpoint
	fs.Var(&uint16Value{&e.port}, "port", "the endpoint's `PORT`, for a service of one port (0: the service's)")
	fs.StringVar(&e.name, "name", "", "the endpoint's `LABEL` in DNS")
	fs.Var(&uint16Value{&e.priority}, "priority", "SRV priority `N`, 0-65535")
	fs.Var(&uint16Value{&e.weight}, "weight", "SRV weight `N`, 0-65535")
	fs.BoolVar(&e.disabled, "disabled", false, "take the endpoint out of DNS (--disabled=false puts it back)")
	fs.Var(&durationValue{d: &e.ttl}, "ttl", "expire the endpoint unless renewed within `DURATION` (30s, or 30 for seconds; 1s to 24h, rounded up to whole seconds)")
}

// heartbeatFlags are the flags of endpoints heartbeat.
func heartbeatFlags(fs *pflag.FlagSet, o *options) {
	endpointFlags(fs, o)
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print each renewal")
}

// exportFlags are the flags of services export.
func exportFlags(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.omitSecrets, "omit-secrets", false, "leave out the secrets and check headers the API does not show (applying the file removes them)")
}

// envFlags are the flags of env.
func envFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.dns, "dns", "", "ask the DNS server at `ADDRESS` (env TPDNS_DNS; default the first of /etc/resolv.conf)")
	fs.StringVar(&o.zone, "zone", defaultZone, "the `ZONE` of the service's name (env TPDNS_ZONE)")
	fs.StringVar(&o.tsigKey, "tsig-key", "", "sign the query with the TSIG key in `FILE` (named.conf form, as tsig-keygen writes)")
}

// durationValue is a duration flag that takes a Go duration ("30s", "1m")
// or a number of seconds ("30", "1.5"), as the API does.
type durationValue struct {
	d    *time.Duration
	text string // as given
}

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d, v.text = d, s
	return nil
}

func (v *durationValue) Type() string { return "duration" }

// String is the value as given, else as a duration; "0" for none, which
// the help does not show as a default.
func (v *durationValue) String() string {
	switch {
	case v.text != "":
		return v.text
	case v.d == nil || *v.d == 0:
		return "0"
	}
	return v.d.String()
}

// parseDuration parses a Go duration or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	text := s
	if _, err := strconv.ParseFloat(s, 64); err == nil && strings.Trim(s, "+-.0123456789") == "" {
		text += "s"
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, errors.New(`want a duration such as "30s" or a number of seconds`)
	}
	return d, nil
}

// uint16Value is a flag of a number from 0 to 65535 that says so when
// given one outside (pflag's own says "must be a non-negative integer").
type uint16Value struct{ v *uint16 }

func (v *uint16Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && (n < 0 || n > math.MaxUint16):
		return fmt.Errorf("out of range 0-%d", math.MaxUint16)
	case err != nil:
		return fmt.Errorf("want an integer from 0 to %d", math.MaxUint16)
	}
	*v.v = uint16(n)
	return nil
}

func (v *uint16Value) Type() string { return "uint16" }

func (v *uint16Value) String() string {
	if v.v == nil {
		return "0"
	}
	return strconv.Itoa(int(*v.v))
}
