package health

import (
	"encoding/binary"
	"strings"
)

// The postgres check sends a StartupMessage for the user "tpdns" and reads
// the server's first answer, as laid out in the PostgreSQL documentation,
// "Frontend/Backend Protocol": section 55.2.1 "Start-up" and 55.7
// "Message Formats" (StartupMessage, Authentication*, ErrorResponse,
// NegotiateProtocolVersion), and Appendix A "PostgreSQL Error Codes".
//
//   - An authentication request (any 'R' message) means up: the postmaster
//     took the connection and a backend is asking who we are.
//   - An ErrorResponse of class 28 (invalid authorization: a password
//     error, no pg_hba.conf entry, no such role) or 3D000 (no such
//     database) means up too: the server answers to credentials, which it
//     does only when it accepts connections.
//   - Any other ErrorResponse means down, with its message: above all
//     57P03 (cannot_connect_now: the database system is starting up,
//     shutting down, or in recovery without hot standby), also 53300 (too
//     many clients).

const (
	pgProtocol3 = 3 << 16 // protocol version 3.0: the major in the high 16 bits
	// pgTerminate is the Terminate message: 'X', length 4.
	pgTerminate = "X\x00\x00\x00\x04"
)

// pgStartup is the StartupMessage: Int32 length (itself included), Int32
// protocol version, then name and value strings, each ended by a zero
// byte, and a final zero byte. The database defaults to the user's name.
func pgStartup() []byte {
	var params []byte
	for _, s := range []string{"user", probeUser, "application_name", "tpdns-health-check", ""} {
		params = append(params, s...)
		params = append(params, 0)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	b = binary.BigEndian.AppendUint32(b, pgProtocol3)
	return append(b, params...)
}

func probePostgres(s *session, _ Target) error {
	s.await("a PostgreSQL server", "answer to the PostgreSQL startup message")
	if err := s.write(pgStartup()); err != nil {
		return err
	}
	// A server may send NegotiateProtocolVersion or a notice before its
	// verdict; a few messages are enough.
	for range 4 {
		// Every backend message: Byte1 type, Int32 length (itself
		// included, not the type), the body.
		hdr, err := s.read(5)
		if err != nil {
			return err
		}
		typ, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
		if !strings.ContainsRune("REvN", rune(typ)) || n < 4 || n > maxAnswer {
			return s.unexpected()
		}
		body, err := s.read(int(n - 4))
		if err != nil {
			return err
		}
		switch typ {
		case 'R': // Authentication*: Int32 what is asked, 0 for AuthenticationOk
			if len(body) < 4 {
				return s.unexpected()
			}
			if binary.BigEndian.Uint32(body) == 0 {
				// Trusted and logged in: leave as a client does.
				_ = s.write([]byte(pgTerminate))
			}
			return nil
		case 'E':
			return pgError(pgFields(body))
		}
	}
	return s.unexpected()
}

// pgFields reads the fields of an ErrorResponse or NoticeResponse: a Byte1
// code and a string each, ended by a zero byte. Unknown codes are kept.
func pgFields(b []byte) map[byte]string {
	f := make(map[byte]string)
	for len(b) > 1 {
		code := b[0]
		v, rest, ok := strings.Cut(string(b[1:]), "\x00")
		if !ok {
			break
		}
		f[code], b = v, []byte(rest)
	}
	return f
}

// pgError judges an ErrorResponse by its SQLSTATE ('C'), and words it with
// the message ('M') and the detail ('D'): "postgres: the database system
// is starting up (SQLSTATE 57P03)".
func pgError(f map[byte]string) error {
	code := f['C']
	if strings.HasPrefix(code, "28") || code == "3D000" {
		return nil
	}
	msg := f['M']
	if d := f['D']; d != "" {
		msg += ": " + d
	}
	if code == "" {
		code = "none"
	}
	return verdictf("postgres: %s (SQLSTATE %s)", serverText([]byte(msg)), code)
}
