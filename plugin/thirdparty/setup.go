package thirdparty

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/hostname"
	"github.com/tpdns/tpdns/plugin"
)

// Defaults of the Corefile properties.
const (
	defaultTTL        = 10
	defaultGuard      = 50 // percent
	defaultGuardHold  = 10 * time.Minute
	defaultReload     = 5 * time.Second
	defaultTokenFile  = "tpdns.token"
	defaultEtcdPrefix = "/tpdns"
	defaultResolver   = "/etc/resolv.conf"
)

func init() { plugin.Register("thirdparty", Setup) }

// Setup parses a thirdparty directive, loads its registry file and returns
// the plugin. It is exported so that a stock CoreDNS build can wire the
// same plugin (see the coredns module).
func Setup(c *caddy.Controller) (plugin.Plugin, error) {
	opts, err := parse(c)
	if err != nil {
		return nil, err
	}
	tp, err := newThirdParty(opts)
	if err != nil {
		return nil, err
	}
	// Kept in the instance, so that the next configuration can take over
	// the health of the endpoints (see inherit).
	others, _ := c.Get(storageKey).([]*ThirdParty)
	c.Set(storageKey, append(others, tp))
	plugin.ReportReadiness(c, tp)
	c.OnStartup(func() error { return tp.start(c) })
	c.OnShutdown(tp.stop)
	return func(next plugin.Handler) plugin.Handler { return &Handler{tp: tp, Next: next} }, nil
}

// options are what the Corefile says.
type options struct {
	zones    []string // forward zones first, in the order given
	reverse  []string // in-addr.arpa. and ip6.arpa. zones
	services string   // path of the registry file
	// servicesMaxSize is the largest registry file read
	// (services_max_size); 0: config.DefaultMaxSize.
	servicesMaxSize int64
	reload          time.Duration
	ttl             uint32
	maxAnswers      int
	fall            []string // zones whose unknown names go to the next plugin; nil: none
	panic           bool
	probes          int // health_concurrency
	// healthSharing: the replicas on the etcd store share the probing.
	healthSharing bool
	// guard is the percentage of healthy endpoints failing together above
	// which the checker is taken to be cut off (0: never), guardHold the
	// longest it holds them.
	guard     int
	guardHold time.Duration
	store     storeOptions
	kube      *kubeOptions // nil: no Kubernetes source
	api       apiOptions
	// resolvers are where host-name endpoints outside the zones are
	// resolved (HOST:PORT); nil: those of defaultResolver.
	resolvers []string
}

// kubeOptions configure the Kubernetes source: ThirdPartyService objects.
type kubeOptions struct {
	kubeconfig     string // "": in-cluster
	namespaces     []string
	selector       labels.Selector
	status         bool // write health into the objects' status
	endpointSlices bool // publish the healthy endpoints as EndpointSlices
}

// parseKubeProperty parses one line of the kubernetes block.
func parseKubeProperty(c *caddy.Controller, o *kubeOptions) error {
	prop, args := c.Val(), c.RemainingArgs()
	switch prop {
	case "namespaces":
		if len(args) == 0 {
			return c.ArgErr()
		}
		o.namespaces = args
	case "labels":
		if len(args) == 0 {
			return c.ArgErr()
		}
		sel, err := labels.Parse(strings.Join(args, " "))
		if err != nil {
			return c.Errf("kubernetes labels: %v", err)
		}
		o.selector = sel
	case "status", "endpointslices":
		if len(args) != 0 {
			return c.ArgErr()
		}
		if prop == "status" {
			o.status = true
		} else {
			o.endpointSlices = true
		}
	default:
		return c.Errf("kubernetes: unknown property %q", prop)
	}
	return nil
}

// storeOptions say where API-registered services are kept.
type storeOptions struct {
	kind string // "bolt" or "etcd"; "" for none
	path string // bolt

	endpoints                 []string // etcd
	prefix                    string
	certFile, keyFile, caFile string
	username, password        string
	// snapshot is the file of the last registry read from etcd, served
	// when a replica starts while etcd cannot be reached: "" for the
	// default (defaultSnapshotPath), snapshotOff for none.
	snapshot string
}

