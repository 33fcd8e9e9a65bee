package health

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The mysql check reads the server's first packet, as laid out in the
// MySQL Source Code Documentation, "Client/Server Protocol": "MySQL
// Packets" (page_protocol_basic_packets), "Protocol::HandshakeV10",
// "Protocol::HandshakeResponse41", "ERR_Packet" and "COM_QUIT"; MariaDB
// speaks the same (MariaDB Knowledge Base, "Connection").
//
//   - The initial handshake packet (protocol version 10) means up.
//   - An error packet means down, with its code and message: the server
//     sends one instead of the handshake when it takes no more
//     connections (1040 "Too many connections"), when it blocks the
//     prober's host (1129 "Host ... is blocked because of many connection
//     errors"), or does not let it in (1130 "Host ... is not allowed to
//     connect").
//
// The handshake decides. The check then finishes the handshake as the
// user "tpdns" with no password, and reads the server's answer, usually
// "Access denied": a connection closed in the middle of the handshake is
// a connection error to the server, and max_connect_errors of them in a
// row (100 by default) get the prober's host blocked, which a failed login
// does not do. A user "tpdns" with no password and no privileges makes it
// a login, and keeps "Access denied" out of the server's log.

// MySQL capability flags (Capabilities Flags in the protocol
// documentation).
const (
	mysqlLongPassword     = 0x00000001
	mysqlProtocol41       = 0x00000200
	mysqlSecureConnection = 0x00008000
)

// mysqlComQuit is COM_QUIT in its own packet, sequence 0.
var mysqlComQuit = []byte{1, 0, 0, 0, 0x01}

// mysqlPacket reads one packet: a 3-byte little-endian payload length, a
// sequence number, the payload.
func mysqlPacket(s *session) (seq byte, payload []byte, err error) {
	hdr, err := s.read(4)
	if err != nil {
		return 0, nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 || n > maxAnswer {
		return 0, nil, s.unexpected()
	}
	payload, err = s.read(n)
	return hdr[3], payload, err
}

func probeMySQL(s *session, _ Target) error {
	s.await("a MySQL server", "MySQL handshake")
	seq, p, err := mysqlPacket(s)
	if err != nil {
		return err
	}
	switch {
	case seq == 0 && len(p) > 0 && p[0] == 0xff:
		return mysqlError(p)
	case seq != 0 || len(p) == 0 || p[0] != 10:
		return s.unexpected()
	}
	// HandshakeV10: protocol version 10, the server's version ended by a
	// zero byte, Int4 connection id, 8 bytes of auth-plugin-data, a
	// filler, the lower 2 bytes of the capability flags, and more.
	end := bytes.IndexByte(p[1:], 0)
	if end < 0 || len(p) < 1+end+1+4+8+1+2 {
		return s.unexpected()
	}
	caps := binary.LittleEndian.Uint16(p[1+end+1+4+8+1:])
	if caps&mysqlProtocol41 != 0 && caps&mysqlSecureConnection != 0 {
		mysqlLogin(s)
	}
	return nil
}

// mysqlLogin finishes the handshake, see above; what comes of it does not
// change the verdict. HandshakeResponse41: Int4 capability flags, Int4 max
// packet size, Int1 character set, 23 zero bytes, the user name ended by a
// zero byte, the auth response with a 1-byte length (none), in packet 1.
func mysqlLogin(s *session) {
	p := binary.LittleEndian.AppendUint32(nil, mysqlLongPassword|mysqlProtocol41|mysqlSecureConnection)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 33) // utf8_general_ci
	p = append(p, make([]byte, 23)...)
	p = append(p, probeUser...)
	p = append(p, 0, 0)
	seq := byte(1)
	for range 3 {
		if s.write(append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)) != nil {
			return
		}
		next, reply, err := mysqlPacket(s)
		if err != nil || len(reply) == 0 {
			return
		}
		switch reply[0] {
		case 0x00: // OK: logged in
			_ = s.write(mysqlComQuit)
			return
		case 0xfe, 0x01: // another authentication method, or more of this one: no password either
			seq, p = next+1, nil
		default: // an error, "Access denied"
			return
		}
	}
}

// mysqlError words an ERR_Packet: 0xff, Int2 error code, then, in the
// 4.1 protocol, "#" and a 5-character SQLSTATE, then the message. Its
// form is the mysql client's: "mysql: ERROR 1040 (08004): Too many
// connections".
func mysqlError(p []byte) error {
	if len(p) < 3 {
		return verdictf("mysql: an error packet without a code")
	}
	code, msg, state := binary.LittleEndian.Uint16(p[1:]), p[3:], ""
	if len(msg) >= 6 && msg[0] == '#' {
		state, msg = fmt.Sprintf(" (%s)", msg[1:6]), msg[6:]
	}
	return verdictf("mysql: ERROR %d%s: %s", code, state, serverText(msg))
}
