package health

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
)

// The tns check asks an Oracle listener to connect to the check's
// service_name and reads its first answer. Oracle does not publish the
// TNS packet layout as a specification; this follows the layout of the
// CONNECT packet and of the listener's answers as Oracle's own Python
// driver writes and reads them (python-oracledb, thin mode:
// impl/thin/messages/connect.pyx and packet handling in protocol.pyx,
// Apache 2.0), which is also what Wireshark's TNS dissector decodes:
//
//	header, 8 bytes: UB2 packet length (all of it), UB2 packet checksum
//	(0), UB1 packet type, UB1 flags, UB2 header checksum (0)
//	types: 1 CONNECT, 2 ACCEPT, 4 REFUSE, 5 REDIRECT, 6 DATA, 11 RESEND
//
//   - ACCEPT means up: the service's handler took the connection.
//   - RESEND means up: the handler asks for the connect again, as it does
//     after a hand-off.
//   - REDIRECT means up: the listener sends the client to a dispatcher or
//     to the listener of the instance that serves the service (RAC SCAN).
//   - REFUSE means down. Its data holds the listener's error as
//     "(ERR=12514)", which goes into the last error as ORA-12514 with
//     Oracle's message for it.
//
// A listener that accepts logs the connect in its listener.log and starts
// (or hands the connection to) a server process, which the check leaves at
// once: a connection an Oracle server may log as closed by its client.
// TCPS (TLS) listeners are not supported.

// TNS packet types.
const (
	tnsConnect  = 1
	tnsAccept   = 2
	tnsRefuse   = 4
	tnsRedirect = 5
	tnsData     = 6
	tnsResend   = 11
)

// The CONNECT packet's fields, as python-oracledb sends them.
const (
	tnsVersionDesired = 319
	tnsVersionMinimum = 300
	tnsServiceOptions = 0x0001 // GSO_DONT_CARE
	tnsSDU            = 8192
	tnsCharacteristic = 0x4f98 // NT protocol characteristics
	tnsNSIFlags       = 0x80 | 0x04
	tnsConnectOffset  = 74 // where the connect data begins, from the packet's start
	// tnsMaxConnectData is the most connect data a CONNECT packet
	// carries; more goes in a DATA packet after it.
	tnsMaxConnectData = 230
)

// tnsDescriptor is the connect descriptor of the check: the service, who
// asks, and the address asked.
func tnsDescriptor(t Target) string {
	return fmt.Sprintf("(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=%s)(CID=(PROGRAM=tpdns)(HOST=tpdns)(USER=%s)))(ADDRESS=(PROTOCOL=tcp)(HOST=%s)(PORT=%d)))",
		t.Check.ServiceName, probeUser, t.Host, t.Port)
}

// tnsHeader is a packet header with 2-byte lengths, as used before the
// connection has agreed on a version.
func tnsHeader(length int, typ byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(length))
	return append(b, 0, 0, typ, 0, 0, 0)
}

// tnsConnectPackets renders the CONNECT packet for the descriptor, and
// the DATA packet that carries the descriptor when it is too long for it.
func tnsConnectPackets(desc string) []byte {
	data := []byte(desc)
	inline := len(data) <= tnsMaxConnectData
	length := tnsConnectOffset
	if inline {
		length += len(data)
	}
	b := tnsHeader(length, tnsConnect)
	for _, v := range []uint16{tnsVersionDesired, tnsVersionMinimum, tnsServiceOptions, tnsSDU, tnsSDU,
		tnsCharacteristic, 0 /* line turnaround */, 1 /* value of 1 in hardware */, uint16(len(data)), tnsConnectOffset} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, 0) // max receivable connect data
	b = append(b, tnsNSIFlags, tnsNSIFlags)
	b = append(b, make([]byte, 24)...) // obsolete: trace items and unique connection id
	b = binary.BigEndian.AppendUint32(b, tnsSDU)
	b = binary.BigEndian.AppendUint32(b, tnsSDU)
	b = binary.BigEndian.AppendUint32(b, 0) // connect flags 1
	b = binary.BigEndian.AppendUint32(b, 0) // connect flags 2
	if inline {
		return append(b, data...)
	}
	// DATA: the header, UB2 data flags, the data.
	b = append(b, tnsHeader(8+2+len(data), tnsData)...)
	b = append(b, 0, 0)
	return append(b, data...)
}

func probeTNS(s *session, t Target) error {
	s.await("an Oracle listener", "answer to the TNS connect packet")
	if err := s.write(tnsConnectPackets(tnsDescriptor(t))); err != nil {
		return err
	}
	hdr, err := s.read(8)
	if err != nil {
		return err
	}
	// Before a version is agreed, the length takes 2 bytes; after, a
	// server may use 4 (and no packet checksum). Either way the type is
	// the fifth byte.
	length := int(binary.BigEndian.Uint16(hdr))
	if length == 0 {
		length = int(binary.BigEndian.Uint32(hdr))
	}
	typ := hdr[4]
	if length < 8 || length > maxAnswer || typ < tnsConnect || typ > 15 {
		return s.unexpected()
	}
	switch typ {
	case tnsAccept, tnsResend, tnsRedirect:
		return nil
	case tnsRefuse:
		body, err := s.read(length - 8)
		if err != nil {
			return err
		}
		return tnsRefusal(body)
	case tnsConnect:
		return s.unexpected() // what it was sent, back
	}
	return verdictf("tns: the listener answered the connect with a packet of type %d", typ)
}

// tnsErr finds the listener's error number in a refusal's data.
var tnsErr = regexp.MustCompile(`\(ERR=(\d+)\)`)

// tnsRefusal words a REFUSE packet's body: UB1 user reason, UB1 system
// reason, UB2 length of the refuse data, the data, a descriptor such as
// "(DESCRIPTION=(TMP=)(VSNNUM=0)(ERR=12514)(ERROR_STACK=...))".
func tnsRefusal(body []byte) error {
	var data []byte
	if len(body) >= 4 {
		n := int(binary.BigEndian.Uint16(body[2:]))
		data = body[4:min(len(body), 4+n)]
	}
	m := tnsErr.FindSubmatch(data)
	if m == nil {
		if len(data) == 0 {
			return verdictf("tns: the listener refused the connection")
		}
		return verdictf("tns: the listener refused the connection: %s", serverText(data))
	}
	code, _ := strconv.Atoi(string(m[1]))
	msg := fmt.Sprintf("tns: the listener refused the connection: ORA-%05d", code)
	if text, ok := oraMessages[code]; ok {
		msg += ": " + text
	}
	return verdictf("%s", msg)
}

// oraMessages are Oracle's messages for the errors a listener refuses a
// connect with (Oracle Database Error Messages, TNS-12500 to TNS-12529).
var oraMessages = map[int]string{
	12500: "TNS:listener failed to start a dedicated server process",
	12504: "TNS:listener was not given the SERVICE_NAME in CONNECT_DATA",
	12505: "TNS:listener does not currently know of SID given in connect descriptor",
	12514: "TNS:listener does not currently know of service requested in connect descriptor",
	12516: "TNS:listener could not find available handler with matching protocol stack",
	12518: "TNS:listener could not hand off client connection",
	12519: "TNS:no appropriate service handler found",
	12520: "TNS:listener could not find available handler for requested type of server",
	12521: "TNS:listener does not currently know of instance requested in connect descriptor",
	12526: "TNS:listener: all appropriate instances are in restricted mode",
	12527: "TNS:listener: all instances are in restricted mode or blocking new connections",
	12528: "TNS:listener: all appropriate instances are blocking new connections",
	12529: "TNS:connect request rejected based on current filtering rules",
}