// key identifies the store, for handing it over on a reload.
func (o storeOptions) key() string { return fmt.Sprintf("%+v", o) }

// apiOptions configure the registration API; addr "" turns it off.
type apiOptions struct {
	addr      string
	tokenFile string
	certFile  string
	keyFile   string
	// tokensFile names more tokens, with roles and scopes; tokens are
	// those it held when the Corefile was read, tokensData its content.
	tokensFile string
	tokens     []fileToken
	tokensData []byte
	limits     apiLimits
}

func parse(c *caddy.Controller) (options, error) {
	o := options{reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency, guard: defaultGuard, guardHold: defaultGuardHold}
	i := 0
	for c.Next() {
		if i++; i > 1 {
			return o, c.Err("thirdparty may appear once per server block")
		}
		if err := checkKeys(c.ServerBlockKeys); err != nil {
			return o, c.Err(err.Error())
		}
		zones, err := zonesOf(c.RemainingArgs(), c.ServerBlockKeys)
		if err != nil {
			return o, c.Err(err.Error())
		}
		for _, z := range zones {
			if isReverse(z) {
				o.reverse = append(o.reverse, z)
			} else {
				o.zones = append(o.zones, z)
			}
		}
		if len(o.zones) == 0 {
			return o, c.Err("a forward zone is needed: PTR records point into it")
		}
		for c.NextBlock() {
			if err := parseProperty(c, &o); err != nil {
				return o, err
			}
		}
		if o.services == "" && o.store.kind == "" && o.kube == nil {
			return o, c.Err("no registry: give services FILE, a store, kubernetes, or more of them")
		}
		if o.api.addr != "" && o.store.kind == "" {
			return o, c.Err("api needs a store to keep what it registers: add store bolt PATH")
		}
		if o.healthSharing && o.store.kind != "etcd" {
			return o, c.Err("health_sharing needs store etcd: the replicas share the probing through it")
		}
	}
	return o, nil
}

