// Package registry owns the services tpdns serves: those of the registry
// file, those written through the API into a store, their union, the
// conflicts between the two, and a revision that grows with every change.
//
// Every write goes through a Registry and is, in one step under its lock:
// validated against the current union (names included), written to the
// store, applied, and published to the subscribers, which have rebuilt
// what they serve before the write returns. So two writers cannot lose an
// update or both take a name, and the answer after an acknowledged write
// reflects it. Snapshots read from the store are ordered by the store's
// revision: an older one never replaces a newer state, and the echo of the
// registry's own write is recognised as such.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/internal/parallel"
	"github.com/tpdns/tpdns/store"
)

// Stored is a service of the store as served: its document merged with
// the endpoints registered to it one by one.
type Stored struct {
	Service   config.Service
	Doc       []byte                    // the service's document
	Endpoints map[string]store.Endpoint // its registered endpoints, by address
	// Revision is the store revision of the service's last change as this
	// registry knows it: of its own write, or of the snapshot a change by
	// another writer was read in (which may be later than that write). It
	// grows with every change of the document or of a registered endpoint;
	// a heartbeat that changes nothing of an endpoint keeps it. The API
	// shows it as the service's ETag.
	Revision int64
}

// State is the registry at one revision. It is never changed once
// published: read it without a lock.
type State struct {
	// Revision grows by one with every change published.
	Revision uint64
	// File is the registry file's services, last good.
	File []config.Service
	// Stored is the store's services, by name.
	Stored map[string]Stored
	// Conflicts are the store services not served, and why.
	Conflicts map[string]string
	// Kube is the services of Kubernetes objects (the kubernetes
	// source), by name; KubeConflicts those not served, and why.
	Kube          map[string]config.Service
	KubeConflicts map[string]string
	// Services is what is served: File, then the store's in name order,
	// then Kube's in name order, each unless a name it creates is taken.
	Services []config.Service
}

// FileService returns the registry file's service name.
func (s *State) FileService(name string) (config.Service, bool) {
	for _, f := range s.File {
		if f.Name == name {
			return f, true
		}
	}
	return config.Service{}, false
}

// Errors of the writes.
var (
	// ErrFileOwned is a write to a service of the registry file.
	ErrFileOwned = errors.New("the service is defined in the registry file")
	// ErrNotFound is a write to a service the store does not have.
	ErrNotFound = errors.New("no such service")
	// ErrNoEndpoint is a delete of an endpoint the service does not have.
	ErrNoEndpoint = errors.New("no such endpoint")
)

// ClashError is a write that would make a name another service has.
type ClashError struct {
	Name string // the owner name
	By   string // the service that has it
	// File is whether By is the registry file's service, Kube whether it
	// is a Kubernetes object's; else it is the store's.
	File, Kube bool
}

func (e *ClashError) Error() string {
	origin := "the store's"
	switch {
	case e.File:
		origin = "the registry file's"
	case e.Kube:
		origin = "the Kubernetes object's"
	}
	return fmt.Sprintf("the name %s is already used by %s service %s", e.Name, origin, e.By)
}

// clashWith is the ClashError of the name n, which by has.
func clashWith(n string, by owner) *ClashError {
	return &ClashError{Name: n, By: by.service, File: by.origin == originFile, Kube: by.origin == originKube}
}

// InvalidError is a write whose result does not validate.
type InvalidError struct {
	// Endpoint is the index, in the merged service, of the endpoint the
	// write was about; -1 for a service write.
	Endpoint int
	Err      error
}

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Registry owns the services; see the package comment.
type Registry struct {
	opts config.Options
	st   store.Store

	mu    sync.Mutex // orders the changes; readers use state
	state atomic.Pointer[State]
	subs  []func(*State)
	// loaded is the store revision that State.Stored is exactly; applied
	// the highest revision of a write applied on top, which may leave
	// out other writers' changes below it. A snapshot older than applied
	// would undo a write, one at loaded or below is what is held.
	loaded, applied int64
}

