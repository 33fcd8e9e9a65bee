// Command gen writes the data of make bench: a registry of N services for
// tpdns, the zone file that gives CoreDNS's file plugin the same answers,
// and dnsperf query files.
//
//	go run ./bench/gen -n 10000 -out DIR
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
)

// Defaults of the flags.
const (
	defaultServices = 10000
	defaultQueries  = 50000
	defaultSeed     = 1
)

// Zone is the zone every file is written for.
const Zone = "tp.internal."

// TTL of every record, tpdns's default.
const TTL = 10

// maxServices keeps endpoint addresses 10.x.y.1 and .2 inside 10.0.0.0/8.
const maxServices = 256 * 256

func main() {
	n := flag.Int("n", defaultServices, "number of services")
	out := flag.String("out", ".", "directory to write into")
	queries := flag.Int("queries", defaultQueries, "lines of each query file")
	seed := flag.Uint64("seed", defaultSeed, "seed of the random query order")
	flag.Parse()
	if err := generate(*out, *n, *queries, *seed); err != nil {
		log.Fatal(err)
	}
}

// generate writes every file into dir.
func generate(dir string, n, queries int, seed uint64) error {
	if n < 1 || n > maxServices {
		return fmt.Errorf("-n %d: want 1 to %d services", n, maxServices)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	files := []output{
		{"services.yaml", func(w *bufio.Writer) { writeServices(w, n) }},
		{"tp.internal.zone", func(w *bufio.Writer) { writeZone(w, n) }},
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, mix := range mixes {
		files = append(files, output{"queries-" + mix.name + ".txt", func(w *bufio.Writer) { writeQueries(w, rng, mix.kinds, n, queries) }})
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

// endpointIP is the address of endpoint j (1 or 2) of service i.
func endpointIP(i, j int) string { return fmt.Sprintf("10.%d.%d.%d", i/256, i%256, j) }

// endpointLabel is tpdns's default label of an address: dots become dashes.
func endpointLabel(i, j int) string { return fmt.Sprintf("10-%d-%d-%d", i/256, i%256, j) }

// connection is the connection information of service i, sorted by key as
// the TXT record serves it.
func connection(i int) [][2]string {
	return [][2]string{
		{"DB_NAME", fmt.Sprintf("app%d", i)},
		{"DB_POOL_SIZE", "10"},
		{"DB_SSLMODE", "require"},
		{"DB_USER", fmt.Sprintf("user%d", i)},
	}
}

func writeServices(w *bufio.Writer, n int) {
	fmt.Fprintf(w, "# %d services for make bench, written by bench/gen.\nservices:\n", n)
	for i := range n {
		fmt.Fprintf(w, "  - name: %s\n    ports:\n      - name: db\n        port: 5432\n        protocol: tcp\n", serviceName(i))
		fmt.Fprintf(w, "    endpoints: [%s, %s]\n    connection:\n", endpointIP(i, 1), endpointIP(i, 2))
		for _, kv := range connection(i) {
			fmt.Fprintf(w, "      %s: %q\n", kv[0], kv[1])
		}
	}
}

// writeZone writes the records tpdns answers for the registry: the
// service's A, SRV (on the service and on _db._tcp) and TXT records, and
// each endpoint's A record, which tpdns and the file plugin both add to an
// SRV answer as glue.
func writeZone(w *bufio.Writer, n int) {
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL %d\n", Zone, TTL)
	fmt.Fprintf(w, "@ IN SOA ns.dns.%s hostmaster.%s 1 7200 1800 86400 %d\n", Zone, Zone, TTL)
	fmt.Fprintf(w, "@ IN NS ns.dns.%s\nns.dns IN A 127.0.0.1\n", Zone)
	for i := range n {
		name := serviceName(i)
		for j := 1; j <= 2; j++ {
			fmt.Fprintf(w, "%s IN A %s\n", name, endpointIP(i, j))
		}
		for _, owner := range []string{name, "_db._tcp." + name} {
			for j := 1; j <= 2; j++ {
				fmt.Fprintf(w, "%s IN SRV 0 1 5432 %s.%s\n", owner, endpointLabel(i, j), name)
			}
		}
		for j := 1; j <= 2; j++ {
			fmt.Fprintf(w, "%s.%s IN A %s\n", endpointLabel(i, j), name, endpointIP(i, j))
		}
		fmt.Fprintf(w, "%s IN TXT", name)
		for _, kv := range connection(i) {
			fmt.Fprintf(w, " %q", kv[0]+"="+kv[1])
		}
		w.WriteString("\n")
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
