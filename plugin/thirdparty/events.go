package thirdparty

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tpdns/tpdns/health"
)

// The event stream of the API, GET /v1/events: Server-Sent Events, one
// "health" event per endpoint state change and one "registry" event per
// registry change, each a JSON object on one data line.
const (
	// defaultEventHeartbeat is how often a stream gets a comment line when
	// nothing else was sent: proxies and load balancers close a connection
	// idle for a minute or so, and a client learns of a dead one.
	defaultEventHeartbeat = 15 * time.Second
	// eventBuffer is how many publications (a batch of health changes, a
	// registry change) a stream may fall behind. A client further behind
	// is dropped, its stream ended: the publisher never waits for one.
	eventBuffer = 64
	// eventWriteTimeout bounds each write to a stream: a client that reads
	// nothing for so long is cut.
	eventWriteTimeout = 10 * time.Second
	// maxEventStreams caps the open streams of one API server, and never
	// more than half of its max_connections: streams hold their
	// connections, which max_connections never takes back.
	maxEventStreams = 64
)

// eventHeartbeat is defaultEventHeartbeat, in nanoseconds; tests shorten
// it.
var eventHeartbeat = func() *atomic.Int64 {
	var d atomic.Int64
	d.Store(int64(defaultEventHeartbeat))
	return &d
}()

// The metrics of the event streams; with the others in metrics.go once
// the parallel edits of that file have landed.
var (
	eventStreams = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "api_event_streams",
		Help: "Open event streams of the registration API (GET /v1/events).",
	})
	eventStreamsDropped = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "thirdparty", Name: "api_event_streams_dropped_total",
		Help: "Event streams ended because their client fell more than " + strconv.Itoa(eventBuffer) + " publications behind.",
	})
)

// healthEvent is the data of an "event: health": an endpoint's state
// changed.
type healthEvent struct {
	Service string    `json:"service"`
	Address string    `json:"address"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"`
}

// registryEvent is the data of an "event: registry": the registry
// changed; generation is the SOA serial now served, services how many
// services it has (all of them, whatever the token's scope).
type registryEvent struct {
	Generation uint32 `json:"generation"`
	Services   int    `json:"services"`
}

// eventFrame is one event, encoded once for every stream.
type eventFrame struct {
	service string // the service it is about; "": every stream's
	data    []byte // "event: NAME\ndata: JSON\n\n"
}

func newFrame(service, name string, v any) eventFrame {
	b, err := json.Marshal(v)
	if err != nil { // the types above always encode
		panic(fmt.Sprintf("encoding a %s event: %v", name, err))
	}
	data := make([]byte, 0, len(name)+len(b)+16)
	data = append(data, "event: "...)
	data = append(data, name...)
	data = append(data, "\ndata: "...)
	data = append(data, b...)
	data = append(data, "\n\n"...)
	return eventFrame{service: service, data: data}
}

// eventHub hands the events of one thirdparty plugin to the streams open
// on its API. It has no goroutine of its own: publishing is a
// non-blocking send to each stream's buffer, under a lock no stream holds
// while it writes. Its zero value has no stream.
type eventHub struct {
	n    atomic.Int32 // len(subs), for publishers with nothing to do
	mu   sync.Mutex
	subs map[*eventSub]struct{}
}

// eventSub is one open stream of the hub.
type eventSub struct {
	frames  chan []eventFrame
	dropped chan struct{} // closed when the hub dropped it: it fell behind
}

// subscribe opens a stream, unless limit are open already.
func (h *eventHub) subscribe(limit int) (*eventSub, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= limit {
		return nil, false
	}
	if h.subs == nil {
		h.subs = map[*eventSub]struct{}{}
	}
	s := &eventSub{frames: make(chan []eventFrame, eventBuffer), dropped: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s, true
}

// unsubscribe closes a stream, if the hub has not dropped it already.
func (h *eventHub) unsubscribe(s *eventSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
}

// active reports whether a stream is open: else there is nothing to
// encode.
func (h *eventHub) active() bool { return h.n.Load() > 0 }

// publish hands frames to every stream; a stream whose buffer is full is
// dropped, and counted.
func (h *eventHub) publish(frames []eventFrame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.frames <- frames:
		default:
			delete(h.subs, s)
			close(s.dropped)
			eventStreamsDropped.Inc()
		}
	}
	h.n.Store(int32(len(h.subs)))
}

