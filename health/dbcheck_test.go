package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

// Tests of the database checks against small servers written here from
// the protocols' documents, for the answers a real server gives only at
// some cost, and against listeners that are no database at all. The tests
// against the real servers are in dbcheck_real_test.go.

// fakeServer serves every connection to a loopback listener with handle,
// until the test ends, and returns its address.
func fakeServer(t *testing.T, handle func(c net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepting
		conns.Wait()
	})
	return ln.Addr().String()
}

// probeDBAt probes addr once with a check of type typ, edited by edit.
func probeDBAt(t *testing.T, addr, typ string, edit func(*config.Check)) Result {
	t.Helper()
	c := check(typ)
	c.ServiceName = "ORCL"
	if edit != nil {
		edit(&c)
	}
	return newProber().probe(context.Background(), target(t, addr, c))
}

// shortTimeout is the timeout of the probes that are meant to time out.
func shortTimeout(c *config.Check) { c.Timeout = 500 * time.Millisecond }

// The listeners that are no database: one that writes an HTTP response as
// soon as it accepts, one that sends back what it reads, one that closes
// at once, one that reads and never answers.
var (
	httpGreeter = func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		io.Copy(io.Discard, c)
	}
	echo    = func(c net.Conn) { io.Copy(c, c) }
	closer  = func(c net.Conn) {}
	silence = func(c net.Conn) { io.Copy(io.Discard, c) }
)

func TestDatabaseChecksAgainstOtherListeners(t *testing.T) {
	httpAddr, echoAddr, closeAddr, silentAddr := fakeServer(t, httpGreeter), fakeServer(t, echo), fakeServer(t, closer), fakeServer(t, silence)
	tests := []struct {
		typ, server, expect string
		// what the echo gets: a server that speaks first waits for an
		// echo in vain
		echo string
	}{
		{config.CheckPostgres, "a PostgreSQL server", "answer to the PostgreSQL startup message", "not a PostgreSQL server: it echoed what it was sent"},
		{config.CheckMySQL, "a MySQL server", "MySQL handshake", "no MySQL handshake within 500ms"},
		{config.CheckRedis, "a Redis server", "answer to the Redis PING", "not a Redis server: it echoed what it was sent"},
		{config.CheckTNS, "an Oracle listener", "answer to the TNS connect packet", "not an Oracle listener: it echoed what it was sent"},
		{config.CheckMSSQL, "a SQL Server", "answer to the TDS pre-login message", "not a SQL Server: it echoed what it was sent"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			r := probeDBAt(t, httpAddr, tt.typ, nil)
			assert.False(t, r.OK)
			assert.True(t, strings.HasPrefix(r.Err, "not "+tt.server+`: it answered "HTTP/1.1 400 Bad Request\r\n`), r.Err)

			var edit func(*config.Check)
			if tt.typ == config.CheckMySQL { // the echo waits for the server to speak first
				edit = shortTimeout
			}
			r = probeDBAt(t, echoAddr, tt.typ, edit)
			assert.False(t, r.OK)
			assert.Equal(t, tt.echo, r.Err)

			r = probeDBAt(t, closeAddr, tt.typ, nil)
			assert.False(t, r.OK)
			assert.Equal(t, "the connection was closed with no "+tt.expect, r.Err)

			start := time.Now()
			r = probeDBAt(t, silentAddr, tt.typ, shortTimeout)
			assert.False(t, r.OK)
			assert.Equal(t, "no "+tt.expect+" within 500ms", r.Err)
			assert.Less(t, time.Since(start), 3*time.Second, "the timeout bounds the probe")
		})
	}
}

// TestDatabaseCheckStops checks that a probe in the middle of a
// conversation ends when the checker stops.
func TestDatabaseCheckStops(t *testing.T) {
	addr := fakeServer(t, silence)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r := newProber().probe(ctx, target(t, addr, check(config.CheckRedis)))
	assert.False(t, r.OK)
	assert.Less(t, time.Since(start), 3*time.Second)
}

// pgServe reads a StartupMessage, checks it, and answers with the
// messages given.
func pgServe(t *testing.T, got chan<- []byte, answer ...[]byte) func(c net.Conn) {
	return func(c net.Conn) {
		var n uint32
		if binary.Read(c, binary.BigEndian, &n) != nil || n < 8 || n > 10000 {
			return
		}
		msg := make([]byte, n-4)
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		if got != nil {
			got <- msg
		}
		for _, a := range answer {
			c.Write(a)
		}
		if got != nil {
			rest, _ := io.ReadAll(c)
			got <- rest
		}
	}
}

