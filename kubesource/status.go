package kubesource

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Condition types and reasons of an object's status.
const (
	// ConditionValid is False when the spec or its Secret is invalid.
	ConditionValid = "Valid"
	// ConditionServed is False when the name is held by another source.
	ConditionServed = "Served"

	ReasonValid   = "Valid"
	ReasonInvalid = "Invalid"
	ReasonServed  = "Served"
	ReasonClash   = "Clash"
)

// Status is what tpdns writes into an object's status.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Healthy            *int               `json:"healthy,omitempty"`
	Total              *int               `json:"total,omitempty"`
	Endpoints          []EndpointStatus   `json:"endpoints,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

// EndpointStatus is one endpoint's health in an object's status.
type EndpointStatus struct {
	Address   string       `json:"address"`
	Port      int          `json:"port,omitempty"`
	State     string       `json:"state,omitempty"`
	LastCheck *metav1.Time `json:"lastCheck,omitempty"`
	LastError string       `json:"lastError,omitempty"`
}

// Same reports whether s and o say the same thing: the times of the
// conditions' transitions and of the endpoints' last checks aside, so that
// a probe that changes nothing writes nothing.
func (s Status) Same(o Status) bool {
	a, b := s.comparable(), o.comparable()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (s Status) comparable() Status {
	s.Endpoints = append([]EndpointStatus(nil), s.Endpoints...)
	for i := range s.Endpoints {
		s.Endpoints[i].LastCheck = nil
	}
	s.Conditions = append([]metav1.Condition(nil), s.Conditions...)
	for i := range s.Conditions {
		s.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return s
}

// Condition returns the condition of type t, or nil.
func (s Status) Condition(t string) *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// statusOf decodes an object's status as the API server holds it; what
// does not decode (written by someone else) reads as no status.
func statusOf(obj map[string]any) Status {
	var st Status
	raw, ok := obj["status"].(map[string]any)
	if !ok {
		return st
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
		return Status{}
	}
	return st
}

// PatchStatus writes st into o's status. With health, st's healthy, total
// and endpoints replace the object's (absent ones are removed); without,
// only the conditions and the observed generation are written.
func (s *Source) PatchStatus(ctx context.Context, o Object, st Status, health bool) error {
	fields := map[string]any{"observedGeneration": st.ObservedGeneration, "conditions": st.Conditions}
	if health {
		fields["healthy"], fields["total"], fields["endpoints"] = st.Healthy, st.Total, st.Endpoints
	}
	// A merge patch with the UID: it never creates, nor writes into an
	// object of the same name created since.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": o.UID},
		"status":   fields,
	})
	if err != nil {
		return err
	}
	_, err = s.dynamic.Resource(GVR).Namespace(o.Namespace).Patch(ctx, o.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}, "status")
	if err != nil {
		return fmt.Errorf("kubernetes: status of %s/%s: %w", o.Namespace, o.Name, err)
	}
	return nil
}

// FieldManager names tpdns among the writers of the objects it writes.
const FieldManager = "tpdns"
