package health

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tpdns/tpdns/config"
)

// BenchmarkChecker10k probes 10,000 endpoints every second, against 100
// listeners reached at 100 loopback addresses each, and reports what the
// schedule achieves after a warm-up: probes per second, the CPU the
// process used (probes and listeners alike; 100% is one core), and how
// late probes start. Run it once:
//
//	go test -run '^$' -bench Checker10k -benchtime 1x ./health/
func BenchmarkChecker10k(b *testing.B) {
	const (
		hosts, ports = 100, 100
		warmup       = 3 * time.Second
		window       = 10 * time.Second
	)
	var eps []Endpoint
	chk := config.Check{Type: config.CheckTCP, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 3}
	for p := range ports {
		// Every address of 127.0.0.0/8 reaches a listener bound to all
		// addresses; the probes never leave loopback.
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		port := ln.Addr().(*net.TCPAddr).Port
		for h := range hosts {
			host := fmt.Sprintf("127.0.%d.%d", 1+p%200, 1+h)
			eps = append(eps, Endpoint{Key: host + ":" + strconv.Itoa(port), Target: Target{Host: host, Port: uint16(port), Check: chk}})
		}
	}

	c := NewChecker(DefaultConcurrency, func([]Report) {})
	c.Set(eps)
	c.Start()
	defer c.Stop()
	time.Sleep(warmup) // the first probes of all 10,000 start at once

	before, cpuBefore, start := c.Stats(), cpuTime(), time.Now()
	time.Sleep(window)
	after, cpuAfter, elapsed := c.Stats(), cpuTime(), time.Since(start)

	probes := after.Probes - before.Probes
	b.ReportMetric(float64(probes)/elapsed.Seconds(), "probes/s")
	b.ReportMetric(100*(cpuAfter-cpuBefore).Seconds()/elapsed.Seconds(), "cpu-%")
	b.ReportMetric(float64((after.TotalLateness-before.TotalLateness).Milliseconds())/float64(probes), "drift-mean-ms")
	b.ReportMetric(float64(after.MaxLateness.Milliseconds()), "drift-max-ms")
	var unhealthy int
	for _, ep := range eps {
		if st, _ := c.Status(ep.Key); st.State != Healthy {
			unhealthy++
		}
	}
	b.ReportMetric(float64(unhealthy), "not-healthy")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
