package test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSharingSimulation measures shared probing at scale: by default 3
// replicas of the built binary on one etcd, 10,000 endpoints checked (tcp)
// every 10 s, each a listener of this process on an address of its own in
// 127.20.0.0/16. It runs the replicas twice, first each probing everything
// (no health_sharing), then sharing, and logs what the targets receive
// (probes per second, probes per endpoint and interval), what etcd does
// (writes, watch events, lease renewals, CPU), each replica's CPU and
// memory, and, sharing, how long the others take to take a killed
// replica's endpoints over, each beside the README's load model.
//
// It runs only with TPDNS_SHARING_SIM=1 (make bench-sharing, which raises
// the limit of open files: every target is a socket); TPDNS_SIM_REPLICAS,
// TPDNS_SIM_ENDPOINTS, TPDNS_SIM_INTERVAL (a Go duration),
// TPDNS_SIM_WINDOW (the measurement window, in intervals) and
// TPDNS_SIM_MODES ("independent,shared") change the defaults.
func TestSharingSimulation(t *testing.T) {
	if os.Getenv("TPDNS_SHARING_SIM") == "" {
		t.Skip("a simulation of minutes: TPDNS_SHARING_SIM=1 (make bench-sharing)")
	}
	sim := sharingSim{
		replicas:  simEnvInt(t, "TPDNS_SIM_REPLICAS", 3),
		endpoints: simEnvInt(t, "TPDNS_SIM_ENDPOINTS", 10000),
		interval:  10 * time.Second,
		windows:   simEnvInt(t, "TPDNS_SIM_WINDOW", 3),
	}
	if v := os.Getenv("TPDNS_SIM_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TPDNS_SIM_INTERVAL: %v", err)
		}
		sim.interval = d
	}
	if sim.endpoints > 250*256 {
		t.Fatalf("at most %d endpoints: one address each in 127.20.0.0/16", 250*256)
	}
	port := FreePort(t)
	for i := range sim.endpoints {
		sim.targets = append(sim.targets, listenTarget(t, fmt.Sprintf("127.20.%d.%d", i/250, 1+i%250), port))
	}
	// Services of 10 endpoints, as databases and their replicas come.
	sim.services = sharingRegistry(t, t.TempDir(), sim.targets, 10, sim.interval, 3)
	t.Logf("%d replicas, %d endpoints (tcp) every %s, measured over %d intervals", sim.replicas, sim.endpoints, sim.interval, sim.windows)

	modes := os.Getenv("TPDNS_SIM_MODES")
	if modes == "" {
		modes = "independent,shared"
	}
	for _, mode := range []string{"independent", "shared"} {
		if !slices.Contains(strings.Split(modes, ","), mode) {
			continue
		}
		t.Run(mode, func(t *testing.T) { sim.run(t, mode == "shared") })
	}
}

// etcd's client renews a lease a third of its TTL after the last renewal,
// on a loop that wakes every 500 ms (so every 2 s for 5 s); etcd's leader
// looks for expired leases every 500 ms.
const (
	keepAlivePeriod = 2 * time.Second
	etcdExpiryTick  = 500 * time.Millisecond
)

// sharingSim is one simulation's parameters and targets.
type sharingSim struct {
	replicas, endpoints, windows int
	interval                     time.Duration
	targets                      []*probeTarget
	services                     string // the registry file
}

// simSample is what the replicas and etcd have counted at one moment.
type simSample struct {
	at                                time.Time
	cpu, checks, published, rss, heap []float64 // per replica
	etcd                              map[string]float64
}

// etcdCounters are the etcd metrics the simulation follows.
var etcdCounters = []string{
	"etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_txn_total",
	"etcd_debugging_mvcc_events_total", "etcd_debugging_lease_renewed_total",
	"etcd_server_proposals_committed_total", "process_cpu_seconds_total",
	"etcd_debugging_mvcc_keys_total", "etcd_mvcc_db_total_size_in_use_in_bytes",
}

