package health

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tpdns/tpdns/config"
)

// The database checks speak just enough of a database's protocol, with no
// credentials, to tell a database that serves from a port that merely
// accepts: a PostgreSQL startup message, the MySQL handshake, a Redis PING,
// an Oracle TNS connect, a SQL Server pre-login. Each protocol is in its
// own file (dbcheck_*.go), with the documents its packets follow. What a
// check finds about the server, up or down, is a *verdict; its text is the
// endpoint's last error as it stands.

// probeUser is the user name the checks that need one give. No password
// goes with it: the server's answer to the attempt is what counts.
const probeUser = "tpdns"

// maxAnswer bounds what a check reads of any one answer.
const maxAnswer = 64 << 10

// maxQuote is how much of an unexpected answer, or of a server's own
// message, goes into a last error.
const maxQuote = 200

// verdict is what a database check found out about the server, as one
// line for the endpoint's last error, used as it is.
type verdict struct{ msg string }

func (v *verdict) Error() string { return v.msg }

func verdictf(format string, args ...any) error {
	return &verdict{msg: fmt.Sprintf(format, args...)}
}

// dbProbes are the conversations of the database checks, by check type.
// Each returns nil when the server serves, a *verdict when it answered
// otherwise, or the error that cut the conversation short.
var dbProbes = map[string]func(s *session, t Target) error{
	config.CheckPostgres: probePostgres,
	config.CheckMySQL:    probeMySQL,
	config.CheckRedis:    probeRedis,
	config.CheckTNS:      probeTNS,
	config.CheckMSSQL:    probeMSSQL,
}

// probeDB connects to t and holds the conversation of its check type, all
// within ctx (which carries the check's timeout).
func (p *prober) probeDB(ctx context.Context, t Target) error {
	c, err := p.dial(ctx, "tcp", t.addr())
	if err != nil {
		return err
	}
	// Closed with a FIN, not a reset as the tcp check does: a database
	// logs a reset as an error of its own.
	defer c.Close()
	return converse(ctx, c, t)
}

// converse holds the conversation of t's check type on c.
func converse(ctx context.Context, c net.Conn, t Target) error {
	talk := dbProbes[t.Check.Type]
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// The checker stopping ends a conversation at once.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s := &session{ctx: ctx, conn: c, r: bufio.NewReaderSize(c, 4096), timeout: t.Check.Timeout}
	return talk(s, t)
}

// session is one conversation with a server: what was sent and read so
// far, so that an unexpected answer can be shown, or told an echo.
type session struct {
	ctx     context.Context
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	// server names what should answer, "a PostgreSQL server"; expect is
	// what is awaited, "answer to the PostgreSQL startup message".
	server, expect string
	sent, got      []byte
}

// await says what the session waits for next, for its errors.
func (s *session) await(server, expect string) { s.server, s.expect = server, expect }

func (s *session) write(b []byte) error {
	if len(s.sent) < maxQuote {
		s.sent = append(s.sent, b[:min(len(b), maxQuote-len(s.sent))]...)
	}
	_, err := s.conn.Write(b)
	if err != nil {
		return s.readError(err)
	}
	return nil
}

// read reads exactly n bytes of the answer.
func (s *session) read(n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := io.ReadFull(s.r, b)
	s.keep(b[:m])
	if err != nil {
		return nil, s.readError(err)
	}
	return b, nil
}

// readLine reads up to and with the next "\n", at most max bytes.
func (s *session) readLine(max int) ([]byte, error) {
	var line []byte
	for {
		b, err := s.r.ReadSlice('\n')
		line = append(line, b...)
		s.keep(b)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull) && len(line) < max:
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, s.unexpected()
		}
		return nil, s.readError(err)
	}
}

func (s *session) keep(b []byte) {
	if len(s.got) < maxQuote {
		s.got = append(s.got, b[:min(len(b), maxQuote-len(s.got))]...)
	}
}

// readError turns an error reading the answer into what it says about the
// server: nothing in time, a closed connection, or half an answer.
func (s *session) readError(err error) error {
	if cerr := context.Cause(s.ctx); cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
		return cerr // the checker stops: the result is dropped
	}
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)
	closed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	switch {
	case !timedOut && !closed:
		return err
	case len(s.got) > 0:
		return s.unexpected()
	case timedOut:
		return verdictf("no %s within %s", s.expect, s.timeout)
	default:
		return verdictf("the connection was closed with no %s", s.expect)
	}
}

// unexpected says that what answered is not the server the check is for,
// showing what it answered: the start of it, with whatever else has
// arrived, or that it sent back what it was sent.
func (s *session) unexpected() error {
	got := s.got
	if n := s.r.Buffered(); n > 0 && len(got) < maxQuote {
		more, _ := s.r.Peek(min(n, maxQuote-len(got)))
		got = append(got[:len(got):len(got)], more...)
	}
	if len(got) > 0 && len(s.sent) > 0 && (bytes.HasPrefix(s.sent, got) || bytes.HasPrefix(got, s.sent)) {
		return verdictf("not %s: it echoed what it was sent", s.server)
	}
	return verdictf("not %s: it answered %s", s.server, quoteBytes(got))
}

// quoteBytes quotes what a server sent as Go does, cut to about maxQuote
// characters of the quoted form, at a whole character or escape.
func quoteBytes(b []byte) string {
	out := []byte{'"'}
	for i := 0; i < len(b); {
		_, size := utf8.DecodeRune(b[i:])
		q := strconv.Quote(string(b[i : i+size]))
		if len(out)+len(q)-2 > maxQuote {
			return string(out) + `"...`
		}
		out, i = append(out, q[1:len(q)-1]...), i+size
	}
	return string(append(out, '"'))
}

// serverText is a message of the server's own for a last error: cut to
// maxQuote bytes, and without control characters, which would end the
// line (or a TXT string) early.
func serverText(b []byte) string {
	out := make([]byte, 0, min(len(b), maxQuote))
	for _, c := range b {
		if len(out) == maxQuote {
			return strings.ToValidUTF8(string(out), "?") + "..."
		}
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		out = append(out, c)
	}
	return strings.ToValidUTF8(string(bytes.TrimSpace(out)), "?")
}