// New returns a registry of the file's services (validated by the
// caller), with no store, publishing to no one yet.
func New(opts config.Options, file []config.Service) *Registry {
	r := &Registry{opts: opts, loaded: -1, applied: -1}
	r.state.Store(build(0, file, nil, nil))
	return r
}

// SetStore makes st where the registry's writes go and Load reads.
func (r *Registry) SetStore(st store.Store) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st, r.loaded, r.applied = st, -1, -1
}

// Subscribe calls fn with the state now and with every state published
// after it, in order, one at a time, before the change that published it
// returns. fn must not write to the registry.
func (r *Registry) Subscribe(fn func(*State)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, fn)
	fn(r.state.Load())
}

// Snapshot returns the current state.
func (r *Registry) Snapshot() *State { return r.state.Load() }

// SetKube serves services as the Kubernetes objects' (by name, each
// validated by the caller), after the file's and the store's.
func (r *Registry) SetKube(services map[string]config.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	r.publish(build(cur.Revision+1, cur.File, cur.Stored, services))
}

// SetFile serves services as the registry file's.
func (r *Registry) SetFile(services []config.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	r.publish(build(cur.Revision+1, services, cur.Stored, cur.Kube))
}

// Load reads the store and serves what it holds, unless the registry
// already holds that or newer. A service that does not validate (the zones
// changed, say) is left out and returned in invalid.
func (r *Registry) Load(ctx context.Context) (invalid map[string]error, err error) {
	snap, err := r.st.Load(ctx)
	if err != nil {
		return nil, err
	}
	stored, invalid := r.decode(snap)
	r.mu.Lock()
	defer r.mu.Unlock()
	if snap.Revision < r.applied || snap.Revision <= r.loaded {
		return invalid, nil // older than a write applied since, or held
	}
	r.loaded, r.applied = snap.Revision, max(r.applied, snap.Revision)
	cur := r.state.Load()
	revise(cur.Stored, stored, snap.Revision)
	if sameStored(cur.Stored, stored) {
		// Expiry times may differ (a write applied at once carries this
		// replica's clock): they change no answer, so nothing is rebuilt.
		next := *cur
		next.Stored = stored
		r.state.Store(&next)
		return invalid, nil
	}
	r.publish(build(cur.Revision+1, cur.File, stored, cur.Kube))
	return invalid, nil
}

// LoadStale serves snap, a copy of the store kept elsewhere (a replica's
// file of its last read), while the store itself cannot be read. It
// changes nothing once the store has been read or written (applied says
// whether it served snap), and it leaves the registry as if nothing had
// been read: the store's next snapshot, whatever its revision, replaces it
// whole. A service that does not validate is left out and returned in
// invalid.
func (r *Registry) LoadStale(snap *store.Snapshot) (invalid map[string]error, applied bool) {
	stored, invalid := r.decode(snap)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded >= 0 || r.applied >= 0 {
		return invalid, false
	}
	for name, s := range stored {
		s.Revision = snap.Revision
		stored[name] = s
	}
	cur := r.state.Load()
	r.publish(build(cur.Revision+1, cur.File, stored, cur.Kube))
	return invalid, true
}

// decode merges and validates every service of snap, on every processor:
// a replica's first read of a large store is mostly this. A service read
// as the current state holds it (the same document and registered
// endpoints) keeps its decoding: the store's watch reads everything again
// after every change, of which most is unchanged.
func (r *Registry) decode(snap *store.Snapshot) (stored map[string]Stored, invalid map[string]error) {
	held := r.state.Load().Stored
	names := slices.Collect(maps.Keys(snap.Services))
	services := make([]Stored, len(names))
	errs := make([]error, len(names))
	eachPart(len(names), func(from, to int) {
		for i := from; i < to; i++ {
			name := names[i]
			s := Stored{Doc: snap.Services[name], Endpoints: snap.Endpoints[name]}
			if old, ok := held[name]; ok && sameService(old, s) {
				s.Service = old.Service
			} else {
				s.Service, errs[i] = merge(s.Doc, s.Endpoints, r.opts)
			}
			services[i] = s
		}
	})
	stored = make(map[string]Stored, len(names))
	for i, name := range names {
		if errs[i] != nil {
			if invalid == nil {
				invalid = map[string]error{}
			}
			invalid[name] = errs[i]
			continue
		}
		stored[name] = services[i]
	}
	return stored, invalid
}

