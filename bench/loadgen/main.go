// Command loadgen is make bench's DNS load generator: batched UDP
// (sendmmsg/recvmmsg) on one core, so that the server under test, not the
// client, is the limit. It reads dnsperf's query files ("NAME TYPE" a line)
// and runs in one of two modes:
//
//   - max rate (-rate 0, the default): a closed loop that keeps -inflight
//     queries outstanding, sending a new one for each reply or loss;
//   - open loop (-rate QPS): queries paced at a fixed rate, sent in the small
//     batches that are due at each wake-up, for latency at a given load.
//
// Replies are matched to queries by ID and question. A query with no reply
// within -timeout is lost; a reply that is not a response, or whose rcode is
// neither NOERROR nor NXDOMAIN, is an error. It prints one line:
//
//	sent=N received=N lost=N errors=N qps=N p50_us=N p99_us=N p999_us=N server_cpu_us=N
//
// qps is the replies received over the time from the first query sent to
// the last reply received; the percentiles are of the send→receive time of
// every query, a lost one counted as -timeout (its latency is at least
// that, and a server dropping the queries it is late with must not look
// faster than one answering them late). With -pid, server_cpu_us is the server process's CPU time
// (user and system, from /proc) over the run divided by the replies: a
// figure much less sensitive than qps to what else runs on the machine.
// Without -pid it is "-".
//
//	loadgen -s 127.0.0.1:1053 -d queries-mixed.txt -l 10
//	loadgen -s 127.0.0.1:1053 -d queries-mixed.txt -l 10 -rate 50000 -pid 1234
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"
)

// Defaults of the flags.
const (
	defaultSeconds = 10
	// defaultInflight keeps a server busy (it reads 32 or 64 at a time)
	// without overflowing its socket's receive buffer: Linux's default,
	// 208 KiB, holds about 180 small datagrams on loopback (each costs a
	// whole buffer, over 1 KiB), and a query dropped there is measured as
	// lost, not as the server's speed.
	defaultInflight = 128
	defaultBatch    = 32
	defaultSockets  = 1
	defaultTimeout  = time.Second
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("loadgen: ")
	var c config
	flag.StringVar(&c.server, "s", "127.0.0.1:53", "server address, host:port")
	file := flag.String("d", "", "query file, dnsperf's format: NAME TYPE per line")
	seconds := flag.Float64("l", defaultSeconds, "seconds to send queries for")
	flag.Int64Var(&c.limit, "n", 0, "stop after sending this many queries (0: no limit but -l)")
	flag.Float64Var(&c.rate, "rate", 0, "queries per second, open loop (0: max rate, closed loop)")
	flag.IntVar(&c.inflight, "inflight", defaultInflight, "queries kept outstanding at max rate")
	flag.IntVar(&c.batch, "batch", defaultBatch, "datagrams per sendmmsg/recvmmsg at most")
	flag.IntVar(&c.sockets, "sockets", defaultSockets, "UDP sockets (source ports) to send from")
	flag.DurationVar(&c.timeout, "timeout", defaultTimeout, "time after which a query without reply is lost")
	flag.IntVar(&c.pid, "pid", 0, "server process whose CPU time per reply to report (0: none)")
	flag.BoolVar(&c.edns, "edns", false, "send an EDNS OPT record (UDP size 1232) in every query")
	flag.Parse()
	if *file == "" || flag.NArg() > 0 {
		log.Fatal("usage: loadgen -s HOST:PORT -d FILE [-l SECONDS] [-rate QPS] [-inflight N] [-pid PID]")
	}
	c.duration = time.Duration(*seconds * float64(time.Second))
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	c.queries, err = readQueries(f, *file, c.edns)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	r, err := run(c)
	if err != nil {
		log.Fatal(err)
	}
	r.warn(os.Stderr)
	r.print(os.Stdout)
}

// config is what the flags choose.
type config struct {
	server   string
	queries  *queries
	duration time.Duration
	limit    int64
	rate     float64
	inflight int
	batch    int
	sockets  int
	timeout  time.Duration
	pid      int
	edns     bool
}

