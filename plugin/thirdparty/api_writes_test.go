package thirdparty_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
)

// send is a request that goroutines may make: the status, or the error.
func (f *apiFixture) send(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, f.scheme+"://"+f.api+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// tcpAddresses asks the A records of name over TCP (the answers may be
// over 512 bytes) and returns them sorted; nil for no answer.
func tcpAddresses(t *testing.T, addr, name string) []string {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(test.Query(name, dns.TypeA, 0), addr)
	require.NoError(t, err, name)
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestConcurrentWritesLoseNothing is 100 rounds of 50 concurrent endpoint
// PUTs to one service, with two services that clash PUT at the same time:
// every 2xx is served in DNS as soon as it is answered, one of the pair
// gets 409, and everything acknowledged is still there after the store is
// read again from disk.
func TestConcurrentWritesLoseNothing(t *testing.T) {
	f := startAPIServer(t, "")
	const rounds, writers = 100, 50
	want := map[string][]string{} // name → A records acknowledged
	for round := range rounds {
		svc := fmt.Sprintf("race%d", round)
		status, body, err := f.send("PUT", "/v1/services/"+svc, `{"endpoints":["10.200.0.1"]}`)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, body)

		var wg sync.WaitGroup
		statuses := make([]int, writers)
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				statuses[i], _, errs[i] = f.send("PUT", fmt.Sprintf("/v1/services/%s/endpoints/10.201.%d.%d", svc, round, i+1), `{}`)
			})
		}
		// clx's endpoint labelled lbl makes lbl.clx, which the other
		// service is named: only one of them may have it.
		clx := fmt.Sprintf("clx%d", round)
		var clxStatus, lblStatus int
		var clxErr, lblErr error
		wg.Go(func() {
			clxStatus, _, clxErr = f.send("PUT", "/v1/services/"+clx, `{"endpoints":[{"address":"10.202.0.1","name":"lbl"}]}`)
		})
		wg.Go(func() {
			lblStatus, _, lblErr = f.send("PUT", "/v1/services/lbl."+clx, `{"endpoints":["10.203.0.1"]}`)
		})
		wg.Wait()

		want[svc] = []string{"10.200.0.1"}
		for i := range writers {
			require.NoError(t, errs[i])
			require.Equal(t, http.StatusCreated, statuses[i], "round %d, endpoint %d", round, i+1)
			want[svc] = append(want[svc], fmt.Sprintf("10.201.%d.%d", round, i+1))
		}
		slices.Sort(want[svc])
		require.NoError(t, clxErr)
		require.NoError(t, lblErr)
		require.ElementsMatch(t, []int{http.StatusCreated, http.StatusConflict}, []int{clxStatus, lblStatus}, "round %d", round)
		if clxStatus == http.StatusCreated {
			want["lbl."+clx] = []string{"10.202.0.1"} // the endpoint
		} else {
			want["lbl."+clx] = []string{"10.203.0.1"} // the service
		}
		for _, name := range []string{svc, "lbl." + clx} {
			require.Equal(t, want[name], tcpAddresses(t, f.dns, name+".tp.internal."), "round %d: %s as soon as it is acknowledged", round, name)
		}
		// Every write rebuilds the answers of every service: keep their
		// number, and so the test's time, flat. The last round's stays.
		if round < rounds-1 {
			status, body, err := f.send("DELETE", "/v1/services/"+svc, "")
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, status, body)
			delete(want, svc)
		}
	}

	// A reload reads the store anew: nothing acknowledged is missing.
	require.NoError(t, f.inst.Reload(string(f.inst.Caddyfile().Body())))
	for name, addrs := range want {
		assert.Equal(t, addrs, tcpAddresses(t, f.dns, name+".tp.internal."), name)
	}
}

// TestReadYourWrites: after every 2xx, the very next DNS query to the
// replica that answered reflects the write, while four other writers
// change other services (whose store notifications make the replica read
// the store again meanwhile), in both stores.
func TestReadYourWrites(t *testing.T) {
	for _, kind := range []string{"bolt", "etcd"} {
		t.Run(kind, func(t *testing.T) {
			storeLine := "store bolt tpdns.db"
			if kind == "etcd" {
				storeLine = "store etcd " + test.StartEtcd(t).Endpoint
			}
			f := startStoreServer(t, storeLine)
			status, body, err := f.send("PUT", "/v1/services/ryw", `{"endpoints":["10.210.0.1"]}`)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, status, body)

			stop := make(chan struct{})
			var background sync.WaitGroup
			failures := make(chan string, 100)
			for w := range 4 {
				background.Go(func() {
					// A bounded number each, so that they write alongside
					// the first writes rather than in front of every one.
					for i := range 100 {
						select {
						case <-stop:
							return
						default:
						}
						status, body, err := f.send("PUT", fmt.Sprintf("/v1/services/bg%d", w), fmt.Sprintf(`{"endpoints":["10.211.%d.%d"]}`, w, i%250+1))
						if err != nil || status/100 != 2 {
							failures <- fmt.Sprintf("background writer %d: %d %v %s", w, status, err, body)
							return
						}
					}
				})
			}

			served := []string{"10.210.0.1"}
			for i := range 1000 {
				addr := fmt.Sprintf("10.212.%d.%d", i/250, i%250+1)
				var status int
				if i%3 == 2 { // take back the one before
					prev := fmt.Sprintf("10.212.%d.%d", (i-1)/250, (i-1)%250+1)
					status, body, err = f.send("DELETE", "/v1/services/ryw/endpoints/"+prev, "")
					served = slices.DeleteFunc(served, func(a string) bool { return a == prev })
				} else {
					status, body, err = f.send("PUT", "/v1/services/ryw/endpoints/"+addr, `{}`)
					served = append(served, addr)
				}
				require.NoError(t, err)
				require.Equal(t, 2, status/100, "write %d: %s", i, body)
				want := slices.Sorted(slices.Values(served))
				require.Equal(t, want, tcpAddresses(t, f.dns, "ryw.tp.internal."), "the query right after write %d", i)
			}
			close(stop)
			background.Wait()
			close(failures)
			for msg := range failures {
				t.Error(msg)
			}
		})
	}
}

// startStoreServer is startAPIServer with the given store line and no
// registry file.
func startStoreServer(t *testing.T, storeLine string) *apiFixture {
	t.Helper()
	f := &apiFixture{dir: t.TempDir(), client: &http.Client{Timeout: 5 * time.Second}, scheme: "http"}
	port, apiPort := test.FreePort(t), test.FreePort(t)
	f.dns, f.api = "127.0.0.1:"+port, "127.0.0.1:"+apiPort
	corefile := fmt.Sprintf(`tp.internal:%s {
    bind 127.0.0.1
    thirdparty {
        %s
        api %s
    }
}`, port, storeLine, f.api)
	f.inst = test.StartInput(t, server.Input{Filename: filepath.Join(f.dir, "Corefile"), Contents: []byte(corefile)})
	token, err := os.ReadFile(filepath.Join(f.dir, "tpdns.token"))
	require.NoError(t, err)
	f.token = strings.TrimSpace(string(token))
	return f
}
