// Package health probes endpoints and keeps their state: unknown until the
// first probe, then healthy or unhealthy by rise and fall counts. It knows
// nothing about DNS; its user learns of state changes through a callback.
package health

import "time"

// State is the health of one endpoint.
type State uint8

// States. An endpoint starts Unknown, and Unknown endpoints are answered,
// so that a restart never empties DNS.
const (
	Unknown State = iota
	Healthy
	Unhealthy
	Disabled
)

func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Disabled:
		return "disabled"
	}
	return "unknown"
}

// Serving reports whether DNS answers an endpoint in state s: healthy, or
// unknown as it is before its first probe, so that a restart never
// empties DNS. This is the one rule; the plugin, its metrics, the API and
// tpdnsctl all ask it.
func (s State) Serving() bool { return s == Healthy || s == Unknown }

// ParseState is the State that String names; anything else is Unknown.
func ParseState(name string) State {
	for _, s := range []State{Healthy, Unhealthy, Disabled} {
		if s.String() == name {
			return s
		}
	}
	return Unknown
}

// Status is what is known of one endpoint.
type Status struct {
	State State
	// Successes and Failures count the latest probes that agree: one of
	// them is always 0.
	Successes, Failures int
	LastCheck           time.Time
	LastLatency         time.Duration
	LastError           string // empty after a success
}

// record adds a probe result. The first result decides the state at once;
// afterwards rise successes in a row make an endpoint healthy and fall
// failures unhealthy. It reports whether the state changed.
func (s *Status) record(r Result, at time.Time, rise, fall int) bool {
	s.LastCheck, s.LastLatency, s.LastError = at, r.Latency, r.Err
	if r.OK {
		s.Successes, s.Failures = s.Successes+1, 0
	} else {
		s.Successes, s.Failures = 0, s.Failures+1
	}
	prev := s.State
	switch {
	case s.State == Unknown && r.OK:
		s.State = Healthy
	case s.State == Unknown:
		s.State = Unhealthy
	case s.State == Unhealthy && s.Successes >= rise:
		s.State = Healthy
	case s.State == Healthy && s.Failures >= fall:
		s.State = Unhealthy
	}
	return s.State != prev
}