// check validates c and fills in its defaults.
func (c *config) check() error {
	switch {
	case c.queries == nil || c.queries.len() == 0:
		return fmt.Errorf("no queries")
	case c.duration <= 0 && c.limit <= 0:
		return fmt.Errorf("-l %v: want a positive duration or -n", c.duration)
	case c.rate < 0:
		return fmt.Errorf("-rate %v: want 0 (max) or more", c.rate)
	case c.sockets < 1 || c.sockets > maxSockets:
		return fmt.Errorf("-sockets %d: want 1 to %d", c.sockets, maxSockets)
	case c.inflight < 1 || c.inflight > c.sockets*ids:
		return fmt.Errorf("-inflight %d: want 1 to %d (%d IDs per socket)", c.inflight, c.sockets*ids, ids)
	case c.batch < 1 || c.batch > maxBatch:
		return fmt.Errorf("-batch %d: want 1 to %d", c.batch, maxBatch)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", c.timeout)
	}
	return nil
}

// result is what a run counted.
type result struct {
	sent, received, lost int64
	errors               int64     // replies that are not responses or carry another rcode than NOERROR/NXDOMAIN
	late                 int64     // replies to no outstanding query (after their timeout, duplicates)
	rcodes               [16]int64 // replies by rcode (the header's four bits)
	notResponse          int64     // replies without the QR bit
	elapsed              time.Duration
	lag                  time.Duration // open loop: how far the sends fell behind their schedule at most
	skipped              int64         // open loop: queries not sent, to catch up with the schedule without a burst
	latency              histogram
	serverCPU            time.Duration // -1 when not measured
	serverDrops          int64         // datagrams the server's socket dropped, its buffer full; -1 when unknown
}

// qps is the replies per second over the run.
func (r *result) qps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.received) / r.elapsed.Seconds()
}

// print writes the one line of key=value pairs make bench reads.
func (r *result) print(w io.Writer) {
	cpu := "-"
	if r.serverCPU >= 0 && r.received > 0 {
		cpu = fmt.Sprintf("%.2f", float64(r.serverCPU.Nanoseconds())/1e3/float64(r.received))
	}
	fmt.Fprintf(w, "sent=%d received=%d lost=%d errors=%d qps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f server_cpu_us=%s\n",
		r.sent, r.received, r.lost, r.errors, r.qps(),
		us(r.latency.quantile(0.5)), us(r.latency.quantile(0.99)), us(r.latency.quantile(0.999)), cpu)
}

// warn explains the errors and late replies, if any, on w.
func (r *result) warn(w io.Writer) {
	if r.errors > 0 {
		fmt.Fprintf(w, "loadgen: %d errors:", r.errors)
		if r.notResponse > 0 {
			fmt.Fprintf(w, " %d not a response;", r.notResponse)
		}
		for rc, n := range r.rcodes {
			if n > 0 && rc != rcodeNoError && rc != rcodeNXDomain {
				fmt.Fprintf(w, " %d %s;", n, rcodeName(rc))
			}
		}
		fmt.Fprintln(w)
	}
	if r.lost > 0 && r.serverDrops >= 0 {
		fmt.Fprintf(w, "loadgen: the server's socket dropped %d datagrams (its receive buffer full: the server did not keep up, or did not get its CPU)\n", r.serverDrops)
	}
	if r.lag > maxLag || r.skipped > 0 {
		fmt.Fprintf(w, "loadgen: the sends fell up to %v behind their schedule (loadgen did not get its CPU); %d queries skipped rather than sent in a burst\n",
			r.lag.Round(time.Microsecond), r.skipped)
	}
	if r.late > 0 {
		fmt.Fprintf(w, "loadgen: %d replies to no outstanding query (late or duplicate)\n", r.late)
	}
}

// maxLag is how far behind its schedule the open loop may fall without a
// warning: a few wake-ups' worth.
const maxLag = time.Millisecond

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
