// Package hostname keeps the A and AAAA records of a set of host names,
// resolved in the background through upstream DNS servers and refreshed
// before their TTL runs out, so that answers built from them never wait
// on a query.
package hostname

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Refresh bounds: a name is re-resolved before its TTL runs out, but never
// more often than MinRefresh nor less often than MaxRefresh.
const (
	MinRefresh = 5 * time.Second
	MaxRefresh = 5 * time.Minute
)

const (
	queryTimeout = 2 * time.Second
	maxChain     = 8  // CNAMEs followed at most
	parallelism  = 16 // names resolved at once
)

// Resolver keeps the addresses of a set of host names.
type Resolver struct {
	servers   []string // HOST:PORT, asked in order
	noServers error
	changed   func(host string)
	min, max  time.Duration

	mu      sync.Mutex
	entries map[string]*entry
	started bool
	ready   bool

	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

type entry struct {
	a, aaaa  []netip.Addr // last good, sorted
	ttl      uint32
	expires  time.Time // when the last good addresses run out
	err      string    // last error; "" after a success
	resolved bool      // has had a result
	first    chan struct{}
	due      time.Time
	inFlight bool
}

// New returns a resolver asking servers (HOST:PORT) in order; noServers,
// when servers is empty, is the reason, reported for every name. changed
// is called, from the resolver's goroutines, when the addresses of a name
// change or it becomes resolvable or unresolvable.
func New(servers []string, noServers error, changed func(host string)) *Resolver {
	ctx, cancel := context.WithCancel(context.Background())
	if len(servers) == 0 && noServers == nil {
		noServers = errors.New("no resolver configured")
	}
	return &Resolver{servers: servers, noServers: noServers, changed: changed, min: MinRefresh, max: MaxRefresh,
		entries: map[string]*entry{}, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel}
}

// ServersFromFile returns the name servers of a resolv.conf file as HOST:PORT.
func ServersFromFile(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%s: no nameserver", path)
	}
	out := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		out[i] = net.JoinHostPort(s, cfg.Port)
	}
	return out, nil
}

// Set makes hosts (lower-case, no trailing dot) the names to keep. New
// names are resolved at once; the others are forgotten.
func (r *Resolver) Set(hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[string]*entry, len(hosts))
	for _, h := range hosts {
		if e, ok := r.entries[h]; ok {
			next[h] = e
		} else {
			next[h] = &entry{first: make(chan struct{}), due: time.Now()}
		}
	}
	r.entries = next
	r.signal()
}

// Inherit takes over what from knows of the names r keeps and has not
// resolved yet: a reloaded configuration goes on with the same cache.
func (r *Resolver) Inherit(from *Resolver) {
	if from == r {
		return
	}
	from.mu.Lock()
	known := map[string]entry{}
	for h, e := range from.entries {
		if e.resolved {
			known[h] = entry{a: e.a, aaaa: e.aaaa, ttl: e.ttl, expires: e.expires, err: e.err, due: e.due}
		}
	}
	from.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for h, k := range known {
		if e, ok := r.entries[h]; ok && !e.resolved && !e.inFlight {
			e.a, e.aaaa, e.ttl, e.expires, e.err, e.due, e.resolved = k.a, k.aaaa, k.ttl, k.expires, k.err, k.due, true
			close(e.first)
		}
	}
	r.signal()
}

// Addresses returns the addresses last resolved for host and their TTL;
// ok is false while there are none.
func (r *Resolver) Addresses(host string) (a, aaaa []netip.Addr, ttl uint32, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[host]
	if e == nil || len(e.a)+len(e.aaaa) == 0 {
		return nil, nil, 0, false
	}
	return e.a, e.aaaa, e.ttl, true
}

// Err returns why host has no addresses, or the last resolution failed;
// "" when it resolves.
func (r *Resolver) Err(host string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[host]; e != nil {
		return e.err
	}
	return ""
}

// Resolve returns the addresses of host from the cache, IPv4 first. It
// never queries, but waits (until ctx ends) for the first resolution of a
// name just added.
func (r *Resolver) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	e := r.entries[host]
	r.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("lookup %s: not a name the resolver keeps", host)
	}
	select {
	case <-e.first:
	case <-ctx.Done():
		return nil, fmt.Errorf("lookup %s: not resolved yet", host)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(e.a)+len(e.aaaa) == 0 {
		return nil, errors.New(e.err)
	}
	return append(slices.Clone(e.a), e.aaaa...), nil
}

// FirstRoundDone reports whether every name has had a first result since
// Start. Once true it stays true.
func (r *Resolver) FirstRoundDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready || !r.started {
		return r.ready
	}
	for _, e := range r.entries {
		if !e.resolved {
			return false
		}
	}
	r.ready = true
	return true
}

// WaitFirstRound waits until every name kept now has had a first result,
// or ctx ends.
func (r *Resolver) WaitFirstRound(ctx context.Context) {
	r.mu.Lock()
	var firsts []chan struct{}
	for _, e := range r.entries {
		firsts = append(firsts, e.first)
	}
	r.mu.Unlock()
	for _, f := range firsts {
		select {
		case <-f:
		case <-ctx.Done():
			return
		}
	}
}

// Start begins resolving.
func (r *Resolver) Start() {
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	go r.run()
}

// Stop ends the resolution and waits for it. A resolver never started
// stops at once.
func (r *Resolver) Stop() {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	r.cancel()
	if started {
		close(r.quit)
		<-r.done
	}
}

