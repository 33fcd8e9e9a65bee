package thirdparty

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/plugin"
)

// hostNames maps every host name of an enabled endpoint that lies outside
// the plugin's zones (those inside are answered from the views) to the
// services that use it.
func (tp *ThirdParty) hostNames(services []config.Service) map[string][]string {
	users := map[string][]string{}
	for i := range services {
		s := &services[i]
		for _, ep := range s.Endpoints {
			if ep.IsHost() && !ep.Disabled && plugin.MatchZone(tp.opts.zones, dns.Fqdn(ep.Address)) == "" {
				users[ep.Address] = append(users[ep.Address], s.Name)
			}
		}
	}
	return users
}

// hostChanged rebuilds the records of the services that use host, after
// its addresses changed.
func (tp *ThirdParty) hostChanged(host string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, name := range tp.hostUsers[host] {
		for _, v := range *tp.views.Load() {
			v.Update(name)
		}
	}
}

// resolveHost gives the probes the addresses of a host-name endpoint: from
// the view for a name in the zones, from the resolver's cache otherwise.
func (tp *ThirdParty) resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if z := plugin.MatchZone(tp.opts.zones, dns.Fqdn(host)); z != "" {
		if addrs := (*tp.views.Load())[z].Addresses(host); len(addrs) > 0 {
			return addrs, nil
		}
		return nil, fmt.Errorf("lookup %s: no address in zone %s", host, z)
	}
	return tp.hosts.Resolve(ctx, host)
}

// hostError is why the host-name endpoint ep has no addresses, or "".
func (tp *ThirdParty) hostError(ep config.Endpoint) string {
	if !ep.IsHost() || plugin.MatchZone(tp.opts.zones, dns.Fqdn(ep.Address)) != "" {
		return ""
	}
	return tp.hosts.Err(ep.Address)
}
