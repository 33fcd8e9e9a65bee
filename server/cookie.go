package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"net/netip"

	"github.com/miekg/dns"
)

// DNS cookies (RFC 7873): a query with a client cookie gets a server
// cookie back, made as RFC 9018 makes them (version 1, a timestamp, and
// SipHash-2-4 of the client cookie, that header and the client's address,
// keyed with a secret). tpdns does not require cookies and never answers
// BADCOOKIE: a cookie that comes back is not checked, and every reply
// carries a fresh one, which RFC 7873 allows. Clients that send cookies
// (BIND, dig) learn that the server supports them, and a spoofed query's
// reply carries a cookie the spoofed client did not ask for.

// The lengths of the parts of a COOKIE option (RFC 7873 section 4).
const (
	clientCookieLen    = 8
	minServerCookieLen = 8
	maxServerCookieLen = 32
	// serverCookieLen is the length of the server cookies tpdns makes.
	serverCookieLen = 16
)

// cookieSecret keys the server cookies: random per process, so a cookie
// is good for the life of the process (reloads included) and never beyond.
var cookieSecret = newCookieSecret()

func newCookieSecret() [2]uint64 {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return cookieKey(b)
}

// cookieKey is the SipHash key of a 16-byte secret.
func cookieKey(secret [16]byte) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(secret[:]), binary.LittleEndian.Uint64(secret[8:])}
}

// cookieValid reports whether l is a valid length of a COOKIE option: a
// client cookie alone, or one with a server cookie of 8 to 32 bytes.
func cookieValid(l int) bool {
	return l == clientCookieLen || l >= clientCookieLen+minServerCookieLen && l <= clientCookieLen+maxServerCookieLen
}

// clientCookie returns the client cookie of the first COOKIE option of
// opt; ok is false when that option is malformed, and cookie nil when
// there is none.
func clientCookie(opt *dns.OPT) (cookie []byte, ok bool) {
	for _, o := range opt.Option {
		c, isCookie := o.(*dns.EDNS0_COOKIE)
		if !isCookie {
			continue
		}
		b, err := hex.DecodeString(c.Cookie)
		if err != nil || !cookieValid(len(b)) {
			return nil, false
		}
		return b[:clientCookieLen], true
	}
	return nil, true
}

// appendServerCookie appends to b the server cookie, keyed with key, for
// client cookie cc (8 bytes) from client at Unix time now, in RFC 9018's
// form.
func appendServerCookie(b []byte, key [2]uint64, cc []byte, client netip.Addr, now uint32) []byte {
	var in [clientCookieLen + 8 + 16]byte
	n := copy(in[:], cc[:clientCookieLen])
	in[n] = 1 // version; three reserved bytes follow, zero
	binary.BigEndian.PutUint32(in[n+4:], now)
	n += 8
	switch {
	case client.Is4():
		a := client.As4()
		n += copy(in[n:], a[:])
	case client.Is6():
		a := client.As16()
		n += copy(in[n:], a[:])
	}
	b = append(b, in[clientCookieLen:clientCookieLen+8]...)
	return binary.LittleEndian.AppendUint64(b, sipHash24(key, in[:n]))
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein) of m with key k, as
// RFC 9018 uses it.
func sipHash24(k [2]uint64, m []byte) uint64 {
	v0 := k[0] ^ 0x736f6d6570736575
	v1 := k[1] ^ 0x646f72616e646f6d
	v2 := k[0] ^ 0x6c7967656e657261
	v3 := k[1] ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13) ^ v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16) ^ v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21) ^ v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17) ^ v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for ; len(m) >= 8; m = m[8:] {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
	}
	var last [8]byte
	copy(last[:], m)
	last[7] = byte(n)
	w := binary.LittleEndian.Uint64(last[:])
	v3 ^= w
	round()
	round()
	v0 ^= w
	v2 ^= 0xff
	for range 4 {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
