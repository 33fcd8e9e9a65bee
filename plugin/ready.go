package plugin

import (
	"sync"

	"github.com/coredns/caddy"
)

// Readiness is implemented by plugins that take a while to be ready to
// answer: the ready plugin reports 200 only once every one of them is. The
// method set is CoreDNS's, so the same plugins report readiness there.
type Readiness interface {
	// Ready reports whether the plugin is ready.
	Ready() bool
}

const readinessKey = "tpdns/readiness"

type readinessList struct {
	mu   sync.Mutex
	list []Readiness
}

// ReportReadiness makes r one of the plugins the ready plugin of c's
// configuration waits for. Call it from setup.
func ReportReadiness(c *caddy.Controller, r Readiness) {
	l, ok := c.Get(readinessKey).(*readinessList)
	if !ok {
		l = &readinessList{}
		c.Set(readinessKey, l)
	}
	l.mu.Lock()
	l.list = append(l.list, r)
	l.mu.Unlock()
}

// Readinesses returns the plugins of c's configuration that report
// readiness. Call it once setup is over (OnStartup, or later).
func Readinesses(c *caddy.Controller) []Readiness {
	l, ok := c.Get(readinessKey).(*readinessList)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Readiness{}, l.list...)
}
