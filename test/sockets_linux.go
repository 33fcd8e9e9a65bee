package test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BoundSockets counts the IPv4 sockets of proto ("udp", or "tcp" for the
// listening ones) bound to 127.0.0.1:port, as /proc lists them.
func BoundSockets(t testing.TB, proto, port string) int {
	t.Helper()
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", p)
	f, err := os.Open("/proc/self/net/" + proto)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st ...; st 0A is TCP_LISTEN.
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[1] == local && (proto == "udp" || fields[3] == "0A") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
