package thirdparty_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// reloadFixture is a server with a bolt store and the API, whose Corefile
// a test reloads while clients use the API.
type reloadFixture struct {
	dir, dnsPort, api, token string
	scheme, apiBlock         string      // "https" and the api block's tls line over TLS
	tlsConfig                *tls.Config // the clients'
	inst                     *test.Instance
}

func (f *reloadFixture) corefile(ttl int, api string) string {
	return fmt.Sprintf("tp.internal:%s {\n bind 127.0.0.1\n thirdparty {\n  store bolt tpdns.db\n  ttl %d\n  api %s %s\n }\n}\n", f.dnsPort, ttl, api, f.apiBlock)
}

// useTLS makes the next Corefile serve the API over TLS, and the next
// clients use it.
func (f *reloadFixture) useTLS(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
	f.scheme, f.apiBlock, f.tlsConfig = "https", fmt.Sprintf("{\n  tls %s %s\n  }", cert, key), &tls.Config{RootCAs: pool}
}

func startReloadFixture(t *testing.T, withTLS bool) *reloadFixture {
	t.Helper()
	test.CaptureLog(t) // a line per write and per reload
	f := &reloadFixture{dir: t.TempDir(), scheme: "http"}
	if withTLS {
		f.useTLS(t)
	}
	f.dnsPort, f.api = test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	f.inst = test.StartInput(t, server.Input{Filename: filepath.Join(f.dir, "Corefile"), Contents: []byte(f.corefile(10, f.api))})
	token, err := os.ReadFile(filepath.Join(f.dir, "tpdns.token"))
	require.NoError(t, err)
	f.token = strings.TrimSpace(string(token))
	return f
}