func parseProperty(c *caddy.Controller, o *options) error {
	prop := c.Val()
	args := c.RemainingArgs()
	one := func() (string, error) {
		if len(args) != 1 {
			return "", c.ArgErr()
		}
		return args[0], nil
	}
	switch prop {
	case "services":
		path, err := one()
		if err != nil {
			return err
		}
		o.services = relative(c, path)
	case "services_max_size":
		s, err := one()
		if err != nil {
			return err
		}
		n, err := config.ParseSize(s)
		if err != nil {
			return c.Errf("services_max_size: %v", err)
		}
		o.servicesMaxSize = n
	case "store":
		if len(args) < 2 {
			return c.ArgErr()
		}
		switch args[0] {
		case "bolt":
			if len(args) != 2 {
				return c.ArgErr()
			}
			o.store = storeOptions{kind: "bolt", path: relative(c, args[1])}
		case "etcd":
			o.store = storeOptions{kind: "etcd", endpoints: args[1:], prefix: defaultEtcdPrefix}
			if err := parseNested(c, func() error { return parseEtcdProperty(c, &o.store) }); err != nil {
				return err
			}
		default:
			return c.Errf("store: unknown kind %q (bolt or etcd)", args[0])
		}
	case "kubernetes":
		if len(args) > 1 {
			return c.ArgErr()
		}
		if o.kube != nil {
			return c.Err("kubernetes may appear once")
		}
		o.kube = &kubeOptions{}
		if len(args) == 1 {
			o.kube.kubeconfig = relative(c, args[0])
		}
		if err := parseNested(c, func() error { return parseKubeProperty(c, o.kube) }); err != nil {
			return err
		}
	case "api":
		addr, err := one()
		if err != nil {
			return err
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return c.Errf("api: %q is not HOST:PORT", addr)
		}
		o.api = apiOptions{addr: addr, tokenFile: relative(c, defaultTokenFile), limits: defaultAPILimits}
		if err := parseNested(c, func() error { return parseAPIProperty(c, &o.api) }); err != nil {
			return err
		}
	case "reload":
		s, err := one()
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return c.Errf("reload: invalid duration %q", s)
		}
		o.reload = d
	case "ttl":
		s, err := one()
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n > 1<<31-1 {
			return c.Errf("ttl: %q is not a number of seconds between 0 and 2147483647", s)
		}
		o.ttl = uint32(n)
	case "max_answers":
		s, err := one()
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return c.Errf("max_answers: %q is not a number of records (0: all)", s)
		}
		o.maxAnswers = n
	case "panic":
		if len(args) > 0 {
			return c.ArgErr()
		}
		o.panic = true
	case "guard":
		if len(args) < 1 || len(args) > 2 {
			return c.ArgErr()
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 100 {
			return c.Errf("guard: %q is not a percentage (0 to 100; 0 turns the guard off)", args[0])
		}
		o.guard = n
		if len(args) == 2 {
			d, err := time.ParseDuration(args[1])
			if err != nil || d <= 0 {
				return c.Errf("guard: %q is not a duration such as 10m", args[1])
			}
			o.guardHold = d
		}
	case "health_sharing":
		if len(args) != 0 {
			return c.ArgErr()
		}
		o.healthSharing = true
	case "health_concurrency":
		s, err := one()
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c.Errf("health_concurrency: %q is not a number of probes (1 or more)", s)
		}
		o.probes = n
	case "resolver":
		if len(args) == 0 {
			return c.ArgErr()
		}
		o.resolvers = nil
		for _, a := range args {
			servers, err := resolverAddresses(c, a)
			if err != nil {
				return c.Errf("resolver: %v", err)
			}
			o.resolvers = append(o.resolvers, servers...)
		}
	case "fallthrough":
		o.fall = append([]string{}, o.zones...)
		o.fall = append(o.fall, o.reverse...)
		if len(args) > 0 {
			zones, err := zonesOf(args, nil)
			if err != nil {
				return c.Err(err.Error())
			}
			o.fall = zones
		}
	default:
		return c.Errf("unknown property %q", prop)
	}
	return nil
}

// resolverAddresses reads one ADDRESS of resolver, as CoreDNS's forward
// reads its TO: an IP (port 53), IP:PORT, or a resolv.conf file.
func resolverAddresses(c *caddy.Controller, a string) ([]string, error) {
	a = strings.TrimPrefix(a, "dns://")
	if ip, err := netip.ParseAddr(a); err == nil {
		return []string{netip.AddrPortFrom(ip, 53).String()}, nil
	}
	if ap, err := netip.ParseAddrPort(a); err == nil {
		return []string{ap.String()}, nil
	}
	servers, err := hostname.ServersFromFile(relative(c, a))
	if err != nil {
		return nil, fmt.Errorf("%q is not IP, IP:PORT or a resolv.conf file: %w", a, err)
	}
	return servers, nil
}

// parseNested reads the block a property may open on its line, one
// property line at a time. caddy's NextBlock would take the lines after a
// property without a block for its own.
func parseNested(c *caddy.Controller, property func() error) error {
	if !c.NextArg() {
		return nil
	}
	if c.Val() != "{" {
		return c.ArgErr()
	}
	for c.Next() && c.Val() != "}" {
		if err := property(); err != nil {
			return err
		}
	}
	return nil
}

func parseEtcdProperty(c *caddy.Controller, o *storeOptions) error {
	prop, args := c.Val(), c.RemainingArgs()
	switch prop {
	case "prefix":
		if len(args) != 1 || !strings.HasPrefix(args[0], "/") {
			return c.Errf("store etcd prefix: want one path starting with /")
		}
		o.prefix = strings.TrimSuffix(args[0], "/")
	case "tls":
		if len(args) != 3 {
			return c.ArgErr()
		}
		o.certFile, o.keyFile, o.caFile = relative(c, args[0]), relative(c, args[1]), relative(c, args[2])
	case "credentials":
		if len(args) != 2 {
			return c.ArgErr()
		}
		o.username, o.password = args[0], args[1]
	case "snapshot":
		if len(args) != 1 {
			return c.Errf("store etcd snapshot: want one PATH, or off")
		}
		o.snapshot = snapshotOff
		if args[0] != snapshotOff {
			o.snapshot = relative(c, args[0])
		}
	default:
		return c.Errf("unknown store etcd property %q", prop)
	}
	return nil
}

