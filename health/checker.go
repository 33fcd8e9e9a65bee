package health

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultConcurrency is how many probes may be in flight at once.
const DefaultConcurrency = 256

// jitter is the largest share of an interval by which a probe is moved, at
// random, so that endpoints added together drift apart instead of being
// probed in bursts forever.
const jitter = 0.1

// Endpoint is one endpoint to keep the health of.
type Endpoint struct {
	// Key identifies the endpoint across Set calls and checkers: the same
	// key keeps its state.
	Key string
	// Owner is handed to the change callback (the service's name).
	Owner  string
	Target Target
}

// Report is what the checker publishes of one endpoint: its status after
// a probe, or that it is no longer checked.
type Report struct {
	Endpoint
	// Status is the endpoint's status now; From is the state before.
	Status Status
	From   State
	// Removed: the endpoint is no longer in the set, Status means nothing.
	Removed bool
}

// Changed reports whether the endpoint's state changed.
func (r Report) Changed() bool { return !r.Removed && r.Status.State != r.From }

// Checker probes a set of endpoints, each on its own interval, with a
// bounded number of probes in flight, and publishes what it learns: the
// status after every probe and the removal of every endpoint, in the order
// they happened. Its user keeps its own copy of the states from these
// reports and never asks the checker back.
type Checker struct {
	concurrency int
	publish     func([]Report)
	prober      *prober
	// Observe, when set before Start, is told of every probe's result.
	Observe func(owner string, r Result)
	// Resolve, when set before Start, gives the addresses of a host-name
	// endpoint, which probes dial instead of asking the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)

	mu      sync.Mutex
	entries map[string]*entry
	queue   queue
	pending []Report // not yet published, in order

	wake    chan struct{}
	reports chan struct{} // pending has reports
	quit    chan struct{}
	loops   sync.WaitGroup // run and publishReports
	ctx     context.Context
	cancel  context.CancelFunc
	probes  sync.WaitGroup
	started bool
	ready   bool // every endpoint has had a first result; latched
	stats   stats
}

// entry is an endpoint and what the checker knows and plans for it. Its
// fields are guarded by Checker.mu.
type entry struct {
	Endpoint
	status  Status
	due     time.Time
	pos     int  // index in the queue; -1 while not queued
	removed bool // no longer in the set: drop the result of a running probe
}

// NewChecker returns a checker that runs at most concurrency probes at once
// and, once started, calls publish from one goroutine of its own with the
// reports made since the last call, oldest first.
func NewChecker(concurrency int, publish func([]Report)) *Checker {
	if concurrency < 1 {
		concurrency = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		concurrency: concurrency,
		publish:     publish,
		prober:      newProber(),
		entries:     map[string]*entry{},
		wake:        make(chan struct{}, 1),
		reports:     make(chan struct{}, 1),
		quit:        make(chan struct{}),
		ctx:         ctx,
		cancel:      cancel,
	}
}

// Set makes eps the endpoints to probe. Endpoints whose key was already
// set keep their state and schedule; new ones start Unknown and are probed
// at once; the others are forgotten.
func (c *Checker) Set(eps []Endpoint) { c.SetKnown(eps, nil) }

// SetKnown is Set, except that a new endpoint whose status known returns
// starts in it, and is first probed at a random point of its interval: an
// endpoint another checker probed until now (a take-over) goes on where
// that one was, its rise and fall counts included.
func (c *Checker) SetKnown(eps []Endpoint, known func(key string) (Status, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*entry, len(eps))
	now := time.Now()
	for _, ep := range eps {
		if e, ok := c.entries[ep.Key]; ok {
			e.Endpoint = ep
			next[ep.Key] = e
			continue
		}
		e := &entry{Endpoint: ep, due: now, pos: -1}
		if known != nil {
			if st, ok := known(ep.Key); ok && ep.Target.Check.Interval > 0 {
				e.status = st
				e.due = now.Add(time.Duration(rand.Int64N(int64(ep.Target.Check.Interval))))
			}
		}
		next[ep.Key] = e
		heap.Push(&c.queue, e)
	}
	for key, e := range c.entries {
		if _, kept := next[key]; !kept {
			e.removed = true
			if e.pos >= 0 {
				heap.Remove(&c.queue, e.pos)
			}
			c.report(Report{Endpoint: e.Endpoint, From: e.status.State, Removed: true})
		}
	}
	c.entries = next
	c.signal()
}

// Inherit takes over the state of every endpoint that from also checks and
// that c has not probed yet: a reloaded configuration goes on where the
// previous one was. Such an endpoint is next probed at a random point of
// its interval, not at once. The states taken over are returned, not
// published: the caller applies them before it answers.
func (c *Checker) Inherit(from *Checker) []Report {
	if from == c {
		return nil
	}
	from.mu.Lock()
	states := make(map[string]Status, len(from.entries))
	for key, e := range from.entries {
		if !e.status.LastCheck.IsZero() {
			states[key] = e.status
		}
	}
	from.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var taken []Report
	for key, st := range states {
		e, ok := c.entries[key]
		if !ok || !e.status.LastCheck.IsZero() {
			continue
		}
		taken = append(taken, Report{Endpoint: e.Endpoint, Status: st, From: e.status.State})
		e.status = st
		if e.pos >= 0 && e.Target.Check.Interval > 0 {
			e.due = now.Add(time.Duration(rand.Int64N(int64(e.Target.Check.Interval))))
			heap.Fix(&c.queue, e.pos)
		}
	}
	c.signal()
	return taken
}

