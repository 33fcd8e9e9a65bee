package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/zone"
)

const testServices = 20

// generated writes 20 services of the given number of endpoints, and 100
// queries a file, into a temporary directory, and returns it.
func generated(t *testing.T, endpoints int) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, generate(dir, params{services: testServices, endpoints: endpoints, queries: 100, seed: defaultSeed}))
	return dir
}

// zoneRecords parses the zone file into its records by owner name and type.
func zoneRecords(t *testing.T, dir string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "tp.internal.zone"))
	require.NoError(t, err)
	defer f.Close()
	rrs := map[string][]string{}
	zp := dns.NewZoneParser(f, Zone, "tp.internal.zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		k := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		rrs[k] = append(rrs[k], rr.String())
	}
	require.NoError(t, zp.Err())
	for _, list := range rrs {
		slices.Sort(list)
	}
	return rrs
}

func sorted(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

func TestGenerateRegistry(t *testing.T) {
	dir := generated(t, defaultEndpoints)
	data, err := os.ReadFile(filepath.Join(dir, "services.yaml"))
	require.NoError(t, err)
	services, err := config.ParseYAML("services.yaml", data, config.Options{Zones: []string{Zone}})
	require.NoError(t, err)
	require.Len(t, services, testServices)
	s := services[7]
	assert.Equal(t, "svc-7", s.Name)
	require.Len(t, s.Endpoints, 2)
	assert.Equal(t, "10-0-7-1", s.Endpoints[0].Label)
	assert.Equal(t, map[string]string{"DB_NAME": "app7", "DB_POOL_SIZE": "10", "DB_SSLMODE": "require", "DB_USER": "user7"}, s.Connection)
}

func TestGenerateZone(t *testing.T) {
	rrs := zoneRecords(t, generated(t, defaultEndpoints))
	tests := []struct {
		key  string
		want []string
	}{
		{"svc-7.tp.internal. A", []string{
			"svc-7.tp.internal.\t10\tIN\tA\t10.0.7.1",
			"svc-7.tp.internal.\t10\tIN\tA\t10.0.7.2",
		}},
		{"svc-7.tp.internal. SRV", []string{
			"svc-7.tp.internal.\t10\tIN\tSRV\t0 1 5432 10-0-7-1.svc-7.tp.internal.",
			"svc-7.tp.internal.\t10\tIN\tSRV\t0 1 5432 10-0-7-2.svc-7.tp.internal.",
		}},
		{"_db._tcp.svc-7.tp.internal. SRV", []string{
			"_db._tcp.svc-7.tp.internal.\t10\tIN\tSRV\t0 1 5432 10-0-7-1.svc-7.tp.internal.",
			"_db._tcp.svc-7.tp.internal.\t10\tIN\tSRV\t0 1 5432 10-0-7-2.svc-7.tp.internal.",
		}},
		{"10-0-7-1.svc-7.tp.internal. A", []string{"10-0-7-1.svc-7.tp.internal.\t10\tIN\tA\t10.0.7.1"}},
		{"10-0-7-2.svc-7.tp.internal. A", []string{"10-0-7-2.svc-7.tp.internal.\t10\tIN\tA\t10.0.7.2"}},
		{"svc-7.tp.internal. TXT", []string{
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_HOST=svc-7.tp.internal\"",
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_NAME=app7\"",
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_POOL_SIZE=10\"",
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_PORT=5432\"",
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_SSLMODE=require\"",
			"svc-7.tp.internal.\t10\tIN\tTXT\t\"DB_USER=user7\"",
		}},
		{"tp.internal. NS", []string{"tp.internal.\t10\tIN\tNS\tns.dns.tp.internal."}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, rrs[tc.key])
		})
	}
	// 14 records a service (6 of them TXT), and SOA, NS and ns.dns A: nothing else.
	count := 0
	for _, list := range rrs {
		count += len(list)
	}
	assert.Equal(t, 14*testServices+3, count)
}

// TestGenerateSameAnswers is the point of the generator: tpdns, built from
// services.yaml, answers what the zone file holds.
func TestGenerateSameAnswers(t *testing.T) {
	for _, endpoints := range []int{defaultEndpoints, 3} {
		t.Run(fmt.Sprintf("%d endpoints", endpoints), func(t *testing.T) { testSameAnswers(t, endpoints) })
	}
}

