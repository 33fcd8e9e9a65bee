// Package errors implements the errors directive: it logs the errors the
// rest of the chain returns, optionally folding repeated ones into one line
// per period.
package errors

import (
	"context"
	"fmt"
	"log"
	"regexp"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// Errors logs the error, if any, that Next returns and passes the result on.
type Errors struct {
	Next   plugin.Handler
	shared *consolidator
}

// ServeDNS implements plugin.Handler.
func (e *Errors) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	rcode, err := plugin.NextOrFailure(e.Name(), e.Next, ctx, w, r)
	if err != nil {
		q := r.Question[0]
		msg := fmt.Sprintf("%d %s %s: %v", rcode, q.Name, dns.TypeToString[q.Qtype], err)
		if !e.shared.absorb(msg) {
			log.Printf("[ERROR] plugin/errors: %s", msg)
		}
	}
	return rcode, err
}

// Name implements plugin.Handler.
func (e *Errors) Name() string { return "errors" }

// consolidator counts the errors that match a consolidate pattern and logs
// one line per pattern and period instead of one per error.
type consolidator struct {
	patterns []*pattern
}

type pattern struct {
	period time.Duration
	re     *regexp.Regexp
	level  string

	mu      sync.Mutex
	count   int
	timer   *time.Timer
	stopped bool
}

// absorb reports whether msg matched a pattern and was counted instead of
// logged.
func (c *consolidator) absorb(msg string) bool {
	for _, p := range c.patterns {
		if p.re.MatchString(msg) {
			p.add()
			return true
		}
	}
	return false
}

func (p *pattern) add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	if p.timer == nil && !p.stopped {
		p.timer = time.AfterFunc(p.period, p.flush)
	}
}

func (p *pattern) flush() {
	p.mu.Lock()
	n := p.count
	p.count, p.timer = 0, nil
	p.mu.Unlock()
	if n > 0 {
		log.Printf("[%s] plugin/errors: %d errors like '%s' occurred in last %s", p.level, n, p.re, p.period)
	}
}

// stop cancels pending periods, logging what they counted so far.
func (c *consolidator) stop() {
	for _, p := range c.patterns {
		p.mu.Lock()
		p.stopped = true
		pending := p.timer != nil && p.timer.Stop()
		p.mu.Unlock()
		if pending {
			p.flush()
		}
	}
}

// PassPackets implements plugin.PacketPasser: errors has nothing to do for
// the replies of the packet path, which are never errors.
func (e *Errors) PassPackets(server, zone string) plugin.PacketObserver { return nil }
