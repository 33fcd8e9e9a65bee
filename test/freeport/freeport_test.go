package freeport

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPort(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p := Port(t)
		if seen[p] {
			t.Fatalf("port %s handed out twice", p)
		}
		seen[p] = true
		n, _ := strconv.Atoi(p)
		if ports.lo != 0 && (n < ports.lo || n > ports.hi) {
			t.Fatalf("port %d outside [%d, %d]", n, ports.lo, ports.hi)
		}
		// Free for the server to bind.
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatal(err)
		}
		pc.Close()
		// Held against other test processes.
		if runtime.GOOS == "linux" {
			if ln, err := net.Listen("unix", "@tpdns-test-port-"+p); err == nil {
				ln.Close()
				t.Fatalf("port %s is not reserved", p)
			}
		}
	}
}

// TestPortAcrossProcesses hands out ports in this process and in a child
// at the same time: none is handed out in both.
func TestPortAcrossProcesses(t *testing.T) {
	if os.Getenv("FREEPORT_CHILD") != "" {
		for range 300 {
			fmt.Println(Port(t))
		}
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("ports are reserved across processes on Linux")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPortAcrossProcesses$")
	cmd.Env = append(os.Environ(), "FREEPORT_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	mine := map[string]bool{}
	for range 300 {
		mine[Port(t)] = true
	}
	require.NoError(t, cmd.Wait(), out.String())
	n := 0
	for _, p := range strings.Fields(out.String()) {
		if _, err := strconv.Atoi(p); err != nil {
			continue // PASS
		}
		n++
		assert.False(t, mine[p], "port %s handed out in both processes", p)
	}
	assert.Equal(t, 300, n, out.String())
}