// minPart is the fewest services worth a goroutine of their own.
const minPart = 500

// eachPart calls f with the bounds of parts of n items, of minPart items
// each, on a goroutine per processor (see parallel.Parts), each taking the
// next part as it finishes one. Halves of the list, one per processor,
// finish apart when the processors are not equally free (other processes
// run on them), and the load waits for the later one; small parts taken
// in turn keep every processor busy to the end.
func eachPart(n int, f func(from, to int)) {
	workers := parallel.Parts(n, minPart)
	var next atomic.Int64
	parallel.Run(workers, 1, func(_, _, _ int) {
		for {
			from := int(next.Add(minPart)) - minPart
			if from >= n {
				return
			}
			f(from, min(from+minPart, n))
		}
	})
}

// Put creates or replaces the store service svc; the endpoints registered
// to it stay, and it must be valid with them. created reports whether it
// is new.
func (r *Registry) Put(ctx context.Context, svc config.Service) (created bool, s Stored, err error) {
	return r.PutIf(ctx, svc, nil)
}

// Precondition is what a conditional write requires of the store service
// as it is when the write applies: it is given the service (nil when the
// store has none of that name) and returns an error to refuse the write.
// It runs under the registry's lock, so nothing changes the service
// between the check and the write.
type Precondition func(current *Stored) error

// PutIf is Put when pre (nil: none) accepts the service as it is; else it
// returns pre's error and writes nothing.
func (r *Registry) PutIf(ctx context.Context, svc config.Service, pre Precondition) (created bool, s Stored, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	if _, ok := cur.FileService(svc.Name); ok {
		return false, Stored{}, ErrFileOwned
	}
	if err := check(pre, cur, svc.Name); err != nil {
		return false, Stored{}, err
	}
	doc, err := config.EncodeJSON(svc)
	if err != nil {
		return false, Stored{}, err
	}
	registered := cur.Stored[svc.Name].Endpoints
	merged, err := merge(doc, registered, r.opts)
	if err != nil {
		return false, Stored{}, &InvalidError{Endpoint: -1, Err: err}
	}
	if err := cur.clash(&merged); err != nil {
		return false, Stored{}, err
	}
	created, rev, err := r.st.PutService(ctx, svc.Name, doc)
	if err != nil {
		return false, Stored{}, err
	}
	r.advance(rev)
	s = Stored{Service: merged, Doc: doc, Endpoints: registered, Revision: rev}
	r.apply(cur, svc.Name, &s)
	return created, s, nil
}

// check runs pre, if any, on the store service name of cur.
func check(pre Precondition, cur *State, name string) error {
	if pre == nil {
		return nil
	}
	if s, ok := cur.Stored[name]; ok {
		return pre(&s)
	}
	return pre(nil)
}