// pgMessage renders a backend message: type, Int32 length, body.
func pgMessage(typ byte, body ...string) []byte {
	b := strings.Join(body, "")
	return append(binary.BigEndian.AppendUint32([]byte{typ}, uint32(4+len(b))), b...)
}

// pgErrorMessage renders an ErrorResponse with a severity, SQLSTATE,
// message and detail.
func pgErrorMessage(code, msg, detail string) []byte {
	body := "SFATAL\x00VFATAL\x00C" + code + "\x00M" + msg + "\x00"
	if detail != "" {
		body += "D" + detail + "\x00"
	}
	return pgMessage('E', body, "\x00")
}

func TestPostgresCheckAnswers(t *testing.T) {
	sasl := pgMessage('R', "\x00\x00\x00\x0a", "SCRAM-SHA-256\x00\x00")
	tests := []struct {
		name   string
		answer [][]byte
		err    string // "" for up
	}{
		{"password asked", [][]byte{sasl}, ""},
		{"md5 password asked", [][]byte{pgMessage('R', "\x00\x00\x00\x05", "salt")}, ""},
		{"after a protocol negotiation", [][]byte{pgMessage('v', "\x00\x00\x00\x00", "\x00\x00\x00\x00"), sasl}, ""},
		{"password error", [][]byte{pgErrorMessage("28P01", `password authentication failed for user "tpdns"`, "")}, ""},
		{"no pg_hba.conf entry", [][]byte{pgErrorMessage("28000", `no pg_hba.conf entry for host "10.0.0.1", user "tpdns", database "tpdns", no encryption`, "")}, ""},
		{"no such database", [][]byte{pgErrorMessage("3D000", `database "tpdns" does not exist`, "")}, ""},
		{
			"starting up",
			[][]byte{pgErrorMessage("57P03", "the database system is starting up", "")},
			"postgres: the database system is starting up (SQLSTATE 57P03)",
		},
		{
			"shutting down",
			[][]byte{pgErrorMessage("57P03", "the database system is shutting down", "")},
			"postgres: the database system is shutting down (SQLSTATE 57P03)",
		},
		{
			"in recovery",
			[][]byte{pgErrorMessage("57P03", "the database system is in recovery mode", "")},
			"postgres: the database system is in recovery mode (SQLSTATE 57P03)",
		},
		{
			"not yet consistent",
			[][]byte{pgErrorMessage("57P03", "the database system is not yet accepting connections", "Consistent recovery state has not been yet reached.")},
			"postgres: the database system is not yet accepting connections: Consistent recovery state has not been yet reached. (SQLSTATE 57P03)",
		},
		{
			"too many clients",
			[][]byte{pgErrorMessage("53300", "sorry, too many clients already", "")},
			"postgres: sorry, too many clients already (SQLSTATE 53300)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan []byte, 2)
			r := probeDBAt(t, fakeServer(t, pgServe(t, got, tt.answer...)), config.CheckPostgres, nil)
			assert.Equal(t, tt.err == "", r.OK, r.Err)
			assert.Equal(t, tt.err, r.Err)
			// The StartupMessage: protocol 3.0, the user, no password.
			assert.Equal(t, "\x00\x03\x00\x00user\x00tpdns\x00application_name\x00tpdns-health-check\x00\x00", string(<-got))
		})
	}

	// AuthenticationOk (trust): the check leaves with Terminate.
	got := make(chan []byte, 2)
	addr := fakeServer(t, pgServe(t, got, pgMessage('R', "\x00\x00\x00\x00"), pgMessage('Z', "I")))
	r := probeDBAt(t, addr, config.CheckPostgres, nil)
	assert.True(t, r.OK, r.Err)
	<-got
	assert.Equal(t, pgTerminate, string(<-got))
}

// mysqlServe writes the packets given, then reads what the client sends
// until it closes.
func mysqlServe(got chan<- []byte, packets ...[]byte) func(c net.Conn) {
	return func(c net.Conn) {
		var all []byte
		for _, p := range packets {
			c.Write(p)
			if got != nil {
				// One client packet per server packet.
				hdr := make([]byte, 4)
				if _, err := io.ReadFull(c, hdr); err != nil {
					break
				}
				body := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
				io.ReadFull(c, body)
				all = append(append(all, hdr...), body...)
			}
		}
		if got != nil {
			rest, _ := io.ReadAll(c)
			got <- append(all, rest...)
		}
	}
}

