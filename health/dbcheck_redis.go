package health

import (
	"bytes"
	"strings"
)

// The redis check sends PING, as a RESP array of one bulk string, and
// reads the reply line (Redis documentation, "Redis serialization protocol
// specification"; the commands' replies in "PING"; the error prefixes in
// the Redis source, server.c and the shared error objects).
//
//   - "+PONG" means up, and so does an error that refuses this client
//     rather than the service: "-NOAUTH" (a password is required) and
//     "-NOPERM" (the default user may not PING).
//   - "-LOADING" (loading the dataset into memory), "-MASTERDOWN" (a
//     replica without its master that must not serve stale data) and
//     "-BUSY" (a script or function running too long) mean down, and so
//     does any other error, such as "-DENIED" (protected mode), with its
//     message.

// redisPing is PING as a RESP array: what every client sends.
const redisPing = "*1\r\n$4\r\nPING\r\n"

// maxRedisLine bounds the reply line; Redis's protected-mode message, the
// longest it has for PING, is about 900 bytes.
const maxRedisLine = 4 << 10

func probeRedis(s *session, _ Target) error {
	s.await("a Redis server", "answer to the Redis PING")
	if err := s.write([]byte(redisPing)); err != nil {
		return err
	}
	line, err := s.readLine(maxRedisLine)
	if err != nil {
		return err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	switch {
	case string(line) == "+PONG":
		return nil
	case len(line) > 1 && line[0] == '-':
		msg := string(line[1:])
		prefix, _, _ := strings.Cut(msg, " ")
		if prefix == "NOAUTH" || prefix == "NOPERM" {
			return nil
		}
		return verdictf("redis: %s", serverText(line[1:]))
	}
	return s.unexpected()
}
