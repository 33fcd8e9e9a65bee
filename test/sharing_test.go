package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The tests of health_sharing (SPEC section 7, "Shared probing"): replicas
// of the built binary on one etcd, probing the TCP listeners of this test
// process, which count what reaches them.

// sharingLeaseTTL is the TTL of a replica's lease in etcd: a replica that
// dies leaves the others' view of the live replicas within it.
const sharingLeaseTTL = 5 * time.Second

// probeTarget is a TCP listener that stands for one checked endpoint: it
// accepts every connection, closes it at once, and records when it came.
type probeTarget struct {
	addr string // host:port, as the registry names the endpoint

	mu      sync.Mutex
	ln      net.Listener
	accepts []time.Time
}

// listenTarget listens on host (a loopback address) and port; the listener
// is closed when the test ends. Targets on distinct addresses of
// 127.0.0.0/8 share a port from FreePort, which no other test binds.
func listenTarget(t testing.TB, host, port string) *probeTarget {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	require.NoError(t, err)
	p := &probeTarget{addr: ln.Addr().String(), ln: ln}
	go p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// serve accepts on ln until it is closed.
func (p *probeTarget) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		now := time.Now()
		c.Close()
		p.mu.Lock()
		p.accepts = append(p.accepts, now)
		p.mu.Unlock()
	}
}

