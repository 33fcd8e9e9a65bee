package tsig

import (
	"encoding/base64"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	"github.com/tpdns/tpdns/test"
)

// public are the TXT strings of the service for everyone.
var public = []string{"DB_HOST=oracle.finance.tp.internal", "DB_NAME=orcl", "DB_PORT=1521"}

const registry = `services:
  - name: oracle.finance
    ports: [{name: db, port: 1521}]
    endpoints: [192.0.2.10]
    connection: {DB_NAME: orcl}
    secrets: {DB_PASSWORD: s3cret}
    secrets_keys: [app-finance]
`

// start serves the registry with tsig configured by tsigBlock, and returns
// the address.
func start(t *testing.T, tsigBlock string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(registry), 0o644))
	port := test.FreePort(t)
	test.Start(t, "tp.internal:"+port+" {\n bind 127.0.0.1\n "+tsigBlock+"\n thirdparty {\n  services "+filepath.Join(dir, "services.yaml")+"\n }\n}\n")
	return "127.0.0.1:" + port
}

// txt asks for the service's TXT records over proto, signed with the key
// name and secret unless name is "", and returns the reply and the strings.
func txt(t *testing.T, proto, addr, name, secret string) (*dns.Msg, []string, error) {
	t.Helper()
	q := test.Query("oracle.finance.tp.internal.", dns.TypeTXT, 1232)
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	if name != "" {
		q.SetTsig(name, dns.HmacSHA256, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{name: secret}
	}
	m, _, err := c.Exchange(q, addr)
	if m == nil {
		require.NoError(t, err)
	}
	var strs []string
	for _, rr := range m.Answer {
		strs = append(strs, rr.(*dns.TXT).Txt...)
	}
	return m, strs, err
}

func TestSignedQueriesGetTheSecrets(t *testing.T) {
	addr := start(t, "tsig {\n  secret app-finance. "+secret+"\n  secret other. "+secret+"\n }")
	for _, proto := range []string{"udp", "tcp"} {
		// Unsigned: the connection information only, no TSIG back.
		m, strs, err := txt(t, proto, addr, "", "")
		require.NoError(t, err)
		assert.Equal(t, public, strs, proto)
		assert.Nil(t, m.IsTsig(), proto)

		// Signed with a key of secrets_keys: the secrets too, and the
		// reply verifies (the client checks its MAC).
		m, strs, err = txt(t, proto, addr, "app-finance.", secret)
		require.NoError(t, err, proto)
		assert.Equal(t, dns.RcodeSuccess, m.Rcode, proto)
		assert.ElementsMatch(t, append([]string{"DB_PASSWORD=s3cret"}, public...), strs, proto)
		require.NotNil(t, m.IsTsig(), proto)
		assert.Equal(t, uint16(dns.RcodeSuccess), m.IsTsig().Error, proto)
		require.NotNil(t, m.IsEdns0(), "the OPT record stays before the TSIG record")

		// Another valid key: no secrets.
		_, strs, err = txt(t, proto, addr, "other.", secret)
		require.NoError(t, err, proto)
		assert.Equal(t, public, strs, proto)

		// An unknown key: NOTAUTH, BADKEY, no data, unsigned.
		m, strs, _ = txt(t, proto, addr, "nobody.", secret)
		assert.Equal(t, dns.RcodeNotAuth, m.Rcode, proto)
		assert.Empty(t, strs, proto)
		require.NotNil(t, m.IsTsig(), proto)
		assert.Equal(t, uint16(dns.RcodeBadKey), m.IsTsig().Error, proto)
		assert.Empty(t, m.IsTsig().MAC, proto)

		// A bad signature: NOTAUTH, BADSIG.
		wrong := base64.StdEncoding.EncodeToString([]byte("not the secret at all, 32 bytes!"))
		m, strs, _ = txt(t, proto, addr, "app-finance.", wrong)
		assert.Equal(t, dns.RcodeNotAuth, m.Rcode, proto)
		assert.Empty(t, strs, proto)
		require.NotNil(t, m.IsTsig(), proto)
		assert.Equal(t, uint16(dns.RcodeBadSig), m.IsTsig().Error, proto)
	}
}

func TestBadTime(t *testing.T) {
	addr := start(t, "tsig {\n  secret app-finance. "+secret+"\n }")
	q := test.Query("oracle.finance.tp.internal.", dns.TypeTXT, 0)
	signed := uint64(time.Now().Add(-time.Hour).Unix())
	q.SetTsig("app-finance.", dns.HmacSHA256, 300, int64(signed))
	wire, _, err := dns.TsigGenerate(q, secret, "", false)
	require.NoError(t, err)
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(2*time.Second)))
	_, err = conn.Write(wire)
	require.NoError(t, err)
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(buf[:n]))
	assert.Equal(t, dns.RcodeNotAuth, m.Rcode)
	assert.Empty(t, m.Answer)
	require.NotNil(t, m.IsTsig())
	sig := m.IsTsig()
	assert.Equal(t, uint16(dns.RcodeBadTime), sig.Error)
	assert.Equal(t, signed, sig.TimeSigned, "the client's time signed")
	assert.Equal(t, uint16(6), sig.OtherLen, "the server's time in the other data")
	assert.NotEmpty(t, sig.MAC, "a BADTIME reply is signed")
}

