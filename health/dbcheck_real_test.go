package health

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/test/freeport"
)

// Tests of the database checks against the real servers that
// dbservers_test.go starts: each check up against its server, down
// against a listener that is no database and against the other servers,
// and down for what the server itself can be brought to say.

// waitResult probes addr until the result is want, for at most 20 seconds,
// and returns the last result.
func waitResult(t *testing.T, addr, typ string, want func(Result) bool, edit func(*config.Check)) Result {
	t.Helper()
	var r Result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r = probeDBAt(t, addr, typ, edit); want(r) {
			break
		}
	}
	return r
}

// errIs accepts a result that failed with err.
func errIs(err string) func(Result) bool { return func(r Result) bool { return r.Err == err } }

// answered accepts a result that is not a failure to connect.
func answered(r Result) bool { return r.OK || !strings.Contains(r.Err, "connection refused") }

func TestPostgresCheckAgainstPostgreSQL(t *testing.T) {
	primary, standby := pgServer.addr(t, 0), pgServer.addr(t, 1)

	// The primary asks for a password (scram-sha-256): up.
	r := probeDBAt(t, primary, config.CheckPostgres, nil)
	assert.True(t, r.OK, r.Err)

	// The standby is in recovery with hot_standby off: down with 57P03,
	// where a tcp check sees a port that accepts.
	r = probeDBAt(t, standby, config.CheckPostgres, nil)
	assert.False(t, r.OK)
	assert.Equal(t, "postgres: the database system is not accepting connections: Hot standby mode is disabled. (SQLSTATE 57P03)", r.Err)
	r = probeDBAt(t, standby, config.CheckTCP, nil)
	assert.True(t, r.OK, r.Err)

	r = probeDBAt(t, fakeServer(t, httpGreeter), config.CheckPostgres, nil)
	assert.False(t, r.OK)
	assert.True(t, strings.HasPrefix(r.Err, `not a PostgreSQL server: it answered "HTTP/1.1 400 Bad Request\r\n`), r.Err)
}

func TestMySQLCheckAgainstMariaDB(t *testing.T) {
	addr := mysqlServer.addr(t, 0)

	r := probeDBAt(t, addr, config.CheckMySQL, nil)
	assert.True(t, r.OK, r.Err)

	r = probeDBAt(t, fakeServer(t, httpGreeter), config.CheckMySQL, nil)
	assert.False(t, r.OK)
	assert.True(t, strings.HasPrefix(r.Err, `not a MySQL server: it answered "HTTP/1.1 400 Bad Request\r\n`), r.Err)

	t.Run("too many connections", func(t *testing.T) {
		// The server takes max_connections (10) connections and one more
		// for an administrator; each counts from the moment it is
		// accepted. Hold them all.
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		full := false
		for range 20 {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			held = append(held, c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			hdr := make([]byte, 5)
			_, err = c.Read(hdr)
			require.NoError(t, err)
			if full = hdr[4] == 0xff; full {
				break
			}
		}
		require.True(t, full, "the server never turned a connection away")
		r := probeDBAt(t, addr, config.CheckMySQL, nil)
		assert.False(t, r.OK)
		assert.Equal(t, "mysql: ERROR 1040: Too many connections", r.Err)

		for _, c := range held {
			c.Close()
		}
		held = nil
		r = waitResult(t, addr, config.CheckMySQL, up, nil)
		assert.True(t, r.OK, r.Err)
	})

	t.Run("host blocked", func(t *testing.T) {
		// The server blocks a host after max_connect_errors (2)
		// connections in a row that end in the middle of the handshake;
		// it keeps no count for 127.0.0.1, so these come from 127.0.0.2,
		// which a user of the server lets in. The check's probes, which
		// finish the handshake, never get the host blocked ...
		for range 5 {
			assert.NoError(t, converseFrom(t, "127.0.0.2", addr, config.CheckMySQL))
		}
		// ... connections that hang up after the server's handshake do.
		for range 2 {
			c := dialFrom(t, "127.0.0.2", addr)
			_, err := c.Read(make([]byte, 100))
			require.NoError(t, err)
			c.Close()
		}
		blocked := "mysql: ERROR 1129: Host '127.0.0.2' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'"
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err = converseFrom(t, "127.0.0.2", addr, config.CheckMySQL); err != nil {
				break
			}
		}
		require.Error(t, err)
		assert.Equal(t, blocked, err.Error())
	})
}

