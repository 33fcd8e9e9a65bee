package plugin

import (
	"net/netip"
	"time"
)

// The packet path: on UDP the server answers the queries of some chains
// without decoding them into a dns.Msg, from replies a plugin prepared in
// wire form. A chain takes part when it is a run of PacketPassers ending in
// a PacketAnswerer; every query the answerer declines goes through the
// chain as usual, so the packet path only ever has to be right, never
// complete.

// Packet is a query as the packet path hands it to a PacketAnswerer.
type Packet struct {
	// Name is the question's name, fully qualified, in presentation form
	// and lower case; it holds only letters, digits, '-' and '_', so it
	// needs no escapes. The question in the reply keeps the client's case.
	// It is only valid during the call it is passed to.
	Name []byte
	Type uint16
	// Client is the address the query came from.
	Client netip.Addr
	// DO and CD are the query's DNSSEC OK (EDNS) and Checking Disabled
	// bits, which a cache keys its replies by.
	DO, CD bool
}

// PacketReply is what a PacketAnswerer appended to a reply.
type PacketReply struct {
	Rcode             int
	Answer, Ns, Extra uint16 // records in each section
}

// PacketAnswerer is a handler that can answer some queries in wire form.
type PacketAnswerer interface {
	// AnswerPacket appends to b the answer, authority and additional
	// sections of the reply to q, whose question the server has put at
	// offset 12 of b, exactly as the client sent it. Names in the appended
	// records may point into that question. It returns ok false, and b as
	// it was, for a query it leaves to ServeDNS.
	AnswerPacket(b []byte, q *Packet) (out []byte, r PacketReply, ok bool)
}

// PacketObserved is one reply the packet path made, as its observers see
// it. The packet path serves UDP only.
type PacketObserved struct {
	Type  uint16 // the query's type
	Rcode int    // the reply's
	// IPv6 tells the client's address family (an IPv4-mapped address is
	// IPv4).
	IPv6 bool
	// QuerySize and ReplySize are the query's and the reply's lengths in
	// bytes; ReplySize is 0 for a reply a limit held back.
	QuerySize, ReplySize int
	// Took is how long the server took from reading the query to having
	// the reply ready.
	Took time.Duration
	// Client is the address and port the query came from.
	Client netip.AddrPort
	// Query and Reply are the query and the reply as sent (Reply is empty
	// when a limit held it back). They are only valid during the call.
	Query, Reply []byte
}

// PacketObserver is told of every reply the packet path makes for one zone
// of one server. It runs on the query path: it must not allocate.
type PacketObserver func(o PacketObserved)

// PacketPasser is a handler that the packet path may go past.
type PacketPasser interface {
	// PassPackets returns the observer of the replies the packet path
	// writes past this handler for zone on server (as Server and Zone name
	// them), or nil when it needs to see none.
	PassPackets(server, zone string) PacketObserver
}

// PacketCheck tells whether the packet path may answer q past a
// PacketChecker; false hands q to the chain, which answers it as the
// plugin decides there (a refusal, a cached reply). It runs on the query
// path before the answer: it must not allocate, nor keep q or its Name.
type PacketCheck func(q *Packet) bool

// PacketChecker is a PacketPasser that the packet path may go past for
// some queries only, as acl does for the clients it allows.
type PacketChecker interface {
	PacketPasser
	// CheckPackets returns the check of the queries the packet path
	// answers past this handler for zone on server (as Server and Zone
	// name them), or nil when it lets every query past.
	CheckPackets(server, zone string) PacketCheck
}

// PacketVerdict is what becomes of a reply the packet path made, as a
// PacketLimit decides.
type PacketVerdict uint8

const (
	// PacketSend sends the reply as it was made.
	PacketSend PacketVerdict = iota
	// PacketDrop sends no reply at all.
	PacketDrop
	// PacketSlip sends the reply cut to its header, question and OPT
	// record (without options), with TC set, so that a client that is
	// really there asks again over TCP.
	PacketSlip
)

// PacketLimit decides the fate of the reply r to q, made by the packet
// path, before it is sent. It runs on the query path for every such reply:
// it must not allocate, nor keep q or its Name.
type PacketLimit func(q *Packet, r PacketReply) PacketVerdict

// PacketLimiter is a PacketPasser that may hold back the replies the
// packet path makes past it, as rrl does.
type PacketLimiter interface {
	PacketPasser
	// LimitPackets returns the limit of the replies the packet path makes
	// past this handler for zone on server (as Server and Zone name
	// them), or nil when it limits none.
	LimitPackets(server, zone string) PacketLimit
}