func TestRequire(t *testing.T) {
	addr := start(t, "tsig {\n  secret app-finance. "+secret+"\n  require TXT\n }")
	m, _, err := txt(t, "udp", addr, "", "")
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, m.Rcode)

	m = test.Exchange(t, "udp", addr, test.Query("oracle.finance.tp.internal.", dns.TypeA, 0))
	assert.Equal(t, dns.RcodeSuccess, m.Rcode, "A need not be signed")
	require.Len(t, m.Answer, 1)

	m, strs, err := txt(t, "udp", addr, "app-finance.", secret)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	assert.Contains(t, strs, "DB_PASSWORD=s3cret")
}

// A signed query is never answered by the packet path, which cannot sign.
func TestSignedAddressQueriesAreSigned(t *testing.T) {
	addr := start(t, "tsig {\n  secret app-finance. "+secret+"\n }")
	q := test.Query("oracle.finance.tp.internal.", dns.TypeA, 0)
	q.SetTsig("app-finance.", dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, TsigSecret: map[string]string{"app-finance.": secret}}
	m, _, err := c.Exchange(q, addr)
	require.NoError(t, err)
	require.Len(t, m.Answer, 1)
	require.NotNil(t, m.IsTsig())
	assert.Nil(t, m.IsEdns0(), "no OPT record for a query without one")
}

// A MAC too short to be one still gets its NOTAUTH (BADSIG), unsigned.
func TestShortMAC(t *testing.T) {
	addr := start(t, "tsig {\n  secret app-finance. "+secret+"\n }")
	q := test.Query("oracle.finance.tp.internal.", dns.TypeTXT, 0)
	q.SetTsig("app-finance.", dns.HmacSHA256, 300, time.Now().Unix())
	q.IsTsig().MAC, q.IsTsig().MACSize = "00", 1
	wire, err := q.Pack()
	require.NoError(t, err)
	for _, proto := range []string{"udp", "tcp"} {
		conn, err := net.Dial(proto, addr)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(2*time.Second)))
		m := new(dns.Msg)
		if proto == "udp" {
			_, err = conn.Write(wire)
			require.NoError(t, err)
			buf := make([]byte, 2048)
			n, err := conn.Read(buf)
			require.NoError(t, err, proto)
			require.NoError(t, m.Unpack(buf[:n]))
		} else {
			_, err = conn.Write(append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...))
			require.NoError(t, err)
			var size [2]byte
			_, err = io.ReadFull(conn, size[:])
			require.NoError(t, err, proto)
			buf := make([]byte, int(size[0])<<8|int(size[1]))
			_, err = io.ReadFull(conn, buf)
			require.NoError(t, err, proto)
			require.NoError(t, m.Unpack(buf))
		}
		conn.Close()
		assert.Equal(t, dns.RcodeNotAuth, m.Rcode, proto)
		require.NotNil(t, m.IsTsig(), proto)
		assert.Equal(t, uint16(dns.RcodeBadSig), m.IsTsig().Error, proto)
		assert.Empty(t, m.IsTsig().MAC, proto)
	}
}
