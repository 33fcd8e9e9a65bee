package rrl

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func init() { plugin.Register("rrl", setup) }

// The defaults: CoreDNS's rrl's (window, prefix lengths, table size),
// Knot's rate, and BIND's and Knot's slip.
const (
	defaultWindow             = 15 // seconds
	defaultIPv4PrefixLength   = 24
	defaultIPv6PrefixLength   = 56
	defaultResponsesPerSecond = 20
	defaultSlipRatio          = 2
	defaultMaxTableSize       = 100000
)

// defaultExempt are the prefixes never limited unless exempt says
// otherwise: loopback.
var defaultExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// The bounds of the options.
const (
	maxWindow       = 3600 // seconds, as BIND
	maxSlipRatio    = 10   // as BIND and CoreDNS
	maxMaxTableSize = 10000000
)

func setup(c *caddy.Controller) (plugin.Plugin, error) {
	cfg, err := parse(c)
	if err != nil {
		return nil, err
	}
	inst := &instance{}
	c.OnShutdown(inst.stop)
	return func(next plugin.Handler) plugin.Handler {
		return &RRL{Next: next, cfg: cfg, inst: inst}
	}, nil
}

// parse reads the block's rrl directive:
//
//	rrl [ZONES...] {
//	    window SECONDS
//	    ipv4-prefix-length LENGTH
//	    ipv6-prefix-length LENGTH
//	    responses-per-second ALLOWANCE
//	    nodata-per-second ALLOWANCE
//	    nxdomains-per-second ALLOWANCE
//	    referrals-per-second ALLOWANCE
//	    errors-per-second ALLOWANCE
//	    slip-ratio N
//	    max-table-size SIZE
//	    report-only
//	    exempt none|PREFIX...
//	}
func parse(c *caddy.Controller) (*config, error) {
	c.Next()
	zones, err := plugin.ZonesOf(c.RemainingArgs(), c.ServerBlockKeys)
	if err != nil {
		return nil, c.Err(err.Error())
	}
	cfg := &config{
		zones:     zones,
		window:    defaultWindow * second,
		v4Bits:    defaultIPv4PrefixLength,
		v6Bits:    defaultIPv6PrefixLength,
		slip:      defaultSlipRatio,
		tableSize: defaultMaxTableSize,
		exempt:    defaultExempt,
	}
	var (
		allowance [kinds]float64
		set       [kinds]bool
		exempt    bool
	)
	allowance[kindAnswer], set[kindAnswer] = defaultResponsesPerSecond, true
	perSecond := map[string]kind{
		"responses-per-second": kindAnswer, "nodata-per-second": kindNodata,
		"nxdomains-per-second": kindNXDomain, "referrals-per-second": kindReferral,
		"errors-per-second": kindError,
	}
	for c.NextBlock() {
		option := c.Val()
		args := c.RemainingArgs()
		if k, ok := perSecond[option]; ok {
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			f, err := strconv.ParseFloat(args[0], 64)
			// Below minAllowance the interval between two responses would
			// overflow into no limit at all.
			if err != nil || f < 0 || f > 0 && f < minAllowance || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, c.Errf("%s %q: want a number of responses, 0 (no limit) or from %g", option, args[0], minAllowance)
			}
			allowance[k], set[k] = f, true
			continue
		}
		switch option {
		case "window":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			f, err := strconv.ParseFloat(args[0], 64)
			if err != nil || !(f > 0 && f <= maxWindow) {
				return nil, c.Errf("window %q: want seconds, more than 0 and at most %d", args[0], maxWindow)
			}
			cfg.window = int64(f * float64(second))
		case "ipv4-prefix-length", "ipv6-prefix-length":
			bits := 32
			if option == "ipv6-prefix-length" {
				bits = 128
			}
			n, err := intArg(c, option, args, 1, bits)
			if err != nil {
				return nil, err
			}
			if bits == 32 {
				cfg.v4Bits = n
			} else {
				cfg.v6Bits = n
			}
		case "slip-ratio":
			n, err := intArg(c, option, args, 0, maxSlipRatio)
			if err != nil {
				return nil, err
			}
			cfg.slip = uint32(n)
		case "max-table-size":
			n, err := intArg(c, option, args, 1, maxMaxTableSize)
			if err != nil {
				return nil, err
			}
			cfg.tableSize = n
		case "report-only":
			if len(args) != 0 {
				return nil, c.ArgErr()
			}
			cfg.reportOnly = true
		case "exempt":
			prefixes, err := parseExempt(args)
			if err != nil {
				return nil, c.Err(err.Error())
			}
			if !exempt {
				cfg.exempt, exempt = nil, true // the first exempt replaces the default
			}
			cfg.exempt = append(cfg.exempt, prefixes...)
		case "requests-per-second":
			return nil, c.Err("requests-per-second (request rate limiting) is not supported: rrl limits responses")
		default:
			return nil, c.Errf("unknown property %q", option)
		}
	}
	if c.Next() {
		return nil, c.Err("rrl may appear once per server block")
	}
	// The other kinds have the allowance of responses unless given theirs.
	for k := range kinds {
		if !set[k] {
			allowance[k] = allowance[kindAnswer]
		}
		if allowance[k] > 0 {
			cfg.intervals[k] = max(1, int64(math.Round(float64(second)/allowance[k])))
		}
	}
	return cfg, nil
}

// minAllowance is the smallest rate a limit may have: one response in
// 1,000 seconds.
const minAllowance = 0.001

// intArg reads the one argument of an option, an integer from lo to hi.
func intArg(c *caddy.Controller, option string, args []string, lo, hi int) (int, error) {
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < lo || n > hi {
		return 0, c.Errf("%s %q: want an integer from %d to %d", option, args[0], lo, hi)
	}
	return n, nil
}

// parseExempt reads the arguments of exempt: "none", or addresses and
// CIDRs. IPv4-mapped IPv6 ones are made IPv4, the form client addresses
// are matched in.
func parseExempt(args []string) ([]netip.Prefix, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("exempt needs none, or addresses and CIDRs")
	}
	if len(args) == 1 && strings.EqualFold(args[0], "none") {
		return nil, nil
	}
	var out []netip.Prefix
	for _, s := range args {
		p, err := plugin.ParseSource(s)
		if err != nil {
			return nil, fmt.Errorf("exempt %q: neither an IP address nor a CIDR (none stands alone)", s)
		}
		out = append(out, p)
	}
	return out, nil
}