// mysqlPacketBytes renders a packet: 3-byte length, sequence, payload.
func mysqlPacketBytes(seq byte, payload string) []byte {
	return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}, payload...)
}

// mysqlGreeting is a HandshakeV10 as MariaDB 10.11 sends it.
var mysqlGreeting = mysqlPacketBytes(0, "\x0a5.5.5-10.11.19-MariaDB-0+deb12u1\x00\x03\x00\x00\x00N0C?Se!p\x00\xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x004R}Bo,'~it+u\x00mysql_native_password\x00")

func TestMySQLCheckAnswers(t *testing.T) {
	tests := []struct {
		name   string
		packet []byte
		err    string
	}{
		{
			"host blocked",
			mysqlPacketBytes(0, "\xff\x69\x04Host '10.0.0.1' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'"),
			"mysql: ERROR 1129: Host '10.0.0.1' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'",
		},
		{
			"too many connections, with a SQLSTATE",
			mysqlPacketBytes(0, "\xff\x10\x04#08004Too many connections"),
			"mysql: ERROR 1040 (08004): Too many connections",
		},
		{
			"an unknown protocol version",
			mysqlPacketBytes(0, "\x095.0\x00"),
			`not a MySQL server: it answered "\x05\x00\x00\x00\t5.0\x00"`,
		},
		{
			"a greeting cut short",
			mysqlPacketBytes(0, "\x0a5.7.0\x00\x01\x00"),
			`not a MySQL server: it answered "\t\x00\x00\x00\n5.7.0\x00\x01\x00"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := probeDBAt(t, fakeServer(t, mysqlServe(nil, tt.packet)), config.CheckMySQL, nil)
			assert.False(t, r.OK)
			assert.Equal(t, tt.err, r.Err)
		})
	}

	// After the greeting, the check logs in as tpdns with no password
	// (HandshakeResponse41, packet 1), and leaves with COM_QUIT if that
	// works.
	got := make(chan []byte, 1)
	addr := fakeServer(t, mysqlServe(got, mysqlGreeting, mysqlPacketBytes(2, "\x00\x00\x00\x02\x00\x00\x00")))
	r := probeDBAt(t, addr, config.CheckMySQL, nil)
	assert.True(t, r.OK, r.Err)
	response := "\x01\x82\x00\x00" + "\x00\x00\x00\x01" + "\x21" + strings.Repeat("\x00", 23) + "tpdns\x00" + "\x00"
	assert.Equal(t, string(mysqlPacketBytes(1, response))+string(mysqlComQuit), string(<-got))

	// Asked for another authentication method, it answers with no
	// password again; denied, it leaves.
	got = make(chan []byte, 1)
	addr = fakeServer(t, mysqlServe(got, mysqlGreeting,
		mysqlPacketBytes(2, "\xfecaching_sha2_password\x00abcdefghijklmnopqrst\x00"),
		mysqlPacketBytes(4, "\xff\x15\x04#28000Access denied for user 'tpdns'@'10.0.0.2' (using password: NO)")))
	r = probeDBAt(t, addr, config.CheckMySQL, nil)
	assert.True(t, r.OK, r.Err)
	assert.Equal(t, string(mysqlPacketBytes(1, response))+string(mysqlPacketBytes(3, "")), string(<-got))
}

// redisServe reads the PING and answers with reply.
func redisServe(reply string) func(c net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, len(redisPing))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != redisPing {
			return
		}
		c.Write([]byte(reply))
	}
}

func TestRedisCheckAnswers(t *testing.T) {
	denied := "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. " + strings.Repeat("x", 300) + "\r\n"
	tests := []struct{ reply, err string }{
		{"+PONG\r\n", ""},
		{"-NOAUTH Authentication required.\r\n", ""},
		{"-NOPERM User default has no permissions to run the 'ping' command\r\n", ""},
		{"-LOADING Redis is loading the dataset in memory\r\n", "redis: LOADING Redis is loading the dataset in memory"},
		{"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n", "redis: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."},
		{"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", "redis: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."},
		{denied, "redis: " + denied[1:201] + "..."},
		{"+OK\r\n", `not a Redis server: it answered "+OK\r\n"`},
		{"-\r\n", `not a Redis server: it answered "-\r\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.reply[:min(len(tt.reply), 10)], func(t *testing.T) {
			t.Parallel()
			r := probeDBAt(t, fakeServer(t, redisServe(tt.reply)), config.CheckRedis, nil)
			assert.Equal(t, tt.err == "", r.OK, r.Err)
			assert.Equal(t, tt.err, r.Err)
		})
	}
}

