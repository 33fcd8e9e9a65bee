package main

import (
	"io"
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
	outputJSON  = "json"
)

// options are the flags of one invocation: the global ones and those of
// its command.
type options struct {
	server    string
	tokenFile string
	output    string
	timeout   time.Duration
	help      bool

	file     string          // services apply and create
	ifMatch  string          // services apply and delete
	endpoint endpointOptions // endpoints add and heartbeat
	dns      string          // env
	zone     string
	tsigKey  string
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
	fs.StringVarP(&o.output, "output", "o", defaultOutput, "output `FORMAT`: table or json")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "give up on a request after `DURATION`")
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
	fs.Uint16Var(&e.port, "port", 0, "the endpoint's `PORT`, for a service of one port")
	fs.StringVar(&e.name, "name", "", "the endpoint's `LABEL` in DNS")
	fs.Uint16Var(&e.priority, "priority", 0, "SRV priority `N`")
	fs.Uint16Var(&e.weight, "weight", 0, "SRV weight `N`")
	fs.BoolVar(&e.disabled, "disabled", false, "take the endpoint out of DNS (--disabled=false puts it back)")
	fs.DurationVar(&e.ttl, "ttl", 0, "expire the endpoint unless renewed within `DURATION` (whole seconds, rounded up)")
}

// envFlags are the flags of env.
func envFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.dns, "dns", "", "ask the DNS server at `ADDRESS` (env TPDNS_DNS; default the first of /etc/resolv.conf)")
	fs.StringVar(&o.zone, "zone", defaultZone, "the `ZONE` of the service's name (env TPDNS_ZONE)")
	fs.StringVar(&o.tsigKey, "tsig-key", "", "sign the query with the TSIG key in `FILE` (named.conf form, as tsig-keygen writes)")
}
