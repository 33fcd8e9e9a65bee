package thirdparty

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/kubesource"
)

// kubeFirstReadWait is how long a start waits for the first read of the
// ThirdPartyService objects, so that a restart does not answer NXDOMAIN
// for them meanwhile; an API server slower than that is not waited for.
const kubeFirstReadWait = 5 * time.Second

// kubeWriteSettle gathers the changes that come together (a probe round,
// an apply of many objects) into one pass of the writer.
const kubeWriteSettle = 100 * time.Millisecond

// startKube follows the ThirdPartyService objects: their valid services
// are served after the file's and the store's. The replica holding the
// Lease writes back what it knows of them.
func (tp *ThirdParty) startKube(ctx context.Context) error {
	o := tp.opts.kube
	cfg, err := kubesource.RESTConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	src, err := kubesource.New(cfg, kubesource.Options{Namespaces: o.namespaces, Selector: o.selector, Config: tp.configOptions()})
	if err != nil {
		return err
	}
	w := tp.kube
	w.src = src
	first := make(chan struct{})
	tp.background.Go(func() {
		err := src.Run(ctx, func(objects []kubesource.Object) {
			tp.kubeChanged(objects)
			select {
			case <-first:
			default:
				close(first)
			}
		})
		if err != nil && ctx.Err() == nil {
			log.Printf("[ERROR] plugin/thirdparty: kubernetes: %v", err)
		}
	})
	tp.background.Go(func() { w.run(ctx) })
	namespace := kubesource.OwnNamespace(o.kubeconfig)
	tp.background.Go(func() {
		err := src.Lead(ctx, namespace, kubesource.LeaseName, writerIdentity(), w.lead, w.lost)
		if err != nil {
			log.Printf("[ERROR] plugin/thirdparty: %v; the objects' status and events are not written", err)
		}
	})
	select {
	case <-first:
	case <-time.After(kubeFirstReadWait):
		log.Printf("[WARNING] plugin/thirdparty: kubernetes: the ThirdPartyService objects were not read within %s; they are served once they are", kubeFirstReadWait)
	}
	return nil
}

// writerIdentity names this replica in the Lease: the pod's name, and a
// random part for the configurations of one process (a reload).
func writerIdentity() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// kubeChanged serves the valid services of objects, and logs the objects
// not served (invalid, or a name the file or the store has), once per
// reason.
func (tp *ThirdParty) kubeChanged(objects []kubesource.Object) {
	services := make(map[string]config.Service, len(objects))
	for _, o := range objects {
		if o.Err == nil {
			services[o.Service.Name] = o.Service
		}
	}
	tp.reg.SetKube(services)
	conflicts := tp.reg.Snapshot().KubeConflicts
	notServed := map[string]string{}
	counts := map[string]int{"served": 0, "invalid": 0, "clash": 0}
	tp.mu.Lock()
	for _, o := range objects {
		key, why := o.Namespace+"/"+o.Name, ""
		switch {
		case o.Err != nil:
			why = o.Err.Error()
			counts["invalid"]++
		case conflicts[o.Service.Name] != "":
			why = conflicts[o.Service.Name]
			counts["clash"]++
		default:
			counts["served"]++
			continue
		}
		notServed[key] = why
		if tp.kubeNotServed[key] != why {
			log.Printf("[ERROR] plugin/thirdparty: ThirdPartyService %s is not served: %s", key, why)
		}
	}
	tp.kubeNotServed = notServed
	tp.mu.Unlock()
	for state, n := range counts {
		kubeObjects.WithLabelValues(state).Set(float64(n))
	}
	tp.kube.setObjects(objects)
}

// kubeWriter writes what this replica knows of the ThirdPartyService
// objects back into the cluster while it holds the Lease: their
// conditions, with `status` their health, with `endpointslices` their
// Services and EndpointSlices, and a Warning event when an object stops
// being served. It writes only what differs from what the object says, so
// a replica that takes the Lease over does not write everything again.
type kubeWriter struct {
	tp             *ThirdParty
	src            *kubesource.Source
	health, slices bool
	wake           chan struct{}

	mu      sync.Mutex
	objects []kubesource.Object
	leading context.Context // nil unless this replica holds the Lease

	// Kept by run's goroutine, for the current term of the Lease.
	term    context.Context
	written map[types.UID]kubesource.Status // the status last written
	sliced  map[types.UID]string            // the EndpointSlices last written, as a fingerprint
	exists  map[types.UID]bool              // a foreign Service was reported
}

