// Command gen writes the data of make bench: a registry of N services for
// tpdns, the zone file that gives CoreDNS's file plugin the same answers,
// and dnsperf query files.
//
//	go run ./bench/gen -n 10000 -out DIR
//	go run ./bench/gen -n 100000 -endpoints 3 -out DIR
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Defaults of the flags.
const (
	defaultServices  = 10000
	defaultEndpoints = 2
	defaultQueries   = 50000
	defaultSeed      = 1
)

// Zone is the zone every file is written for.
const Zone = "tp.internal."

// TTL of every record, tpdns's default.
const TTL = 10

// Addresses: service i < 65,536 has its endpoints at 10.x.y.1 to 10.x.y.E
// (x, y the two bytes of i), which is what the data always was. Later
// services reuse those /24s higher up: the block b = i/65,536 takes last
// bytes b·E+1 to b·E+E, so every address stays unique, inside 10.0.0.0/8,
// and never .0 or .255.
const (
	servicesPerBlock = 256 * 256
	maxLastByte      = 254
	maxEndpoints     = maxLastByte
)

// maxServices is how many services of the given number of endpoints
// fit in 10.0.0.0/8.
func maxServices(endpoints int) int { return servicesPerBlock * (maxLastByte / endpoints) }

// params are what the flags choose.
type params struct {
	services  int // N
	endpoints int // IPv4 endpoints per service
	queries   int // lines of each query file
	seed      uint64
}

func main() {
	var p params
	flag.IntVar(&p.services, "n", defaultServices, "number of services")
	flag.IntVar(&p.endpoints, "endpoints", defaultEndpoints, "IPv4 endpoints of each service")
	out := flag.String("out", ".", "directory to write into")
	flag.IntVar(&p.queries, "queries", defaultQueries, "lines of each query file")
	flag.Uint64Var(&p.seed, "seed", defaultSeed, "seed of the random query order")
	flag.Parse()
	if err := generate(*out, p); err != nil {
		log.Fatal(err)
	}
}

