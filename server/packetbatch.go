package server

import (
	"sync"
	"time"

	"github.com/tpdns/tpdns/plugin"
)

// batchObservers are the PacketBatchObservers of a packet chain's passers,
// asked for once, on first use, as its observers are.
type batchObservers struct {
	once sync.Once
	list []plugin.PacketBatchObserver
}

// batchObservers returns the chain's batch observers, in the chain's order.
func (c *packetChain) batchObservers() []plugin.PacketBatchObserver {
	c.batch.once.Do(func() {
		for _, p := range c.passers {
			if b, ok := p.(plugin.PacketBatchPasser); ok {
				if f := b.PassPacketBatches(c.server, c.zone); f != nil {
					c.batch.list = append(c.batch.list, f)
				}
			}
		}
	})
	return c.batch.list
}

// observeBatch tells the batch observers of each chain of the replies of
// one batch that are its: answered are the replies, in the order read,
// which took took; buf, with room for len(answered), holds one chain's at
// a time. A panic in an observer is the packet path's, counted and logged
// as such; the rest of the batch goes unobserved (by batch), its replies
// sent all the same.
func (s *Server) observeBatch(answered []observedPacket, took time.Duration, buf []plugin.PacketObserved) {
	defer s.recoverPacket("the replies go out unobserved")
	for i := range answered {
		c := answered[i].chain
		if seen(answered[:i], c) {
			continue // its batch was told already
		}
		observers := c.batchObservers()
		if len(observers) == 0 {
			continue
		}
		batch := buf[:0]
		for _, o := range answered[i:] {
			if o.chain == c {
				batch = append(batch, packetObserved(o, took))
			}
		}
		for _, observe := range observers {
			observe(batch)
		}
	}
}

// seen tells whether one of answered is a reply of c. Batches are mostly of
// one zone, whose reply is first: it answers at once.
func seen(answered []observedPacket, c *packetChain) bool {
	for _, o := range answered {
		if o.chain == c {
			return true
		}
	}
	return false
}

// packetObserved is what the observers are told of o, which took took.
func packetObserved(o observedPacket, took time.Duration) plugin.PacketObserved {
	addr := o.client.Addr()
	return plugin.PacketObserved{
		Type: o.qtype, Rcode: o.rcode, IPv6: addr.Is6() && !addr.Is4In6(),
		QuerySize: len(o.query), ReplySize: len(o.reply), Took: took,
		Client: o.client, Query: o.query, Reply: o.reply,
	}
}
