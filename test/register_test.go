package test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registrar is tpdns run from a Corefile with a bolt store and the API.
type registrar struct {
	dir, corefile, dns, api, token string
}

func newRegistrar(t *testing.T) *registrar {
	r := &registrar{dir: t.TempDir()}
	r.dns, r.api = "127.0.0.1:"+FreePort(t), "127.0.0.1:"+FreePort(t)
	r.corefile = filepath.Join(r.dir, "Corefile")
	conf := fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  store bolt tpdns.db\n  api %s\n }\n}\n", strings.TrimPrefix(r.dns, "127.0.0.1:"), r.api)
	require.NoError(t, os.WriteFile(r.corefile, []byte(conf), 0o644))
	return r
}

func (r *registrar) start(t *testing.T) *Process {
	p := StartBinary(t, tpdnsBinary, r.corefile, r.dns)
	p.WaitOutput(t, "on 127.0.0.1\ntpdns-") // the banner: start-up is over
	if r.token == "" {
		b, err := os.ReadFile(filepath.Join(r.dir, "tpdns.token"))
		require.NoError(t, err, "%s", p.Output)
		r.token = strings.TrimSpace(string(b))
	}
	return p
}

// put sends a PUT and returns the status, or 0 when there was no reply.
func (r *registrar) put(client *http.Client, path, body string) int {
	req, err := http.NewRequest("PUT", "http://"+r.api+path, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *registrar) addresses(t *testing.T, name string, qtype uint16) map[string]bool {
	m := Exchange(t, "tcp", r.dns, Query(name, qtype, 0)) // whole answers, however many
	out := map[string]bool{}
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out[rr.A.String()] = true
		case *dns.AAAA:
			out[rr.AAAA.String()] = true
		}
	}
	return out
}

// TestAcknowledgedWritesSurviveSIGKILL writes 500 services and endpoints
// from 8 goroutines, kills tpdns with SIGKILL halfway, restarts it, and
// finds every write that was acknowledged served in DNS.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	r := newRegistrar(t)
	p := r.start(t)

	const writers, perWriter = 8, 63 // 504 writes
	type write struct{ name, addr string }
	var (
		mu    sync.Mutex
		acked []write
		count atomic.Int64
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := range perWriter {
				name := fmt.Sprintf("svc%d", w)
				addr := fmt.Sprintf("10.%d.%d.%d", w, i/250, i%250+1)
				var status int
				if i == 0 {
					status = r.put(client, "/v1/services/"+name, `{"endpoints":["`+addr+`"]}`)
				} else {
					status = r.put(client, "/v1/services/"+name+"/endpoints/"+addr, "")
				}
				if status/100 != 2 {
					return // tpdns is gone
				}
				mu.Lock()
				acked = append(acked, write{name, addr})
				mu.Unlock()
				if count.Add(1) == writers*perWriter/2 {
					p.Signal(t, syscall.SIGKILL)
					close(killed)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the writes ended before tpdns was killed")
	}
	p.Wait(t)
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))
	require.GreaterOrEqual(t, len(acked), writers*perWriter/2)

	r.start(t)
	want := map[string]map[string]bool{}
	for _, w := range acked {
		if want[w.name] == nil {
			want[w.name] = map[string]bool{}
		}
		want[w.name][w.addr] = true
	}
	for name, addrs := range want {
		got := r.addresses(t, name+".tp.internal.", dns.TypeA)
		for addr := range addrs {
			assert.True(t, got[addr], "%s: acknowledged endpoint %s not served after the restart", name, addr)
		}
	}
}

// TestHeartbeatEndpointExpiresAcrossRestart registers an endpoint with a
// heartbeat ttl, kills tpdns before the ttl runs out and starts it again:
// the endpoint, never renewed, is gone within ttl + 1s of its last PUT.
func TestHeartbeatEndpointExpiresAcrossRestart(t *testing.T) {
	r := newRegistrar(t)
	p := r.start(t)
	client := &http.Client{Timeout: 5 * time.Second}
	require.Equal(t, http.StatusCreated, r.put(client, "/v1/services/beat", `{"endpoints":["192.0.2.1"]}`))
	last := time.Now()
	require.Equal(t, http.StatusCreated, r.put(client, "/v1/services/beat/endpoints/2001:db8::1", `{"ttl":3}`))
	assert.Equal(t, map[string]bool{"2001:db8::1": true}, r.addresses(t, "beat.tp.internal.", dns.TypeAAAA))

	p.Signal(t, syscall.SIGKILL)
	p.Wait(t)
	r.start(t)
	assert.Equal(t, map[string]bool{"2001:db8::1": true}, r.addresses(t, "beat.tp.internal.", dns.TypeAAAA), "still within its ttl after the restart")
	deadline := last.Add(3*time.Second + time.Second)
	for len(r.addresses(t, "beat.tp.internal.", dns.TypeAAAA)) > 0 {
		require.True(t, time.Now().Before(deadline), "the endpoint outlived its ttl + 1s")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("gone %s after its last PUT (ttl 3s)", time.Since(last).Round(time.Millisecond))
	assert.Equal(t, map[string]bool{"192.0.2.1": true}, r.addresses(t, "beat.tp.internal.", dns.TypeA), "the static endpoint stays")
}
