package server_test

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/plugin/log"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bigCorefile answers every name with 40 TXT records, about 2 KB in all.
func bigServer(t *testing.T) string {
	port := test.FreePort(t)
	test.Start(t, fmt.Sprintf(".:%s {\n bind 127.0.0.1\n testanswer big-answer-record-padding 40\n}\n", port))
	return "127.0.0.1:" + port
}

func TestTruncationFollowsTransportAndBufferSize(t *testing.T) {
	addr := bigServer(t)
	cases := []struct {
		proto   string
		bufsize uint16 // 0: no EDNS0
		tc      bool
		maxLen  int
		all     bool
	}{
		{proto: "udp", bufsize: 0, tc: true, maxLen: 512},
		{proto: "udp", bufsize: 1232, tc: true, maxLen: 1232},
		{proto: "udp", bufsize: 100, tc: true, maxLen: 512}, // below 512 counts as 512
		// Never more than our own EDNS size, 1232, whatever the client's.
		{proto: "udp", bufsize: 4096, tc: true, maxLen: 1232},
		{proto: "udp", bufsize: 65535, tc: true, maxLen: 1232},
		{proto: "tcp", bufsize: 0, all: true, maxLen: dns.MaxMsgSize},
		{proto: "tcp", bufsize: 1232, all: true, maxLen: dns.MaxMsgSize},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/bufsize=%d", c.proto, c.bufsize)
		r := test.Exchange(t, c.proto, addr, test.Query("x.example.", dns.TypeTXT, c.bufsize))
		r.Compress = true
		packed, err := r.Pack()
		require.NoError(t, err, name)
		assert.LessOrEqual(t, len(packed), c.maxLen, name)
		assert.Equal(t, c.tc, r.Truncated, name)
		if c.all {
			assert.Len(t, r.Answer, 40, name)
		} else {
			assert.Less(t, len(r.Answer), 40, name)
		}
		assert.Equal(t, c.bufsize > 0, r.IsEdns0() != nil, "%s: OPT in reply iff in query", name)
	}
}

func TestEDNS0(t *testing.T) {
	addr := bigServer(t)

	q := test.Query("x.example.", dns.TypeTXT, 4096)
	q.IsEdns0().SetDo(true)
	r := test.Exchange(t, "udp", addr, q)
	require.NotNil(t, r.IsEdns0())
	assert.True(t, r.IsEdns0().Do(), "DO bit mirrored")
	assert.Equal(t, uint16(1232), r.IsEdns0().UDPSize())

	q = test.Query("x.example.", dns.TypeTXT, 4096)
	q.IsEdns0().SetVersion(1)
	r = test.Exchange(t, "udp", addr, q)
	assert.Equal(t, dns.RcodeBadVers, r.Rcode)
	require.NotNil(t, r.IsEdns0())
	assert.Empty(t, r.Answer)
}

// exchangeRaw sends b over UDP and returns the raw reply.
func exchangeRaw(t *testing.T, addr string, b []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(b)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, dns.MaxMsgSize)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return buf[:n]
}

func TestMalformedQueriesGetFormerr(t *testing.T) {
	addr := bigServer(t)
	valid, err := test.Query("x.example.", dns.TypeA, 0).Pack()
	require.NoError(t, err)

	loop := append([]byte{}, valid[:12]...)
	loop = append(loop, 0xC0, 12, 0, 1, 0, 1) // the name points at itself

	noQuestion := append([]byte{}, valid[:12]...)
	noQuestion[5] = 0 // QDCOUNT 0

	update := append([]byte{}, valid...)
	update[2] = update[2]&^0x78 | dns.OpcodeUpdate<<3

	for name, c := range map[string]struct {
		packet []byte
		rcode  int
	}{
		"truncated question": {valid[:len(valid)-3], dns.RcodeFormatError},
		"compression loop":   {loop, dns.RcodeFormatError},
		"no question":        {noQuestion, dns.RcodeFormatError},
		"label past the end": {append(append([]byte{}, valid[:12]...), 63, 'a', 'b'), dns.RcodeFormatError},
		"opcode update":      {update, dns.RcodeNotImplemented},
	} {
		reply := exchangeRaw(t, addr, c.packet)
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(reply), name)
		assert.Equal(t, dns.RcodeToString[c.rcode], dns.RcodeToString[m.Rcode], name)
		assert.Equal(t, uint16(valid[0])<<8|uint16(valid[1]), m.Id, name)
		assert.True(t, m.Response, name)
	}
}

