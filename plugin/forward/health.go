package forward

import (
	"context"
	"log"
	"net"
	"time"

	"github.com/miekg/dns"
)

// healthCheck is how an upstream is probed: one "NAME IN NS" query over a
// new connection, which any reply passes.
type healthCheck struct {
	network  string // "udp", or "tcp" with force_tcp
	name     string
	rd       bool // the RD bit; no_rec clears it
	interval time.Duration
	timeout  time.Duration
}

// healthcheck starts checking p, unless a check loop already runs or
// max_fails is 0. The loop checks every interval until a check passes.
func (p *proxy) healthcheck() {
	if p.maxFails == 0 || !p.probing.CompareAndSwap(false, true) {
		return
	}
	if !p.life.spawn(p.probe) {
		p.probing.Store(false)
	}
}

func (p *proxy) probe(ctx context.Context) {
	defer p.probing.Store(false)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.checkHealth(ctx) {
			return
		}
		t.Reset(p.check.interval)
	}
}

// checkHealth runs one check and counts its result; it reports whether
// the loop is over (the check passed, or the configuration shuts down).
func (p *proxy) checkHealth(ctx context.Context) bool {
	err := p.check.run(ctx, p.addr)
	if ctx.Err() != nil {
		return true
	}
	if err != nil {
		p.metrics.hcFailures.Inc()
		if n := p.fails.Add(1); n == p.maxFails {
			log.Printf("[WARNING] plugin/forward: upstream %s is down after %d failed health checks: %v", p.addr, n, err)
		}
		return false
	}
	if n := p.fails.Swap(0); n >= p.maxFails {
		log.Printf("[INFO] plugin/forward: upstream %s is up again", p.addr)
	}
	return true
}

// run sends the check query to addr and waits, at most timeout, for a
// reply. Any reply passes, whatever its rcode: the upstream is there.
func (h healthCheck) run(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, h.network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// Unblock the read when the time is up or the configuration stops.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	m := new(dns.Msg)
	m.SetQuestion(h.name, dns.TypeNS)
	m.RecursionDesired = h.rd
	co := &dns.Conn{Conn: c}
	if err := co.WriteMsg(m); err != nil {
		return err
	}
	for {
		r, err := co.ReadMsg()
		switch {
		case r != nil && r.Id == m.Id:
			return nil // a reply, even one that does not unpack
		case err != nil && r == nil:
			return err
		case h.network == "tcp":
			return errMismatch
		}
	}
}
