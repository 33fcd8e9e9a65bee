package forward

import (
	"sync"

	"github.com/miekg/dns"
)

// A query holds its buffers while it waits for its upstream, up to
// tryTimeout, so that with max_concurrent queries in flight they are most
// of the memory forwarding takes. They are kept for reuse, so that
// forwarding allocates none for common messages, and sized for what a query
// needs: the packed query in outBufSize, the reply in the smallest of
// inBufSizes that holds what the query allows (over UDP, its EDNS size;
// over TCP, the length the upstream announces). Larger messages get
// buffers of their own.
const outBufSize = 2 + dns.MinMsgSize // TCP length prefix, then the message

// inBufSizes are a plain DNS message, the EDNS size of DNS Flag Day 2020,
// and the common EDNS0 size, each with a byte more to see a datagram
// overflow it.
var inBufSizes = [...]int{dns.MinMsgSize + 1, 1232 + 1, 4096 + 1}

// bufferPools are the buffers of the queries of a group, as *[]byte.
type bufferPools struct {
	out sync.Pool
	in  [len(inBufSizes)]sync.Pool
}

func newBufferPools() *bufferPools {
	p := &bufferPools{}
	p.out.New = func() any { b := make([]byte, outBufSize); return &b }
	for i, size := range inBufSizes {
		p.in[i].New = func() any { b := make([]byte, size); return &b }
	}
	return p
}

// inClass returns the pool of the smallest buffers that hold n octets, or
// -1 when none does.
func inClass(n int) int {
	for i, size := range inBufSizes {
		if n <= size {
			return i
		}
	}
	return -1
}
