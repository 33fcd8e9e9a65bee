// Package forward implements the forward directive: it sends the queries
// of a zone to upstream resolvers over plain DNS, reusing connections, and
// takes upstreams out of rotation while in-band health checks fail. Its
// syntax is CoreDNS's.
package forward

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
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

	// defaultMaxConcurrent bounds the queries in flight, and with them the
	// sockets and goroutines forwarding holds: CoreDNS sets no limit by
	// default, which lets a dead upstream pile up every query for tryTimeout.
	defaultMaxConcurrent = 1000
	// rejectLogEvery is how often, at most, refused queries are logged.
	rejectLogEvery = 10 * time.Second

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

		maxConcurrent: defaultMaxConcurrent,
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
	opts    options
	network string
	proxies []*proxy

	robin      atomic.Uint32 // round_robin's position
	concurrent atomic.Int64  // queries in flight, when max_concurrent is set
	// rejected counts the queries refused since rejectLogged (Unix
	// nanoseconds), when they were last logged.
	rejected     atomic.Int64
	rejectLogged atomic.Int64
	// overloaded is set by a refused query, and cleared once the memory
	// of the overload is handed back (relief.go).
	overloaded atomic.Bool

	bufs *bufferPools

	life *lifecycle
}

func newGroup(o options) *group {
	g := &group{
		opts:    o,
		network: o.network(),
		life:    newLifecycle(),
	}
	g.bufs = newBufferPools()
	check := healthCheck{network: "udp", name: o.hcName, rd: !o.hcNoRec, interval: o.hcInterval, timeout: hcTimeout}
	if o.forceTCP {
		check.network = "tcp"
	}
	for _, addr := range o.to {
		g.proxies = append(g.proxies, newProxy(addr, o.expire, o.maxFails, check, g.life))
	}
	return g
}

// start begins closing idle connections as they expire and, with
// max_concurrent, watching for the end of an overload.
func (g *group) start() {
	if g.opts.expire > 0 {
		g.life.spawn(g.sweep)
	}
	if g.opts.maxConcurrent > 0 {
		g.life.spawn(g.relieve)
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
			// The server writes REFUSED. No error goes to the errors
			// plugin: one line per refused query would turn a flood of
			// queries into a flood of logs.
			g.reject()
			return dns.RcodeRefused, nil
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

// reject counts a query refused because max_concurrent were in flight,
// and logs how many were refused, at most once every rejectLogEvery.
func (g *group) reject() {
	maxConcurrentRejects.Inc()
	g.rejected.Add(1)
	if !g.overloaded.Load() {
		g.overloaded.Store(true)
	}
	now := time.Now().UnixNano()
	last := g.rejectLogged.Load()
	if now-last < int64(rejectLogEvery) || !g.rejectLogged.CompareAndSwap(last, now) {
		return
	}
	log.Printf("[WARNING] plugin/forward: %s: max_concurrent %d reached; queries refused since the last warning: %d", g.opts.from, g.opts.maxConcurrent, g.rejected.Swap(0))
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
	q, err := packQuery(g.bufs, r)
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