// Status returns what is known of the endpoint with key. It is for tests
// and tools: the checker's user keeps the states it was published.
func (c *Checker) Status(key string) (Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return Status{}, false
	}
	return e.status, true
}

// FirstRoundDone reports whether every endpoint has had its first probe
// finish, or time out, since Start. Once true it stays true, so that
// readiness does not flap when endpoints are added later.
func (c *Checker) FirstRoundDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready || !c.started {
		return c.ready
	}
	for _, e := range c.entries {
		if e.status.LastCheck.IsZero() {
			return false
		}
	}
	c.ready = true
	return true
}

// Start begins probing.
func (c *Checker) Start() {
	c.mu.Lock()
	c.started = true
	c.prober.resolve = c.Resolve
	c.mu.Unlock()
	c.loops.Add(2)
	go c.run()
	go c.publishReports()
}

// Stop cancels the probes in flight and waits for them and the schedule to
// end. A checker that was never started stops at once.
func (c *Checker) Stop() {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	c.cancel()
	if !started {
		return
	}
	close(c.quit)
	c.loops.Wait()
	c.probes.Wait()
}

// report queues r for publication. The caller holds c.mu, so that reports
// are published in the order the states changed.
func (c *Checker) report(r Report) {
	c.pending = append(c.pending, r)
	select {
	case c.reports <- struct{}{}:
	default:
	}
}

// publishReports hands the pending reports to the user, one batch at a
// time, until the checker stops.
func (c *Checker) publishReports() {
	defer c.loops.Done()
	for {
		select {
		case <-c.quit:
			return
		case <-c.reports:
		}
		c.mu.Lock()
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		if len(batch) > 0 {
			c.publish(batch)
		}
	}
}

func (c *Checker) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run dispatches every due probe, then sleeps until the next is due or the
// set changes.
func (c *Checker) run() {
	defer c.loops.Done()
	slots := make(chan struct{}, c.concurrency)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		now := time.Now()
		var due []*entry
		var planned []time.Time
		var targets []Endpoint // as they are now: Set may change them meanwhile
		for c.queue.Len() > 0 && !c.queue[0].due.After(now) {
			e := heap.Pop(&c.queue).(*entry)
			due = append(due, e)
			planned = append(planned, e.due)
			targets = append(targets, e.Endpoint)
		}
		wait := time.Hour
		if c.queue.Len() > 0 {
			wait = c.queue[0].due.Sub(now)
		}
		c.mu.Unlock()

		for i, e := range due {
			select {
			case slots <- struct{}{}:
			case <-c.quit:
				return
			}
			c.probes.Add(1)
			go c.probe(e, targets[i], planned[i], slots)
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-c.quit:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// probe probes e, as ep was when it came due (planned for the time
// given), records the result and schedules the next probe.
func (c *Checker) probe(e *entry, ep Endpoint, planned time.Time, slots chan struct{}) {
	defer c.probes.Done()
	start := time.Now()
	c.stats.add(start.Sub(planned))
	r := c.prober.probe(c.ctx, ep.Target)
	<-slots
	if c.ctx.Err() != nil {
		return // stopping: the probe was cut short, its result means nothing
	}
	if c.Observe != nil {
		c.Observe(ep.Owner, r)
	}

	c.mu.Lock()
	if e.removed {
		c.mu.Unlock()
		return
	}
	check := e.Target.Check
	from := e.status.State
	e.status.record(r, time.Now(), check.Rise, check.Fall)
	c.report(Report{Endpoint: e.Endpoint, Status: e.status, From: from})
	e.due = nextDue(planned, check.Interval, time.Now())
	heap.Push(&c.queue, e)
	c.mu.Unlock()
	c.signal()
}

// nextDue is an interval after the planned time, moved by up to ±jitter of
// it; a probe that ran late does not make the next ones bunch up to catch
// up.
func nextDue(planned time.Time, interval time.Duration, now time.Time) time.Time {
	spread := int64(float64(interval) * jitter)
	next := planned.Add(interval + time.Duration(rand.Int64N(2*spread+1)-spread))
	if next.Before(now) {
		return now
	}
	return next
}

// Stats are figures about how the schedule keeps up.
type Stats struct {
	Probes uint64
	// TotalLateness and MaxLateness add up and bound how long after its
	// planned time each probe started.
	TotalLateness, MaxLateness time.Duration
}

type stats struct {
	probes, lateSum, lateMax atomic.Int64
}

func (s *stats) add(late time.Duration) {
	s.probes.Add(1)
	s.lateSum.Add(int64(late))
	for {
		old := s.lateMax.Load()
		if int64(late) <= old || s.lateMax.CompareAndSwap(old, int64(late)) {
			return
		}
	}
}

// Stats returns the figures since the checker was made.
func (c *Checker) Stats() Stats {
	return Stats{
		Probes:        uint64(c.stats.probes.Load()),
		TotalLateness: time.Duration(c.stats.lateSum.Load()),
		MaxLateness:   time.Duration(c.stats.lateMax.Load()),
	}
}

// queue is a min-heap of entries by due time.
type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].pos, q[j].pos = i, j
}

func (q *queue) Push(x any) {
	e := x.(*entry)
	e.pos = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.pos = -1
	return e
}
