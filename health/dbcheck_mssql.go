package health

import (
	"encoding/binary"
)

// The mssql check sends a TDS PRELOGIN message and reads the server's
// answer, as laid out in Microsoft's [MS-TDS] Tabular Data Stream
// Protocol: 2.2.3.1 "Packet Header", 2.2.6.5 "PRELOGIN" and 3.2.5.1 (the
// client after sending PRELOGIN). It is the first thing a client sends;
// the server answers before anyone logs in.
//
//   - A PRELOGIN answer (a tabular result packet holding the option list,
//     with the server's VERSION) means up: a SQL Server, or an Azure SQL
//     gateway, is there.
//   - Anything else means down. SQL Server says nothing of a database's
//     state before a login; this check tells a TDS server from a port
//     that merely accepts, not more.

// TDS packet types, PRELOGIN option tokens and the header's status bit.
const (
	tdsTabularResult = 0x04
	tdsPrelogin      = 0x12
	tdsEOM           = 0x01 // status: end of message

	tdsOptVersion    = 0x00
	tdsOptEncryption = 0x01
	tdsOptInstance   = 0x02
	tdsOptThreadID   = 0x03
	tdsOptMARS       = 0x04
	tdsOptTerminator = 0xff

	tdsEncryptNotSup = 0x02 // the client cannot encrypt
)

// tdsPreloginPacket is the PRELOGIN message in one packet: the header
// (UB1 type, UB1 status, UB2 length with the header, UB2 SPID, UB1 packet
// id, UB1 window), then the option tokens (UB1 token, UB2 offset from the
// payload's start, UB2 length), 0xff, and the options' data: VERSION (UB4
// version, UB2 sub-build; zero), ENCRYPTION (not supported), INSTOPT (the
// default instance: an empty string), THREADID (zero), MARS (off).
func tdsPreloginPacket() []byte {
	opts := []struct {
		token byte
		data  []byte
	}{
		{tdsOptVersion, make([]byte, 6)},
		{tdsOptEncryption, []byte{tdsEncryptNotSup}},
		{tdsOptInstance, []byte{0}},
		{tdsOptThreadID, make([]byte, 4)},
		{tdsOptMARS, []byte{0}},
	}
	var list, data []byte
	offset := 5*len(opts) + 1
	for _, o := range opts {
		list = append(list, o.token)
		list = binary.BigEndian.AppendUint16(list, uint16(offset+len(data)))
		list = binary.BigEndian.AppendUint16(list, uint16(len(o.data)))
		data = append(data, o.data...)
	}
	payload := append(append(list, tdsOptTerminator), data...)
	b := []byte{tdsPrelogin, tdsEOM}
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0, 1, 0)
	return append(b, payload...)
}

func probeMSSQL(s *session, _ Target) error {
	s.await("a SQL Server", "answer to the TDS pre-login message")
	if err := s.write(tdsPreloginPacket()); err != nil {
		return err
	}
	hdr, err := s.read(8)
	if err != nil {
		return err
	}
	length := int(binary.BigEndian.Uint16(hdr[2:]))
	if hdr[0] != tdsTabularResult || length <= 8 || length > maxAnswer {
		return s.unexpected()
	}
	payload, err := s.read(length - 8)
	if err != nil {
		return err
	}
	if !tdsHasVersion(payload) {
		return s.unexpected()
	}
	return nil
}

// tdsHasVersion reports whether a PRELOGIN answer's option list is well
// formed, ends with 0xff, and has a VERSION of 6 bytes inside the payload.
func tdsHasVersion(p []byte) bool {
	version := false
	for i := 0; i < len(p); i += 5 {
		if p[i] == tdsOptTerminator {
			return version
		}
		if i+5 > len(p) {
			return false
		}
		off, n := int(binary.BigEndian.Uint16(p[i+1:])), int(binary.BigEndian.Uint16(p[i+3:]))
		if off+n > len(p) {
			return false
		}
		if p[i] == tdsOptVersion && n >= 6 {
			version = true
		}
	}
	return false
}
