package tsig

import (
	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// CheckPackets implements plugin.PacketChecker. The packet path takes no
// signed query (those go to the chain, which verifies them), so the
// queries it sees are unsigned: it answers those that need no signature,
// and leaves the ones this tsig requires signed to ServeDNS, which
// refuses them.
func (t *TSIG) CheckPackets(server, zone string) plugin.PacketCheck {
	if !t.allTypes && len(t.types) == 0 && !t.allOpcodes && !t.opcodes[dns.OpcodeQuery] {
		return nil
	}
	return func(q *plugin.Packet) bool {
		if plugin.MatchZone(t.zones, q.Name) == "" {
			return true
		}
		return !(t.allTypes || t.types[q.Type] || t.allOpcodes || t.opcodes[dns.OpcodeQuery])
	}
}

// PassPackets implements plugin.PacketPasser: tsig counts nothing for an
// unsigned query it lets through.
func (t *TSIG) PassPackets(server, zone string) plugin.PacketObserver { return nil }