// dialFrom connects to addr from the local address given.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// converseFrom runs a check's conversation over a connection from the
// local address given.
func converseFrom(t *testing.T, local, addr, typ string) error {
	t.Helper()
	c := dialFrom(t, local, addr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return converse(ctx, c, target(t, addr, check(typ)))
}

// redisCommands sends commands on one connection and returns the first
// line of each reply.
func redisCommands(addr string, cmds ...[]string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var req []byte
	for _, cmd := range cmds {
		req = append(req, respCommand(cmd...)...)
	}
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var replies []string
	for range cmds {
		line, err := r.ReadString('\n')
		if err != nil {
			return replies, err
		}
		replies = append(replies, strings.TrimRight(line, "\r\n"))
	}
	return replies, nil
}

func TestRedisCheckAgainstRedis(t *testing.T) {
	addr := redisServer.addr(t, 0)

	r := probeDBAt(t, addr, config.CheckRedis, nil)
	assert.True(t, r.OK, r.Err)

	r = probeDBAt(t, fakeServer(t, httpGreeter), config.CheckRedis, nil)
	assert.False(t, r.OK)
	assert.True(t, strings.HasPrefix(r.Err, `not a Redis server: it answered "HTTP/1.1 400 Bad Request\r\n`), r.Err)

	t.Run("password", func(t *testing.T) {
		replies, err := redisCommands(addr, []string{"CONFIG", "SET", "requirepass", "s3cret"})
		require.NoError(t, err)
		assert.Equal(t, []string{"+OK"}, replies)
		defer func() {
			replies, err := redisCommands(addr, []string{"AUTH", "s3cret"}, []string{"CONFIG", "SET", "requirepass", ""})
			require.NoError(t, err)
			assert.Equal(t, []string{"+OK", "+OK"}, replies)
		}()
		replies, err = redisCommands(addr, []string{"PING"})
		require.NoError(t, err)
		assert.Equal(t, []string{"-NOAUTH Authentication required."}, replies)
		r := probeDBAt(t, addr, config.CheckRedis, nil)
		assert.True(t, r.OK, r.Err)
	})

	t.Run("busy", func(t *testing.T) {
		// A script that never ends makes the server busy after
		// lua-time-limit (100ms); SCRIPT KILL ends it.
		script, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer script.Close()
		_, err = script.Write(respCommand("EVAL", "while true do end", "0"))
		require.NoError(t, err)
		busy := "redis: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
		r := waitResult(t, addr, config.CheckRedis, errIs(busy), nil)
		assert.Equal(t, busy, r.Err)
		replies, err := redisCommands(addr, []string{"SCRIPT", "KILL"})
		require.NoError(t, err)
		assert.Equal(t, []string{"+OK"}, replies)
		r = waitResult(t, addr, config.CheckRedis, up, nil)
		assert.True(t, r.OK, r.Err)
	})

	bin, err := findBinary("redis-server")
	require.NoError(t, err)

	t.Run("loading", func(t *testing.T) {
		// A server loading its dataset answers LOADING until it is done.
		// key-load-delay (Redis's own hook for its tests) makes loading
		// 1,000 keys of 1 KiB take 10 seconds, and with
		// loading-process-events-interval-bytes the server answers while
		// it loads (every 32 KiB or so it reads).
		loadAddr := "127.0.0.1:" + freeport.Port(t)
		p, err := redisServer.spawnRedis("loading", bin, loadAddr)
		require.NoError(t, err)
		require.True(t, waitResult(t, loadAddr, config.CheckRedis, up, nil).OK)
		var cmds [][]string
		for i := range 1000 {
			cmds = append(cmds, []string{"SET", fmt.Sprint("key", i), strings.Repeat("v", 1024)})
		}
		cmds = append(cmds, []string{"SAVE"})
		_, err = redisCommands(loadAddr, cmds...)
		require.NoError(t, err)
		p.stop()

		p, err = redisServer.spawnRedis("loading", bin, loadAddr, "--key-load-delay", "10000", "--loading-process-events-interval-bytes", "1024")
		require.NoError(t, err)
		defer p.kill() // it would finish loading first
		r := waitResult(t, loadAddr, config.CheckRedis, answered, nil)
		assert.Equal(t, "redis: LOADING Redis is loading the dataset in memory", r.Err)
	})

	t.Run("master down", func(t *testing.T) {
		// A replica whose master is gone, told not to serve stale data.
		replicaAddr, masterPort := "127.0.0.1:"+freeport.Port(t), freeport.Port(t)
		p, err := redisServer.spawnRedis("replica", bin, replicaAddr, "--replicaof", "127.0.0.1", masterPort, "--replica-serve-stale-data", "no")
		require.NoError(t, err)
		defer p.stop()
		r := waitResult(t, replicaAddr, config.CheckRedis, answered, nil)
		assert.Equal(t, "redis: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", r.Err)
	})
}

// TestDatabaseChecksAgainstEachOther probes each real server with the
// checks of the others: every one is down, and says why.
func TestDatabaseChecksAgainstEachOther(t *testing.T) {
	pg, my, redis := pgServer.addr(t, 0), mysqlServer.addr(t, 0), redisServer.addr(t, 0)
	prefix := func(p, contains string) func(*testing.T, string) {
		return func(t *testing.T, err string) {
			assert.True(t, strings.HasPrefix(err, p), err)
			assert.Contains(t, err, contains)
		}
	}
	is := func(want string) func(*testing.T, string) {
		return func(t *testing.T, err string) { assert.Equal(t, want, err) }
	}
	tests := []struct {
		typ, addr, name string
		check           func(*testing.T, string)
	}{
		// Answers and hang-ups come with the probe's usual timeout (5s, for
		// a loaded machine), waits for nothing with shortTimeout.
		// MariaDB speaks first: its handshake is the answer.
		{config.CheckPostgres, my, "postgres on mariadb", prefix(`not a PostgreSQL server: it answered "d\x00\x00\x00\n5.5.5-`, "MariaDB")},
		{config.CheckRedis, my, "redis on mariadb", prefix(`not a Redis server: it answered "d\x00\x00\x00\n5.5.5-`, "MariaDB")},
		// PostgreSQL and Redis wait for a client that speaks first.
		{config.CheckMySQL, redis, "mysql on redis", is("no MySQL handshake within 500ms")},
		{config.CheckMySQL, pg, "mysql on postgres", is("no MySQL handshake within 500ms")},
		{config.CheckPostgres, redis, "postgres on redis", is("no answer to the PostgreSQL startup message within 500ms")},
		// PostgreSQL hangs up on a startup packet of a length it does not
		// take.
		{config.CheckRedis, pg, "redis on postgres", is("the connection was closed with no answer to the Redis PING")},
		{config.CheckTNS, pg, "tns on postgres", is("the connection was closed with no answer to the TNS connect packet")},
		{config.CheckMSSQL, pg, "mssql on postgres", is("the connection was closed with no answer to the TDS pre-login message")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edit func(*config.Check)
			if strings.Contains(tt.name, "on redis") || tt.name == "mysql on postgres" {
				edit = shortTimeout
			}
			r := probeDBAt(t, tt.addr, tt.typ, edit)
			assert.False(t, r.OK)
			tt.check(t, r.Err)
		})
	}
}
