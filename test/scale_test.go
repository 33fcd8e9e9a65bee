package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/zone"
)

// The scale benchmarks of issue 9, on the data bench/gen writes: 100,000
// services of 3 endpoints (a 26 MB registry). Run them once each:
//
//	go test -run '^$' -bench Scale -benchtime 1x -v ./test/
const (
	scaleServices  = 100000
	scaleEndpoints = 3
	scaleZone      = "tp.internal."
	// scaleLast is the last service of the registry: once it answers, the
	// whole registry is served.
	scaleLast = "svc-99999.tp.internal."
	// scaleLastIP is svc-99999's third address, which the reload changes
	// to scaleReloadIP (an address no other service has).
	scaleLastIP, scaleReloadIP = "10.134.159.6", "10.134.159.7"
)

// scaleData writes the registry (and bench/gen's other files) into a
// temporary directory and returns the registry's path.
func scaleData(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("go", "run", "github.com/tpdns/tpdns/bench/gen",
		"-n", strconv.Itoa(scaleServices), "-endpoints", strconv.Itoa(scaleEndpoints), "-queries", "1", "-out", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("bench/gen: %v", err)
	}
	return filepath.Join(dir, "services.yaml")
}

// BenchmarkScaleLoad starts the tpdns binary on the 100,000 services and
// reports the wall time from the process's start until the last service
// answers (load-ms), the processor time it took meanwhile (load-cpu-ms: on
// a machine shared with other work, the steadier figure; it may exceed
// load-ms, two cores work at once), and the process's resident memory then (rss-MiB),
// once the parse's garbage is given back (rss-settled-MiB) and at its peak
// (hwm-MiB). Then it edits one address in the registry and
// reports how long the reload took from the moment the poll finished
// reading the file until the change was served (reload-ms), and the peak
// memory after it (reload-hwm-MiB): old and new registries live side by
// side for a while.
//
// Polls here pause 1 ms between attempts: the resolution is 1 ms, and a
// busy loop would take one of two cores from the process it measures.
func BenchmarkScaleLoad100k(b *testing.B) {
	registry := scaleData(b)
	port := FreePort(b)
	addr := "127.0.0.1:" + port
	corefile := filepath.Join(filepath.Dir(registry), "Corefile")
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n errors\n thirdparty {\n  services %s\n  reload 1s\n }\n}\n", port, registry)
	if err := os.WriteFile(corefile, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}

	var starts scaleStarts
	var p *Process
	b.ResetTimer()
	for i := range b.N {
		if p != nil {
			stopProcess(p)
		}
		p = starts.measure(b, i, corefile, addr)
	}
	b.StopTimer()
	starts.report(b)

	reload, total := scaleReload(b, p, registry, addr)
	b.ReportMetric(ms(reload), "reload-ms")
	b.ReportMetric(procStatus(b, p.Cmd.Process.Pid)["VmHWM"], "reload-hwm-MiB")
	b.Logf("reload: %.0f ms after the poll read the file, %.0f ms after the file was replaced (poll every 1s)", ms(reload), ms(total))
}

// scaleReload replaces the registry with one in which svc-99999 has
// another address (another file: a poll reads it whole, as it reads no
// file stat shows unchanged). It returns the time from the end of that
// read (seen in the bytes the process has read, /proc/PID/io rchar) until
// the change is served, and from the replacement.
func scaleReload(b *testing.B, p *Process, registry, addr string) (reload, total time.Duration) {
	b.Helper()
	data, err := os.ReadFile(registry)
	if err != nil {
		b.Fatal(err)
	}
	if n := bytes.Count(data, []byte(scaleLastIP+"]")); n != 1 {
		b.Fatalf("%s occurs %d times in the registry, want once", scaleLastIP, n)
	}
	edited := bytes.Replace(data, []byte(scaleLastIP+"]"), []byte(scaleReloadIP+"]"), 1)
	size := int64(len(data))
	pid := p.Cmd.Process.Pid

	tmp := registry + ".new"
	if err := os.WriteFile(tmp, edited, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, registry); err != nil {
		b.Fatal(err)
	}
	replaced := time.Now()
	r1 := readBytes(b, pid)
	scaleWait(b, p, 10*time.Second, "the poll reading the new registry", func() bool { return readBytes(b, pid) >= r1+size })
	read := time.Now()
	scaleWait(b, p, 30*time.Second, "the edited address served", func() bool {
		return slices.Contains(scaleA(addr, scaleLast), scaleReloadIP)
	})
	return time.Since(read), time.Since(replaced)
}

