package etcd

import (
	"strings"

	"github.com/tpdns/tpdns/store"
)

// The key layout, under the prefix.
const (
	servicesDir  = "/services/"
	endpointsDir = "/endpoints/"
)

func (s *Store) serviceKey(name string) string { return s.prefix + servicesDir + name }

func (s *Store) endpointsKey(service string) string {
	return s.prefix + endpointsDir + service + "/"
}

func (s *Store) endpointKey(service, address string) string {
	return s.endpointsKey(service) + address
}

// checkName refuses what would make a key of another shape: services are
// DNS names and addresses IPs or host names, neither has a "/".
func (s *Store) checkName(what, name string) error {
	switch {
	case name == "":
		return s.errorf("empty %s", what)
	case strings.Contains(name, "/"):
		return s.errorf("%s %q contains \"/\"", what, name)
	}
	return nil
}

// add files the key and value of one etcd pair in snap; keys of other
// shapes under the prefix are not ours and are left out.
func (s *Store) add(snap *store.Snapshot, key string, value []byte) {
	key = strings.TrimPrefix(key, s.prefix)
	if name, ok := strings.CutPrefix(key, servicesDir); ok {
		if name != "" && !strings.Contains(name, "/") {
			snap.Services[name] = value
		}
		return
	}
	rest, ok := strings.CutPrefix(key, endpointsDir)
	if !ok {
		return
	}
	service, address, ok := strings.Cut(rest, "/")
	if !ok || service == "" || address == "" || strings.Contains(address, "/") {
		return
	}
	if snap.Endpoints[service] == nil {
		snap.Endpoints[service] = map[string]store.Endpoint{}
	}
	snap.Endpoints[service][address] = store.Endpoint{Doc: value}
}
