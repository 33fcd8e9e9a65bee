package thirdparty

import (
	"context"
	"encoding/json"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/store"
	"github.com/tpdns/tpdns/store/bolt"
)

// reapInterval is how often heartbeat deadlines are checked: an endpoint
// that stops beating leaves DNS within its ttl and this.
const reapInterval = 250 * time.Millisecond

// storedDoc is the document a service is kept as in the store: the API's
// JSON object, and the deadlines of its heartbeat endpoints. Deadlines are
// stored, not timers, so that they survive restarts.
type storedDoc struct {
	Service json.RawMessage      `json:"service"`
	Expires map[string]time.Time `json:"expires,omitempty"`
}

// storedService is a service of the store, decoded.
type storedService struct {
	svc     config.Service
	expires map[string]time.Time // by endpoint address
}

// live returns the service without the endpoints whose heartbeat expired.
func (s storedService) live(now time.Time) config.Service {
	if len(s.expires) == 0 {
		return s.svc
	}
	svc := s.svc
	svc.Endpoints = slices.DeleteFunc(slices.Clone(svc.Endpoints), func(ep config.Endpoint) bool {
		deadline, ok := s.expires[ep.Address]
		return ok && !now.Before(deadline)
	})
	return svc
}

// expired reports whether an endpoint's heartbeat ran out at now.
func (s storedService) expired(now time.Time) bool {
	for _, deadline := range s.expires {
		if !now.Before(deadline) {
			return true
		}
	}
	return false
}

func decodeStored(raw []byte, opts config.Options) (storedService, error) {
	var doc storedDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return storedService{}, err
	}
	svc, err := config.DecodeJSON(doc.Service, opts)
	if err != nil {
		return storedService{}, err
	}
	return storedService{svc: svc, expires: doc.Expires}, nil
}

func encodeStored(svc config.Service, expires map[string]time.Time) ([]byte, error) {
	b, err := config.EncodeJSON(svc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedDoc{Service: b, Expires: expires})
}

// openStore takes over the store of a configuration being replaced when it
// is the same one, or opens it.
func (tp *ThirdParty) openStore(previous []*ThirdParty) error {
	if tp.opts.store.kind == "" {
		return nil
	}
	for _, old := range previous {
		if st := old.handOverStore(tp.opts.store); st != nil {
			tp.mu.Lock()
			tp.st, tp.ownsStore, tp.storeFrom = st, true, old
			tp.mu.Unlock()
			return nil
		}
	}
	st, err := bolt.Open(tp.opts.store.path)
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
	if tp.st == nil || !tp.ownsStore || tp.opts.store != o {
		return nil
	}
	tp.ownsStore = false
	return tp.st
}

// loadStore reads every service of the store and serves the union anew.
// An entry that no longer validates (the zones changed, say) is logged and
// left out.
func (tp *ThirdParty) loadStore(ctx context.Context) error {
	docs, err := tp.st.List(ctx)
	if err != nil {
		storeUp.Set(0)
		return err
	}
	storeUp.Set(1)
	stored := make(map[string]storedService, len(docs))
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		s, err := decodeStored(docs[name], tp.configOptions())
		if err != nil {
			log.Printf("[ERROR] plugin/thirdparty: store service %s is invalid and not served: %v", name, err)
			continue
		}
		stored[name] = s
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.stored = stored
	tp.rebuild(tp.serial())
	return nil
}

// served serves what the API just wrote to the store (nil: deleted) at
// once, so that the writer reads what it wrote; the store's change
// notification follows and finds nothing new. The caller holds tp.mu.
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

// watchStore serves the store anew after every change, and removes the
// endpoints whose heartbeat stopped, until ctx ends.
func (tp *ThirdParty) watchStore(ctx context.Context) {
	changes := tp.st.Watch(ctx)
	tick := time.NewTicker(reapInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			if err := tp.loadStore(ctx); err != nil && ctx.Err() == nil {
				log.Printf("[ERROR] plugin/thirdparty: reading the store: %v", err)
			}
		case now := <-tick.C:
			tp.reap(ctx, now)
		}
	}
}

// reap deletes from the store the endpoints whose heartbeat expired; the
// change then serves the store anew.
func (tp *ThirdParty) reap(ctx context.Context, now time.Time) {
	tp.mu.Lock()
	var names []string
	for name, s := range tp.stored {
		if s.expired(now) {
			names = append(names, name)
		}
	}
	tp.mu.Unlock()
	for _, name := range names {
		err := tp.st.Update(ctx, name, func(old []byte) ([]byte, error) {
			if old == nil {
				return nil, store.ErrUnchanged
			}
			s, err := decodeStored(old, config.Options{})
			if err != nil || !s.expired(now) {
				return nil, store.ErrUnchanged
			}
			svc := s.live(now)
			for addr, deadline := range s.expires {
				if !now.Before(deadline) {
					delete(s.expires, addr)
				}
			}
			return encodeStored(svc, s.expires)
		})
		if err != nil && ctx.Err() == nil {
			log.Printf("[ERROR] plugin/thirdparty: removing expired endpoints of %s: %v", name, err)
		}
	}
}