// The tns check is tested against a listener written here: Oracle has no
// Debian package, and no free server to test with. The listener follows
// the published TNS packet layout (see dbcheck_tns.go): it takes the
// CONNECT packet apart field by field, as a listener must, and answers as
// Oracle's listener does for the service asked: ACCEPT, RESEND, REDIRECT,
// or REFUSE with the error a real listener gives, "(ERR=12514)".

// tnsConnectRequest is a CONNECT packet taken apart.
type tnsConnectRequest struct {
	version, minimum, sdu, tdu, hardware1 uint16
	descriptor                            string
}

// readTNSConnect reads a CONNECT packet, and the DATA packet after it when
// the connect data did not fit.
func readTNSConnect(c net.Conn) (tnsConnectRequest, bool) {
	var req tnsConnectRequest
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[4] != tnsConnect {
		return req, false
	}
	n := int(binary.BigEndian.Uint16(hdr))
	body := make([]byte, n-8)
	if _, err := io.ReadFull(c, body); err != nil || len(body) < 26 {
		return req, false
	}
	field := func(i int) uint16 { return binary.BigEndian.Uint16(body[2*i:]) }
	req.version, req.minimum, req.sdu, req.tdu, req.hardware1 = field(0), field(1), field(3), field(4), field(7)
	dataLen, dataOffset := int(field(8)), int(field(9))
	switch {
	case n > dataOffset: // in this packet
		if dataOffset+dataLen != n {
			return req, false
		}
		req.descriptor = string(body[dataOffset-8:])
	default: // in a DATA packet: header, UB2 data flags, the data
		if _, err := io.ReadFull(c, hdr); err != nil || hdr[4] != tnsData {
			return req, false
		}
		data := make([]byte, int(binary.BigEndian.Uint16(hdr))-8)
		if _, err := io.ReadFull(c, data); err != nil || len(data) != 2+dataLen {
			return req, false
		}
		req.descriptor = string(data[2:])
	}
	return req, true
}

// tnsPacket renders a packet of the listener's.
func tnsPacket(typ byte, body []byte) []byte {
	return append(tnsHeader(8+len(body), typ), body...)
}

// tnsRefusePacket is a REFUSE: UB1 user reason, UB1 system reason, UB2
// data length, the data.
func tnsRefusePacket(data string) []byte {
	return tnsPacket(tnsRefuse, append([]byte{0x22, 0x00, byte(len(data) >> 8), byte(len(data))}, data...))
}

// fakeListener is an Oracle listener that knows the services ORCL (a
// dedicated server: ACCEPT), PDB1 (RESEND, as after a hand-off), SHARED (a
// dispatcher elsewhere: REDIRECT), BLOCKED (an instance that blocks new
// connections) and any service of 100 characters or more; it refuses any
// other with 12514. Every connect it takes is sent on got.
func fakeListener(t *testing.T, got chan<- tnsConnectRequest) string {
	return fakeServer(t, func(c net.Conn) {
		req, ok := readTNSConnect(c)
		if !ok {
			return
		}
		got <- req
		service := ""
		if i := strings.Index(req.descriptor, "(SERVICE_NAME="); i >= 0 {
			service, _, _ = strings.Cut(req.descriptor[i+len("(SERVICE_NAME="):], ")")
		}
		switch {
		case service == "ORCL" || len(service) >= 100:
			// ACCEPT: UB2 version, UB2 service options, UB2 SDU, UB2 TDU,
			// UB2 value of 1 in hardware, UB2 accept data length and
			// offset, UB1 connect flags 0 and 1, then the large SDU and
			// TDU and flags of version 315 and later.
			body := []byte{0x01, 0x3b, 0x00, 0x01, 0x20, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x41, 0x01}
			body = append(body, make([]byte, 8)...)
			body = binary.BigEndian.AppendUint32(body, 8192)
			body = binary.BigEndian.AppendUint32(body, 65535)
			c.Write(tnsPacket(tnsAccept, body))
		case service == "PDB1":
			c.Write(tnsPacket(tnsResend, nil))
		case service == "SHARED":
			addr := "(ADDRESS=(PROTOCOL=tcp)(HOST=192.0.2.7)(PORT=40321))"
			c.Write(tnsPacket(tnsRedirect, append([]byte{0, byte(len(addr))}, addr...)))
		case service == "BLOCKED":
			c.Write(tnsRefusePacket("(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=12528)(ERROR_STACK=(ERROR=(CODE=12528)(EMFI=4))))"))
		case service == "NOERR":
			c.Write(tnsRefusePacket("(DESCRIPTION=(TMP=)(VSNNUM=0))"))
		default:
			c.Write(tnsRefusePacket("(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=12514)(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))"))
		}
	})
}

