package thirdparty

import (
	"context"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/bolt"
	etcdstore "github.com/tpdns/tpdns/store/etcd"
)

// retryInterval is how often a store that could not be read is tried
// again; meanwhile the last registry read keeps serving.
const retryInterval = 2 * time.Second

// openStore takes over the store of a configuration being replaced when it
// is the same one, or opens it.
func (tp *ThirdParty) openStore(previous []*ThirdParty) error {
	o := tp.opts.store
	if o.kind == "" {
		return nil
	}
	for _, old := range previous {
		if st := old.handOverStore(o); st != nil {
			tp.mu.Lock()
			tp.st, tp.ownsStore, tp.storeFrom = st, true, old
			tp.mu.Unlock()
			tp.reg.SetStore(st)
			return nil
		}
	}
	var (
		st  store.Store
		err error
	)
	switch o.kind {
	case "bolt":
		st, err = bolt.Open(o.path)
	case "etcd":
		st, err = etcdstore.Open(etcdstore.Options{
			Endpoints: o.endpoints, Prefix: o.prefix,
			CertFile: o.certFile, KeyFile: o.keyFile, CAFile: o.caFile,
			Username: o.username, Password: o.password,
		})
	}
	if err != nil {
		return err
	}
	tp.mu.Lock()
	tp.st, tp.ownsStore = st, true
	tp.mu.Unlock()
	tp.reg.SetStore(st)
	return nil
}

// handOverStore gives its store away when it is the one o names; the
// giver no longer closes it.
func (tp *ThirdParty) handOverStore(o storeOptions) store.Store {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.st == nil || !tp.ownsStore || tp.opts.store.key() != o.key() {
		return nil
	}
	tp.ownsStore = false
	return tp.st
}

// loadStore reads the store and serves the union anew, unless the
// registry holds that already. An entry that does not validate (the zones
// changed, say) is logged and left out. When the store cannot be read,
// the last registry read keeps serving.
func (tp *ThirdParty) loadStore(ctx context.Context) error {
	invalid, err := tp.reg.Load(ctx)
	if err != nil {
		tp.setStoreUp(false)
		return err
	}
	tp.setStoreUp(true)
	storeLoaded.SetToCurrentTime()
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		log.Printf("[ERROR] plugin/thirdparty: store service %s is invalid and not served: %v", name, invalid[name])
	}
	return nil
}

// pinger is a store that can tell whether it is reachable without
// reading everything (etcd).
type pinger interface {
	Ping(ctx context.Context) error
}

// watchStore serves the store anew after every change it signals, and
// retries a store that could not be read, until ctx ends.
func (tp *ThirdParty) watchStore(ctx context.Context, loaded bool) {
	changes := tp.st.Watch(ctx)
	retry := time.NewTicker(retryInterval)
	defer retry.Stop()
	reported := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-retry.C:
			if loaded {
				// A watch waits quietly while its store is away: ask.
				if p, ok := tp.st.(pinger); ok {
					if err := p.Ping(ctx); err != nil && ctx.Err() == nil {
						tp.setStoreUp(false)
						loaded = false
						if err.Error() != reported {
							reported = err.Error()
							log.Printf("[ERROR] plugin/thirdparty: %v; the last registry read keeps serving", err)
						}
					}
				}
				continue
			}
		}
		err := tp.loadStore(ctx)
		if ctx.Err() != nil {
			return
		}
		loaded = err == nil
		if err != nil && err.Error() != reported {
			reported = err.Error()
			log.Printf("[ERROR] plugin/thirdparty: reading the store: %v; the last registry read keeps serving", err)
		}
		if err == nil {
			reported = ""
		}
	}
}

// setStoreUp records whether the store can be read. While it cannot, the
// services read from it last are answered all the same, stale: their
// address and SRV answers carry EDE 3, so their records are rebuilt when
// that changes.
func (tp *ThirdParty) setStoreUp(up bool) {
	if up {
		storeUp.Set(1)
	} else {
		storeUp.Set(0)
	}
	if tp.storeDown.Swap(!up) == !up {
		return
	}
	stored := tp.reg.Snapshot().Stored
	tp.mu.Lock()
	defer tp.mu.Unlock()
	vs := tp.views.Load()
	if vs == nil {
		return
	}
	for _, v := range *vs {
		for name := range stored {
			v.Update(name)
		}
	}
}
