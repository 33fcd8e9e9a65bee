package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs the binary to completion and returns its exit code, standard
// output and standard error.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(tpdnsBinary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestPluginsListsDirectivesInChainOrder(t *testing.T) {
	code, out, _ := runCLI(t, "", "--plugins")
	assert.Equal(t, 0, code)
	assert.Equal(t, "bind\ntimeouts\nmultisocket\nreload\nhealth\nready\nprometheus\nerrors\nlog\nrrl\nacl\ntsig\ncache\nthirdparty\nforward\nwhoami\n", out)
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "--version")
	assert.Equal(t, 0, code)
	platform := regexp.QuoteMeta(fmt.Sprintf("%s/%s, %s, ", runtime.GOOS, runtime.GOARCH, runtime.Version()))
	assert.Regexp(t, `^tpdns-\d+\.\d+\.\d+\S*\n`+platform+`\S+\n$`, out)
}

func writeCorefile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Corefile")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestStartupErrorsExitOneWithOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyAddr := busy.Addr().String()
	_, busyPort, _ := net.SplitHostPort(busyAddr)

	cases := map[string]struct {
		args []string
		want string
	}{
		"port in use": {
			args: []string{"-c", writeCorefile(t, "example.org:"+busyPort+" {\n bind 127.0.0.1\n whoami\n}\n")},
			want: "tpdns: Listen: listen tcp " + busyAddr + ": bind: address already in use",
		},
		"default port in use": {
			args: []string{"-p", busyPort, "-c", writeCorefile(t, "example.org {\n bind 127.0.0.1\n whoami\n}\n")},
			want: "tpdns: Listen: listen tcp " + busyAddr + ": bind: address already in use",
		},
		"unknown directive": {
			args: []string{"--conf", writeCorefile(t, ".:1053 {\n whoami\n thirdparti\n}\n")},
			want: "Corefile:3 - Error during parsing: Unknown directive 'thirdparti'",
		},
		"bad directive syntax": {
			args: []string{"--conf", writeCorefile(t, ".:1053 {\n log {\n  class nonsense\n }\n}\n")},
			want: `tpdns: plugin/log: ` + "%s" + `:3 - Error during parsing: unknown class "nonsense" (all, success, denial or error)`,
		},
		"missing Corefile": {
			args: []string{"--conf", "/nonexistent/Corefile"},
			want: "tpdns: reading Corefile: open /nonexistent/Corefile: no such file or directory",
		},
		"positional argument": {
			args: []string{"Corefile"},
			want: `tpdns: unexpected argument "Corefile": tpdns takes no arguments, only flags (--conf FILE)`,
		},
		"CoreDNS-style flag, missing Corefile": {
			args: []string{"-conf=/nonexistent/Corefile"},
			want: "tpdns: reading Corefile: open /nonexistent/Corefile: no such file or directory",
		},
		"unknown flag": {
			args: []string{"--frobnicate"},
			want: "tpdns: unknown flag: --frobnicate",
		},
	}
	for name, c := range cases {
		code, _, stderr := runCLI(t, "", c.args...)
		assert.Equal(t, 1, code, name)
		want := c.want
		if strings.Contains(want, "%s") {
			want = fmt.Sprintf(want, c.args[len(c.args)-1])
		}
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		// pflag prints usage after its own errors; the reason is the first line.
		if name != "unknown flag" {
			assert.Len(t, lines, 1, "%s: %q", name, stderr)
		}
		assert.Contains(t, lines[0], want, name)
	}
}

func TestValidate(t *testing.T) {
	good := writeCorefile(t, "tp.internal:1053 {\n bind 127.0.0.1\n errors\n log\n whoami\n}\n")
	code, out, stderr := runCLI(t, "", "--validate", "-c", good)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, good+": valid\n", out)

	bad := writeCorefile(t, "tp.internal:1053 {\n bind not-an-interface\n}\n")
	code, _, stderr = runCLI(t, "", "--validate", "-c", bad)
	assert.Equal(t, 1, code)
	assert.Equal(t, "tpdns: plugin/bind: "+bad+`:2 - Error during parsing: "not-an-interface" is neither an IP address nor a network interface`+"\n", stderr)

	// Validation does not listen: a port in use does not matter.
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.LocalAddr().String())
	code, _, stderr = runCLI(t, "", "--validate", "-c", writeCorefile(t, ".:"+port+" {\n bind 127.0.0.1\n whoami\n}\n"))
	assert.Equal(t, 0, code, stderr)
}

