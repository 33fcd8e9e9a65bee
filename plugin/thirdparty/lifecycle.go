package thirdparty

import (
	"context"
	"log"
	"slices"
	"time"

	"github.com/coredns/caddy"

	etcdstore "github.com/tpdns/tpdns/store/etcd"
)

// start runs when the server starts, and when a reload starts this
// configuration (before the one it replaces stops). It takes over, or
// opens, the store and the endpoint states of that configuration, then
// begins the background work. If it fails, it undoes what it did and gives
// back what it took.
func (tp *ThirdParty) start(c *caddy.Controller) error {
	prev := previous(tp)
	if err := tp.openStore(prev); err != nil {
		return err
	}
	if st, ok := tp.st.(*etcdstore.Store); ok && tp.opts.healthSharing {
		tp.sharing = newSharing(tp, st)
	}
	if tp.opts.kube != nil {
		tp.kube = newKubeWriter(tp) // before anything reports health to it
	}
	tp.reg.Subscribe(tp.serve) // the answers of the registry file, at once
	endpointsGauge.add(tp)
	ctx, cancel := context.WithCancel(context.Background())
	tp.cancel = cancel
	if tp.sharing != nil {
		tp.sharing.run(ctx, &tp.background)
	}
	if tp.st != nil {
		// A store that cannot be read now (etcd down) does not stop the
		// server: it serves the registry file and tries again.
		err := tp.firstLoad(ctx)
		if err != nil {
			log.Printf("[ERROR] plugin/thirdparty: reading the store: %v; trying again every %s", err, retryInterval)
			tp.serveSnapshot()
		}
		tp.background.Go(func() { tp.watchStore(ctx, err == nil) })
	}
	if tp.opts.kube != nil {
		if err := tp.startKube(ctx); err != nil {
			tp.abort()
			return err
		}
	}
	tp.inherit(prev)
	tp.hosts.Start()
	tp.checker.Start()
	// The first answers carry the addresses of host names, unless the
	// resolver is slow: it is not waited for long.
	wait, done := context.WithTimeout(ctx, firstResolveWait)
	tp.hosts.WaitFirstRound(wait)
	done()
	tp.pollFile()
	if tp.opts.services != "" || tp.st != nil {
		tp.background.Go(func() { releaseMemory(ctx) }) // serving meanwhile
	}
	if tp.opts.api.addr != "" {
		api, err := startAPI(tp, c)
		if err != nil {
			tp.abort()
			return err
		}
		tp.api = api
	}
	tp.abortIfRestartFails()
	return nil
}

// firstResolveWait is how long a start waits for the first resolution of
// the host names; readiness waits for all of it.
const firstResolveWait = 2 * time.Second

// abort undoes a start that failed: a store taken over goes back to its
// giver, which is still serving.
func (tp *ThirdParty) abort() {
	tp.mu.Lock()
	if tp.storeFrom != nil {
		tp.storeFrom.mu.Lock()
		tp.storeFrom.ownsStore = true
		tp.storeFrom.mu.Unlock()
		tp.ownsStore = false
	}
	tp.mu.Unlock()
	tp.stop()
}

// abortIfRestartFails aborts tp if the restart that started it fails
// after this (a later plugin or server does not start): caddy drops the
// new instance without stopping it, and tp would keep the store and the
// API it took over from the configuration still serving. Restart runs the
// callbacks of the instance it replaces, on this goroutine, after the new
// instance's start-up returned; the callback lets go of tp then.
func (tp *ThirdParty) abortIfRestartFails() {
	tp.mu.Lock()
	givers := []*ThirdParty{tp.storeFrom}
	tp.mu.Unlock()
	if tp.api != nil {
		givers = append(givers, tp.api.from)
	}
	var done []*caddy.Instance
	for _, g := range givers {
		inst := instanceOf(g)
		if inst == nil || slices.Contains(done, inst) {
			continue
		}
		done = append(done, inst)
		orphan := tp
		inst.OnRestartFailed = append(inst.OnRestartFailed, func() error {
			if orphan != nil && instanceOf(orphan) == nil {
				orphan.abort()
			}
			orphan = nil
			return nil
		})
	}
}

// instanceOf is the running caddy instance tp belongs to, or nil.
func instanceOf(tp *ThirdParty) *caddy.Instance {
	if tp == nil {
		return nil
	}
	for _, inst := range caddy.Instances() {
		inst.StorageMu.RLock()
		tps, _ := inst.Storage[storageKey].([]*ThirdParty)
		inst.StorageMu.RUnlock()
		if slices.Contains(tps, tp) {
			return inst
		}
	}
	return nil
}

// stop ends the background work and releases what the plugin owns. It may
// run more than once.
func (tp *ThirdParty) stop() error {
	var err error
	tp.stopOnce.Do(func() {
		endpointsGauge.remove(tp)
		if tp.api != nil {
			tp.api.stop()
		}
		if tp.cancel != nil {
			tp.cancel()
		}
		tp.background.Wait()
		if tp.kube != nil && tp.kube.src != nil {
			tp.kube.src.Close()
		}
		tp.stopPolling()
		tp.checker.Stop()
		tp.guard.stop()
		tp.hosts.Stop()
		if tp.snapshots != nil {
			tp.snapshots.Wait() // a file half written is left as a stray temporary one
		}
		tp.mu.Lock()
		st, owns := tp.st, tp.ownsStore
		tp.ownsStore = false
		tp.mu.Unlock()
		if owns {
			err = st.Close()
		}
	})
	return err
}