// generate writes every file into dir.
func generate(dir string, p params) error {
	if p.endpoints < 1 || p.endpoints > maxEndpoints {
		return fmt.Errorf("-endpoints %d: want 1 to %d", p.endpoints, maxEndpoints)
	}
	if limit := maxServices(p.endpoints); p.services < 1 || p.services > limit {
		return fmt.Errorf("-n %d: want 1 to %d services with %d endpoints", p.services, limit, p.endpoints)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	files := []output{
		{"services.yaml", func(w *bufio.Writer) { writeServices(w, p.services, p.endpoints) }},
		{"tp.internal.zone", func(w *bufio.Writer) { writeZone(w, p.services, p.endpoints) }},
	}
	rng := rand.New(rand.NewPCG(p.seed, p.seed))
	for _, mix := range mixes {
		files = append(files, output{"queries-" + mix.name + ".txt", func(w *bufio.Writer) { writeQueries(w, rng, mix.kinds, p.services, p.queries) }})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}

// output is one file of the data and what writes it.
type output struct {
	name  string
	write func(*bufio.Writer)
}

func writeFile(path string, write func(*bufio.Writer)) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	w := bufio.NewWriter(f)
	write(w)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// service i, its name relative to the zone.
func serviceName(i int) string { return fmt.Sprintf("svc-%d", i) }

// endpointIP is the address of endpoint j (1 to e) of service i, which
// has e endpoints.
func endpointIP(i, j, e int) string {
	x, y, z := endpointBytes(i, j, e)
	return fmt.Sprintf("10.%d.%d.%d", x, y, z)
}

// endpointLabel is tpdns's default label of an address: dots become dashes.
func endpointLabel(i, j, e int) string {
	x, y, z := endpointBytes(i, j, e)
	return fmt.Sprintf("10-%d-%d-%d", x, y, z)
}

// endpointBytes are the last three bytes of endpointIP.
func endpointBytes(i, j, e int) (x, y, z int) {
	block, k := i/servicesPerBlock, i%servicesPerBlock
	return k / 256, k % 256, block*e + j
}

// connection is the connection information of service i.
func connection(i int) [][2]string {
	return [][2]string{
		{"DB_NAME", fmt.Sprintf("app%d", i)},
		{"DB_POOL_SIZE", "10"},
		{"DB_SSLMODE", "require"},
		{"DB_USER", fmt.Sprintf("user%d", i)},
	}
}

// txtKeys is what the TXT answer of service i holds, one record per key:
// its connection information and the keys made for its port db.
func txtKeys(i int) [][2]string {
	keys := append(connection(i), [2]string{"DB_HOST", serviceName(i) + "." + strings.TrimSuffix(Zone, ".")}, [2]string{"DB_PORT", "5432"})
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return keys
}

func writeServices(w *bufio.Writer, n, e int) {
	fmt.Fprintf(w, "# %d services for make bench, written by bench/gen.\nservices:\n", n)
	ips := make([]string, e)
	for i := range n {
		fmt.Fprintf(w, "  - name: %s\n    ports:\n      - name: db\n        port: 5432\n        protocol: tcp\n", serviceName(i))
		for j := range ips {
			ips[j] = endpointIP(i, j+1, e)
		}
		fmt.Fprintf(w, "    endpoints: [%s]\n    connection:\n", strings.Join(ips, ", "))
		for _, kv := range connection(i) {
			fmt.Fprintf(w, "      %s: %q\n", kv[0], kv[1])
		}
	}
}

// writeZone writes the records tpdns answers for the registry: the
// service's A, SRV (on the service and on _db._tcp) and TXT records, and
// each endpoint's A record, which tpdns and the file plugin both add to an
// SRV answer as glue.
func writeZone(w *bufio.Writer, n, e int) {
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL %d\n", Zone, TTL)
	fmt.Fprintf(w, "@ IN SOA ns.dns.%s hostmaster.%s 1 7200 1800 86400 %d\n", Zone, Zone, TTL)
	fmt.Fprintf(w, "@ IN NS ns.dns.%s\nns.dns IN A 127.0.0.1\n", Zone)
	for i := range n {
		name := serviceName(i)
		for j := 1; j <= e; j++ {
			fmt.Fprintf(w, "%s IN A %s\n", name, endpointIP(i, j, e))
		}
		for _, owner := range []string{name, "_db._tcp." + name} {
			for j := 1; j <= e; j++ {
				fmt.Fprintf(w, "%s IN SRV 0 1 5432 %s.%s\n", owner, endpointLabel(i, j, e), name)
			}
		}
		for j := 1; j <= e; j++ {
			fmt.Fprintf(w, "%s.%s IN A %s\n", endpointLabel(i, j, e), name, endpointIP(i, j, e))
		}
		for _, kv := range txtKeys(i) {
			fmt.Fprintf(w, "%s IN TXT %q\n", name, kv[0]+"="+kv[1])
		}
	}
}

// kind is one sort of query.
type kind uint8

const (
	kindA kind = iota
	kindSRV
	kindTXT
	kindNX
)

// mixes are the query files: the mixed one is 40% A, 20% SRV, 20% TXT and
// 20% NXDOMAIN.
var mixes = []struct {
	name  string
	kinds []kind
}{
	{"mixed", []kind{kindA, kindA, kindSRV, kindTXT, kindNX}},
	{"A", []kind{kindA}},
	{"SRV", []kind{kindSRV}},
	{"TXT", []kind{kindTXT}},
	{"NXDOMAIN", []kind{kindNX}},
}

// writeQueries writes lines queries in dnsperf's format, "NAME TYPE", of
// kinds in equal parts, for random services.
func writeQueries(w *bufio.Writer, rng *rand.Rand, kinds []kind, n, lines int) {
	for l := range lines {
		i := rng.IntN(n)
		fqdn := serviceName(i) + "." + Zone
		switch kinds[l%len(kinds)] {
		case kindA:
			fmt.Fprintf(w, "%s A\n", fqdn)
		case kindSRV:
			fmt.Fprintf(w, "_db._tcp.%s SRV\n", fqdn)
		case kindTXT:
			fmt.Fprintf(w, "%s TXT\n", fqdn)
		case kindNX:
			fmt.Fprintf(w, "missing-%d.%s A\n", rng.IntN(1<<30), Zone)
		}
	}
}
