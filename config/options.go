package config

import "strings"

// Options are what validation needs beyond the data itself.
type Options struct {
	// Zones the services will be served in, fully qualified ("tp.internal."). Every
	// name a service creates (service name, endpoint names, SRV owner names) must fit
	// in 253 octets together with the longest of them (presentation form, no trailing dot).
	Zones []string
}

// longestZone returns the zone that makes names longest and the octets it
// adds to a relative name: its length without the trailing dot, plus the
// dot joining the two. The root zone adds nothing; so do no zones at all,
// which still keeps a bare name within 253 octets.
func (o Options) longestZone() (zone string, extra int) {
	for _, z := range o.Zones {
		n := len(strings.TrimSuffix(z, "."))
		if n > 0 {
			n++
		}
		if zone == "" || n > extra {
			zone, extra = z, n
		}
	}
	return zone, extra
}