func TestTNSCheck(t *testing.T) {
	got := make(chan tnsConnectRequest, 10)
	addr := fakeListener(t, got)
	host, port, _ := net.SplitHostPort(addr)
	long := strings.Repeat("s", 100) + ".example.com"
	tests := []struct{ service, err string }{
		{"ORCL", ""},
		{"PDB1", ""},
		{"SHARED", ""},
		{long, ""},
		{"STANDBY", "tns: the listener refused the connection: ORA-12514: TNS:listener does not currently know of service requested in connect descriptor"},
		{"BLOCKED", "tns: the listener refused the connection: ORA-12528: TNS:listener: all appropriate instances are blocking new connections"},
		{"NOERR", "tns: the listener refused the connection: (DESCRIPTION=(TMP=)(VSNNUM=0))"},
	}
	for _, tt := range tests {
		r := probeDBAt(t, addr, config.CheckTNS, func(c *config.Check) { c.ServiceName = tt.service })
		assert.Equal(t, tt.err == "", r.OK, "%s: %s", tt.service, r.Err)
		assert.Equal(t, tt.err, r.Err, tt.service)

		req := <-got
		assert.Equal(t, tnsConnectRequest{
			version: 319, minimum: 300, sdu: 8192, tdu: 8192, hardware1: 1,
			descriptor: "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=" + tt.service + ")(CID=(PROGRAM=tpdns)(HOST=tpdns)(USER=tpdns)))" +
				"(ADDRESS=(PROTOCOL=tcp)(HOST=" + host + ")(PORT=" + port + ")))",
		}, req, tt.service)
	}
}

func TestTNSRefusalWithoutData(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		if _, ok := readTNSConnect(c); ok {
			c.Write(tnsPacket(tnsRefuse, []byte{0x22, 0, 0, 0}))
		}
	})
	r := probeDBAt(t, addr, config.CheckTNS, nil)
	assert.False(t, r.OK)
	assert.Equal(t, "tns: the listener refused the connection", r.Err)
}

// The mssql check is tested against a server written here from [MS-TDS]:
// SQL Server has no Debian package.

// tdsServe reads a PRELOGIN packet, checks it, and answers with a
// PRELOGIN response of SQL Server 2022 (16.0.1000): VERSION, ENCRYPTION
// (not supported), INSTOPT, THREADID (empty), MARS.
func tdsServe(got chan<- []byte) func(c net.Conn) {
	return func(c net.Conn) {
		hdr := make([]byte, 8)
		if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != tdsPrelogin || hdr[1] != tdsEOM {
			return
		}
		payload := make([]byte, int(binary.BigEndian.Uint16(hdr[2:]))-8)
		if _, err := io.ReadFull(c, payload); err != nil {
			return
		}
		got <- payload
		answer := []byte{
			0x00, 0x00, 0x1a, 0x00, 0x06, // VERSION at 26, 6 bytes
			0x01, 0x00, 0x20, 0x00, 0x01, // ENCRYPTION at 32
			0x02, 0x00, 0x21, 0x00, 0x01, // INSTOPT at 33
			0x03, 0x00, 0x22, 0x00, 0x00, // THREADID at 34, empty
			0x04, 0x00, 0x22, 0x00, 0x01, // MARS at 34
			0xff,
			0x10, 0x00, 0x03, 0xe8, 0x00, 0x00, // 16.0.1000, sub-build 0
			0x02, // ENCRYPT_NOT_SUP
			0x00, // the default instance
			0x00, // MARS off
		}
		c.Write(append([]byte{tdsTabularResult, tdsEOM, 0, byte(8 + len(answer)), 0, 0, 1, 0}, answer...))
	}
}