// PutEndpoint creates or changes the endpoint addr of the store service
// name: change is given the endpoint as it is (registered, or in the
// service's document), or a new one. With ttl > 0 it expires unless put
// again within ttl. created reports whether the service had no such
// endpoint.
func (r *Registry) PutEndpoint(ctx context.Context, name, addr string, change func(*config.EndpointDoc), ttl time.Duration) (created bool, s Stored, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	if _, ok := cur.FileService(name); ok {
		return false, Stored{}, ErrFileOwned
	}
	current, ok := cur.Stored[name]
	if !ok {
		return false, Stored{}, ErrNotFound
	}
	doc := config.NewDocument(current.Service)
	i := slices.IndexFunc(doc.Endpoints, func(e config.EndpointDoc) bool { return e.Address == addr })
	created = i < 0
	ep := config.EndpointDoc{Address: addr, Weight: config.DefaultWeight}
	if !created {
		ep = doc.Endpoints[i]
	}
	change(&ep)
	epDoc, err := json.Marshal(ep)
	if err != nil {
		return false, Stored{}, err
	}
	endpoints := maps.Clone(current.Endpoints)
	if endpoints == nil {
		endpoints = map[string]store.Endpoint{}
	}
	endpoints[addr] = store.Endpoint{Doc: epDoc}
	svc, err := merge(current.Doc, endpoints, r.opts)
	if err != nil {
		return false, Stored{}, &InvalidError{Endpoint: endpointIndex(current.Doc, endpoints, addr), Err: err}
	}
	if err := cur.clash(&svc); err != nil {
		return false, Stored{}, err
	}
	if ttl > 0 {
		endpoints[addr] = store.Endpoint{Doc: epDoc, Expires: time.Now().Add(ttl)}
	}
	_, rev, err := r.st.PutEndpoint(ctx, name, addr, epDoc, ttl)
	if errors.Is(err, store.ErrNoService) {
		return false, Stored{}, ErrNotFound
	}
	if err != nil {
		return false, Stored{}, err
	}
	r.advance(rev)
	s = Stored{Service: svc, Doc: current.Doc, Endpoints: endpoints, Revision: rev}
	if old, ok := current.Endpoints[addr]; ok && string(old.Doc) == string(epDoc) {
		s.Revision = current.Revision // a heartbeat: nothing changed
	}
	r.apply(cur, name, &s)
	return created, s, nil
}

// Delete removes the store service name and its registered endpoints.
func (r *Registry) Delete(ctx context.Context, name string) error {
	return r.DeleteIf(ctx, name, nil)
}

// DeleteIf is Delete when pre (nil: none) accepts the service as it is;
// else it returns pre's error and deletes nothing.
func (r *Registry) DeleteIf(ctx context.Context, name string, pre Precondition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	if _, ok := cur.FileService(name); ok {
		return ErrFileOwned
	}
	if err := check(pre, cur, name); err != nil {
		return err
	}
	existed, rev, err := r.st.DeleteService(ctx, name)
	if err != nil {
		return err
	}
	r.advance(rev)
	if _, held := cur.Stored[name]; held {
		r.apply(cur, name, nil)
	}
	if !existed {
		return ErrNotFound
	}
	return nil
}

// DeleteEndpoint removes the endpoint addr of the store service name,
// whether it is registered, in the service's document, or both (a
// registration overriding the document's).
func (r *Registry) DeleteEndpoint(ctx context.Context, name, addr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	if _, ok := cur.FileService(name); ok {
		return ErrFileOwned
	}
	current, ok := cur.Stored[name]
	if !ok {
		return ErrNotFound
	}
	var d config.Document
	if err := json.Unmarshal(current.Doc, &d); err != nil {
		return err
	}
	inDoc := slices.IndexFunc(d.Endpoints, func(e config.EndpointDoc) bool { return e.Address == addr })
	_, registered := current.Endpoints[addr]
	if inDoc < 0 && !registered {
		return ErrNoEndpoint
	}
	endpoints, doc := maps.Clone(current.Endpoints), current.Doc
	var last int64 // the revision of the last store write
	if registered {
		_, rev, err := r.st.DeleteEndpoint(ctx, name, addr)
		if err != nil {
			return err
		}
		r.advance(rev)
		delete(endpoints, addr)
		last = rev
	}
	if inDoc >= 0 {
		d.Endpoints = slices.Delete(d.Endpoints, inDoc, inDoc+1)
		var err error
		if doc, err = json.Marshal(d); err != nil {
			return err
		}
		_, rev, err := r.st.PutService(ctx, name, doc)
		if err != nil {
			return err
		}
		r.advance(rev)
		last = rev
	}
	svc, err := merge(doc, endpoints, r.opts)
	if err != nil {
		// What is left does not validate (an endpoint was its last):
		// the store has it, and serves nothing of it until it is fixed.
		r.apply(cur, name, nil)
		return nil
	}
	r.apply(cur, name, &Stored{Service: svc, Doc: doc, Endpoints: endpoints, Revision: last})
	return nil
}

