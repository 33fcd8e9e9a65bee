package forward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// proxy is one upstream: its connection pools and its health.
type proxy struct {
	addr     string // HOST:PORT
	udp, tcp *pool
	metrics  *upstreamMetrics

	maxFails uint32
	fails    atomic.Uint32 // consecutive failed health checks
	check    healthCheck
	probing  atomic.Bool // a health check loop runs
	life     *lifecycle
}

func newProxy(addr string, expire time.Duration, maxFails uint32, check healthCheck, life *lifecycle) *proxy {
	return &proxy{
		addr:     addr,
		udp:      newPool("udp", addr, expire),
		tcp:      newPool("tcp", addr, expire),
		metrics:  newUpstreamMetrics(addr),
		maxFails: maxFails,
		check:    check,
		life:     life,
	}
}

// down reports whether max_fails health checks in a row have failed.
func (p *proxy) down() bool {
	return p.maxFails != 0 && p.fails.Load() >= p.maxFails
}

func (p *proxy) pool(network string) *pool {
	if network == "tcp" {
		return p.tcp
	}
	return p.udp
}

func (p *proxy) sweep(now time.Time) {
	p.udp.sweep(now)
	p.tcp.sweep(now)
}

func (p *proxy) close() {
	p.udp.close()
	p.tcp.close()
}

// exchange sends q to the upstream over network and returns its reply. A
// reply over UDP with TC set is asked again over TCP, for the whole answer.
func (p *proxy) exchange(q *query, network string, deadline time.Time) (*dns.Msg, error) {
	ret, err := p.roundTrip(q, network, deadline)
	if err == nil && ret.Truncated && network == "udp" {
		ret, err = p.roundTrip(q, "tcp", deadline)
	}
	return ret, err
}

// roundTrip sends q once and reads its reply. A pooled connection that
// fails for another reason than the deadline (the upstream closed it, or
// an old ICMP error waits on it) is replaced by a new one, once.
func (p *proxy) roundTrip(q *query, network string, deadline time.Time) (*dns.Msg, error) {
	p.metrics.requests.Inc()
	start := time.Now()
	pl := p.pool(network)
	c, cached, err := pl.get(deadline)
	if err != nil {
		return nil, err
	}
	ret, err := q.roundTrip(c, network == "tcp", deadline)
	if err != nil && cached && !isTimeout(err) {
		c.Close()
		if c, err = pl.dial(deadline); err != nil {
			return nil, err
		}
		ret, err = q.roundTrip(c, network == "tcp", deadline)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	pl.put(c)
	p.metrics.observe(ret.Rcode, time.Since(start))
	return ret, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// query is a client's query, packed once for every upstream it goes to,
// and the buffers it holds until it is answered (buffers.go).
type query struct {
	pools    *bufferPools
	outBuf   *[]byte // the buffer out is in; nil when it has one of its own
	out      []byte  // the packed query after its TCP length prefix
	in       *[]byte // the reply's buffer, taken at the first read; nil before
	inClass  int     // the pool in came from
	question dns.Question
	udpSize  int // the largest UDP reply the query asks for
}

var errMismatch = errors.New("reply does not match the query")

func packQuery(pools *bufferPools, r *dns.Msg) (query, error) {
	q := query{pools: pools, question: r.Question[0], udpSize: dns.MinMsgSize}
	q.outBuf = pools.out.Get().(*[]byte)
	b := *q.outBuf
	msg, err := r.PackBuffer(b[2:])
	if err != nil {
		pools.out.Put(q.outBuf)
		return query{}, err
	}
	if &msg[0] == &b[2] {
		q.out = b[:2+len(msg)]
	} else { // too large for the buffer: packed in one of its own
		pools.out.Put(q.outBuf)
		q.outBuf = nil
		q.out = make([]byte, 2+len(msg))
		copy(q.out[2:], msg)
	}
	binary.BigEndian.PutUint16(q.out, uint16(len(msg)))
	if opt := r.IsEdns0(); opt != nil {
		q.udpSize = max(q.udpSize, int(opt.UDPSize()))
	}
	return q, nil
}

// release hands the query's buffers back.
func (q *query) release() {
	if q.outBuf != nil {
		q.pools.out.Put(q.outBuf)
		q.outBuf = nil
	}
	q.releaseIn()
}

func (q *query) releaseIn() {
	if q.in != nil {
		q.pools.in[q.inClass].Put(q.in)
		q.in = nil
	}
}

// inBuf returns room for a message of n octets: the buffer the query
// holds when it is large enough, else one from the smallest pool that
// fits, else one of its own.
func (q *query) inBuf(n int) []byte {
	if q.in != nil && len(*q.in) >= n {
		return (*q.in)[:n]
	}
	class := inClass(n)
	if class < 0 {
		return make([]byte, n)
	}
	q.releaseIn()
	q.in, q.inClass = q.pools.in[class].Get().(*[]byte), class
	return (*q.in)[:n]
}

// roundTrip writes q on c, with an ID of its own that the upstream cannot
// guess, and reads the reply. Over UDP, datagrams that are not the reply
// (late replies to an earlier query on the same socket, spoofs) are
// skipped, and a reply larger than the query asked for stands for a
// truncated one.
func (q *query) roundTrip(c net.Conn, tcp bool, deadline time.Time) (*dns.Msg, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	id := uint16(rand.Uint32())
	binary.BigEndian.PutUint16(q.out[2:], id)
	out := q.out
	if !tcp {
		out = out[2:]
	}
	if _, err := c.Write(out); err != nil {
		return nil, err
	}
	for {
		in, err := q.read(c, tcp)
		if err != nil {
			return nil, err
		}
		if len(in) < 12 || binary.BigEndian.Uint16(in) != id {
			if tcp {
				return nil, errMismatch
			}
			continue
		}
		if !tcp && len(in) > q.udpSize {
			m := new(dns.Msg)
			m.Id, m.Response, m.Truncated = id, true, true
			return m, nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(in); err != nil {
			return nil, fmt.Errorf("unpacking the reply: %w", err)
		}
		if !q.answeredBy(m) {
			if tcp {
				return nil, errMismatch
			}
			continue
		}
		return m, nil
	}
}

// read reads one message.
func (q *query) read(c net.Conn, tcp bool) ([]byte, error) {
	if !tcp {
		buf := q.inBuf(q.udpSize + 1)
		n, err := c.Read(buf)
		return buf[:n], err
	}
	prefix := q.inBuf(2)
	if _, err := io.ReadFull(c, prefix); err != nil {
		return nil, err
	}
	buf := q.inBuf(int(binary.BigEndian.Uint16(prefix)))
	_, err := io.ReadFull(c, buf)
	return buf, err
}

// answeredBy reports whether m is a reply to q: a response with the same
// question, or with none (as some errors are sent).
func (q *query) answeredBy(m *dns.Msg) bool {
	if !m.Response {
		return false
	}
	switch len(m.Question) {
	case 0:
		return true
	case 1:
		a := m.Question[0]
		return a.Qtype == q.question.Qtype && a.Qclass == q.question.Qclass && strings.EqualFold(a.Name, q.question.Name)
	}
	return false
}
