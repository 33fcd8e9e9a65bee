package thirdparty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	etcdstore "github.com/tpdns/tpdns/store/etcd"
)

// sharingTTL is the lease of a replica's membership: the endpoints of a
// replica that dies are probed by the others within it and one interval.
const sharingTTL = 5 * time.Second

// unpublishedIntervals is how many of its intervals an endpoint may go
// without a published state before every replica probes it itself: its
// owner may not know it (another registry file), or be stuck.
const unpublishedIntervals = 3

// publishRetry is how long a publication that failed waits to be tried
// again.
const publishRetry = time.Second

// sharing is health_sharing: the replicas on one etcd share the probing.
// Each checked endpoint is probed by one live replica, its owner, chosen
// by rendezvous hashing of the endpoint over the replicas, which
// publishes the endpoint's changes of state; every replica answers from
// the published states and, for what it owns, its own.
type sharing struct {
	tp    *ThirdParty
	share *etcdstore.Share
	wake  chan struct{} // pending has states to publish

	mu sync.Mutex
	// joined: the first word of the share came (until then nothing is
	// probed, so that a replica joining does not probe everything once);
	// member: this replica is registered and sees the others (else it
	// probes everything itself).
	joined, member bool
	replicas       []replica
	all            map[string]*sharedEndpoint // by endpoint key
	byPath         map[string]*sharedEndpoint
	// published are the states in etcd by path, of the endpoints this
	// replica checks or not (yet: its registry may lag).
	published map[string]publishedState
	pending   map[string][]byte // states to publish by path; nil deletes
}

// replica is a live replica and the hash of its ID.
type replica struct {
	id   string
	hash uint64
}

// sharedEndpoint is a checked endpoint and what the sharing knows of it.
type sharedEndpoint struct {
	health.Endpoint
	path  string // where its state is published: SERVICE/HOST:PORT
	hash  uint64 // of path
	check string // fingerprint of its check, in the published state
	owned bool   // this replica probes it and publishes its state
	// local: probed by this replica without publishing, as nobody
	// published its state for unpublishedIntervals.
	local bool
	// published: its owner published its state (with its check). A
	// former owner's state stays until that one's lease ends, and an owner
	// that does not know the endpoint (another registry file) publishes
	// none. unpublishedSince is since when it has not been.
	published        bool
	unpublishedSince time.Time
}

// publishedState is what etcd holds of an endpoint's state.
type publishedState struct {
	State     string    `json:"state"`
	Successes int       `json:"successes"`
	Failures  int       `json:"failures"`
	Checked   time.Time `json:"checked"`
	LatencyUS int64     `json:"latency_us"`
	Error     string    `json:"error,omitempty"`
	Check     string    `json:"check"`   // fingerprint: another check's state is not this one's
	Replica   string    `json:"replica"` // the owner that published it
}

// replicaID names this replica: the host, the process and the block's
// first zone, so that it stays the same across reloads (a reload moves no
// endpoint to another owner) and two blocks of one process differ.
func replicaID(zone string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tpdns"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strings.TrimSuffix(zone, ".")
}

func newSharing(tp *ThirdParty, st *etcdstore.Store) *sharing {
	return &sharing{
		tp:        tp,
		share:     st.Share(replicaID(tp.opts.zones[0]), sharingTTL),
		wake:      make(chan struct{}, 1),
		all:       map[string]*sharedEndpoint{},
		byPath:    map[string]*sharedEndpoint{},
		published: map[string]publishedState{},
		pending:   map[string][]byte{},
	}
}

// run keeps the membership, publishes and watches for endpoints nobody
// publishes, until ctx ends.
func (s *sharing) run(ctx context.Context, background *sync.WaitGroup) {
	background.Go(func() { s.share.Run(ctx, s.updated) })
	background.Go(func() { s.publish(ctx) })
	background.Go(func() { s.watchUnpublished(ctx) })
}

// setEndpoints makes eps the checked endpoints, and has the checker probe
// those of them this replica should. The caller holds tp.mu.
func (s *sharing) setEndpoints(eps []health.Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make(map[string]*sharedEndpoint, len(eps))
	byPath := make(map[string]*sharedEndpoint, len(eps))
	var learned []health.Report
	for _, ep := range eps {
		e := s.all[ep.Key]
		if e == nil {
			path := ep.Owner + "/" + net.JoinHostPort(ep.Target.Host, strconv.Itoa(int(ep.Target.Port)))
			e = &sharedEndpoint{path: path, hash: hashOf(path), check: SharedCheck(ep.Target.Check)}
			if p, ok := s.published[path]; ok && p.Check == e.check {
				learned = append(learned, health.Report{Endpoint: ep, Status: p.status()})
			}
		}
		e.Endpoint = ep
		all[ep.Key] = e
		byPath[e.path] = e
	}
	// The views are built after this, from the copy: it is written to
	// directly.
	s.tp.states.apply(learned)
	var gone []health.Report
	for key, e := range s.all {
		if all[key] != nil {
			continue
		}
		if e.owned && byPath[e.path] == nil {
			s.pending[e.path] = nil // its state goes with it
		}
		if !s.joined || s.member && !e.owned && !e.local {
			// The checker does not have it, and so will not report its
			// removal: the copy forgets it here.
			gone = append(gone, health.Report{Endpoint: e.Endpoint, Removed: true})
		}
	}
	s.all, s.byPath = all, byPath
	s.tp.states.apply(gone)
	s.tp.states.apply(s.assign(s.replicas, false))
}

