package rrl

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// The table of accounts: one per token (client prefix, kind of response,
// and the name and type that kind is told apart by), kept in a fixed
// array allocated once, so that memory is bounded and the query path never
// allocates, whatever the clients send. It is set-associative, as Knot's
// RRL table is: a token's hash picks a bucket of `ways` slots, the token
// takes a free slot of it or the one that would soonest be free, and
// nothing is ever moved. The buckets are split among shards, each with its
// own lock, held for a few dozen nanoseconds.

// ways is the number of slots of a bucket.
const ways = 8

// maxShards is the most shards a table is split into.
const maxShards = 64

// second is one second in nanoseconds, the unit of the accounts.
const second = int64(time.Second)

// account is the state of one token, after BIND's and CoreDNS's rrl: its
// credit at a time t is t - tat, in nanoseconds of responses (a response
// costs one interval of its kind), at most burst and at least -window.
type account struct {
	key   uint64 // the token's hash; 0 for a free slot
	tat   int64  // the time, since the table's start, at which the credit was 0
	drops uint32 // responses held back since the credit was last full
	kind  kind
}

type shard struct {
	mu    sync.Mutex
	slots []account
	_     [64 - 8 - 24]byte // a cache line of its own
}

// table holds the accounts of one server's zone.
type table struct {
	seed    maphash.Seed
	start   time.Time // the accounts' times are counted from it, monotonically
	window  int64
	burst   [kinds]int64 // the most credit of each kind: one second, or one interval if that is longer
	slip    uint32
	shards  []shard
	buckets uint64 // per shard
	shift   uint   // the bits of a hash that pick the shard
}

// newTable returns a table of at most size accounts (at least 1).
func newTable(size int, window int64, intervals [kinds]int64, slip uint32) *table {
	w := min(ways, size)
	buckets := size / w
	// At least 8 buckets a shard, so that dividing them among the shards
	// leaves at most an eighth of the size unused.
	shards := 1
	for shards*2 <= min(maxShards, buckets/8) {
		shards *= 2
	}
	t := &table{
		seed:    maphash.MakeSeed(),
		start:   time.Now(),
		window:  window,
		slip:    slip,
		shards:  make([]shard, shards),
		buckets: uint64(buckets / shards),
	}
	for t.shift = 0; 1<<t.shift < shards; t.shift++ {
	}
	for k, interval := range intervals {
		t.burst[k] = max(second, interval)
	}
	for i := range t.shards {
		t.shards[i].slots = make([]account, int(t.buckets)*w)
	}
	return t
}

// now is the time of the accounts.
func (t *table) now() int64 { return int64(time.Since(t.start)) }

// key is the hash of a token. The name is hashed in lower case, so that
// the token does not depend on the case the client chose.
func (t *table) key(prefix netip.Addr, k kind, qtype uint16, name string) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	a := prefix.As16()
	h.Write(a[:])
	h.WriteByte(byte(k))
	h.WriteByte(byte(qtype >> 8))
	h.WriteByte(byte(qtype))
	var buf [64]byte
	for len(name) > 0 {
		n := copy(buf[:], name)
		for i, c := range buf[:n] {
			if 'A' <= c && c <= 'Z' {
				buf[i] = c + 'a' - 'A'
			}
		}
		h.Write(buf[:n])
		name = name[n:]
	}
	if sum := h.Sum64(); sum != 0 {
		return sum
	}
	return 1 // 0 marks a free slot
}

// debit charges the account of key, of kind k, one response at time now,
// where a response costs interval. It reports whether the response is over
// the limit, and then whether it is one of those that slip through
// truncated: the first held back after the credit was last full, and
// every slip-th after it, as BIND does.
func (t *table) debit(key uint64, k kind, interval, now int64) (limited, slip bool) {
	s := &t.shards[key&(uint64(len(t.shards))-1)]
	n := len(s.slots) / int(t.buckets)
	first := int((key>>t.shift)%t.buckets) * n
	s.mu.Lock()
	a := t.find(s.slots[first:first+n], key, now)
	if a.key != key {
		// A new account starts with its credit full.
		*a = account{key: key, tat: now - t.burst[k], kind: k}
	}
	credit := now - a.tat
	if credit >= t.burst[k] {
		credit, a.drops = t.burst[k], 0
	}
	credit -= interval
	limited = credit < 0
	if limited {
		credit = max(credit, -t.window)
		if t.slip > 0 {
			slip = a.drops%t.slip == 0
		}
		a.drops++
	}
	a.tat, a.kind = now-credit, k
	s.mu.Unlock()
	return limited, slip
}

// find returns the account of key in bucket, or else the slot a new one
// takes: a free one, one whose credit is full again (no different from a
// new account), or the one whose credit will be full the soonest.
func (t *table) find(bucket []account, key uint64, now int64) *account {
	victim := -1
	var soonest int64
	for i := range bucket {
		a := &bucket[i]
		if a.key == key {
			return a
		}
		full := a.tat + t.burst[a.kind]
		if a.key == 0 {
			full = -1 << 63
		}
		if victim < 0 || full < soonest {
			victim, soonest = i, full
		}
	}
	return &bucket[victim]
}

// live counts the accounts whose credit is not full: the tokens the table
// is keeping track of.
func (t *table) live() int {
	now := t.now()
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for j := range s.slots {
			if a := &s.slots[j]; a.key != 0 && now-a.tat < t.burst[a.kind] {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// size is the number of accounts the table holds at most.
func (t *table) size() int { return len(t.shards) * len(t.shards[0].slots) }
