package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
)

// Etcd is an etcd process a test started: a free client and peer port on
// 127.0.0.1, a temporary data dir.
type Etcd struct {
	// Endpoint is the client URL, "http://127.0.0.1:PORT" (https with TLS).
	Endpoint string
	// Output is what etcd printed, across restarts.
	Output *LogBuffer

	bin  string
	args []string
	tls  *tls.Config
	cmd  *exec.Cmd
	done chan error
}

// StartEtcd starts etcd, waits until it answers and stops it when the test
// ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, nil)
}

// StartEtcdTLS is StartEtcd for an etcd that serves TLS with certFile and
// keyFile and requires client certificates signed by caFile. The helper's
// own requests present certFile, so it must be valid for 127.0.0.1 as a
// server and as a client.
func StartEtcdTLS(t testing.TB, certFile, keyFile, caFile string) *Etcd {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", caFile)
	}
	return startEtcd(t, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
		"--cert-file", certFile, "--key-file", keyFile, "--trusted-ca-file", caFile, "--client-cert-auth")
}

func startEtcd(t testing.TB, tlsConfig *tls.Config, extra ...string) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("/usr/bin/etcd")
	if err != nil {
		if bin, err = exec.LookPath("etcd"); err != nil {
			t.Fatal("etcd not found in /usr/bin or on PATH: `make test` installs etcd-server")
		}
	}
	client, peer := FreePort(t), FreePort(t)
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o700); err != nil { // else etcd warns
		t.Fatal(err)
	}
	clientURL := scheme + "://127.0.0.1:" + client
	peerURL := "http://127.0.0.1:" + peer
	e := &Etcd{
		Endpoint: clientURL,
		Output:   &LogBuffer{},
		bin:      bin,
		tls:      tlsConfig,
		args: append([]string{
			"--name", "test",
			"--data-dir", dataDir,
			"--listen-client-urls", clientURL,
			"--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL,
			"--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "test=" + peerURL,
			// etcd raises every lease to 1.5 election timeouts (2s with the
			// defaults); these make a 1s heartbeat ttl a 1s lease.
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
			"--logger", "zap",
			"--log-level", "error",
		}, extra...),
	}
	t.Cleanup(func() {
		if e.cmd != nil {
			e.stop()
		}
	})
	e.Start(t)
	return e
}

// Start starts etcd again on the same ports and data dir and waits until it
// answers.
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	if e.cmd != nil {
		t.Fatal("etcd is already running")
	}
	e.cmd = exec.Command(e.bin, e.args...)
	e.cmd.Stdout, e.cmd.Stderr = e.Output, e.Output
	if err := e.cmd.Start(); err != nil {
		e.cmd = nil
		t.Fatalf("starting etcd: %v", err)
	}
	e.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan<- error) { done <- cmd.Wait() }(e.cmd, e.done)

	cli := e.client(t)
	defer cli.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := cli.Get(ctx, "probe")
		cancel()
		// A refusal is an answer too (authentication may be on).
		var refused rpctypes.EtcdError
		if err == nil || errors.As(err, &refused) && refused.Code() != codes.Unavailable {
			return
		}
		select {
		case err := <-e.done:
			e.cmd = nil
			t.Fatalf("etcd exited (%v) before answering:\n%s", err, e.Output)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not answer on %s within 10s (%v):\n%s", e.Endpoint, err, e.Output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops etcd (SIGTERM) and waits until it has exited; its data is kept.
func (e *Etcd) Stop(t testing.TB) {
	t.Helper()
	if e.cmd == nil {
		t.Fatal("etcd is not running")
	}
	if err := e.stop(); err != nil {
		t.Fatalf("stopping etcd: %v:\n%s", err, e.Output)
	}
}

func (e *Etcd) stop() error {
	defer func() { e.cmd = nil }()
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return err
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
		return errors.New("etcd did not exit within 10s of SIGTERM")
	}
}

// Compact compacts etcd's history up to its current revision, physically:
// watches from before it can no longer resume.
func (e *Etcd) Compact(t testing.TB) {
	t.Helper()
	cli := e.client(t)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "probe")
	if err != nil {
		t.Fatalf("compacting etcd: %v", err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("compacting etcd to revision %d: %v", resp.Header.Revision, err)
	}
}

// Put writes key behind tpdns's back, as etcdctl would.
func (e *Etcd) Put(t testing.TB, key, value string) {
	t.Helper()
	cli := e.client(t)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, value); err != nil {
		t.Fatalf("putting %s in etcd: %v", key, err)
	}
}

// Client returns a client of etcd, closed when the test ends.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli := e.client(t)
	t.Cleanup(func() { cli.Close() })
	return cli
}

func (e *Etcd) client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, TLS: e.tls, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	return cli
}