// scaleWait polls cond every millisecond until it holds, failing the
// benchmark if the process exits or within passes.
func scaleWait(b *testing.B, p *Process, within time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		select {
		case err := <-p.done:
			p.done <- err
			b.Fatalf("tpdns exited (%v) while waiting for %s:\n%s", err, what, p.Output)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for %s:\n%s", within, what, p.Output)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopProcess kills p and waits for it to exit.
func stopProcess(p *Process) {
	p.Cmd.Process.Kill()
	<-p.done
}

// scaleA returns the addresses of the A answer for name, or none when
// there is no reply (yet).
func scaleA(addr, name string) []string {
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	r, _, err := c.Exchange(Query(name, dns.TypeA, 0), addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return nil
	}
	return addresses(r)
}

// addresses are the A records of an answer.
func addresses(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// settledRSS is the least VmRSS of pid over the next within: the plugin
// gives back the memory its parse left behind once it serves.
func settledRSS(b *testing.B, pid int, within time.Duration) float64 {
	least := procStatus(b, pid)["VmRSS"]
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		least = min(least, procStatus(b, pid)["VmRSS"])
	}
	return least
}

// procStatus returns the memory figures of /proc/PID/status (VmRSS,
// VmHWM, ...) in MiB.
func procStatus(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		kb, found := strings.CutSuffix(strings.TrimSpace(val), " kB")
		if !ok || !found {
			continue
		}
		if n, err := strconv.ParseFloat(kb, 64); err == nil {
			out[key] = n / 1024
		}
	}
	return out
}

// readBytes is how many bytes process pid has read so far: rchar of
// /proc/PID/io.
func readBytes(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/io: %v", pid, err)
			}
			return n
		}
	}
	b.Fatalf("/proc/%d/io has no rchar", pid)
	return 0
}