func newKubeWriter(tp *ThirdParty) *kubeWriter {
	o := tp.opts.kube
	return &kubeWriter{tp: tp, health: o.status, slices: o.endpointSlices, wake: make(chan struct{}, 1)}
}

// signal asks for a pass; a nil writer (no kubernetes source) ignores it.
func (w *kubeWriter) signal() {
	if w == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *kubeWriter) setObjects(objects []kubesource.Object) {
	w.mu.Lock()
	w.objects = objects
	w.mu.Unlock()
	w.signal()
}

// lead and lost are the Lease's callbacks.
func (w *kubeWriter) lead(ctx context.Context) {
	w.mu.Lock()
	w.leading = ctx
	w.mu.Unlock()
	kubeLeader.Set(1)
	log.Printf("[INFO] plugin/thirdparty: kubernetes: this replica holds the Lease %s and writes the objects' status", kubesource.LeaseName)
	w.signal()
}

func (w *kubeWriter) lost() {
	w.mu.Lock()
	was := w.leading != nil
	w.leading = nil
	w.mu.Unlock()
	if was {
		kubeLeader.Set(0)
	}
}

// run makes a pass kubeWriteSettle after a change, gathering the changes
// meanwhile; a steady stream of them (probes failing) still gets a pass
// every kubeWriteSettle.
func (w *kubeWriter) run(ctx context.Context) {
	timer := time.NewTimer(0)
	<-timer.C
	pending := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.wake:
			if !pending {
				pending = true
				timer.Reset(kubeWriteSettle)
			}
		case <-timer.C:
			pending = false
			w.pass()
		}
	}
}

// pass writes what differs, while this replica holds the Lease.
func (w *kubeWriter) pass() {
	w.mu.Lock()
	objects, ctx := w.objects, w.leading
	w.mu.Unlock()
	if ctx == nil {
		return
	}
	if ctx != w.term {
		// A new term: what the last one wrote may have been overwritten.
		w.term, w.written, w.sliced, w.exists = ctx, map[types.UID]kubesource.Status{}, map[types.UID]string{}, map[types.UID]bool{}
	}
	conflicts := w.tp.reg.Snapshot().KubeConflicts
	present := make(map[types.UID]bool, len(objects))
	for _, o := range objects {
		if ctx.Err() != nil {
			return
		}
		present[o.UID] = true
		valid := o.Err == nil && conflicts[o.Service.Name] == ""
		w.writeStatus(ctx, o, w.status(o, conflicts[o.Service.Name]))
		if w.slices {
			w.writeSlices(ctx, o, valid)
		}
	}
	for uid := range w.written {
		if !present[uid] {
			delete(w.written, uid)
			delete(w.sliced, uid)
			delete(w.exists, uid)
		}
	}
}

