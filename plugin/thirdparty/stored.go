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

// pingTimeout bounds the ping that tells whether etcd answers: a ping that
// failed makes the store fail writes quickly (see etcdstore.Store.Down),
// so it is known within retryInterval plus pingTimeout of etcd going.
const pingTimeout = time.Second

// openStore takes over the store of a configuration being replaced when it
// is the same one, or opens it.
func (tp *ThirdParty) openStore(previous []*ThirdParty) error {
	o := tp.opts.store
	if o.kind == "" {
		return nil
	}
	tp.openSnapshots()
	for _, old := range previous {
		if st := old.handOverStore(o); st != nil {
			tp.mu.Lock()
			tp.st, tp.ownsStore, tp.storeFrom = st, true, old
			tp.mu.Unlock()
			tp.reg.SetStore(tp.registryStore(st))
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
	tp.reg.SetStore(tp.registryStore(st))
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
	logInvalid(invalid)
	return nil
}

// logInvalid logs the store services that do not validate.
func logInvalid(invalid map[string]error) {
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		log.Printf("[ERROR] plugin/thirdparty: store service %s is invalid and not served: %v", name, invalid[name])
	}
}

// pinger is a store that can tell whether it is reachable without
// reading everything (etcd).
type pinger interface {
	Ping(ctx context.Context) error
}

// ping asks the store whether it answers, within pingTimeout; a store that
// cannot tell says yes.
func (tp *ThirdParty) ping(ctx context.Context) error {
	p, ok := tp.st.(pinger)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return p.Ping(ctx)
}

// firstLoad reads the store as a configuration starts. It pings first: a
// store that does not answer holds the start up for pingTimeout rather
// than its whole timeout, and one that answers is read with the whole
// timeout however large it is.
func (tp *ThirdParty) firstLoad(ctx context.Context) error {
	if err := tp.ping(ctx); err != nil {
		tp.setStoreUp(false)
		return err
	}
	return tp.loadStore(ctx)
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
			// A watch waits quietly while its store is away: ask. A
			// store not read yet is asked first too, so that its read
			// has the whole timeout (the ping's success ends the short
			// timeouts of a store known down).
			err := tp.ping(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				tp.setStoreUp(false)
				loaded = false
				if err.Error() != reported {
					reported = err.Error()
					log.Printf("[ERROR] plugin/thirdparty: %v; the last registry read keeps serving", err)
				}
				continue
			}
			if loaded {
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