// assign has the checker probe what this replica owns, and what nobody
// publishes; everything while it is not a member. Endpoints it comes to
// own start in the state it knows of them (the published one), and their
// state is published now under its lease; so are all it owns when
// republish is set (a new lease). before are the replicas of the last
// assignment, to tell a take-over. It returns the published states of the
// endpoints it no longer owns (their new owner's, which it ignored as
// long as it owned them), to be answered. The caller holds s.mu.
func (s *sharing) assign(before []replica, republish bool) (learned []health.Report) {
	if !s.joined {
		return nil
	}
	var probe []health.Endpoint
	owned, local := 0, 0
	now := time.Now()
	for _, e := range s.all {
		owner := ownerOf(s.replicas, e.hash)
		owns := s.member && owner == s.share.ID()
		p, ok := s.published[e.path]
		ok = ok && p.Check == e.check
		published := ok && p.Replica == owner
		switch {
		case published:
			e.local = false
		case e.published || e.unpublishedSince.IsZero():
			e.unpublishedSince = now
		}
		e.published = published
		if owns && (!e.owned || republish) {
			if st := s.tp.states.get(e.Key); !st.LastCheck.IsZero() {
				s.pending[e.path] = s.encode(e, st)
			}
			if !e.owned && len(before) > 0 && !contains(s.replicas, ownerOf(before, e.hash)) {
				sharingTakeovers.Inc()
			}
		}
		if e.owned && !owns && ok {
			learned = append(learned, health.Report{Endpoint: e.Endpoint, Status: p.status(), From: s.tp.states.get(e.Key).State})
		}
		e.owned = owns
		if owns || e.local || !s.member {
			probe = append(probe, e.Endpoint)
		}
		if owns {
			owned++
		} else if e.local {
			local++
		}
	}
	s.tp.checker.SetKnown(probe, s.known)
	sharingOwned.Set(float64(owned))
	sharingLocal.Set(float64(local))
	if len(s.pending) > 0 {
		signal(s.wake)
	}
	return learned
}

// inherit returns the states old has of the endpoints whose state this
// replica does not know yet: a reload goes on answering what the
// configuration it replaces answered, before the share tells it anything.
func (s *sharing) inherit(old *healthCopy) []health.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	var taken []health.Report
	for key, e := range s.all {
		if st := old.get(key); !st.LastCheck.IsZero() && s.tp.states.get(key).LastCheck.IsZero() {
			taken = append(taken, health.Report{Endpoint: e.Endpoint, Status: st})
		}
	}
	return taken
}

// known is the state an endpoint the checker takes over starts in: the
// one this replica answers, published by its last owner.
func (s *sharing) known(key string) (health.Status, bool) {
	st := s.tp.states.get(key)
	return st, !st.LastCheck.IsZero()
}

// checkerReported takes the checker's reports: the changes of state of
// the endpoints this replica owns are published, and every report is
// answered, except the removal of an endpoint that is still checked (its
// probing moved to another replica, its state stays).
func (s *sharing) checkerReported(batch []health.Report) {
	s.mu.Lock()
	kept := batch[:0]
	for _, r := range batch {
		e := s.all[r.Key]
		if r.Removed && e != nil {
			continue
		}
		if e != nil && e.owned && r.Changed() {
			s.pending[e.path] = s.encode(e, r.Status)
		}
		kept = append(kept, r)
	}
	if len(s.pending) > 0 {
		signal(s.wake)
	}
	s.mu.Unlock()
	if len(kept) > 0 {
		s.tp.healthReported(kept)
	}
}

