package plugin

// PacketBatchObserver is told of the replies the packet path made for one
// zone of one server out of one batch of datagrams (a recvmmsg), in the
// order they were read; their Took is the batch's. It runs on the query
// path once a batch: it must not allocate, nor keep batch or what its
// elements point to.
type PacketBatchObserver func(batch []PacketObserved)

// PacketBatchPasser is a PacketPasser that is told of the packet path's
// replies a batch at a time: what it counts then costs it one update of
// shared memory a batch rather than one a reply, which matters when
// several cores answer (every reader would write the same counters). Its
// PassPackets observer, if it returns one, is told of each reply as well.
type PacketBatchPasser interface {
	PacketPasser
	// PassPacketBatches returns the observer of the batches of replies the
	// packet path writes past this handler for zone on server (as Server
	// and Zone name them), or nil when it needs to see none.
	PassPacketBatches(server, zone string) PacketBatchObserver
}
