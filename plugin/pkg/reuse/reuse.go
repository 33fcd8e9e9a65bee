// Package reuse hands a plugin's TCP listener from one configuration to the
// next on a reload: the new configuration serves on a copy of the old one's
// socket, so the port is never closed, and never bound twice (which would
// fail while the old configuration still runs).
package reuse

import (
	"fmt"
	"net"
	"sync"

	"github.com/coredns/caddy"
)

// storageKey is where a caddy instance keeps its listeners, by address.
const storageKey = "tpdns/listeners"

// listeners are the listeners of one caddy instance.
type listeners struct {
	mu    sync.Mutex
	byKey map[string]net.Listener
}

// Listen returns a TCP listener on addr for the instance c sets up. When
// another running instance (the configuration a reload replaces) has one
// on addr, it returns a copy of that instead. Call it from OnStartup; the
// caller closes the listener when it stops.
func Listen(c *caddy.Controller, addr string) (net.Listener, error) {
	ln, err := copyFrom(c, addr)
	if err != nil {
		return nil, err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, err
		}
	}
	own := ownListeners(c)
	own.mu.Lock()
	own.byKey[addr] = ln
	own.mu.Unlock()
	return ln, nil
}

func ownListeners(c *caddy.Controller) *listeners {
	if l, ok := c.Get(storageKey).(*listeners); ok {
		return l
	}
	l := &listeners{byKey: map[string]net.Listener{}}
	c.Set(storageKey, l)
	return l
}

// copyFrom duplicates the listener another instance has on addr.
func copyFrom(c *caddy.Controller, addr string) (net.Listener, error) {
	own, _ := c.Get(storageKey).(*listeners)
	for _, inst := range caddy.Instances() {
		inst.StorageMu.RLock()
		l, _ := inst.Storage[storageKey].(*listeners)
		inst.StorageMu.RUnlock()
		if l == nil || l == own {
			continue
		}
		l.mu.Lock()
		old := l.byKey[addr]
		l.mu.Unlock()
		tl, ok := old.(*net.TCPListener)
		if !ok {
			continue
		}
		f, err := tl.File()
		if err != nil {
			continue // closed already: listen afresh
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("taking over %s: %w", addr, err)
		}
		return ln, nil
	}
	return nil, nil
}
