// Package test holds the end-to-end tests of tpdns and the helpers they and
// other packages' tests use: servers started in-process from a Corefile
// string, the tpdns binary built and run, and DNS exchanges over loopback.
package test

import (
	"github.com/tpdns/tpdns/test/logcapture"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test/freeport"
)

// Instance is a server started in-process.
type Instance struct {
	*caddy.Instance
	input server.Input
}

// Start serves corefile in-process and stops it when the test ends, failing
// the test if the server (or any reload of it) leaves a goroutine behind.
func Start(t testing.TB, corefile string) *Instance {
	t.Helper()
	return StartInput(t, server.Input{Filename: "Corefile", Contents: []byte(corefile)})
}

// StartInput is Start for a Corefile with a file name of its own, which
// relative paths in it are resolved against.
func StartInput(t testing.TB, in server.Input) *Instance {
	t.Helper()
	in.Quiet = true
	before := goleak.IgnoreCurrent()
	inst, err := server.Start(in)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	i := &Instance{Instance: inst, input: in}
	t.Cleanup(func() {
		if err := server.Stop(i.Instance); err != nil {
			t.Errorf("stopping server: %v", err)
		}
		goleak.VerifyNone(t, before)
	})
	return i
}

// Reload restarts i with corefile, keeping its sockets.
func (i *Instance) Reload(corefile string) error {
	in := i.input
	in.Contents = []byte(corefile)
	next, err := i.Restart(in)
	i.Instance = next
	return err
}

// UDPAddr returns the UDP address the n-th server listens on.
func (i *Instance) UDPAddr(n int) string { return i.Servers()[n].LocalAddr().String() }

// TCPAddr returns the TCP address the n-th server listens on.
func (i *Instance) TCPAddr(n int) string { return i.Servers()[n].Addr().String() }

// LogBuffer collects what the standard logger prints.
type LogBuffer = logcapture.Buffer

// CaptureLog sends the standard logger's output, without timestamps, to a
// buffer until the test ends. Tests that use it must not run in parallel.
func CaptureLog(t testing.TB) *LogBuffer { return logcapture.Capture(t) }

// FreePort returns a port free for both UDP and TCP on 127.0.0.1 that no
// other test process is handed while this one runs: see package freeport.
func FreePort(t testing.TB) string {
	t.Helper()
	return freeport.Port(t)
}

// Query builds a query for name and type, with EDNS0 when bufsize > 0.
func Query(name string, qtype uint16, bufsize uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if bufsize > 0 {
		m.SetEdns0(bufsize, false)
	}
	return m
}

// Exchange sends m over proto ("udp" or "tcp") to addr and returns the
// reply; a reply with TC set is returned as it is.
func Exchange(t testing.TB, proto, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second, UDPSize: dns.MaxMsgSize}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, addr, m.Question[0].String(), err)
	}
	return r
}

// BuildBinary builds the command cmd/NAME into dir and returns its path.
func BuildBinary(dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tpdns/tpdns/cmd/"+name)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

// Scrape returns what a prometheus plugin serves on addr's /metrics.
func Scrape(t testing.TB, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%s/metrics: %s", addr, resp.Status)
	}
	return string(body)
}
