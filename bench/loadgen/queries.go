package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// queries are the query file's queries in wire form, ID 0, one after the
// other in one buffer: packed once, copied into each datagram sent.
type queries struct {
	data []byte
	off  []int32  // query i is data[off[i]:off[i+1]]
	qlen []uint16 // the length of query i's question section
}

func (q *queries) len() int { return len(q.qlen) }

// query is query i's wire form.
func (q *queries) query(i int) []byte { return q.data[q.off[i]:q.off[i+1]] }

// question is query i's question section, which a reply must repeat.
func (q *queries) question(i int) []byte {
	start := q.off[i] + headerLen
	return q.data[start : start+int32(q.qlen[i])]
}

const headerLen = 12

// maxQuery bounds a query's wire form: a name of 255 bytes, type, class and
// an OPT record after the header.
const maxQuery = 512

// readQueries reads dnsperf's format: "NAME TYPE" per line; blank lines and
// lines starting with ';' are skipped. Each query asks for recursion, as
// dnsperf's do; with edns it carries an OPT record of UDP size 1232.
// file names r in errors.
func readQueries(r io.Reader, file string, edns bool) (*queries, error) {
	q := &queries{off: []int32{0}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == ';' {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want NAME TYPE, got %q", file, line, text)
		}
		name := dns.Fqdn(fields[0])
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("%s:%d: %q is not a domain name", file, line, fields[0])
		}
		qtype, ok := dns.StringToType[strings.ToUpper(fields[1])]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown type %q", file, line, fields[1])
		}
		m := new(dns.Msg).SetQuestion(name, qtype)
		m.Id = 0
		plain, err := m.Pack()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		wire := plain
		if edns {
			if wire, err = m.SetEdns0(1232, false).Pack(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, line, err)
			}
		}
		if len(wire) > maxQuery {
			return nil, fmt.Errorf("%s:%d: query of %d bytes, over %d", file, line, len(wire), maxQuery)
		}
		q.data = append(q.data, wire...)
		q.off = append(q.off, int32(len(q.data)))
		q.qlen = append(q.qlen, uint16(len(plain)-headerLen))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if q.len() == 0 {
		return nil, fmt.Errorf("%s: no queries", file)
	}
	return q, nil
}

// The rcodes a reply may carry without counting as an error.
const (
	rcodeNoError  = dns.RcodeSuccess
	rcodeNXDomain = dns.RcodeNameError
)

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}