// sample scrapes the replicas' and etcd's metrics.
func (s *sharingSim) sample(t *testing.T, e *Etcd, rs []*sharingReplica) simSample {
	smp := simSample{at: time.Now(), etcd: map[string]float64{}}
	for _, r := range rs {
		body := Scrape(t, r.metrics)
		smp.cpu = append(smp.cpu, metricSum(body, "process_cpu_seconds_total"))
		smp.checks = append(smp.checks, metricSum(body, "tpdns_thirdparty_health_checks_total"))
		smp.published = append(smp.published, metricSum(body, "tpdns_thirdparty_sharing_published_total"))
		smp.rss = append(smp.rss, metricSum(body, "process_resident_memory_bytes"))
		smp.heap = append(smp.heap, metricSum(body, "go_memstats_heap_inuse_bytes"))
	}
	body := Scrape(t, strings.TrimPrefix(e.Endpoint, "http://"))
	for _, name := range etcdCounters {
		smp.etcd[name] = metricSum(body, name)
	}
	return smp
}

// run starts the replicas on an etcd of their own, waits until every
// endpoint has been probed and the first probes are an interval behind,
// measures a window and, sharing, kills a replica.
func (s *sharingSim) run(t *testing.T, sharing bool) {
	n, m, interval := s.replicas, float64(s.endpoints), s.interval
	e := StartEtcd(t)
	started := time.Now()
	rs := startSharingReplicas(t, e, s.services, n, sharing)
	t.Logf("%d replicas started in %s", n, time.Since(started).Round(time.Millisecond))
	if sharing {
		took := waitSharingSettled(t, rs, s.endpoints, 60*time.Second)
		t.Logf("ownership settled %s after the last replica started", took.Round(time.Millisecond))
	}
	waitFor(t, 2*interval+30*time.Second, "every endpoint probed", func() bool {
		for _, p := range s.targets {
			if _, ok := p.firstAfter(started); !ok {
				return false
			}
		}
		return true
	})
	t.Logf("every endpoint probed %s after the first replica started", time.Since(started).Round(time.Millisecond))
	time.Sleep(interval) // the first probes' burst behind, and the states they published

	window := time.Duration(s.windows) * interval
	before := s.sample(t, e, rs)
	time.Sleep(window)
	after := s.sample(t, e, rs)
	secs := after.at.Sub(before.at).Seconds()
	intervals := secs / interval.Seconds()

	// What the targets received.
	var accepts int
	perEndpoint := map[int]int{} // probes in the window → endpoints
	for _, p := range s.targets {
		c := p.count(before.at, after.at)
		accepts += c
		perEndpoint[c]++
	}
	model := m / interval.Seconds()
	if !sharing {
		model *= float64(n)
	}
	t.Logf("probes received by the targets: %.0f/s (model: %.0f/s); per endpoint and interval %.2f (model %d)",
		float64(accepts)/secs, model, float64(accepts)/m/intervals, map[bool]int{true: 1, false: n}[sharing])
	t.Logf("endpoints by probes received in %.1f intervals: %v", intervals, perEndpoint)
	var checks float64
	for i := range rs {
		checks += after.checks[i] - before.checks[i]
	}
	t.Logf("probes counted by the replicas: %.0f/s", checks/secs)
	for i, r := range rs {
		t.Logf("replica %d (%s): CPU %.1f%% of a core, RSS %.0f MiB, heap in use %.1f MiB, %.0f probes/s, %.2f states published/s",
			i, r.dns, 100*(after.cpu[i]-before.cpu[i])/secs, after.rss[i]/(1<<20), after.heap[i]/(1<<20),
			(after.checks[i]-before.checks[i])/secs, (after.published[i]-before.published[i])/secs)
	}
	d := func(name string) float64 { return (after.etcd[name] - before.etcd[name]) / secs }
	t.Logf("etcd: %.2f puts/s, %.2f deletes/s, %.2f txns/s, %.2f proposals/s, %.2f watch events/s sent, %.2f lease renewals/s (model: %.1f), CPU %.1f%% of a core",
		d("etcd_mvcc_put_total"), d("etcd_mvcc_delete_total"), d("etcd_mvcc_txn_total"),
		d("etcd_server_proposals_committed_total"), d("etcd_debugging_mvcc_events_total"),
		d("etcd_debugging_lease_renewed_total"), map[bool]float64{true: float64(n) / keepAlivePeriod.Seconds()}[sharing],
		100*d("process_cpu_seconds_total"))
	t.Logf("etcd holds %.0f keys, %.1f MiB in use", after.etcd["etcd_debugging_mvcc_keys_total"], after.etcd["etcd_mvcc_db_total_size_in_use_in_bytes"]/(1<<20))
	if !sharing {
		return
	}
	assert.Less(t, float64(accepts)/secs, 1.5*model, "shared: about one probe per endpoint and interval")
	owned, local := s.ownership(t, rs)
	t.Logf("after the window: endpoints owned per replica %v, probed as a fail-safe (local) %v, states in etcd by publisher %v",
		owned, local, publishers(t, e, rs))

	// Take-over: kill the replica that owns most.
	victim := slices.Index(owned, slices.Max(owned))
	survivors := slices.Delete(slices.Clone(rs), victim, victim+1)
	beforeKill := s.sample(t, e, survivors)
	killed := time.Now()
	rs[victim].proc.Signal(t, syscall.SIGKILL)
	rs[victim].proc.Wait(t)
	waitSharing(t, survivors, s.endpoints, sharingLeaseTTL+2*interval+30*time.Second, false)
	t.Logf("take-over: replica %d (owner of %.0f endpoints) killed; the others own every endpoint %s later (model: at most the lease TTL and etcd's expiry tick, %s)",
		victim, owned[victim], time.Since(killed).Round(time.Millisecond), sharingLeaseTTL+etcdExpiryTick)
	deadline := sharingLeaseTTL + 2*interval + 10*time.Second
	waitFor(t, deadline, "every endpoint probed after the kill", func() bool {
		for _, p := range s.targets {
			if _, ok := p.firstAfter(killed); !ok {
				return false
			}
		}
		return true
	})
	allProbed := time.Since(killed)
	// The endpoints taken over are those that went more than an interval
	// (and its jitter) without a probe: their owners probed the others'.
	var firsts []time.Duration
	var gap time.Duration
	for _, p := range s.targets {
		g := p.longestGap(killed, killed.Add(allProbed))
		if g > interval+interval/10 {
			first, _ := p.firstAfter(killed)
			firsts = append(firsts, first.Sub(killed))
		}
		gap = max(gap, g)
	}
	slices.Sort(firsts)
	pct := func(q float64) time.Duration {
		if len(firsts) == 0 {
			return 0
		}
		return firsts[int(q*float64(len(firsts)-1))].Round(time.Millisecond)
	}
	t.Logf("take-over: every endpoint probed again %s after the kill (model: at most TTL + interval, %s); %d endpoints went more than an interval without a probe, first probed again %s / %s / %s after the kill (first / median / last); longest gap without a probe %s (model: at most TTL + 2 intervals, %s)",
		allProbed.Round(time.Millisecond), sharingLeaseTTL+interval, len(firsts), pct(0), pct(0.5), pct(1), gap.Round(time.Millisecond), sharingLeaseTTL+2*interval)
	assert.LessOrEqual(t, allProbed, sharingLeaseTTL+interval+2*time.Second, "every endpoint probed again within TTL + interval")
	time.Sleep(time.Until(killed.Add(sharingLeaseTTL + 2*interval))) // the republishing done
	afterKill := s.sample(t, e, survivors)
	owned2, local2 := s.ownership(t, survivors)
	t.Logf("take-over: the survivors own %v, probe %v as a fail-safe (local), states in etcd by publisher %v",
		owned2, local2, publishers(t, e, rs))
	var published float64
	for i := range survivors {
		published += afterKill.published[i] - beforeKill.published[i]
	}
	dk := func(name string) float64 { return afterKill.etcd[name] - beforeKill.etcd[name] }
	t.Logf("take-over burst (%s from the kill): %.0f states published by the survivors (model: the dead replica's %.0f), etcd %.0f puts, %.0f deletes, %.0f watch events sent",
		afterKill.at.Sub(killed).Round(time.Millisecond), published, owned[victim],
		dk("etcd_mvcc_put_total"), dk("etcd_mvcc_delete_total"), dk("etcd_debugging_mvcc_events_total"))
}

// ownership is the endpoints each replica owns and probes as a fail-safe.
func (s *sharingSim) ownership(t *testing.T, rs []*sharingReplica) (owned, local []float64) {
	for _, r := range rs {
		body := Scrape(t, r.metrics)
		owned = append(owned, metricSum(body, "tpdns_thirdparty_sharing_owned_endpoints"))
		local = append(local, metricSum(body, "tpdns_thirdparty_sharing_local_endpoints"))
	}
	return owned, local
}

// simEnvInt is the integer in the environment variable name, or def.
func simEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
