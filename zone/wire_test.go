package zone

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

// appendWire answers name (in any case) through AppendWire and decodes the
// reply; ok is AppendWire's.
func appendWire(t *testing.T, v *View, name string, qtype uint16, client string) (answer, bool) {
	t.Helper()
	msg := wireQuestion(t, name, qtype)
	before := len(msg)
	out, r, ok := v.AppendWire(msg, []byte(name), qtype, netip.MustParseAddr(client))
	if !ok {
		require.Len(t, out, before, "a declined query appends nothing")
		return answer{}, false
	}
	m := decode(t, out, r)
	res := Answered
	if r.Rcode == dns.RcodeNameError {
		res = NXDomain
	}
	return answer{res, lines(m.Answer), lines(m.Ns), lines(m.Extra)}, true
}

// TestAppendWire checks that the wire form answers every name and type of
// the view as Lookup does, or declines the query.
func TestAppendWire(t *testing.T) {
	services := append(registry(), config.Service{
		Name:      "multi",
		Ports:     []config.Port{{Name: "a", Number: 1, Protocol: "tcp"}, {Name: "b", Number: 2, Protocol: "udp"}},
		Endpoints: []config.Endpoint{ip("10.2.0.1"), ip("10.2.0.2"), ip("10.2.0.3"), ip("2001:db8::2:4")},
	}, config.Service{
		// References, made keys, secrets, and DNS-SD names behind allow.
		Name:         "ref.db",
		Ports:        []config.Port{{Name: "pg-main", Number: 5432, Protocol: "tcp"}, {Name: "a", Number: 7, Protocol: "udp"}},
		Endpoints:    []config.Endpoint{ip("10.2.1.1")},
		Connection:   map[string]string{"URL": "postgres://${PG_MAIN_HOST}:${PG_MAIN_PORT}/x", "COST": "$$5"},
		Secrets:      map[string]string{"DSN": "${URL}?password=p"},
		SecretsAllow: prefixes("10.244.0.0/16"),
		Allow:        prefixes("10.244.0.0/16"),
	})
	v := Build("tp.internal.", services, Options{TTL: 10, Serial: 42})
	names := append([]string{"nothing.tp.internal.", "x.multi.tp.internal.", "_a._udp.multi.tp.internal."}, v.names()...)
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeTXT, dns.TypeSOA, dns.TypeNS, dns.TypeCNAME, dns.TypeMX, dns.TypePTR, dns.TypeANY}
	answered := 0
	for _, name := range names {
		for _, qtype := range types {
			for _, client := range []string{"10.244.1.2", "192.0.2.99"} {
				what := fmt.Sprintf("%s %s from %s", name, dns.TypeToString[qtype], client)
				want := lookup(v, name, qtype, client)
				got, ok := appendWire(t, v, name, qtype, client)
				if !ok {
					n, exists := find(v, name)
					declinable := qtype == dns.TypeANY || want.result == Refused ||
						exists && n.kind == kindApex && qtype == dns.TypeNS ||
						exists && (n.kind == kindBrowse || n.kind == kindInstance || n.kind == kindHealth) ||
						exists && n.svc != nil && n.svc.recs.Load().ede != nil ||
						exists && (n.kind == kindNameServer || n.kind == kindService && len(n.svc.recs.Load().cname) > 0 ||
							n.kind == kindPort && qtype == dns.TypeSRV && len(n.svc.recs.Load().cname) > 0)
					assert.True(t, declinable, "declined %s", what)
					continue
				}
				answered++
				assert.Equal(t, want, got, what)
			}
		}
	}
	t.Logf("%d of %d answered in wire form", answered, 2*len(names)*len(types))
	assert.Greater(t, answered, len(names)*len(types))
}

// TestAppendWireFollowsHealth checks that an endpoint that goes down leaves
// the wire form with the records.
func TestAppendWireFollowsHealth(t *testing.T) {
	up := map[int]bool{0: true, 1: true}
	services := []config.Service{{Name: "db", Ports: []config.Port{{Name: "pg", Number: 5432, Protocol: "tcp"}},
		Endpoints: []config.Endpoint{ip("10.0.0.1"), ip("10.0.0.2")}}}
	v := Build("tp.internal.", services, Options{TTL: 10, Up: func(_ *config.Service, i int) bool { return up[i] }})
	got, ok := appendWire(t, v, "db.tp.internal.", dns.TypeA, "10.9.9.9")
	require.True(t, ok)
	assert.Equal(t, []string{"db.tp.internal. 10 IN A 10.0.0.1", "db.tp.internal. 10 IN A 10.0.0.2"}, got.answer)

	up[1] = false
	v.Update("db")
	got, _ = appendWire(t, v, "db.tp.internal.", dns.TypeA, "10.9.9.9")
	assert.Equal(t, []string{"db.tp.internal. 10 IN A 10.0.0.1"}, got.answer)
	got, _ = appendWire(t, v, "_pg._tcp.db.tp.internal.", dns.TypeSRV, "10.9.9.9")
	assert.Equal(t, []string{"_pg._tcp.db.tp.internal. 10 IN SRV 0 1 5432 10-0-0-1.db.tp.internal."}, got.answer)
	assert.Equal(t, []string{"10-0-0-1.db.tp.internal. 10 IN A 10.0.0.1"}, got.ext)
}

