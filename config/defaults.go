package config

import "time"

// applyDefaults fills in what a service left out with the Default
// constants of service.go. It is the one place defaults are applied, so
// that it can be read against the README's list of them. A zero value
// means "left out" for every field but an endpoint's weight, which may be
// 0 on purpose; its decoder records whether it was given.
//
// The check's defaults are applied whatever its type, so a Check always
// reads complete; the http fields mean nothing to a tcp check.
func applyDefaults(sd *serviceDecl) {
	s := &sd.svc
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = DefaultProtocol
		}
	}
	for i := range s.Endpoints {
		if !sd.endpoints[i].weightSet {
			s.Endpoints[i].Weight = DefaultWeight
		}
	}
	c := &s.Check
	if c.Type == "" {
		c.Type = DefaultCheckType
	}
	if c.Path == "" {
		c.Path = DefaultCheckPath
	}
	if c.ExpectMin == 0 {
		c.ExpectMin, c.ExpectMax = DefaultExpectMin, DefaultExpectMax
	}
	if c.Interval == 0 {
		c.Interval = DefaultCheckInterval
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout(c.Interval)
	}
	if c.Rise == 0 {
		c.Rise = DefaultCheckRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultCheckFall
	}
}

// defaultTimeout is the timeout of a check of the interval given that sets
// none: DefaultCheckTimeout, or half the interval when that is less, so
// that a short interval leaves time between probes. An interval of 1ns
// gets one equal to it, which checkCheck refuses.
func defaultTimeout(interval time.Duration) time.Duration {
	if t := min(DefaultCheckTimeout, interval/2); t > 0 {
		return t
	}
	return interval
}