func parseAPIProperty(c *caddy.Controller, o *apiOptions) error {
	prop, args := c.Val(), c.RemainingArgs()
	switch prop {
	case "token_file":
		if len(args) != 1 {
			return c.ArgErr()
		}
		o.tokenFile = relative(c, args[0])
	case "tls":
		if len(args) != 2 {
			return c.ArgErr()
		}
		o.certFile, o.keyFile = relative(c, args[0]), relative(c, args[1])
		if _, err := tls.LoadX509KeyPair(o.certFile, o.keyFile); err != nil {
			return c.Errf("api tls: %v", err)
		}
	case "tokens":
		if len(args) != 1 {
			return c.ArgErr()
		}
		o.tokensFile = relative(c, args[0])
		tokens, data, err := loadTokens(o.tokensFile)
		var list config.ErrorList
		if errors.As(err, &list) {
			return fmt.Errorf("api tokens %s is invalid:\n%w", o.tokensFile, err)
		}
		if err != nil {
			return c.Err(err.Error())
		}
		o.tokens, o.tokensData = tokens, data
	case "read_header_timeout", "idle_timeout":
		if len(args) != 1 {
			return c.ArgErr()
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d <= 0 {
			return c.Errf("api %s: %q is not a positive duration", prop, args[0])
		}
		if prop == "read_header_timeout" {
			o.limits.readHeaderTimeout = d
		} else {
			o.limits.idleTimeout = d
		}
	case "max_connections":
		if len(args) != 1 {
			return c.ArgErr()
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return c.Errf("api max_connections: %q is not a number of connections (1 or more)", args[0])
		}
		o.limits.maxConnections = n
	default:
		return c.Errf("unknown api property %q", prop)
	}
	return nil
}

// relative resolves path against the Corefile's directory, so that a
// Corefile and the files it names can be moved together.
func relative(c *caddy.Controller, path string) string {
	if filepath.IsAbs(path) || c.File() == "stdin" {
		return path
	}
	return filepath.Join(filepath.Dir(c.File()), path)
}

// zonesOf normalizes the zones given, or those of the server block keys.
func zonesOf(args, keys []string) ([]string, error) {
	var zones []string
	if len(args) > 0 {
		for _, a := range args {
			z, err := plugin.NormalizeZone(a)
			if err != nil {
				return nil, err
			}
			zones = append(zones, z...)
		}
		return zones, nil
	}
	for _, k := range keys {
		addrs, err := plugin.ParseKey(k, "53")
		if err != nil {
			return nil, fmt.Errorf("server block key %w", err)
		}
		for _, a := range addrs {
			zones = append(zones, a.Zone)
		}
	}
	return zones, nil
}

// checkKeys refuses a server block with a key that names no zone a query
// could reach. tpdns refuses such keys itself, but CoreDNS takes
// "[2001:db8::/32]:1053" for a zone literally named "[2001:db8::/32]." and
// would start, answering none of the PTR queries the key was meant for.
// The keys are checked even when thirdparty names its zones, since the
// block still serves only its keys'. The transport does not matter here:
// CoreDNS may serve a block over dns://, tls:// or others.
func checkKeys(keys []string) error {
	for _, k := range keys {
		s := k
		if _, rest, ok := strings.Cut(k, "://"); ok {
			s = rest // once: CoreDNS's key for "DNS://x" is "dns://dns://x.:53"
		}
		if _, err := plugin.ParseHostPort(s, "53"); err != nil {
			return fmt.Errorf("server block key %q: %w", k, err)
		}
	}
	return nil
}

func isReverse(zone string) bool {
	return strings.HasSuffix(zone, "in-addr.arpa.") || strings.HasSuffix(zone, "ip6.arpa.") || zone == "arpa."
}