func testSameAnswers(t *testing.T, endpoints int) {
	dir := generated(t, endpoints)
	data, err := os.ReadFile(filepath.Join(dir, "services.yaml"))
	require.NoError(t, err)
	services, err := config.ParseYAML("services.yaml", data, config.Options{Zones: []string{Zone}})
	require.NoError(t, err)
	view := zone.Build(Zone, services, zone.Options{TTL: TTL})
	rrs := zoneRecords(t, dir)

	tests := []struct {
		name  string
		qtype uint16
		glue  bool
	}{
		{"svc-0.tp.internal.", dns.TypeA, false},
		{"svc-19.tp.internal.", dns.TypeA, false},
		{"svc-3.tp.internal.", dns.TypeTXT, false},
		{"svc-3.tp.internal.", dns.TypeSRV, true},
		{"_db._tcp.svc-12.tp.internal.", dns.TypeSRV, true},
		{"10-0-12-2.svc-12.tp.internal.", dns.TypeA, false},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+dns.TypeToString[tc.qtype], func(t *testing.T) {
			m := new(dns.Msg)
			require.Equal(t, zone.Answered, view.Lookup(zone.Query{Name: tc.name, Type: tc.qtype}, m))
			want := rrs[tc.name+" "+dns.TypeToString[tc.qtype]]
			require.NotEmpty(t, want)
			assert.Equal(t, want, sorted(m.Answer))
			if !tc.glue {
				return
			}
			// The file plugin adds the targets' A records too.
			var glue []string
			for _, rr := range m.Answer {
				glue = append(glue, rrs[rr.(*dns.SRV).Target+" A"]...)
			}
			slices.Sort(glue)
			assert.Equal(t, glue, sorted(m.Extra))
		})
	}

	m := new(dns.Msg)
	assert.Equal(t, zone.NXDomain, view.Lookup(zone.Query{Name: "missing-1.tp.internal.", Type: dns.TypeA}, m))
	assert.Empty(t, rrs["missing-1.tp.internal. A"])
}

func TestGenerateQueries(t *testing.T) {
	dir := generated(t, defaultEndpoints)
	counts := map[string]int{}
	data, err := os.ReadFile(filepath.Join(dir, "queries-mixed.txt"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 100)
	for _, l := range lines {
		name, qtype, ok := strings.Cut(l, " ")
		require.True(t, ok, l)
		require.True(t, dns.IsSubDomain(Zone, name), l)
		if strings.HasPrefix(name, "missing-") {
			qtype = "NXDOMAIN"
		}
		counts[qtype]++
	}
	assert.Equal(t, map[string]int{"A": 40, "SRV": 20, "TXT": 20, "NXDOMAIN": 20}, counts)
	for _, f := range []string{"A", "SRV", "TXT", "NXDOMAIN"} {
		info, err := os.Stat(filepath.Join(dir, "queries-"+f+".txt"))
		require.NoError(t, err)
		assert.Positive(t, info.Size())
	}
}

func TestGenerateBadCount(t *testing.T) {
	tests := []struct {
		services, endpoints int
		want                string
	}{
		{0, 2, "-n 0: want 1 to 8323072 services with 2 endpoints"},
		{8323073, 2, "-n 8323073: want 1 to 8323072 services with 2 endpoints"},
		{5505025, 3, "-n 5505025: want 1 to 5505024 services with 3 endpoints"},
		{10, 0, "-endpoints 0: want 1 to 254"},
		{10, 255, "-endpoints 255: want 1 to 254"},
	}
	for _, tc := range tests {
		p := params{services: tc.services, endpoints: tc.endpoints, queries: 10, seed: defaultSeed}
		assert.EqualError(t, generate(t.TempDir(), p), tc.want)
	}
}

// TestEndpointAddresses checks the scale benchmark's 100,000 services of 3
// endpoints: every address is unique and a usable host address of
// 10.0.0.0/8, and the first 65,536 services keep the addresses the data
// has always had.
func TestEndpointAddresses(t *testing.T) {
	const n, e = 100000, 3
	seen := make(map[string]int, n*e)
	for i := range n {
		for j := 1; j <= e; j++ {
			ip := endpointIP(i, j, e)
			if prev, dup := seen[ip]; dup {
				t.Fatalf("%s: service %d and %d", ip, prev, i)
			}
			seen[ip] = i
			addr, err := netip.ParseAddr(ip)
			require.NoError(t, err)
			b := addr.As4()
			require.True(t, b[0] == 10 && b[3] != 0 && b[3] != 255, ip)
		}
	}
	assert.Equal(t, "10.1.4.3", endpointIP(260, 3, e))
	assert.Equal(t, "10.255.255.3", endpointIP(65535, 3, e))
	assert.Equal(t, "10.0.0.4", endpointIP(65536, 1, e))
	assert.Equal(t, "10-134-159-6", endpointLabel(99999, 3, e))
}