// close stops listening: probes are refused until reopen.
func (p *probeTarget) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// reopen listens again on the same address and port.
func (p *probeTarget) reopen(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// host is the address part of p.addr.
func (p *probeTarget) host() string {
	h, _, _ := net.SplitHostPort(p.addr)
	return h
}

// count is the number of connections accepted in [from, to).
func (p *probeTarget) count(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.accepts {
		if !a.Before(from) && a.Before(to) {
			n++
		}
	}
	return n
}

// firstAfter is the first connection accepted at or after t, and whether
// there was one.
func (p *probeTarget) firstAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.accepts {
		if !a.Before(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

// longestGap is the longest time without a probe around at: from the last
// connection accepted before at (or from at, if there was none) to end,
// the time from the last connection to end included.
func (p *probeTarget) longestGap(at, end time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := at
	for _, a := range p.accepts {
		if a.Before(at) {
			prev = a
		}
	}
	var gap time.Duration
	for _, a := range p.accepts {
		if a.After(prev) && !a.After(end) {
			gap = max(gap, a.Sub(prev))
			prev = a
		}
	}
	return max(gap, end.Sub(prev))
}

// sharingRegistry writes a registry file of services, each of perService
// of the targets as its endpoints (IP:PORT), checked by tcp every interval
// with rise 1 and fall; it returns the file's path. Service i is named
// "svc<i>".
func sharingRegistry(t testing.TB, dir string, targets []*probeTarget, perService int, interval time.Duration, fall int) string {
	t.Helper()
	path := filepath.Join(dir, "services.yaml")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "services:")
	for i := 0; i < len(targets); i += perService {
		fmt.Fprintf(w, "  - name: svc%d\n    ports: [{name: db, port: 5432}]\n    check: {type: tcp, interval: %s, rise: 1, fall: %d}\n    endpoints:\n",
			i/perService, interval, fall)
		for _, p := range targets[i:min(i+perService, len(targets))] {
			fmt.Fprintf(w, "      - %s\n", p.addr)
		}
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return path
}

// sharingReplica is one tpdns process of a test of shared probing.
type sharingReplica struct {
	dns, metrics string
	proc         *Process
}

// startSharingReplicas starts n replicas of the built binary on e (prefix
// /tpdns) at once, each serving the registry file services, with
// health_sharing when sharing is set, and waits until each answers. Each
// serves DNS and its metrics on loopback ports of its own.
func startSharingReplicas(t testing.TB, e *Etcd, services string, n int, sharing bool) []*sharingReplica {
	t.Helper()
	dir := t.TempDir()
	share := ""
	if sharing {
		share = "  health_sharing\n"
	}
	var out []*sharingReplica
	for i := range n {
		r := &sharingReplica{dns: "127.0.0.1:" + FreePort(t), metrics: "127.0.0.1:" + FreePort(t)}
		conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n prometheus %s\n thirdparty {\n  services %s\n  store etcd %s {\n   prefix /tpdns\n  }\n%s }\n}\n",
			strings.TrimPrefix(r.dns, "127.0.0.1:"), r.metrics, services, e.Endpoint, share)
		path := filepath.Join(dir, fmt.Sprintf("Corefile%d", i))
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
		r.proc = StartBinary(t, tpdnsBinary, path, "")
		out = append(out, r)
	}
	// Started together, they join while the others make their first
	// probes and publish their first states, as a rollout does.
	for _, r := range out {
		r.proc.WaitAnswer(t, r.dns)
	}
	return out
}

// metric is the sum of every series of the metric name the replica serves
// (0 when it serves none).
func (r *sharingReplica) metric(t testing.TB, name string) float64 {
	t.Helper()
	return metricSum(Scrape(t, r.metrics), name)
}

// metricSum is the sum of every series of the metric name in a Prometheus
// text exposition.
func metricSum(body, name string) float64 {
	var sum float64
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// sumMetric is the sum of metric name over the replicas.
func sumMetric(t testing.TB, rs []*sharingReplica, name string) float64 {
	t.Helper()
	var sum float64
	for _, r := range rs {
		sum += r.metric(t, name)
	}
	return sum
}

// waitSharingSettled polls until every replica of rs sees len(rs) live
// replicas, none probes an endpoint as a fail-safe, and they own endpoints
// endpoints between them; it returns how long that took.
func waitSharingSettled(t testing.TB, rs []*sharingReplica, endpoints int, within time.Duration) time.Duration {
	t.Helper()
	return waitSharing(t, rs, endpoints, within, true)
}

// waitSharing is waitSharingSettled, which requires no endpoint probed as
// a fail-safe only when noLocal is set.
func waitSharing(t testing.TB, rs []*sharingReplica, endpoints int, within time.Duration, noLocal bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		owned, ok := 0.0, true
		var seen []string
		for _, r := range rs {
			body := Scrape(t, r.metrics)
			replicas := metricSum(body, "tpdns_thirdparty_sharing_replicas")
			local := metricSum(body, "tpdns_thirdparty_sharing_local_endpoints")
			o := metricSum(body, "tpdns_thirdparty_sharing_owned_endpoints")
			owned += o
			ok = ok && replicas == float64(len(rs)) && (local == 0 || !noLocal)
			seen = append(seen, fmt.Sprintf("%s: replicas %v, owned %v, local %v", r.dns, replicas, o, local))
		}
		if ok && owned == float64(endpoints) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("sharing did not settle within %s: %s (want %d replicas, %d endpoints owned, none local: %v)",
				within, strings.Join(seen, "; "), len(rs), endpoints, noLocal)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publishers counts the states in etcd (under /tpdns/health/) by the
// replica that published them (their "replica", an ID made of the host,
// the process ID and the zone): the index in rs of the replica whose
// process ID it holds, "other" for any other.
func publishers(t *testing.T, e *Etcd, rs []*sharingReplica) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.Client(t).Get(ctx, "/tpdns/health/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, kv := range resp.Kvs {
		var st struct {
			Replica string `json:"replica"`
		}
		who := "other"
		if json.Unmarshal(kv.Value, &st) == nil {
			for i, r := range rs {
				if strings.Contains(st.Replica, "-"+strconv.Itoa(r.proc.Cmd.Process.Pid)+"-") {
					who = strconv.Itoa(i)
				}
			}
		}
		out[who]++
	}
	return out
}

// TestHealthSharing starts three replicas with health_sharing on one etcd
// together, checking 12 endpoints every second, and shows that each
// endpoint is probed about once per interval in all (not once per replica)
// and its state is in etcd, published by its owner; that a replica killed
// with SIGKILL has its endpoints taken over and probed within the lease TTL
// and an interval; and that an endpoint going down and up again is seen by
// every live replica.
func TestHealthSharing(t *testing.T) {
	const (
		interval  = time.Second
		fall      = 2
		endpoints = 12
		margin    = time.Second
	)
	e := StartEtcd(t)
	var targets []*probeTarget
	port := FreePort(t)
	for i := range endpoints {
		targets = append(targets, listenTarget(t, fmt.Sprintf("127.0.1.%d", i+1), port))
	}
	// One service of 12 endpoints: its A answer names the healthy ones.
	services := sharingRegistry(t, t.TempDir(), targets, endpoints, interval, fall)
	rs := startSharingReplicas(t, e, services, 3, true)
	took := waitSharingSettled(t, rs, endpoints, 10*time.Second)
	t.Logf("3 replicas started together; ownership settled %s after they all answered", took.Round(time.Millisecond))

	// (a) Each endpoint is probed about once per interval in all.
	const window = 5 * interval
	checksBefore := sumMetric(t, rs, "tpdns_thirdparty_health_checks_total")
	start := time.Now()
	time.Sleep(window)
	end := time.Now()
	checks := sumMetric(t, rs, "tpdns_thirdparty_health_checks_total") - checksBefore
	perInterval := float64(end.Sub(start)) / float64(interval)
	lo := int(math.Floor(perInterval/1.1)) - 1 // a probe late or early by 10% of the interval, and one more
	hi := int(math.Ceil(perInterval/0.9)) + 1
	var counts []int
	for _, p := range targets {
		n := p.count(start, end)
		counts = append(counts, n)
		assert.True(t, n >= lo && n <= hi, "%s probed %d times in %s: want %d-%d (3 replicas each probing it: %.0f)", p.addr, n, window, lo, hi, 3*perInterval)
	}
	var owned, local []float64
	for _, r := range rs {
		body := Scrape(t, r.metrics)
		owned = append(owned, metricSum(body, "tpdns_thirdparty_sharing_owned_endpoints"))
		local = append(local, metricSum(body, "tpdns_thirdparty_sharing_local_endpoints"))
	}
	t.Logf("(a) probes per endpoint in %s (%.1f intervals): %v (allowed %d-%d; unshared: %.0f); the replicas' own count: %.0f; owned per replica: %v; probed as a fail-safe: %v",
		window, perInterval, counts, lo, hi, 3*perInterval, checks, owned, local)
	assert.Equal(t, float64(endpoints), owned[0]+owned[1]+owned[2], "the replicas own every endpoint once")
	assert.Equal(t, []float64{0, 0, 0}, local, "every owner publishes: no replica probes an endpoint as a fail-safe")
	// Each endpoint's state is in etcd, published by its owner.
	pub := publishers(t, e, rs)
	t.Logf("(a) states in etcd by publisher: %v", pub)
	assert.Equal(t, map[string]int{"0": int(owned[0]), "1": int(owned[1]), "2": int(owned[2])}, pub, "each replica publishes the states of what it owns")

	// (b) A replica killed with SIGKILL: its lease expires, the others take
	// its endpoints over and probe them within the TTL and an interval.
	victim := slices.Index(owned, slices.Max(owned))
	survivors := slices.Delete(slices.Clone(rs), victim, victim+1)
	killed := time.Now()
	rs[victim].proc.Signal(t, syscall.SIGKILL)
	rs[victim].proc.Wait(t)
	waitSharingSettled(t, survivors, endpoints, sharingLeaseTTL+interval+margin)
	t.Logf("(b) replica %s (owner of %.0f endpoints) killed; the 2 others own all %d %s later",
		rs[victim].dns, owned[victim], endpoints, time.Since(killed).Round(time.Millisecond))
	// Let the window after the kill elapse, then look at each endpoint's
	// probes around it. The last probe before the kill may be up to an
	// interval earlier: the longest gap is bounded by that interval more.
	deadline := sharingLeaseTTL + interval + margin
	time.Sleep(time.Until(killed.Add(deadline)))
	end = time.Now()
	var firsts, gaps []time.Duration
	for _, p := range targets {
		first, ok := p.firstAfter(killed)
		if assert.True(t, ok, "%s not probed since the kill", p.addr) {
			firsts = append(firsts, first.Sub(killed).Round(time.Millisecond))
			assert.LessOrEqual(t, first.Sub(killed), deadline, "%s probed again only %s after the kill", p.addr, first.Sub(killed))
		}
		gap := p.longestGap(killed, end)
		gaps = append(gaps, gap.Round(time.Millisecond))
		assert.LessOrEqual(t, gap, deadline+interval, "%s: %s without a probe around the kill", p.addr, gap)
	}
	t.Logf("(b) first probe of each endpoint after the kill: %v; longest gap without a probe: %v (bounds: %s, %s)",
		firsts, gaps, deadline, deadline+interval)
	takeovers := sumMetric(t, survivors, "tpdns_thirdparty_sharing_takeovers_total")
	assert.Positive(t, takeovers, "takeovers_total on the survivors")
	t.Logf("(b) takeovers_total on the survivors: %.0f", takeovers)
	want := map[string]int{}
	for i, r := range rs {
		if i != victim {
			want[strconv.Itoa(i)] = int(r.metric(t, "tpdns_thirdparty_sharing_owned_endpoints"))
		}
	}
	pub = publishers(t, e, rs)
	t.Logf("(b) states in etcd by publisher: %v", pub)
	assert.Equal(t, want, pub, "the survivors publish the states of all they own")

	// (c) An endpoint goes down: every live replica stops answering it
	// within fall × interval; back up, it is answered again.
	down := targets[0]
	all := map[string]bool{}
	for _, p := range targets {
		all[p.host()] = true
	}
	without := withoutKey(all, down.host())
	for _, r := range survivors {
		r.waitA(t, all, 2*interval)
	}
	down.close()
	closed := time.Now()
	for _, r := range survivors {
		r.waitA(t, without, time.Until(closed.Add(fall*interval+margin)))
		t.Logf("(c) %s down: gone from %s's answers after %s (bound %s)", down.addr, r.dns, time.Since(closed).Round(time.Millisecond), fall*interval+margin)
	}
	down.reopen(t)
	reopened := time.Now()
	for _, r := range survivors {
		r.waitA(t, all, time.Until(reopened.Add(interval+margin)))
		t.Logf("(c) %s up again: back in %s's answers after %s (bound %s)", down.addr, r.dns, time.Since(reopened).Round(time.Millisecond), interval+margin)
	}
}

// withoutKey is the set m without key.
func withoutKey(m map[string]bool, key string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		if k != key {
			out[k] = true
		}
	}
	return out
}

// waitA polls the replica until svc0's A answer is want; it fails the test
// after within.
func (r *sharingReplica) waitA(t *testing.T, want map[string]bool, within time.Duration) {
	t.Helper()
	reg := &registrar{dns: r.dns}
	start := time.Now()
	for {
		got := reg.addresses(t, "svc0.tp.internal.", dns.TypeA)
		if assert.ObjectsAreEqual(want, got) {
			return
		}
		if time.Since(start) > within {
			t.Fatalf("svc0 on %s: %d addresses %v, want %d after %s", r.dns, len(got), got, len(want), within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