func (r *Resolver) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Resolver) run() {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		var due []string
		wait := time.Hour
		for h, e := range r.entries {
			switch {
			case e.inFlight:
			case !e.due.After(now):
				e.inFlight = true
				due = append(due, h)
			default:
				wait = min(wait, e.due.Sub(now))
			}
		}
		r.mu.Unlock()
		if len(due) > 0 {
			r.resolveAll(due)
			continue
		}
		timer.Reset(wait)
		select {
		case <-r.quit:
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// resolveAll resolves hosts, a few at a time, and records the results.
func (r *Resolver) resolveAll(hosts []string) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallelism)
	for _, h := range hosts {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			a, aaaa, ttl, err := r.lookup(r.ctx, h)
			if r.ctx.Err() != nil {
				return
			}
			if r.record(h, a, aaaa, ttl, err) {
				r.changed(h)
			}
		})
	}
	wg.Wait()
}

// record keeps the result of resolving host and plans the next; it reports
// whether the addresses served changed.
func (r *Resolver) record(host string, a, aaaa []netip.Addr, ttl uint32, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[host]
	if e == nil {
		return false // forgotten meanwhile
	}
	e.inFlight = false
	now := time.Now()
	oldA, oldAAAA := e.a, e.aaaa
	if err != nil {
		e.err = err.Error()
		e.due = now.Add(r.min)
		if now.After(e.expires) {
			e.a, e.aaaa = nil, nil
		}
	} else {
		slices.SortFunc(a, netip.Addr.Compare)
		slices.SortFunc(aaaa, netip.Addr.Compare)
		e.a, e.aaaa, e.ttl, e.err = a, aaaa, ttl, ""
		e.expires = now.Add(time.Duration(ttl) * time.Second)
		e.due = now.Add(min(max(time.Duration(ttl)*time.Second*3/4, r.min), r.max))
	}
	if !e.resolved {
		e.resolved = true
		close(e.first)
	}
	return !slices.Equal(oldA, e.a) || !slices.Equal(oldAAAA, e.aaaa)
}

// lookup resolves host's A and AAAA records. A name with neither is an
// error; a failure of one family with records of the other is not.
func (r *Resolver) lookup(ctx context.Context, host string) (a, aaaa []netip.Addr, ttl uint32, err error) {
	if len(r.servers) == 0 {
		return nil, nil, 0, fmt.Errorf("lookup %s: %w", host, r.noServers)
	}
	var ttlA, ttl6 uint32
	var errA, err6 error
	var wg sync.WaitGroup
	wg.Go(func() { a, ttlA, errA = r.query(ctx, host, dns.TypeA) })
	wg.Go(func() { aaaa, ttl6, err6 = r.query(ctx, host, dns.TypeAAAA) })
	wg.Wait()
	switch {
	case errA != nil && (err6 != nil || len(aaaa) == 0):
		return nil, nil, 0, errA
	case err6 != nil && len(a) == 0:
		return nil, nil, 0, err6
	case len(a)+len(aaaa) == 0:
		return nil, nil, 0, fmt.Errorf("lookup %s: no A or AAAA records", host)
	}
	switch {
	case len(a) == 0:
		ttl = ttl6
	case len(aaaa) == 0:
		ttl = ttlA
	default:
		ttl = min(ttlA, ttl6)
	}
	return a, aaaa, ttl, nil
}

// query asks for the qtype records of host, following CNAMEs to the end:
// in the answer, and with new queries where the answer stops at an alias.
func (r *Resolver) query(ctx context.Context, host string, qtype uint16) ([]netip.Addr, uint32, error) {
	name := dns.Fqdn(host)
	ttl := uint32(1<<31 - 1)
	chain := 0
	for {
		resp, err := r.exchange(ctx, name, qtype)
		if err != nil {
			return nil, 0, err
		}
		var addrs []netip.Addr
		for {
			var next string
			for _, rr := range resp.Answer {
				h := rr.Header()
				if !strings.EqualFold(h.Name, name) {
					continue
				}
				switch rr := rr.(type) {
				case *dns.CNAME:
					next = rr.Target
					ttl = min(ttl, h.Ttl)
				case *dns.A:
					if qtype == dns.TypeA {
						if ip, ok := netip.AddrFromSlice(rr.A.To4()); ok {
							addrs, ttl = append(addrs, ip), min(ttl, h.Ttl)
						}
					}
				case *dns.AAAA:
					if qtype == dns.TypeAAAA {
						if ip, ok := netip.AddrFromSlice(rr.AAAA); ok {
							addrs, ttl = append(addrs, ip), min(ttl, h.Ttl)
						}
					}
				}
			}
			if len(addrs) > 0 || next == "" {
				return addrs, ttl, nil
			}
			if chain++; chain > maxChain {
				return nil, 0, fmt.Errorf("lookup %s: more than %d CNAMEs", host, maxChain)
			}
			name = next
			if !hasOwner(resp.Answer, name) {
				break // the upstream stopped at the alias: ask for its target
			}
		}
	}
}

func hasOwner(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// exchange asks the servers in order, over TCP when a reply is truncated,
// until one answers NOERROR or NXDOMAIN.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	var last error
	for _, server := range r.servers {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, false)
		udp := &dns.Client{Net: "udp", Timeout: queryTimeout}
		resp, _, err := udp.ExchangeContext(ctx, m, server)
		if err == nil && resp.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: queryTimeout}
			resp, _, err = tcp.ExchangeContext(ctx, m, server)
		}
		what := fmt.Sprintf("lookup %s on %s", strings.TrimSuffix(name, "."), server)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			last = fmt.Errorf("%s: timed out after %s", what, queryTimeout)
		case err != nil:
			last = fmt.Errorf("%s: %w", what, err)
		case resp.Rcode == dns.RcodeSuccess:
			return resp, nil
		case resp.Rcode == dns.RcodeNameError:
			return nil, fmt.Errorf("%s: NXDOMAIN", what)
		default:
			last = fmt.Errorf("%s: %s", what, dns.RcodeToString[resp.Rcode])
		}
	}
	return nil, last
}
