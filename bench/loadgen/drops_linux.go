//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"strconv"
)

// socketDrops is how many datagrams the kernel has dropped at the UDP
// sockets bound to addr's port on addr or on every address, because their
// receive buffer was full: the last column of /proc/net/udp and udp6.
// found is false when no such socket is in this network namespace (the
// server runs elsewhere). It tells a server that could not keep up (or was
// not given its CPU) from a loss on the way.
func socketDrops(addr netip.AddrPort) (drops int64, found bool) {
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		d, ok := parseDrops(f, addr)
		f.Close()
		drops += d
		found = found || ok
	}
	return drops, found
}

// parseDrops reads one /proc/net/udp table: "sl local_address rem_address
// ... drops", an address as the hex of its bytes in 32-bit words of the
// machine's byte order, and the port in hex.
func parseDrops(r io.Reader, addr netip.AddrPort) (drops int64, found bool) {
	want := addr.Addr().Unmap()
	sc := bufio.NewScanner(r)
	sc.Scan() // the heading
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 13 {
			continue
		}
		host, port, ok := bytes.Cut(fields[1], []byte(":"))
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(string(port), 16, 16)
		if err != nil || uint16(p) != addr.Port() {
			continue
		}
		ip, ok := procAddr(host)
		if !ok || (ip != want && !ip.IsUnspecified()) {
			continue
		}
		n, err := strconv.ParseInt(string(fields[len(fields)-1]), 10, 64)
		if err != nil {
			continue
		}
		drops += n
		found = true
	}
	return drops, found
}

// procAddr decodes an address of /proc/net/udp (8 hex digits) or udp6 (32).
func procAddr(h []byte) (netip.Addr, bool) {
	raw := make([]byte, hex.DecodedLen(len(h)))
	if _, err := hex.Decode(raw, h); err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, false
	}
	// Each 32-bit word was printed as a number: undo the machine's order.
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	ip, _ := netip.AddrFromSlice(raw)
	return ip.Unmap(), true
}