// publishHealth publishes an event for every report of batch that changed
// an endpoint's state. The checker calls it (through healthReported) from
// its one publishing goroutine, so the events of an endpoint come in the
// order of its changes.
func (tp *ThirdParty) publishHealth(batch []health.Report) {
	if !tp.events.active() {
		return
	}
	var frames []eventFrame
	for _, r := range batch {
		if !r.Changed() {
			continue
		}
		frames = append(frames, newFrame(r.Owner, "health", healthEvent{
			Service: r.Owner, Address: r.Target.Host,
			From: r.From.String(), To: r.Status.State.String(),
			Error: r.Status.LastError, Time: r.Status.LastCheck,
		}))
	}
	if len(frames) > 0 {
		tp.events.publish(frames)
	}
}

// publishRegistry publishes the change of the registry to the state with
// generation (its SOA serial) and so many services. serve calls it, under
// tp.mu, in the order of the states.
func (tp *ThirdParty) publishRegistry(generation uint32, services int) {
	if !tp.events.active() {
		return
	}
	tp.events.publish([]eventFrame{newFrame("", "registry", registryEvent{Generation: generation, Services: services})})
}

// streamGate ends the event streams of an API server when it stops
// answering: a reload hands the API to the next configuration, or the
// server stops. A stream would otherwise hold up both, which wait for the
// requests in flight; its client reconnects and reaches the server that
// answers then. A configuration whose successor failed answers again.
type streamGate struct {
	mu     sync.Mutex
	closed bool
	end    chan struct{} // closed when the streams begun since it was made must end
}

// open returns the channel that ends a stream beginning now; false when
// the server does not answer.
func (g *streamGate) open() (<-chan struct{}, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, false
	}
	if g.end == nil {
		g.end = make(chan struct{})
	}
	return g.end, true
}

// close ends the open streams and refuses new ones.
func (g *streamGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.end != nil {
		close(g.end)
		g.end = nil
	}
}

// reopen accepts streams again.
func (g *streamGate) reopen() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}

// Lines of a stream that are not events: SSE comments, which clients
// ignore.
var (
	streamHello     = []byte(": tpdns events\n\n")
	streamHeartbeat = []byte(": heartbeat\n\n")
)

// events streams the events of the services in the token's scope (and
// every registry event) until the client goes, falls behind, its token is
// revoked, or the server stops answering.
func (a *apiServer) events(w http.ResponseWriter, r *http.Request) {
	tok := requestToken(r)
	if tok.role < roleRead {
		writeError(w, &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("token %s may not read events", tok.name)})
		return
	}
	end, ok := a.streams.open()
	if !ok {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, msg: "the API is stopping"})
		return
	}
	limit := min(maxEventStreams, max(1, a.limits.maxConnections/2))
	sub, ok := a.tp.events.subscribe(limit)
	if !ok {
		w.Header().Set("Retry-After", "10")
		writeError(w, &apiError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("%d event streams are open, the most this API serves", limit)})
		return
	}
	defer a.tp.events.unsubscribe(sub)
	eventStreams.Inc()
	defer eventStreams.Dec()

	// The server's timeouts are made for requests and replies of a bounded
	// size; a stream is neither. The request has been read: no read
	// deadline applies (the server still notices a client that goes). Each
	// write has a deadline of its own instead of the reply's, which would
	// cut the stream: a client that stops reading is cut after
	// eventWriteTimeout, and the stream ends.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(streamHello) {
		return
	}
	heartbeat := time.NewTicker(time.Duration(eventHeartbeat.Load()))
	defer heartbeat.Stop()
	var buf []byte
	for {
		select {
		case frames := <-sub.frames:
			buf = buf[:0]
			for more := true; more; {
				for _, f := range frames {
					if f.service == "" || tok.inScope(f.service) {
						buf = append(buf, f.data...)
					}
				}
				select {
				case frames = <-sub.frames:
				default:
					more = false
				}
			}
			if len(buf) > 0 && !write(buf) {
				return
			}
		case <-heartbeat.C:
			// The tokens file may have changed: the stream goes on with
			// the token's scope now, or ends if it was revoked.
			if tok = a.authenticate(r); tok == nil || tok.role < roleRead {
				return
			}
			if !write(streamHeartbeat) {
				return
			}
		case <-sub.dropped:
			return
		case <-end:
			return
		case <-r.Context().Done():
			return
		}
	}
}
