package server

import (
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSipHash24 checks the function against the reference vector of the
// SipHash paper (appendix A): key 00..0f, message 00..0e.
func TestSipHash24(t *testing.T) {
	var key [16]byte
	msg := make([]byte, 15)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	assert.Equal(t, uint64(0xa129ca6149be45e5), sipHash24(cookieKey(key), msg))
}

// TestServerCookieRFC9018 makes the server cookies of RFC 9018 appendix A.
func TestServerCookieRFC9018(t *testing.T) {
	for _, c := range []struct {
		name, secret, client, ip string
		now                      uint32
		want                     string
	}{
		{"A.1", "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480"},
		{"A.2", "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77"},
		{"A.3", "e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86", "203.0.113.203", 1559734700, "010000005cf7a9acf73a7810aca2381e"},
		{"A.4", "445536bcd2513298075a5d379663c962", "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, "010000005cf7c609a6bb79d16625507a"},
	} {
		secret, err := hex.DecodeString(c.secret)
		require.NoError(t, err)
		cc, err := hex.DecodeString(c.client)
		require.NoError(t, err)
		got := appendServerCookie([]byte("prefix"), cookieKey([16]byte(secret)), cc, netip.MustParseAddr(c.ip), c.now)
		assert.Equal(t, "prefix"+c.want, string(got[:6])+hex.EncodeToString(got[6:]), c.name)
	}
}

func TestCookieLengths(t *testing.T) {
	for l := range 50 {
		assert.Equal(t, l == 8 || l >= 16 && l <= 40, cookieValid(l), "%d bytes", l)
	}
}

// TestServerCookieAllocatesNothing: the cookie is made on the stack.
func TestServerCookieAllocatesNothing(t *testing.T) {
	b := make([]byte, 0, 64)
	cc := []byte("8 bytes!")
	client := netip.MustParseAddr("2001:db8::1")
	assert.Zero(t, testing.AllocsPerRun(100, func() { b = appendServerCookie(b[:0], cookieSecret, cc, client, 1) }))
}