func TestCorefileFromStdinAndGracefulStop(t *testing.T) {
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	pidfile := filepath.Join(t.TempDir(), "tpdns.pid")
	p := &Process{Output: &LogBuffer{}, done: make(chan error, 1)}
	p.Cmd = exec.Command(tpdnsBinary, "--conf", "-", "--pidfile", pidfile)
	p.Cmd.Stdin = strings.NewReader(".:" + port + " {\n bind 127.0.0.1\n whoami\n}\n")
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	require.NoError(t, p.Cmd.Start())
	go func() { p.done <- p.Cmd.Wait() }()
	p.WaitAnswer(t, addr)

	p.WaitOutput(t, ".:"+port+" on 127.0.0.1\ntpdns-") // printed after the pidfile is written
	pid, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d\n", p.Cmd.Process.Pid), string(pid))

	p.Signal(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.Wait(t), p.Output.String())
	assert.Contains(t, p.Output.String(), "[INFO] terminated: shutting down")
	_, err = os.Stat(pidfile)
	assert.True(t, os.IsNotExist(err), "pidfile removed on exit")
}

// TestCoreDNSFlags checks that CoreDNS's single-dash flags work, so that
// tpdns drops into a CoreDNS Deployment unchanged.
func TestCoreDNSFlags(t *testing.T) {
	code, out, _ := runCLI(t, "", "-plugins")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "bind\ntimeouts\nmultisocket\nreload\n"), out)
	code, out, _ = runCLI(t, "", "-version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "tpdns-"), out)

	port := FreePort(t)
	path := writeCorefile(t, ". {\n bind 127.0.0.1\n whoami\n}\n")
	pidfile := filepath.Join(t.TempDir(), "tpdns.pid")
	// The block names no port: -dns.port decides it.
	p := StartBinary(t, tpdnsBinary, path, "127.0.0.1:"+port, "-conf", path, "-dns.port="+port, "-quiet", "-pidfile", pidfile)
	// The pidfile is written just after the listeners answer.
	want := fmt.Sprintf("%d\n", p.Cmd.Process.Pid)
	require.Eventually(t, func() bool {
		pid, _ := os.ReadFile(pidfile)
		return string(pid) == want
	}, 5*time.Second, 10*time.Millisecond, "pidfile %s", pidfile)
	p.Signal(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.Wait(t))
	assert.Equal(t, "[INFO] terminated: shutting down\n", p.Output.String(), "-quiet: no banner")
}

func TestQuietPrintsNoBanner(t *testing.T) {
	port := FreePort(t)
	addr := "127.0.0.1:" + port
	p := RunBinary(t, tpdnsBinary, ".:"+port+" {\n bind 127.0.0.1\n whoami\n}\n", addr, "--quiet")
	p.Signal(t, syscall.SIGINT)
	assert.Equal(t, 0, p.Wait(t))
	assert.Equal(t, "[INFO] interrupt: shutting down\n", p.Output.String())
}

func TestValidateAndStartWithBrokenRegistry(t *testing.T) {
	dir := t.TempDir()
	registry := filepath.Join(dir, "services.yaml")
	require.NoError(t, os.WriteFile(registry, []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n    ttl: soon\n  - name: DB\n"), 0o644))
	corefile := filepath.Join(dir, "Corefile")
	require.NoError(t, os.WriteFile(corefile, []byte("tp.internal:1053 {\n bind 127.0.0.1\n thirdparty {\n  services services.yaml\n }\n}\n"), 0o644))

	code, out, stderr := runCLI(t, "", "--validate", "-c", corefile)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	require.Len(t, lines, 3, stderr)
	assert.Equal(t, "tpdns: plugin/thirdparty: services "+registry+" is invalid:", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], registry+":4: services[0].ttl: "), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], registry+":5: services[1].name: "), lines[2])

	// Starting with it fails the same way, on one line.
	code, _, stderr = runCLI(t, "", "-c", corefile)
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	assert.Contains(t, stderr, "is invalid:; "+registry+":4: services[0].ttl: ")

	require.NoError(t, os.WriteFile(registry, []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	code, out, stderr = runCLI(t, "", "--validate", "-c", corefile)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, corefile+": valid\n", out)
}
