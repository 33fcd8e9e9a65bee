package thirdparty

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/bolt"
	etcdstore "github.com/tpdns/tpdns/store/etcd"
)

// retryInterval is how often a store that could not be read is tried
// again; meanwhile the last registry read keeps serving.
const retryInterval = 2 * time.Second

// storedService is a service of the store as served: its document merged
// with the endpoints registered to it one by one.
type storedService struct {
	svc       config.Service
	doc       []byte                    // the service's document
	endpoints map[string]store.Endpoint // its registered endpoints, by address
}

// merge builds the service of a stored document and its registered
// endpoints, which replace the document's endpoint of the same address or
// come after them, and validates the result.
func merge(doc []byte, endpoints map[string]store.Endpoint, opts config.Options) (config.Service, error) {
	var d config.Document
	if err := json.Unmarshal(doc, &d); err != nil {
		return config.Service{}, err
	}
	for _, addr := range slices.Sorted(maps.Keys(endpoints)) {
		var e config.EndpointDoc
		if err := json.Unmarshal(endpoints[addr].Doc, &e); err != nil {
			return config.Service{}, fmt.Errorf("endpoint %s: %w", addr, err)
		}
		e.Address = addr
		if i := slices.IndexFunc(d.Endpoints, func(x config.EndpointDoc) bool { return x.Address == addr }); i >= 0 {
			d.Endpoints[i] = e
		} else {
			d.Endpoints = append(d.Endpoints, e)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return config.Service{}, err
	}
	return config.DecodeJSON(b, opts)
}

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

// loadStore reads the store and serves the union anew. An entry that does
// not validate (the zones changed, say) is logged and left out. When the
// store cannot be read, the last registry read keeps serving.
func (tp *ThirdParty) loadStore(ctx context.Context) error {
	snap, err := tp.st.Load(ctx)
	if err != nil {
		storeUp.Set(0)
		return err
	}
	storeUp.Set(1)
	storeLoaded.SetToCurrentTime()
	stored := make(map[string]storedService, len(snap.Services))
	for _, name := range slices.Sorted(maps.Keys(snap.Services)) {
		svc, err := merge(snap.Services[name], snap.Endpoints[name], tp.configOptions())
		if err != nil {
			log.Printf("[ERROR] plugin/thirdparty: store service %s is invalid and not served: %v", name, err)
			continue
		}
		stored[name] = storedService{svc: svc, doc: snap.Services[name], endpoints: snap.Endpoints[name]}
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	same := sameServices(tp.stored, stored)
	tp.stored = stored
	if !same {
		tp.rebuild(tp.serial())
	}
	return nil
}

// sameServices reports whether two readings of the store serve the same:
// the same documents and registered endpoints. Expiry times may differ (a
// write served at once carries the writer's clock); they change no answer.
// The notification of the API's own writes so rebuilds nothing.
func sameServices(a, b map[string]storedService) bool {
	return maps.EqualFunc(a, b, func(x, y storedService) bool {
		return bytes.Equal(x.doc, y.doc) && maps.EqualFunc(x.endpoints, y.endpoints, func(e, f store.Endpoint) bool {
			return bytes.Equal(e.Doc, f.Doc)
		})
	})
}

// served serves what the API just wrote to the store (nil: deleted) at
// once, so that the writer reads what it wrote; the store's change
// notification follows and finds nothing new (see sameServices). The
// caller holds tp.mu.
func (tp *ThirdParty) served(name string, s *storedService) {
	if tp.stored == nil {
		tp.stored = map[string]storedService{}
	}
	if s == nil {
		delete(tp.stored, name)
	} else {
		tp.stored[name] = *s
	}
	tp.rebuild(tp.serial())
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
						storeUp.Set(0)
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