// advance records a write of the registry's own that the store made at
// rev: when nothing else was written since the last snapshot, the state
// is still exactly the store's, at rev.
func (r *Registry) advance(rev int64) {
	if r.loaded == rev-1 && r.applied == r.loaded {
		r.loaded = rev
	}
	r.applied = max(r.applied, rev)
}

// apply publishes cur with the store service name replaced by s (nil:
// removed). The caller holds r.mu.
func (r *Registry) apply(cur *State, name string, s *Stored) {
	stored := maps.Clone(cur.Stored)
	if stored == nil {
		stored = map[string]Stored{}
	}
	if s == nil {
		delete(stored, name)
	} else {
		stored[name] = *s
	}
	r.publish(build(cur.Revision+1, cur.File, stored, cur.Kube))
}

// publish makes next the state and tells the subscribers. The caller
// holds r.mu.
func (r *Registry) publish(next *State) {
	r.state.Store(next)
	for _, fn := range r.subs {
		fn(next)
	}
}

// build makes the state of file and stored: every file service, then the
// store's in name order, each unless a name it creates is taken (the file
// wins; writes through the registry keep the store from clashing with
// itself, but other replicas and file edits may).
func build(rev uint64, file []config.Service, stored map[string]Stored, kube map[string]config.Service) *State {
	if len(stored) == 0 && len(kube) == 0 {
		// The file alone: validated whole, nothing to check it against,
		// and no copy of a large registry.
		return &State{Revision: rev, File: file, Stored: stored, Conflicts: map[string]string{}, Kube: kube, KubeConflicts: map[string]string{}, Services: file}
	}
	// The names of the store's services, in name order, are made on every
	// processor, and the map of owners sized for all of them at once: with
	// a large store these were most of a state's building.
	keys := slices.Sorted(maps.Keys(stored))
	owned := make([][]string, len(keys))
	count := 0
	for _, s := range file {
		count += 1 + len(s.Endpoints)
	}
	parallel.Run(len(keys), minPart, func(_, from, to int) {
		for i := from; i < to; i++ {
			s := stored[keys[i]].Service
			owned[i] = s.Names()
		}
	})
	for _, names := range owned {
		count += len(names)
	}
	taken := make(map[string]owner, count) // owner name → the service creating it
	services := make([]config.Service, 0, len(file)+len(stored)+len(kube))
	for _, s := range file {
		for _, n := range s.Names() {
			taken[n] = owner{s.Name, originFile}
		}
		services = append(services, s)
	}
	conflicts := map[string]string{}
	for i, name := range keys {
		s := stored[name].Service
		if n, by, clash := clashesIn(owned[i], taken); clash {
			conflicts[name] = clashWith(n, by).Error()
			continue
		}
		for _, n := range owned[i] {
			taken[n] = owner{s.Name, originStore}
		}
		services = append(services, s)
	}
	kubeConflicts := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(kube)) {
		s := kube[name]
		names := s.Names()
		if n, by, clash := clashesIn(names, taken); clash {
			kubeConflicts[name] = clashWith(n, by).Error()
			continue
		}
		for _, n := range names {
			taken[n] = owner{s.Name, originKube}
		}
		services = append(services, s)
	}
	return &State{Revision: rev, File: file, Stored: stored, Conflicts: conflicts, Kube: kube, KubeConflicts: kubeConflicts, Services: services}
}

// clash refuses a store service whose names another service has: one of
// the file, or another of the store.
func (s *State) clash(svc *config.Service) error {
	taken := map[string]owner{}
	for _, f := range s.File {
		for _, n := range f.Names() {
			taken[n] = owner{f.Name, originFile}
		}
	}
	for name, st := range s.Stored {
		if name == svc.Name {
			continue
		}
		for _, n := range st.Service.Names() {
			taken[n] = owner{name, originStore}
		}
	}
	if n, by, clash := clashes(svc, taken); clash {
		return clashWith(n, by)
	}
	return nil
}

// owner is the service that creates a name: the registry file's, or the
// store's.
type owner struct {
	service string
	origin  origin
}

