// Package forward implements the forward directive: it sends the queries
// of a zone to upstream resolvers over plain DNS, reusing connections, and
// takes upstreams out of rotation while in-band health checks fail. Its
// syntax is CoreDNS's.
package forward

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// The defaults of the Corefile options, and the limits of a query; the
// README names each.
const (
	defaultExpire     = 10 * time.Second
	defaultMaxFails   = 2
	defaultHCInterval = 500 * time.Millisecond
	defaultHCName     = "."
	maxUpstreams      = 15

	// tryTimeout bounds one exchange with one upstream (a UDP try and its
	// TCP retry share it); queryTimeout bounds a query, every upstream
	// tried included.
	tryTimeout   = 2 * time.Second
	queryTimeout = 5 * time.Second
	// hcTimeout bounds one health check.
	hcTimeout = 1 * time.Second
)

// options is one forward directive as the Corefile writes it.
type options struct {
	from     string
	to       []string // HOST:PORT
	except   []string
	forceTCP bool
	// preferUDP sends over UDP even what came over TCP; forceTCP wins.
	preferUDP     bool
	expire        time.Duration
	maxFails      uint32
	hcInterval    time.Duration
	hcName        string
	hcNoRec       bool
	policy        policy
	maxConcurrent int64
}

func defaultOptions() options {
	return options{
		expire:     defaultExpire,
		maxFails:   defaultMaxFails,
		hcInterval: defaultHCInterval,
		hcName:     defaultHCName,
	}
}

// network is the transport queries go upstream over: "tcp" or "udp", or ""
// for the client's.
func (o options) network() string {
	switch {
	case o.forceTCP:
		return "tcp"
	case o.preferUDP:
		return "udp"
	}
	return ""
}

// Forward sends the queries under its zone to the upstreams of its group
// and hands the others to Next. Each zone of a server block has its own
// chain, hence its own Forward; the Forwards of one directive share the
// group.
type Forward struct {
	Next  plugin.Handler
	group *group
}

// group is one forward directive at work: its upstreams and the state that
// all the queries it forwards share.
type group struct {
	opts     options
	network  string
	proxies  []*proxy
	errLimit error

	robin      atomic.Uint32 // round_robin's position
	concurrent atomic.Int64  // queries in flight, when max_concurrent is set

	bufs sync.Pool // of *buffers

	life *lifecycle
}

func newGroup(o options) *group {
	g := &group{
		opts:     o,
		network:  o.network(),
		errLimit: fmt.Errorf("concurrent queries exceeded maximum %d", o.maxConcurrent),
		life:     newLifecycle(),
	}
	g.bufs.New = newBuffers
	check := healthCheck{network: "udp", name: o.hcName, rd: !o.hcNoRec, interval: o.hcInterval, timeout: hcTimeout}
	if o.forceTCP {
		check.network = "tcp"
	}
	for _, addr := range o.to {
		g.proxies = append(g.proxies, newProxy(addr, o.expire, o.maxFails, check, g.life))
	}
	return g
}

// start begins closing idle connections as they expire.
func (g *group) start() {
	if g.opts.expire > 0 {
		g.life.spawn(g.sweep)
	}
}

// stop ends the group's health checks and closes its connections. Queries
// still in flight finish on connections of their own.
func (g *group) stop() {
	g.life.stop()
	for _, p := range g.proxies {
		p.close()
	}
}

// sweep closes the connections idle for longer than expire, every expire.
func (g *group) sweep(ctx context.Context) {
	t := time.NewTicker(g.opts.expire)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, p := range g.proxies {
				p.sweep(now)
			}
		}
	}
}

// ServeDNS implements plugin.Handler.
func (f *Forward) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	g := f.group
	if !g.match(r.Question[0].Name) {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	if g.opts.maxConcurrent > 0 {
		n := g.concurrent.Add(1)
		defer g.concurrent.Add(-1)
		if n > g.opts.maxConcurrent {
			maxConcurrentRejects.Inc()
			return dns.RcodeRefused, plugin.Error(f.Name(), g.errLimit)
		}
	}

	network := g.network
	if network == "" {
		network = "udp"
		if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
			network = "tcp"
		}
	}
	ret, err := g.forward(ctx, r, network)
	if err != nil {
		return dns.RcodeServerFailure, plugin.Error(f.Name(), err)
	}
	// The client sees its own ID and its question as it asked it, whatever
	// case the upstream answered in.
	ret.Id = r.Id
	ret.Question = append(ret.Question[:0], r.Question[0])
	if err := w.WriteMsg(ret); err != nil {
		return dns.RcodeServerFailure, plugin.Error(f.Name(), fmt.Errorf("writing the reply: %w", err))
	}
	if !plugin.ClientWrite(ret.Rcode) {
		// An upstream's SERVFAIL or REFUSED is written already; returning
		// its code would ask the server to write one again.
		return dns.RcodeSuccess, nil
	}
	return ret.Rcode, nil
}

// Name implements plugin.Handler.
func (f *Forward) Name() string { return "forward" }

// match reports whether name is forwarded: under FROM and under no except
// name (FROM itself always is).
func (g *group) match(name string) bool {
	if !dns.IsSubDomain(g.opts.from, name) {
		return false
	}
	if strings.EqualFold(name, g.opts.from) {
		return true
	}
	for _, e := range g.opts.except {
		if dns.IsSubDomain(e, name) {
			return false
		}
	}
	return true
}

// forward asks the upstreams, in the order of the policy, skipping those
// that are down, until one answers. When all of them are down it tries
// each anyway, in random order: the health checks may be what is broken.
// Every upstream is tried at most once, and the whole stays within
// queryTimeout.
func (g *group) forward(ctx context.Context, r *dns.Msg, network string) (*dns.Msg, error) {
	deadline := time.Now().Add(queryTimeout)
	q, err := packQuery(&g.bufs, r)
	if err != nil {
		return nil, fmt.Errorf("packing the query: %w", err)
	}
	defer q.release()

	var buf [maxUpstreams]int
	order := buf[:len(g.proxies)]
	g.opts.policy.order(order, &g.robin)

	var lastErr error
	tried := false
	for _, i := range order {
		p := g.proxies[i]
		if p.down() {
			continue
		}
		tried = true
		ret, err := g.try(ctx, p, &q, network, deadline)
		if err == nil {
			return ret, nil
		}
		lastErr = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, lastErr
		}
	}
	if tried {
		return nil, lastErr
	}

	healthcheckBroken.Inc()
	randomPolicy.order(order, nil)
	for _, i := range order {
		ret, err := g.try(ctx, g.proxies[i], &q, network, deadline)
		if err == nil {
			return ret, nil
		}
		lastErr = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// try exchanges q with p within tryTimeout and the query's deadline. A
// failure starts p's health checks.
func (g *group) try(ctx context.Context, p *proxy, q *query, network string, deadline time.Time) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tryDeadline := time.Now().Add(tryTimeout)
	if deadline.Before(tryDeadline) {
		tryDeadline = deadline
	}
	ret, err := p.exchange(q, network, tryDeadline)
	if err != nil {
		p.healthcheck()
		return nil, fmt.Errorf("%s: %w", p.addr, err)
	}
	return ret, nil
}