// TestAppendWireMaxAnswers checks the cut and that every record can come
// first.
func TestAppendWireMaxAnswers(t *testing.T) {
	services := []config.Service{{Name: "db", Ports: []config.Port{{Name: "pg", Number: 5432, Protocol: "tcp"}},
		Endpoints: []config.Endpoint{ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")}}}
	v := Build("tp.internal.", services, Options{TTL: 10, MaxAnswers: 2})
	first := map[string]bool{}
	for range 200 {
		msg := wireQuestion(t, "db.tp.internal.", dns.TypeSRV)
		out, r, ok := v.AppendWire(msg, []byte("db.tp.internal."), dns.TypeSRV, netip.MustParseAddr("10.9.9.9"))
		require.True(t, ok)
		assert.Equal(t, WireReply{Answer: 2, Extra: 2}, r)
		m := decode(t, out, r)
		first[m.Answer[0].(*dns.SRV).Target] = true
		assert.Equal(t, m.Answer[0].(*dns.SRV).Target, m.Extra[0].Header().Name, "glue follows the order of the answers")
	}
	assert.Len(t, first, 3)
}

// BenchmarkAppendWire is the packet path's share of answering A, SRV,
// TXT and NXDOMAIN from a view of 10,000 services.
func BenchmarkAppendWire(b *testing.B) {
	var services []config.Service
	for i := range 10000 {
		services = append(services, config.Service{Name: fmt.Sprintf("svc-%d", i),
			Ports:      []config.Port{{Name: "db", Number: 5432, Protocol: "tcp"}},
			Endpoints:  []config.Endpoint{ip(fmt.Sprintf("10.%d.%d.1", i/256, i%256)), ip(fmt.Sprintf("10.%d.%d.2", i/256, i%256))},
			Connection: map[string]string{"A": "1", "B": "2", "C": "3", "D": "4"}})
	}
	v := Build("tp.internal.", services, Options{TTL: 10})
	client := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		name  string
		qtype uint16
	}{{"svc-4711.tp.internal.", dns.TypeA}, {"_db._tcp.svc-4711.tp.internal.", dns.TypeSRV}, {"svc-4711.tp.internal.", dns.TypeTXT}, {"nope.tp.internal.", dns.TypeA}} {
		b.Run(dns.TypeToString[c.qtype]+"/"+strings.SplitN(c.name, ".", 2)[0], func(b *testing.B) {
			msg := wireQuestion(b, c.name, c.qtype)
			name := []byte(c.name)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := v.AppendWire(msg[:len(msg):cap(msg)], name, c.qtype, client); !ok {
					b.Fatal("declined")
				}
			}
		})
	}
}

// wireQuestion is a header and the question, as the packet path starts a
// reply.
func wireQuestion(t testing.TB, name string, qtype uint16) []byte {
	msg := make([]byte, 12+256, 4096)
	binary.BigEndian.PutUint16(msg[4:], 1)
	end, err := dns.PackDomainName(name, msg, 12, nil, false)
	require.NoError(t, err)
	msg = binary.BigEndian.AppendUint16(msg[:end], qtype)
	return binary.BigEndian.AppendUint16(msg, dns.ClassINET)
}

func decode(t *testing.T, out []byte, r WireReply) *dns.Msg {
	binary.BigEndian.PutUint16(out[2:], uint16(0x8400|r.Rcode))
	binary.BigEndian.PutUint16(out[6:], r.Answer)
	binary.BigEndian.PutUint16(out[8:], r.Ns)
	binary.BigEndian.PutUint16(out[10:], r.Extra)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(out))
	return m
}

// TestAppendWireLargeTXT checks a TXT set of about 10 KB, more than the
// packer's first buffer: one record per key, in key order.
func TestAppendWireLargeTXT(t *testing.T) {
	conn := map[string]string{}
	for i := range 100 {
		conn[fmt.Sprintf("KEY_%03d", i)] = strings.Repeat("v", 90)
	}
	v := Build("tp.internal.", []config.Service{{Name: "big", Connection: conn}}, Options{TTL: 10})
	got, ok := appendWire(t, v, "big.tp.internal.", dns.TypeTXT, "10.9.9.9")
	require.True(t, ok)
	assert.Equal(t, lookup(v, "big.tp.internal.", dns.TypeTXT, "10.9.9.9"), got)
	require.Len(t, got.answer, 100)
	msg := wireQuestion(t, "big.tp.internal.", dns.TypeTXT)
	out, r, _ := v.AppendWire(msg, []byte("big.tp.internal."), dns.TypeTXT, netip.MustParseAddr("10.9.9.9"))
	assert.Greater(t, len(out), 10000)
	for i, rr := range decode(t, out, r).Answer {
		assert.Equal(t, []string{fmt.Sprintf("KEY_%03d=", i) + strings.Repeat("v", 90)}, rr.(*dns.TXT).Txt)
	}
}
