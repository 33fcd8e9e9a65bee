package acl

import (
	"github.com/tpdns/tpdns/plugin"
)

// CheckPackets implements plugin.PacketChecker: the packet path answers
// the queries the rules allow (or that no policy matches), and leaves the
// ones they block, filter or drop to ServeDNS, which answers and counts
// them.
func (a *ACL) CheckPackets(server, zone string) plugin.PacketCheck {
	return func(q *plugin.Packet) bool {
		for i := range a.rules {
			if !a.rules[i].matchBytes(q.Name) {
				continue
			}
			switch a.rules[i].decide(q.Client.WithZone(""), q.Type) {
			case actionNone:
				continue
			case actionAllow:
				return true
			}
			return false
		}
		return true
	}
}

// PassPackets implements plugin.PacketPasser: the queries the packet path
// answers past acl are allowed ones.
func (a *ACL) PassPackets(server, zone string) plugin.PacketObserver {
	c := allowed.WithLabelValues(server)
	return func(plugin.PacketObserved) { c.Inc() }
}

// matchBytes reports whether the rule applies to name, which the packet
// path gives in lower case, as match does.
func (r *rule) matchBytes(name []byte) bool {
	return plugin.MatchZone(r.zones, name) != ""
}