func TestResponsesAndShortPacketsAreIgnored(t *testing.T) {
	addr := bigServer(t)
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()

	ignored := test.Query("ignored.example.", dns.TypeA, 0)
	ignored.Response = true
	b, err := ignored.Pack()
	require.NoError(t, err)
	_, err = c.Write(b)
	require.NoError(t, err)
	_, err = c.Write([]byte{1, 2, 3})
	require.NoError(t, err)

	probe := test.Query("probe.example.", dns.TypeA, 0)
	b, err = probe.Pack()
	require.NoError(t, err)
	_, err = c.Write(b)
	require.NoError(t, err)

	// The first reply to arrive must be the probe's: the others got none.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, dns.MaxMsgSize)
	n, err := c.Read(buf)
	require.NoError(t, err)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(buf[:n]))
	assert.Equal(t, "probe.example.", m.Question[0].Name)
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyPort := fmt.Sprint(busy.Addr().(*net.TCPAddr).Port)
	port := test.FreePort(t)

	for name, c := range map[string]struct{ corefile, err string }{
		"port in use": {
			corefile: "example.org:" + busyPort + " {\n bind 127.0.0.1\n whoami\n}",
			err:      "Listen: listen tcp 127.0.0.1:" + busyPort + ": bind: address already in use",
		},
		"unknown directive": {
			corefile: ".:" + port + " {\n  whoami\n  frobnicate\n}",
			err:      "Corefile:3 - Error during parsing: Unknown directive 'frobnicate'",
		},
		"zone twice": {
			corefile: "example.org:" + port + " {\n whoami\n}\nEXAMPLE.org.:" + port + " {\n whoami\n}",
			err:      "Corefile: zone example.org. is served twice on *:" + port,
		},
		"overlapping bind": {
			corefile: "a.example:" + port + " {\n whoami\n}\nb.example:" + port + " {\n bind 127.0.0.1\n whoami\n}",
			err:      "Corefile: 127.0.0.1:" + port + " overlaps *:" + port + ": bind every block on port " + port + " to specific addresses, or none",
		},
		"bad key": {
			corefile: "grpc://example.org {\n whoami\n}",
			err:      `error inspecting server blocks: Corefile: server block key "grpc://example.org": transport "grpc" is not supported (only dns://)`,
		},
		"empty": {
			corefile: "# nothing here\n",
			err:      "error inspecting server blocks: Corefile: no server blocks",
		},
	} {
		inst, err := server.Start(server.Input{Filename: "Corefile", Contents: []byte(c.corefile), Quiet: true})
		assert.Nil(t, inst, name)
		assert.EqualError(t, err, c.err, name)

		if name != "port in use" {
			assert.EqualError(t, server.Validate(server.Input{Filename: "Corefile", Contents: []byte(c.corefile)}), c.err, "validate: "+name)
		}
	}
	// Nothing a failed start opened is left listening.
	inst, err := server.Start(server.Input{Filename: "Corefile", Contents: []byte(".:" + port + " {\n bind 127.0.0.1\n whoami\n}"), Quiet: true})
	require.NoError(t, err)
	require.NoError(t, server.Stop(inst))
}

func TestDefaultPortComesFromInput(t *testing.T) {
	port := test.FreePort(t)
	inst, err := server.Start(server.Input{Filename: "Corefile", Contents: []byte("example.org {\n bind 127.0.0.1\n testanswer p\n}"), Port: port, Quiet: true})
	require.NoError(t, err)
	defer server.Stop(inst)
	r := test.Exchange(t, "udp", "127.0.0.1:"+port, test.Query("example.org.", dns.TypeTXT, 0))
	assert.Equal(t, "p 0", r.Answer[0].(*dns.TXT).Txt[0])
}

func TestMain_noStrayFiles(t *testing.T) {
	_, err := os.Stat("Corefile")
	assert.True(t, os.IsNotExist(err), "tests must not depend on a Corefile in the package directory")
}