// client is a keep-alive client of the API. Its idle connections close
// when the test ends, before the server's goroutines are counted.
func (f *reloadFixture) client(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	if f.tlsConfig != nil {
		tr.TLSClientConfig = f.tlsConfig.Clone()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// apiResult is what one request got: a status and a body, or an error.
type apiResult struct {
	status int
	body   string
	err    error
}

func (f *reloadFixture) send(c *http.Client, api, method, path, body string) apiResult {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.scheme+"://"+api+path, rd)
	if err != nil {
		return apiResult{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := c.Do(req)
	if err != nil {
		return apiResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResult{err: err}
	}
	return apiResult{status: resp.StatusCode, body: string(b)}
}

// reloader reloads the Corefile every interval until finished, each time
// with another ttl, so that every reload starts a new configuration.
type reloader struct {
	stop, done chan struct{}
	n          int
	errs       []error
}

func (f *reloadFixture) reloadEvery(interval time.Duration) *reloader {
	r := &reloader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
			r.n++
			if err := f.inst.Reload(f.corefile(10+r.n%2, f.api)); err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}()
	return r
}

// finish stops the reloads and returns how many were done, and their
// errors.
func (r *reloader) finish() (int, []error) {
	close(r.stop)
	<-r.done
	return r.n, r.errs
}

// apiOp is a request of the script and the status it must get.
type apiOp struct {
	method, path, body string
	status             int
	check              func(body string) error // of the body, optional
}

// hasEndpoints checks that a service's JSON lists exactly the addresses.
func hasEndpoints(want ...string) func(string) error {
	return func(body string) error {
		var s struct{ Endpoints []struct{ Address string } }
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			return err
		}
		var got []string
		for _, e := range s.Endpoints {
			got = append(got, e.Address)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("endpoints %v, want %v", got, want)
		}
		return nil
	}
}

// script is one round of one client: ten requests on a service of its
// own, every kind of write and read, each depending on those before. An
// odd round deletes the service at the end; an even one keeps it with the
// endpoint it returns.
func script(worker, round int) (name string, ops []apiOp, kept []string) {
	name = fmt.Sprintf("w%d-r%d", worker, round)
	p := "/v1/services/" + name
	doc, a, b := fmt.Sprintf("10.%d.%d.1", worker, round), fmt.Sprintf("10.%d.%d.2", worker, round), fmt.Sprintf("10.%d.%d.3", worker, round)
	ops = []apiOp{
		{"PUT", p, `{"endpoints":["` + doc + `"]}`, http.StatusCreated, hasEndpoints(doc)},
		{"PUT", p + "/endpoints/" + a, "", http.StatusCreated, hasEndpoints(doc, a)},
		{"GET", p, "", http.StatusOK, hasEndpoints(doc, a)},
		{"PUT", p + "/endpoints/" + a, `{"weight":5}`, http.StatusOK, nil},
		{"PUT", p + "/endpoints/" + b, `{"ttl":60}`, http.StatusCreated, hasEndpoints(doc, a, b)},
		{"DELETE", p + "/endpoints/" + a, "", http.StatusNoContent, nil},
		{"GET", p, "", http.StatusOK, hasEndpoints(doc, b)},
		{"PUT", p, `{"endpoints":["` + doc + `"],"ttl":30}`, http.StatusOK, hasEndpoints(doc, b)},
	}
	if round%2 == 1 {
		return name, append(ops,
			apiOp{"DELETE", p, "", http.StatusNoContent, nil},
			apiOp{"GET", p, "", http.StatusNotFound, nil}), nil
	}
	return name, append(ops,
		apiOp{"DELETE", p + "/endpoints/" + b, "", http.StatusNoContent, nil},
		apiOp{"GET", p, "", http.StatusOK, hasEndpoints(doc)}), []string{doc}
}

// apiLoad runs rounds of the script on concurrent keep-alive clients. It
// returns the requests sent, what every service kept must hold, and the
// failed requests: an error (EOF, a reset) or another reply than the
// script's.
func (f *reloadFixture) apiLoad(t *testing.T, workers, rounds int) (sent int, kept map[string][]string, errs, wrong []string) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	kept = map[string][]string{}
	for w := range workers {
		c := f.client(t)
		wg.Go(func() {
			for round := range rounds {
				name, ops, addrs := script(w, round)
				for _, op := range ops {
					res := f.send(c, f.api, op.method, op.path, op.body)
					var problem string
					switch {
					case res.err != nil:
					case res.status != op.status:
						problem = fmt.Sprintf("status %d, want %d: %.100s", res.status, op.status, strings.Join(strings.Fields(res.body), " "))
					case op.check != nil:
						if err := op.check(res.body); err != nil {
							problem = err.Error()
						}
					}
					mu.Lock()
					sent++
					switch {
					case res.err != nil:
						errs = append(errs, fmt.Sprintf("%s %s: %v", op.method, op.path, res.err))
					case problem != "":
						wrong = append(wrong, fmt.Sprintf("%s %s: %s", op.method, op.path, problem))
					}
					mu.Unlock()
				}
				if addrs != nil {
					mu.Lock()
					kept[name] = addrs
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return sent, kept, errs, wrong
}

// waitA waits until name's A records are want (sorted), for at most two
// seconds.
func (f *reloadFixture) waitA(t *testing.T, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := test.Exchange(t, "udp", "127.0.0.1:"+f.dnsPort, test.Query(name, dns.TypeA, 0))
		var got []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = append(got, a.A.String())
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("DNS %s: %v, want %v", name, got, want)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkKept checks that the API lists exactly the services kept, with
// their endpoints, and that DNS answers them.
func (f *reloadFixture) checkKept(t *testing.T, kept map[string][]string) {
	t.Helper()
	res := f.send(f.client(t), f.api, "GET", "/v1/services", "")
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	var list struct {
		Services []struct {
			Name      string
			Endpoints []struct{ Address string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &list))
	got := map[string][]string{}
	for _, s := range list.Services {
		for _, e := range s.Endpoints {
			got[s.Name] = append(got[s.Name], e.Address)
		}
	}
	assert.Equal(t, kept, got, "the services the API lists after the reloads")
	for name, want := range kept {
		f.waitA(t, name+".tp.internal.", want...)
	}
}

// first returns at most n of list, for a failure message.
func first(list []string, n int) []string { return list[:min(n, len(list))] }

// TestAPIRequestsSurviveReloads: with the Corefile reloaded every 200 ms,
// 2,000 API requests of 4 concurrent keep-alive clients all get the reply
// they must (none an EOF or a reset), and every write acknowledged is
// there afterwards, in the API and in DNS. Over TLS too: fewer requests,
// reloaded as fast as it goes.
func TestAPIRequestsSurviveReloads(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[withTLS], func(t *testing.T) {
			workers, rounds, every := 4, 50, 200*time.Millisecond // 10 requests a round: 2,000
			if withTLS {
				rounds, every = 10, 20*time.Millisecond
			}
			f := startReloadFixture(t, withTLS)
			start := time.Now()
			rl := f.reloadEvery(every)
			sent, kept, errs, wrong := f.apiLoad(t, workers, rounds)
			reloads, reloadErrs := rl.finish()
			t.Logf("%d requests, %d failed (%d errors, %d wrong replies), %d reloads, %s",
				sent, len(errs)+len(wrong), len(errs), len(wrong), reloads, time.Since(start).Round(time.Millisecond))
			require.Empty(t, reloadErrs, "reloads")
			assert.Equal(t, workers*rounds*10, sent)
			assert.Empty(t, errs, "%d requests failed; the first ones", len(errs))
			assert.Empty(t, first(wrong, 20), "%d requests got another reply; the first ones", len(wrong))
			assert.Positive(t, reloads)
			f.checkKept(t, kept)
		})
	}
}

// TestAPIMovesWithTheCorefile: a reload that changes the API's address,
// or its scheme, serves the API as the new Corefile says and closes what
// the old one served; a reload that fails, wherever it fails, leaves the
// API answering as it was.
func TestAPIMovesWithTheCorefile(t *testing.T) {
	f := startReloadFixture(t, false)
	c := f.client(t)
	do := func(c *http.Client, api, method, path, body string, want int) string {
		t.Helper()
		res := f.send(c, api, method, path, body)
		require.NoError(t, res.err, "%s %s", method, path)
		require.Equal(t, want, res.status, "%s %s: %s", method, path, res.body)
		return res.body
	}
	do(c, f.api, "PUT", "/v1/services/moved", `{"endpoints":["192.0.2.1"]}`, http.StatusCreated)

	other := "127.0.0.1:" + test.FreePort(t)
	require.NoError(t, f.inst.Reload(f.corefile(11, other)))
	do(c, other, "PUT", "/v1/services/moved/endpoints/192.0.2.2", "", http.StatusCreated)
	res := f.send(c, f.api, "GET", "/v1/services/moved", "")
	assert.Error(t, res.err, "the old address is closed")

	// A Corefile that does not parse; one whose thirdparty does not start
	// (its store cannot be opened); one whose thirdparty starts but a
	// server after it does not (its port is taken), with the API where it
	// is and elsewhere: the API keeps answering from the running
	// configuration, which still owns the store (the next reload takes it
	// over).
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	require.Error(t, f.inst.Reload(f.corefile(12, other)+"nonsense {\n"))
	require.Error(t, f.inst.Reload(strings.Replace(f.corefile(12, other), "tpdns.db", "no/such/dir/tpdns.db", 1)))
	blocked := fmt.Sprintf("example.org:%d {\n bind 127.0.0.1\n}\n", taken.LocalAddr().(*net.UDPAddr).Port)
	require.ErrorContains(t, f.inst.Reload(f.corefile(12, other)+blocked), "address already in use")
	third := "127.0.0.1:" + test.FreePort(t)
	require.ErrorContains(t, f.inst.Reload(f.corefile(12, third)+blocked), "address already in use")
	res = f.send(c, third, "GET", "/v1/services/moved", "")
	assert.Error(t, res.err, "the API of the configuration that did not start is closed")
	do(c, other, "PUT", "/v1/services/moved/endpoints/192.0.2.3", "", http.StatusCreated)
	f.waitA(t, "moved.tp.internal.", "192.0.2.1", "192.0.2.2", "192.0.2.3")

	// Back to the first address, over TLS; then plain HTTP again there.
	f.useTLS(t)
	require.NoError(t, f.inst.Reload(f.corefile(13, f.api)))
	do(f.client(t), f.api, "DELETE", "/v1/services/moved/endpoints/192.0.2.3", "", http.StatusNoContent)
	res = f.send(c, other, "GET", "/v1/services/moved", "")
	assert.Error(t, res.err, "the second address is closed")
	f.scheme, f.apiBlock, f.tlsConfig = "http", "", nil
	require.NoError(t, f.inst.Reload(f.corefile(14, f.api)))
	body := do(c, f.api, "GET", "/v1/services/moved", "", http.StatusOK)
	assert.NoError(t, hasEndpoints("192.0.2.1", "192.0.2.2")(body))
	f.waitA(t, "moved.tp.internal.", "192.0.2.1", "192.0.2.2")
}

// TestAPIAddressUsedTwice: two thirdparty plugins of one Corefile cannot
// share an API address.
func TestAPIAddressUsedTwice(t *testing.T) {
	test.CaptureLog(t)
	dir := t.TempDir()
	port, api := test.FreePort(t), "127.0.0.1:"+test.FreePort(t)
	corefile := fmt.Sprintf(`a.internal:%[1]s {
 bind 127.0.0.1
 thirdparty {
  store bolt a.db
  api %[2]s
 }
}
b.internal:%[1]s {
 bind 127.0.0.1
 thirdparty {
  store bolt b.db
  api %[2]s
 }
}
`, port, api)
	inst, err := server.Start(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile), Quiet: true})
	if err == nil {
		server.Stop(inst)
	}
	require.ErrorContains(t, err, api+" is the API address of another thirdparty")
}
