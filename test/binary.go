package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Process is the tpdns binary running as a child process.
type Process struct {
	Cmd      *exec.Cmd
	Corefile string     // path of the Corefile it was started with
	Output   *LogBuffer // its standard output and error
	done     chan error
}

// RunBinary writes corefile to a temporary directory and starts bin with
// --conf pointing at it and the extra args. It waits until the process
// answers a query on probe (a UDP address; empty: do not wait) and kills it
// when the test ends.
func RunBinary(t testing.TB, bin, corefile, probe string, args ...string) *Process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	return StartBinary(t, bin, path, probe, args...)
}

// StartBinary is RunBinary for a Corefile already written at path.
func StartBinary(t testing.TB, bin, path, probe string, args ...string) *Process {
	t.Helper()
	p := &Process{Corefile: path, Output: &LogBuffer{}, done: make(chan error, 1)}
	p.Cmd = exec.Command(bin, append([]string{"--conf", path}, args...)...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			p.Cmd.Process.Kill()
			<-p.done
		}
	})
	if probe != "" {
		p.WaitAnswer(t, probe)
	}
	return p
}

// WaitAnswer polls addr with a query until it gets any reply or the process
// exits; it fails the test after 10 seconds.
func (p *Process) WaitAnswer(t testing.TB, addr string) {
	t.Helper()
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := c.Exchange(Query("probe.", dns.TypeA, 0), addr); err == nil {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("tpdns exited (%v) before answering:\n%s", err, p.Output)
		default:
		}
	}
	t.Fatalf("tpdns did not answer on %s within 10s:\n%s", addr, p.Output)
}

// WaitOutput polls the process's output until it contains s; it fails the
// test after 10 seconds.
func (p *Process) WaitOutput(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("tpdns did not print %q within 10s:\n%s", s, p.Output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits up to 10 seconds for the process to exit and returns its exit
// code.
func (p *Process) Wait(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-ctx.Done():
		t.Fatalf("tpdns did not exit within 10s:\n%s", p.Output)
		return -1
	}
}