func TestMSSQLCheck(t *testing.T) {
	got := make(chan []byte, 1)
	r := probeDBAt(t, fakeServer(t, tdsServe(got)), config.CheckMSSQL, nil)
	assert.True(t, r.OK, r.Err)
	assert.Equal(t, []byte{
		0x00, 0x00, 0x1a, 0x00, 0x06,
		0x01, 0x00, 0x20, 0x00, 0x01,
		0x02, 0x00, 0x21, 0x00, 0x01,
		0x03, 0x00, 0x22, 0x00, 0x04,
		0x04, 0x00, 0x26, 0x00, 0x01,
		0xff,
		0, 0, 0, 0, 0, 0, 0x02, 0x00, 0, 0, 0, 0, 0x00,
	}, <-got)

	// A tabular result that is not a PRELOGIN answer.
	addr := fakeServer(t, func(c net.Conn) {
		io.ReadFull(c, make([]byte, 8+39))
		c.Write([]byte{tdsTabularResult, tdsEOM, 0, 12, 0, 0, 1, 0, 0x00, 0x00, 0x40, 0x00})
	})
	r = probeDBAt(t, addr, config.CheckMSSQL, nil)
	assert.False(t, r.OK)
	assert.Equal(t, `not a SQL Server: it answered "\x04\x01\x00\f\x00\x00\x01\x00\x00\x00@\x00"`, r.Err)
}

func TestServerText(t *testing.T) {
	assert.Equal(t, "a b", serverText([]byte(" a\nb\r\n")))
	assert.Equal(t, strings.Repeat("é", 100), serverText(bytes.Repeat([]byte("é"), 100)))
	assert.Equal(t, strings.Repeat("x", 199)+"?...", serverText(append(bytes.Repeat([]byte("x"), 199), bytes.Repeat([]byte("é"), 10)...)))

	assert.Equal(t, `"HTTP/1.1 200 OK\r\né"`, quoteBytes([]byte("HTTP/1.1 200 OK\r\né")))
	assert.Equal(t, `"`+strings.Repeat(`\xb1`, 49)+`"...`, quoteBytes(bytes.Repeat([]byte{0xb1}, 300)))
}

// FuzzDatabaseChecks feeds every database check any answer: none may
// panic, hang past its timeout, or give a last error that is not one
// short line.
func FuzzDatabaseChecks(f *testing.F) {
	types := []string{config.CheckPostgres, config.CheckMySQL, config.CheckRedis, config.CheckTNS, config.CheckMSSQL}
	f.Add(uint8(0), pgErrorMessage("57P03", "the database system is starting up", ""))
	f.Add(uint8(0), pgMessage('R', "\x00\x00\x00\x0a", "SCRAM-SHA-256\x00\x00"))
	f.Add(uint8(1), mysqlGreeting)
	f.Add(uint8(1), mysqlPacketBytes(0, "\xff\x10\x04#08004Too many connections"))
	f.Add(uint8(2), []byte("-LOADING Redis is loading the dataset in memory\r\n"))
	f.Add(uint8(3), tnsRefusePacket("(DESCRIPTION=(ERR=12514))"))
	f.Add(uint8(3), tnsPacket(tnsRedirect, []byte{0, 3, 'a', 'b', 'c'}))
	f.Add(uint8(4), []byte{tdsTabularResult, tdsEOM, 0, 14, 0, 0, 1, 0, 0, 0, 5, 0, 6, 0xff})
	f.Fuzz(func(t *testing.T, typ uint8, answer []byte) {
		client, server := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, server) }()
		go func() { defer wg.Done(); server.Write(answer); server.Close() }()
		defer wg.Wait()
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c := config.Check{Type: types[int(typ)%len(types)], ServiceName: "ORCL", Timeout: time.Second}
		start := time.Now()
		err := converse(ctx, client, Target{Host: "192.0.2.1", Port: 1521, Check: c})
		if time.Since(start) > 3*time.Second {
			t.Fatalf("the check took %s", time.Since(start))
		}
		var v *verdict
		if errors.As(err, &v) && (v.msg == "" || strings.ContainsAny(v.msg, "\r\n") || len(v.msg) > 600) {
			t.Fatalf("last error %q", v.msg)
		}
	})
}