// procCPU is the processor time process pid has taken so far, user and
// system, in milliseconds: utime and stime of /proc/PID/stat, in ticks of
// USER_HZ, which is 100 on Linux.
func procCPU(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command, in parentheses, may hold spaces: fields count after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	var ticks float64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseFloat(f, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return ticks * 10
}

// cpuTime is the processor time this process has taken so far, user and
// system, every goroutine's and the collector's.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// The health check of the flipping service: fall and rise 1, so that one
// probe decides, and a short interval, so that the rounds are quick.
const (
	flipInterval = 100 * time.Millisecond
	flipTimeout  = 50 * time.Millisecond
	flipRounds   = 10
)

// BenchmarkScaleHealthFlip serves the 100,000 services in-process, plus
// service flip whose three endpoints are checked by TCP against listeners
// the benchmark owns. It closes the first endpoint's listener and measures
// until the A answer no longer holds that address, then opens it again and
// measures until it is back, flipRounds times each way.
//
// The start of each measure is the time the checker recorded the probe
// that decided the flip, read from the API (the endpoint's last_check,
// stamped just before the records are rebuilt) once DNS has flipped; the
// DNS is polled in a busy loop. Reported: flip-ms (median of all flips),
// flip-down-ms and flip-up-ms (medians each way), flip-max-ms, and
// e2e-down-ms: from closing the listener, which adds the wait for the next
// probe (at most the interval plus 10% jitter, plus the timeout).
func BenchmarkScaleHealthFlip(b *testing.B) {
	registry := scaleData(b)
	dir := filepath.Dir(registry)
	flip := newFlipListener(b, "127.0.0.1")
	steady := []*flipListener{newFlipListener(b, "127.0.0.2"), newFlipListener(b, "127.0.0.3")}
	f, err := os.OpenFile(registry, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(f, `  - name: flip
    ports:
      - name: db
        port: 5432
    endpoints: [%s, %s, %s]
    check:
      type: tcp
      interval: %s
      timeout: %s
      rise: 1
      fall: 1
`, flip.addr, steady[0].addr, steady[1].addr, flipInterval, flipTimeout)
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	port, api := FreePort(b), "127.0.0.1:"+FreePort(b)
	dnsAddr := "127.0.0.1:" + port
	Start(b, fmt.Sprintf(`tp.internal:%s {
 bind 127.0.0.1
 errors
 thirdparty {
  services %s
  reload 0
  store bolt %s
  api %s {
   token_file %s
  }
 }
}
`, port, registry, filepath.Join(dir, "tpdns.db"), api, filepath.Join(dir, "tpdns.token")))
	token, err := os.ReadFile(filepath.Join(dir, "tpdns.token"))
	if err != nil {
		b.Fatal(err)
	}
	h := &flipHealth{url: "http://" + api + "/v1/services/flip", token: strings.TrimSpace(string(token)), client: &http.Client{Timeout: 2 * time.Second}}
	// Close the listeners and the API's connections before the server's
	// goroutine check.
	b.Cleanup(func() {
		h.client.CloseIdleConnections()
		flip.close()
		for _, l := range steady {
			l.close()
		}
	})

	conn, err := (&dns.Client{}).Dial(dnsAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	q := Query("flip.tp.internal.", dns.TypeA, 0)
	// served polls DNS without pause until the flipping address is, or is
	// no longer, in the answer, and returns when it saw that.
	served := func(want bool) time.Time {
		deadline := time.Now().Add(10 * time.Second)
		for {
			conn.SetDeadline(time.Now().Add(time.Second))
			if err := conn.WriteMsg(q); err != nil {
				b.Fatal(err)
			}
			r, err := conn.ReadMsg()
			now := time.Now()
			if err != nil {
				b.Fatal(err)
			}
			if slices.Contains(addresses(r), flip.host) == want {
				return now
			}
			if now.After(deadline) {
				b.Fatalf("flip.tp.internal. A: %s still %v after 10s", flip.host, !want)
			}
		}
	}
	// The first probes of all three endpoints have passed.
	deadline := time.Now().Add(time.Minute)
	for h.state(b, flip.host) != "healthy" || h.state(b, steady[0].host) != "healthy" || h.state(b, steady[1].host) != "healthy" {
		if time.Now().After(deadline) {
			b.Fatal("the endpoints of flip did not become healthy within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	served(true)

	var down, up, e2e []float64
	b.ResetTimer()
	for range b.N {
		for range flipRounds {
			closed := time.Now()
			flip.close()
			seen := served(false)
			down = append(down, ms(seen.Sub(h.decided(b, flip.host, "unhealthy", closed, seen))))
			e2e = append(e2e, ms(seen.Sub(closed)))

			opened := time.Now()
			flip.open(b)
			seen = served(true)
			up = append(up, ms(seen.Sub(h.decided(b, flip.host, "healthy", opened, seen))))
		}
	}
	b.StopTimer()
	all := append(slices.Clone(down), up...)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(all), "flip-ms")
	b.ReportMetric(median(down), "flip-down-ms")
	b.ReportMetric(median(up), "flip-up-ms")
	b.ReportMetric(slices.Max(all), "flip-max-ms")
	b.ReportMetric(median(e2e), "e2e-down-ms")
	b.Logf("probe decided -> DNS, ms: down %.2f, up %.2f; listener closed -> DNS, ms: %.1f (bound from the check: interval %s + 10%% + timeout %s = %s)",
		down, up, e2e, flipInterval, flipTimeout, flipInterval*11/10+flipTimeout)
}

// flipListener is a TCP listener that accepts and closes connections, on a
// port that stays the same when it is closed and opened again.
type flipListener struct {
	host, addr string
	ln         net.Listener
	wg         sync.WaitGroup
}

func newFlipListener(b *testing.B, host string) *flipListener {
	l := &flipListener{host: host, addr: host + ":" + FreePort(b)}
	l.open(b)
	l.addr = l.ln.Addr().String()
	return l
}

func (l *flipListener) open(b *testing.B) {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		b.Fatal(err)
	}
	l.ln = ln
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
}

// close closes the listener, and waits for its accept loop to end.
func (l *flipListener) close() {
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	l.wg.Wait()
}

// flipHealth reads the health of service flip's endpoints from the API.
type flipHealth struct {
	url, token string
	client     *http.Client
}

type endpointHealth struct {
	State     string    `json:"state"`
	LastCheck time.Time `json:"last_check"`
}

func (h *flipHealth) get(b *testing.B, host string) endpointHealth {
	b.Helper()
	req, err := http.NewRequest("GET", h.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := h.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Endpoints []struct {
			Address string         `json:"address"`
			Health  endpointHealth `json:"health"`
		} `json:"endpoints"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		b.Fatalf("GET %s: %d: %v", h.url, resp.StatusCode, err)
	}
	for _, ep := range doc.Endpoints {
		if ep.Address == host {
			return ep.Health
		}
	}
	b.Fatalf("GET %s: no endpoint %s", h.url, host)
	return endpointHealth{}
}

func (h *flipHealth) state(b *testing.B, host string) string { return h.get(b, host).State }

// decided returns when the checker recorded the probe that put host in
// state: a time between the change to the listener and DNS seeing it.
// The next probe is an interval away, so it has not overwritten it yet.
func (h *flipHealth) decided(b *testing.B, host, state string, changed, seen time.Time) time.Time {
	b.Helper()
	st := h.get(b, host)
	if st.State != state || st.LastCheck.Before(changed) || st.LastCheck.After(seen) {
		b.Fatalf("%s: %s, last check %s; want %s, checked between %s and %s",
			host, st.State, st.LastCheck.Format(time.StampMicro), state, changed.Format(time.StampMicro), seen.Format(time.StampMicro))
	}
	return st.LastCheck
}

// BenchmarkScaleParseBuild splits the in-process cost of loading the
// 100,000 services: parsing the registry (parse-ms), building the zone's
// view from it (build-ms), and starting a whole server on it (start-ms:
// parsing, building, the plugin's own bookkeeping, listening), with the
// live heap the parsed registry (registry-MiB) and its view (view-MiB)
// take, the most heap the parse has in use at its peak (parse-peak-MiB,
// see parsePeak), and the processor time of the parse
// and the build (parse-cpu-ms, build-cpu-ms: every core's, the
// collector's included; steadier than the wall times on a machine shared
// with other work). Profile it with -cpuprofile to see where the time
// goes:
//
//	go test -run '^$' -bench ScaleParseBuild -benchtime 1x -cpuprofile cpu.out ./test/
//	go tool pprof -top -cum test.test cpu.out
func BenchmarkScaleParseBuild(b *testing.B) {
	registry := scaleData(b)
	data, err := os.ReadFile(registry)
	if err != nil {
		b.Fatal(err)
	}
	port := FreePort(b)
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n errors\n thirdparty {\n  services %s\n  reload 0\n }\n}\n", port, registry)

	var parse, build, parseCPU, buildCPU, start, parsedHeap, viewHeap []float64
	b.ResetTimer()
	for range b.N {
		base := liveHeap()
		t0, c0 := time.Now(), cpuTime(b)
		services, err := config.ParseYAML(registry, data, config.Options{Zones: []string{scaleZone}})
		if err != nil {
			b.Fatal(err)
		}
		parse, parseCPU = append(parse, ms(time.Since(t0))), append(parseCPU, ms(cpuTime(b)-c0))
		parsed := liveHeap()
		t0, c0 = time.Now(), cpuTime(b)
		view := zone.Build(scaleZone, services, zone.Options{TTL: 10})
		build, buildCPU = append(build, ms(time.Since(t0))), append(buildCPU, ms(cpuTime(b)-c0))
		built := liveHeap()
		runtime.KeepAlive(services)
		runtime.KeepAlive(view)
		parsedHeap = append(parsedHeap, mib(parsed-base))
		viewHeap = append(viewHeap, mib(built-parsed))

		t0 = time.Now()
		inst, err := server.Start(server.Input{Filename: "Corefile", Contents: []byte(conf), Quiet: true})
		if err != nil {
			b.Fatalf("starting server: %v", err)
		}
		start = append(start, ms(time.Since(t0)))
		// One query may time out on a busy machine: ask again, for a while.
		got := scaleA("127.0.0.1:"+port, scaleLast)
		for deadline := time.Now().Add(10 * time.Second); len(got) != scaleEndpoints && time.Now().Before(deadline); {
			got = scaleA("127.0.0.1:"+port, scaleLast)
		}
		if err := server.Stop(inst); err != nil {
			b.Fatalf("stopping server: %v", err)
		}
		if len(got) != scaleEndpoints {
			b.Fatalf("svc-99999 A: %v", got)
		}
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(parse), "parse-ms")
	b.ReportMetric(median(build), "build-ms")
	b.ReportMetric(median(parseCPU), "parse-cpu-ms")
	b.ReportMetric(median(buildCPU), "build-cpu-ms")
	b.ReportMetric(median(start), "start-ms")
	b.ReportMetric(median(parsedHeap), "registry-MiB")
	b.ReportMetric(median(viewHeap), "view-MiB")
	b.ReportMetric(parsePeak(b, registry, data), "parse-peak-MiB")
}

// parsePeak is the most heap the parse of data has in use at any moment,
// less what was in use before it: the parsed registry (registry-MiB), and
// what the parse keeps or leaves for the collector on the way. It is
// sampled every millisecond, with runtime/metrics; the collector runs far
// less often, so the peaks it sets are caught. (The peak RSS of a process
// of its own, tpdns --validate, would say the same but that Linux counts a
// child's peak from the memory of the process that started it.)
func parsePeak(b *testing.B, registry string, data []byte) float64 {
	b.Helper()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := liveHeap()
	peak := base
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heap())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	services, err := config.ParseYAML(registry, data, config.Options{Zones: []string{scaleZone}})
	close(done)
	<-sampled
	if err != nil {
		b.Fatal(err)
	}
	runtime.KeepAlive(services)
	return mib(max(peak, heap()) - base)
}

// BenchmarkScaleEtcdLoad100k is BenchmarkScaleLoad100k for a replica of
// the etcd store: the 100,000 services are written into a real etcd under
// the store's layout (services/NAME, each the JSON document the API
// stores), and the tpdns binary starts with `store etcd` and no registry
// file. Reported: the wall time from the process's start until the last
// service answers (load-ms) and the processor time it took (load-cpu-ms),
// the resident memory then (rss-MiB), settled (rss-settled-MiB) and at its
// peak (hwm-MiB). The writes are not timed.
func BenchmarkScaleEtcdLoad100k(b *testing.B) {
	registry := scaleData(b)
	e := startEtcd(b, nil, scaleEtcdFlags...)
	scaleFillEtcd(b, e, registry)
	port := FreePort(b)
	addr := "127.0.0.1:" + port
	corefile := filepath.Join(filepath.Dir(registry), "Corefile.etcd")
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n errors\n thirdparty {\n  store etcd %s\n }\n}\n", port, e.Endpoint)
	if err := os.WriteFile(corefile, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}

	var starts scaleStarts
	b.ResetTimer()
	for i := range b.N {
		stopProcess(starts.measure(b, i, corefile, addr))
	}
	b.StopTimer()
	starts.report(b)
}

// scaleStarts are the figures of the binary's starts on the 100,000
// services, one per run.
type scaleStarts struct{ loads, cpu, rss, settled, hwm []float64 }

// measure starts the binary on corefile, waits until the last service
// answers on addr, and records run i's figures; it returns the process.
func (f *scaleStarts) measure(b *testing.B, i int, corefile, addr string) *Process {
	start := time.Now()
	p := StartBinary(b, tpdnsBinary, corefile, "", "--quiet")
	scaleWait(b, p, 60*time.Second, "svc-99999 A", func() bool {
		return len(scaleA(addr, scaleLast)) == scaleEndpoints
	})
	f.loads, f.cpu = append(f.loads, ms(time.Since(start))), append(f.cpu, procCPU(b, p.Cmd.Process.Pid))
	status := procStatus(b, p.Cmd.Process.Pid)
	f.rss, f.hwm = append(f.rss, status["VmRSS"]), append(f.hwm, status["VmHWM"])
	f.settled = append(f.settled, settledRSS(b, p.Cmd.Process.Pid, 3*time.Second))
	b.Logf("run %d: load %.0f ms (%.0f ms of CPU), VmRSS %.0f MiB (%.0f MiB settled), VmHWM %.0f MiB",
		i, f.loads[i], f.cpu[i], f.rss[i], f.settled[i], f.hwm[i])
	return p
}

// report reports the medians of the runs.
func (f *scaleStarts) report(b *testing.B) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(f.loads), "load-ms")
	b.ReportMetric(median(f.cpu), "load-cpu-ms")
	b.ReportMetric(median(f.rss), "rss-MiB")
	b.ReportMetric(median(f.settled), "rss-settled-MiB")
	b.ReportMetric(median(f.hwm), "hwm-MiB")
}

// scaleEtcdFlags let the benchmark's etcd take the registry in a few large
// transactions instead of 800 of etcd's default 128 operations.
var scaleEtcdFlags = []string{"--max-txn-ops", "5000", "--max-request-bytes", "4194304"}

// scaleFillEtcd writes the services of the registry file into e as the
// etcd store keeps them: the JSON document of each under
// /tpdns/services/NAME, in transactions of scaleTxnOps puts.
func scaleFillEtcd(b *testing.B, e *Etcd, registry string) {
	b.Helper()
	data, err := os.ReadFile(registry)
	if err != nil {
		b.Fatal(err)
	}
	services, err := config.ParseYAML(registry, data, config.Options{Zones: []string{scaleZone}})
	if err != nil {
		b.Fatal(err)
	}
	cli := e.Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for from := 0; from < len(services); from += scaleTxnOps {
		var ops []clientv3.Op
		for _, s := range services[from:min(from+scaleTxnOps, len(services))] {
			doc, err := config.EncodeJSON(s)
			if err != nil {
				b.Fatal(err)
			}
			ops = append(ops, clientv3.OpPut("/tpdns/services/"+s.Name, string(doc)))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Fatalf("writing services %d to %d into etcd: %v", from, from+len(ops), err)
		}
	}
}

// scaleTxnOps is how many puts one transaction of scaleFillEtcd holds:
// within scaleEtcdFlags' limits and the client's 2 MiB a request (about
// 420 bytes each).
const scaleTxnOps = 4000

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of xs, which it sorts.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// BenchmarkScaleReloads10k edits a 10,000-service registry 100 times,
// each edit served before the next, and reports the resident memory after
// the 10th and the 100th (rss-10-MiB, rss-100-MiB): a registry change must
// not leave memory behind, nor need a forced collection to give it back.
//
//	go test -run '^$' -bench ScaleReloads10k -benchtime 1x -v ./test/
func BenchmarkScaleReloads10k(b *testing.B) {
	dir := b.TempDir()
	cmd := exec.Command("go", "run", "github.com/tpdns/tpdns/bench/gen", "-n", "10000", "-endpoints", "3", "-queries", "1", "-out", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("bench/gen: %v", err)
	}
	registry := filepath.Join(dir, "services.yaml")
	data, err := os.ReadFile(registry)
	if err != nil {
		b.Fatal(err)
	}
	// The last service's last address is the one the edits change.
	at := bytes.LastIndex(data, []byte("]"))
	from := bytes.LastIndex(data[:at], []byte(", ")) + 2
	last := string(data[from:at])
	edited := func(ip string) []byte { return slices.Concat(data[:from], []byte(ip), data[at:]) }

	port := FreePort(b)
	addr := "127.0.0.1:" + port
	corefile := filepath.Join(dir, "Corefile")
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  services %s\n  reload 100ms\n }\n}\n", port, registry)
	if err := os.WriteFile(corefile, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	p := StartBinary(b, tpdnsBinary, corefile, "", "--quiet")
	defer stopProcess(p)
	scaleWait(b, p, 30*time.Second, "svc-9999 A", func() bool { return slices.Contains(scaleA(addr, "svc-9999.tp.internal."), last) })
	var rss []float64
	for i := range 100 {
		ip := fmt.Sprintf("10.250.%d.%d", i/250, i%250+1)
		tmp := registry + ".new"
		if err := os.WriteFile(tmp, edited(ip), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, registry); err != nil {
			b.Fatal(err)
		}
		scaleWait(b, p, 30*time.Second, "edit "+ip, func() bool { return slices.Contains(scaleA(addr, "svc-9999.tp.internal."), ip) })
		rss = append(rss, procStatus(b, p.Cmd.Process.Pid)["VmRSS"])
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rss[9], "rss-10-MiB")
	b.ReportMetric(rss[99], "rss-100-MiB")
	b.ReportMetric(slices.Max(rss), "rss-max-MiB")
	b.Logf("VmRSS after each tenth edit (MiB): %v", []float64{rss[9], rss[19], rss[29], rss[39], rss[49], rss[59], rss[69], rss[79], rss[89], rss[99]})
}
