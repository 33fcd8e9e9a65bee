package main

import (
	"fmt"
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

// generated writes 20 services and 100 queries a file into a temporary
// directory, and returns it.
func generated(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, generate(dir, testServices, 100, defaultSeed))
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
	dir := generated(t)
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
	rrs := zoneRecords(t, generated(t))
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
			`svc-7.tp.internal.` + "\t10\tIN\tTXT\t" + `"DB_NAME=app7" "DB_POOL_SIZE=10" "DB_SSLMODE=require" "DB_USER=user7"`,
		}},
		{"tp.internal. NS", []string{"tp.internal.\t10\tIN\tNS\tns.dns.tp.internal."}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, rrs[tc.key])
		})
	}
	// 9 records a service, and SOA, NS and ns.dns A: nothing else.
	count := 0
	for _, list := range rrs {
		count += len(list)
	}
	assert.Equal(t, 9*testServices+3, count)
}

// TestGenerateSameAnswers is the point of the generator: tpdns, built from
// services.yaml, answers what the zone file holds.
func TestGenerateSameAnswers(t *testing.T) {
	dir := generated(t)
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
	dir := generated(t)
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
	for _, n := range []int{0, maxServices + 1} {
		assert.EqualError(t, generate(t.TempDir(), n, 10, defaultSeed), fmt.Sprintf("-n %d: want 1 to 65536 services", n))
	}
}
