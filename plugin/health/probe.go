package health

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"
)

const (
	// probeInterval is how often the endpoint requests itself, as in
	// CoreDNS.
	probeInterval = time.Second
	// probeTimeout bounds one self-request: past it the request counts as
	// failed.
	probeTimeout = 3 * time.Second
	// slowProbe is how long a local request may take before it is logged:
	// arbitrary, but a process that needs that long is not keeping up.
	slowProbe = time.Second
)

// selfProbe requests url every interval until ctx ends, and records how
// long each request took: the endpoint always answers 200, so its answer
// says nothing, but a slow answer tells that the process is overloaded.
func selfProbe(ctx context.Context, url string, every time.Duration) {
	client := &http.Client{
		Timeout:   probeTimeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			probe(ctx, client, url)
		}
	}
}

// probe requests url once and records the result in the metrics.
func probe(ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		log.Printf("[ERROR] plugin/health: local health request: %v", err)
		return
	}
	start := time.Now()
	resp, err := client.Do(req)
	if ctx.Err() != nil {
		return // stopping: not the endpoint's failure
	}
	elapsed := time.Since(start)
	requestDuration.Observe(elapsed.Seconds())
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil {
		requestFailures.Inc()
		log.Printf("[WARNING] plugin/health: local health request to %q failed: %v", url, err)
		return
	}
	if elapsed > slowProbe {
		log.Printf("[WARNING] plugin/health: local health request to %q took more than %s: %s", url, slowProbe, elapsed)
	}
}