// updated takes what the share tells of the replicas and their states.
func (s *sharing) updated(u etcdstore.ShareUpdate) {
	s.mu.Lock()
	before := s.replicas
	if !u.Member {
		s.replicas = nil
	} else if u.Replicas != nil {
		s.replicas = make([]replica, len(u.Replicas))
		for i, id := range u.Replicas {
			s.replicas[i] = replica{id: id, hash: hashOf(id)}
		}
	}
	sharingReplicas.Set(float64(len(s.replicas)))
	if u.Member != s.member || !s.joined {
		if u.Member {
			log.Printf("[INFO] plugin/thirdparty: health_sharing: replica %s shares the probing with %d other(s)", s.share.ID(), len(s.replicas)-1)
		} else {
			log.Printf("[WARNING] plugin/thirdparty: health_sharing: replica %s is not a member: %v; it probes every endpoint itself", s.share.ID(), u.Err)
		}
	}
	s.joined, s.member = true, u.Member
	if u.Reset {
		clear(s.published)
	}
	var reports []health.Report
	for path, v := range u.States {
		var p publishedState
		if v == nil || json.Unmarshal(v, &p) != nil {
			delete(s.published, path)
			continue
		}
		s.published[path] = p
		e := s.byPath[path]
		switch {
		case e == nil || p.Check != e.check:
			// One it does not check (yet) is told when it does
			// (setEndpoints).
		case e.owned && p.Replica != s.share.ID():
			// A former owner's write landed after this replica's: its
			// own state goes again, or the others would take it as
			// unpublished.
			if st := s.tp.states.get(e.Key); !st.LastCheck.IsZero() {
				s.pending[path] = s.encode(e, st)
				signal(s.wake)
			}
		case !e.owned:
			reports = append(reports, health.Report{Endpoint: e.Endpoint, Status: p.status(), From: s.tp.states.get(e.Key).State})
		}
	}
	s.mu.Unlock()
	// Answered before the assignment, which starts the endpoints this
	// replica takes over in these states.
	if len(reports) > 0 {
		s.tp.healthReported(reports)
	}
	s.mu.Lock()
	learned := s.assign(before, u.Reset && u.Member)
	s.mu.Unlock()
	if len(learned) > 0 {
		s.tp.healthReported(learned)
	}
}

// watchUnpublished has this replica probe the endpoints whose state
// nobody published for unpublishedIntervals of their interval.
func (s *sharing) watchUnpublished(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.mu.Lock()
			changed := false
			for _, e := range s.all {
				if s.member && !e.owned && !e.published && !e.local &&
					now.Sub(e.unpublishedSince) >= unpublishedIntervals*e.Target.Check.Interval {
					e.local, changed = true, true
				}
			}
			var learned []health.Report
			if changed {
				learned = s.assign(s.replicas, false)
			}
			s.mu.Unlock()
			if len(learned) > 0 {
				s.tp.healthReported(learned)
			}
		}
	}
}

// publish writes the pending states, until ctx ends.
func (s *sharing) publish(ctx context.Context) {
	retry := time.NewTimer(publishRetry)
	retry.Stop()
	defer retry.Stop()
	reported := "" // the failure logged last, so that a lasting one is logged once
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-retry.C:
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = map[string][]byte{}
		for path, v := range batch {
			// A state of an endpoint given away since it was queued
			// would overwrite its new owner's.
			if e := s.byPath[path]; v != nil && (e == nil || !e.owned) {
				delete(batch, path)
			}
		}
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if err := s.share.Publish(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != reported {
				reported = err.Error()
				log.Printf("[ERROR] plugin/thirdparty: health_sharing: publishing %d states: %v; trying again every %s", len(batch), err, publishRetry)
			}
			// Again later, unless newer states replaced them meanwhile.
			s.mu.Lock()
			for path, v := range batch {
				if _, newer := s.pending[path]; !newer {
					s.pending[path] = v
				}
			}
			s.mu.Unlock()
			retry.Reset(publishRetry)
			continue
		}
		reported = ""
		sharingPublished.Add(float64(len(batch)))
	}
}

// status is the health.Status p tells.
func (p publishedState) status() health.Status {
	return health.Status{State: health.ParseState(p.State), Successes: p.Successes, Failures: p.Failures,
		LastCheck: p.Checked, LastLatency: time.Duration(p.LatencyUS) * time.Microsecond, LastError: p.Error}
}

// encode is the published form of st, e's state.
func (s *sharing) encode(e *sharedEndpoint, st health.Status) []byte {
	b, _ := json.Marshal(publishedState{State: st.State.String(), Successes: st.Successes, Failures: st.Failures,
		Checked: st.LastCheck.UTC(), LatencyUS: st.LastLatency.Microseconds(), Error: st.LastError,
		Check: e.check, Replica: s.share.ID()})
	return b
}

// ownerOf is the replica that probes the endpoint of hash h: the one
// scoring highest for it (rendezvous hashing), so that a replica joining
// or leaving moves only the endpoints it takes or had.
// SharedOwner returns the replica among ids that probes the endpoint at
// path (SERVICE/HOST:PORT) with health_sharing, as every replica computes
// it: tools and tests use it to know who probes what.
func SharedOwner(ids []string, path string) string {
	replicas := make([]replica, len(ids))
	for i, id := range ids {
		replicas[i] = replica{id: id, hash: hashOf(id)}
	}
	return ownerOf(replicas, hashOf(path))
}

// SharedCheck is the fingerprint of the check under which an endpoint's
// state is published: a state published under another check is not used.
func SharedCheck(c config.Check) string {
	sum := sha256.Sum256([]byte(checkID(c)))
	return hex.EncodeToString(sum[:8])
}

func ownerOf(replicas []replica, h uint64) string {
	best, owner := uint64(0), ""
	for _, r := range replicas {
		if score := mix(h ^ r.hash); owner == "" || score > best {
			best, owner = score, r.id
		}
	}
	return owner
}

func contains(replicas []replica, id string) bool {
	for _, r := range replicas {
		if r.id == id {
			return true
		}
	}
	return false
}

func hashOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is SplitMix64's finalizer: a score that depends on every bit of
// both hashes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
