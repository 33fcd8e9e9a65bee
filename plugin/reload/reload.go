// Package reload implements the reload directive: it reloads the Corefile
// when its content changes, through the same graceful path as SIGUSR1.
package reload

import (
	"crypto/sha512"
	"encoding/hex"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

const storageKey = "tpdns/reload"

// watcher checks the Corefile of one running configuration.
type watcher struct {
	interval, jitter time.Duration

	quit       chan struct{}
	done       chan struct{}
	stopOnce   sync.Once
	restarting atomic.Bool
}

func (w *watcher) start(c *caddy.Controller) error {
	inst := instanceOf(c)
	if inst == nil {
		return nil
	}
	running := inst.Caddyfile()
	log.Printf("[INFO] plugin/reload: Running configuration SHA512 = %s", hash(running.Body()))
	w.quit, w.done = make(chan struct{}), make(chan struct{})
	go w.watch(inst, running)
	return nil
}

// instanceOf finds the caddy instance c sets up by what c stored in it.
func instanceOf(c *caddy.Controller) *caddy.Instance {
	mine := c.Get(storageKey)
	for _, inst := range caddy.Instances() {
		inst.StorageMu.RLock()
		v := inst.Storage[storageKey]
		inst.StorageMu.RUnlock()
		if v == mine {
			return inst
		}
	}
	return nil
}

func (w *watcher) watch(inst *caddy.Instance, running caddy.Input) {
	defer close(w.done)
	current, rejected := hash(running.Body()), ""
	for {
		wait := w.interval + time.Duration(rand.Int64N(int64(2*w.jitter+1))) - w.jitter
		select {
		case <-w.quit:
			return
		case <-time.After(wait):
		}
		body, err := os.ReadFile(running.Path())
		if err != nil {
			continue // a Corefile from standard input, or one being replaced
		}
		sum := hash(body)
		if sum == current || sum == rejected {
			continue
		}
		in, ok := running.(plugin.Reloadable)
		if !ok {
			return
		}
		log.Printf("[INFO] plugin/reload: %s changed, reloading (SHA512 = %s)", running.Path(), sum)
		// The restart stops this configuration, whose shutdown must not wait
		// for this goroutine, which waits for the restart.
		w.restarting.Store(true)
		if _, err := inst.Restart(in.WithContents(body)); err != nil {
			w.restarting.Store(false)
			rejected = sum
			log.Printf("[ERROR] plugin/reload: keeping the running configuration: %v", err)
			continue
		}
		return
	}
}

func (w *watcher) stop() error {
	w.stopOnce.Do(func() {
		if w.quit == nil {
			return
		}
		close(w.quit)
		if !w.restarting.Load() {
			<-w.done
		}
	})
	return nil
}

func hash(b []byte) string {
	sum := sha512.Sum512(b)
	return hex.EncodeToString(sum[:])
}
