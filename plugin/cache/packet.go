package cache

import (
	"unsafe"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// The packet path goes past the cache for the queries it does not hold a
// reply to: those ServeDNS would hand to the next plugin. thirdparty, the
// packet path's answerer, never lets the cache keep its replies, so a
// reply is held only for a name it left to the plugins after it
// (fallthrough), and that query goes to the chain.

// CheckPackets implements plugin.PacketChecker. When the cache's zones
// hold only part of zone, the packet path leaves the names inside them to
// the chain, and passes the others, as ServeDNS does, uncounted.
func (c *Cache) CheckPackets(server, zone string) plugin.PacketCheck {
	whole := inZones(c.zones, zone)
	return func(q *plugin.Packet) bool {
		// The name is only read for the lookup, never kept.
		name := unsafe.String(unsafe.SliceData(q.Name), len(q.Name))
		if !whole {
			return !inZones(c.zones, name)
		}
		k := key{name: name, qtype: q.Type, qclass: dns.ClassINET, do: q.DO, cd: q.CD}
		for _, l := range c.lrus {
			if l.Contains(k) {
				return false
			}
		}
		return true
	}
}

// PassPackets implements plugin.PacketPasser: a reply the packet path
// makes past the cache is a request it missed.
func (c *Cache) PassPackets(server, zone string) plugin.PacketObserver {
	if !inZones(c.zones, zone) {
		return nil
	}
	m := c.metrics.of(server)
	return func(plugin.PacketObserved) {
		m.requests.Inc()
		m.misses.Inc()
	}
}