// status is what o's status should say; clash names the holder of its
// name, if another source has it.
func (w *kubeWriter) status(o kubesource.Object, clash string) kubesource.Status {
	st := kubesource.Status{ObservedGeneration: o.Generation}
	valid := metav1.Condition{Type: kubesource.ConditionValid, Status: metav1.ConditionTrue, Reason: kubesource.ReasonValid, Message: "the spec is valid"}
	served := metav1.Condition{Type: kubesource.ConditionServed, Status: metav1.ConditionTrue, Reason: kubesource.ReasonServed,
		Message: "answered as " + o.Service.Name}
	switch {
	case o.Err != nil:
		valid.Status, valid.Reason, valid.Message = metav1.ConditionFalse, kubesource.ReasonInvalid, o.Err.Error()
		served.Status, served.Reason, served.Message = metav1.ConditionFalse, kubesource.ReasonInvalid, "the spec is invalid"
	case clash != "":
		served.Status, served.Reason, served.Message = metav1.ConditionFalse, kubesource.ReasonClash, clash
	}
	now := metav1.Now()
	for _, c := range []metav1.Condition{valid, served} {
		c.ObservedGeneration = o.Generation
		c.LastTransitionTime = now
		if old := o.Status.Condition(c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		st.Conditions = append(st.Conditions, c)
	}
	if !w.health || o.Err != nil || clash != "" {
		return st
	}
	s := &o.Service
	healthy := 0
	for _, ep := range s.Endpoints {
		h := w.tp.endpointStatus(s, ep, "")
		e := kubesource.EndpointStatus{Address: ep.Address, Port: int(servingPort(s, ep)), State: h.State.String(), LastError: h.LastError}
		if !h.LastCheck.IsZero() {
			e.LastCheck = &metav1.Time{Time: h.LastCheck.Truncate(time.Second)}
		}
		if e.LastError == "" {
			e.LastError = w.tp.hostError(ep)
		}
		if h.State == health.Healthy {
			healthy++
		}
		st.Endpoints = append(st.Endpoints, e)
	}
	total := len(s.Endpoints)
	st.Healthy, st.Total = &healthy, &total
	return st
}

// servingPort is the port an endpoint serves on: its own, else the
// service's first; 0 without ports.
func servingPort(s *config.Service, ep config.Endpoint) uint16 {
	switch {
	case ep.Port != 0:
		return ep.Port
	case len(s.Ports) > 0:
		return s.Ports[0].Number
	}
	return 0
}

// writeStatus writes st into o's status unless it says that already, and
// records an event for a condition that turned False or changed its reason.
func (w *kubeWriter) writeStatus(ctx context.Context, o kubesource.Object, st kubesource.Status) {
	last, wrote := w.written[o.UID]
	if st.Same(o.Status) || (wrote && st.Same(last)) {
		return
	}
	err := w.src.PatchStatus(ctx, o, st, w.health)
	countWrite("status", err)
	if err != nil {
		if ctx.Err() == nil {
			log.Printf("[ERROR] plugin/thirdparty: %v", err)
		}
		return
	}
	w.written[o.UID] = st
	for _, c := range st.Conditions {
		// An invalid spec is told once, by Valid, not by Served too.
		if c.Status != metav1.ConditionFalse || (c.Type == kubesource.ConditionServed && c.Reason == kubesource.ReasonInvalid) {
			continue
		}
		if old := o.Status.Condition(c.Type); old != nil && old.Status == c.Status && old.Message == c.Message {
			continue
		}
		if wrote {
			if old := last.Condition(c.Type); old != nil && old.Status == c.Status && old.Message == c.Message {
				continue
			}
		}
		w.event(ctx, o, c.Reason, "not served: "+c.Message)
	}
}

func (w *kubeWriter) event(ctx context.Context, o kubesource.Object, reason, message string) {
	err := w.src.Warn(ctx, o, reason, message)
	countWrite("event", err)
	if err != nil && ctx.Err() == nil {
		log.Printf("[ERROR] plugin/thirdparty: %v", err)
	}
}

// writeSlices keeps o's Service and EndpointSlices: the IP endpoints that
// the answers hold, none when o is not served.
func (w *kubeWriter) writeSlices(ctx context.Context, o kubesource.Object, valid bool) {
	var eps []kubesource.SliceEndpoint
	if valid {
		s := &o.Service
		for _, ep := range s.Endpoints {
			if !kubesource.SliceAddress(ep.IP) {
				continue // a host name, or an address the API server refuses
			}
			key := endpointKey(s, ep, probePort(s, ep))
			ready := !ep.Disabled && (w.tp.endpointStatus(s, ep, key).State.Serving() || w.tp.guard.holds(key))
			eps = append(eps, kubesource.SliceEndpoint{IP: ep.IP, Port: ep.Port, Ready: ready})
		}
	}
	fingerprint := fmt.Sprint(o.Generation, valid, eps)
	if w.sliced[o.UID] == fingerprint {
		return
	}
	err := w.src.SyncEndpoints(ctx, o, valid, o.Service.Ports, eps)
	if errors.Is(err, kubesource.ErrServiceExists) {
		if !w.exists[o.UID] {
			w.exists[o.UID] = true
			log.Printf("[WARNING] plugin/thirdparty: ThirdPartyService %s/%s: %v; its endpoints are not published", o.Namespace, o.Name, err)
			w.event(ctx, o, "ServiceExists", "endpoints not published: "+err.Error())
		}
		w.sliced[o.UID] = fingerprint
		return
	}
	countWrite("endpointslices", err)
	if err != nil {
		if ctx.Err() == nil {
			log.Printf("[ERROR] plugin/thirdparty: %v", err)
		}
		return
	}
	delete(w.exists, o.UID)
	w.sliced[o.UID] = fingerprint
}

// countWrite counts a write of kind by its result.
func countWrite(kind string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	kubeWrites.WithLabelValues(kind, result).Inc()
}
