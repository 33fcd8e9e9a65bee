package health

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// get requests url on a connection of its own, so that no idle connection
// outlives the test.
func get(method, url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func corefile(dnsPort, healthAddr, block string) string {
	return "tp.internal:" + dnsPort + " {\n bind 127.0.0.1\n health " + healthAddr + block + "\n whoami\n}\n" +
		"example.org:" + dnsPort + " {\n bind 127.0.0.1\n health " + healthAddr + "\n whoami\n}\n"
}

func TestHealth(t *testing.T) {
	dnsPort, addr := test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	url := "http://" + addr + "/health"
	// Two server blocks name the address: they share one endpoint.
	inst := test.Start(t, corefile(dnsPort, addr, ""))

	for _, c := range []struct {
		method, url string
		status      int
		body        string
	}{
		{http.MethodGet, url, http.StatusOK, "OK"},
		{http.MethodHead, url, http.StatusOK, ""},
		{http.MethodPost, url, http.StatusMethodNotAllowed, "Method Not Allowed\n"},
		{http.MethodGet, "http://" + addr + "/ready", http.StatusNotFound, "404 page not found\n"},
	} {
		status, body, err := get(c.method, c.url)
		require.NoError(t, err, c.method+" "+c.url)
		assert.Equal(t, c.status, status, c.method+" "+c.url)
		assert.Equal(t, c.body, body, c.method+" "+c.url)
	}

	// While reloads replace the configuration, the endpoint never stops
	// answering; a reload does not wait for the lame duck period.
	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		failures []string
		answered atomic.Int64
	)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if status, body, err := get(http.MethodGet, url); err != nil || status != http.StatusOK || body != "OK" {
				failures = append(failures, strings.TrimSpace(body)+" "+http.StatusText(status)+" "+errString(err))
			}
			answered.Add(1)
		}
	})
	start := time.Now()
	require.NoError(t, inst.Reload(corefile(dnsPort, addr, " {\n  lameduck 10s\n }")))
	assert.Less(t, time.Since(start), 5*time.Second, "a reload is not a shutdown")
	require.NoError(t, inst.Reload(corefile(dnsPort, addr, "")))
	// At least one request after the last reload.
	for n := answered.Load(); answered.Load() == n && time.Since(start) < 10*time.Second; {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Empty(t, failures)
	assert.Positive(t, answered.Load())

	status, body, err := get(http.MethodGet, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "OK", body)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestLameduck(t *testing.T) {
	const lameduck = time.Second
	logs := test.CaptureLog(t)
	dnsPort, addr := test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	url := "http://" + addr + "/health"
	inst, err := server.Start(server.Input{
		Filename: "Corefile", Quiet: true,
		Contents: []byte(corefile(dnsPort, addr, " {\n  lameduck "+lameduck.String()+"\n }")),
	})
	require.NoError(t, err)
	status, _, err := get(http.MethodGet, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	start := time.Now()
	stopped := make(chan error)
	go func() { stopped <- server.Stop(inst) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "[INFO] plugin/health: going into lameduck mode for 1s\n") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.Contains(t, logs.String(), "[INFO] plugin/health: going into lameduck mode for 1s\n")

	status, body, err := get(http.MethodGet, url)
	require.NoError(t, err, "answering during the lame duck period")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "OK", body)

	require.NoError(t, <-stopped)
	assert.GreaterOrEqual(t, time.Since(start), lameduck, "the shutdown waited for the lame duck period")
	_, _, err = get(http.MethodGet, url)
	assert.Error(t, err, "closed once stopped")
}

func probeCount(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, requestDuration.Write(&m))
	return m.GetHistogram().GetSampleCount()
}

func TestProbe(t *testing.T) {
	addr := "127.0.0.1:" + test.FreePort(t)
	test.Start(t, "tp.internal:"+test.FreePort(t)+" {\n bind 127.0.0.1\n health "+addr+"\n whoami\n}\n")
	client := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx := context.Background()
	logs := test.CaptureLog(t)

	count, failures := probeCount(t), testutil.ToFloat64(requestFailures)
	probe(ctx, client, "http://"+addr+"/health")
	assert.Equal(t, count+1, probeCount(t))
	assert.Equal(t, failures, testutil.ToFloat64(requestFailures))
	assert.Empty(t, logs.String())

	probe(ctx, client, "http://"+addr+"/nothing")
	assert.Equal(t, count+2, probeCount(t))
	assert.Equal(t, failures+1, testutil.ToFloat64(requestFailures))
	assert.Equal(t, `[WARNING] plugin/health: local health request to "http://`+addr+`/nothing" failed: status 404 Not Found`+"\n", logs.String())

	closed := "http://127.0.0.1:" + test.FreePort(t) + "/health"
	probe(ctx, client, closed)
	assert.Equal(t, failures+2, testutil.ToFloat64(requestFailures))

	// A probe cut short by stopping is not counted.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	count, failures = probeCount(t), testutil.ToFloat64(requestFailures)
	probe(cancelled, client, "http://"+addr+"/health")
	assert.Equal(t, count, probeCount(t))
	assert.Equal(t, failures, testutil.ToFloat64(requestFailures))

	// The loop probes every interval until its context ends.
	loop, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); selfProbe(loop, "http://"+addr+"/health", 5*time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for probeCount(t) < count+3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	<-done
	assert.GreaterOrEqual(t, probeCount(t), count+3)
}