// origin is where a service comes from.
type origin uint8

const (
	originFile origin = iota
	originStore
	originKube
)

// clashes returns the first name s creates that is taken, and by whom.
func clashes(s *config.Service, taken map[string]owner) (name string, by owner, clash bool) {
	return clashesIn(s.Names(), taken)
}

// clashesIn returns the first of names that is taken, and by whom.
func clashesIn(names []string, taken map[string]owner) (name string, by owner, clash bool) {
	for _, n := range names {
		if by, ok := taken[n]; ok {
			return n, by, true
		}
	}
	return "", owner{}, false
}

// revise sets the Revision of each service of next, read in a snapshot
// at rev: that of the same service in cur when it is unchanged (expiry
// times aside, as in sameStored), else rev.
func revise(cur, next map[string]Stored, rev int64) {
	for name, s := range next {
		s.Revision = rev
		if old, ok := cur[name]; ok && sameService(old, s) {
			s.Revision = old.Revision
		}
		next[name] = s
	}
}

// sameService reports whether two readings of a service serve the same.
func sameService(x, y Stored) bool {
	return string(x.Doc) == string(y.Doc) && maps.EqualFunc(x.Endpoints, y.Endpoints, func(e, f store.Endpoint) bool {
		return string(e.Doc) == string(f.Doc)
	})
}

// sameStored reports whether two readings of the store serve the same:
// the same documents and registered endpoints.
func sameStored(a, b map[string]Stored) bool {
	return maps.EqualFunc(a, b, func(x, y Stored) bool {
		return string(x.Doc) == string(y.Doc) && maps.EqualFunc(x.Endpoints, y.Endpoints, func(e, f store.Endpoint) bool {
			return string(e.Doc) == string(f.Doc)
		})
	})
}

// merge builds the service of a stored document and its registered
// endpoints, which replace the document's endpoint of the same address or
// come after them, and validates the result.
func merge(doc []byte, endpoints map[string]store.Endpoint, opts config.Options) (config.Service, error) {
	if len(endpoints) == 0 {
		if s, ok := decodeCanonical(doc, opts); ok {
			return s, nil
		}
	}
	return mergeDocument(doc, endpoints, opts)
}

// mergeDocument is merge the long way: the document and the endpoints
// decoded into a config.Document, merged there, encoded again and
// decoded as a service.
func mergeDocument(doc []byte, endpoints map[string]store.Endpoint, opts config.Options) (config.Service, error) {
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

// decodeCanonical decodes doc, a service without registered endpoints, as
// merge would, when it can tell that merge's round trip through
// config.Document would give back doc itself: when doc is what
// config.EncodeJSON writes for the service it holds, as the documents the
// registry stores are (see Put). Encoding a Document decoded from an
// encoded Document writes the same bytes, so merge would decode doc as it
// is. A replica reading the store decodes each document this way, with
// one encoding (by hand, see config.IsEncoded) in place of merge's
// decoding and encoding through reflection. ok is false for any other
// doc, valid or not: merge decides.
func decodeCanonical(doc []byte, opts config.Options) (s config.Service, ok bool) {
	s, err := config.DecodeJSON(doc, opts)
	if err != nil {
		return config.Service{}, false
	}
	if !config.IsEncoded(doc, s) {
		return config.Service{}, false
	}
	return s, true
}

// endpointIndex is where addr stands among the endpoints of the merged
// service (see merge): in the document's place, or after the document's
// endpoints in address order.
func endpointIndex(doc []byte, registered map[string]store.Endpoint, addr string) int {
	var d config.Document
	_ = json.Unmarshal(doc, &d)
	if i := slices.IndexFunc(d.Endpoints, func(e config.EndpointDoc) bool { return e.Address == addr }); i >= 0 {
		return i
	}
	i := len(d.Endpoints)
	for _, a := range slices.Sorted(maps.Keys(registered)) {
		if a == addr {
			return i
		}
		if !slices.ContainsFunc(d.Endpoints, func(e config.EndpointDoc) bool { return e.Address == a }) {
			i++
		}
	}
	return i
}
