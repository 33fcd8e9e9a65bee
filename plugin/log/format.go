package log

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Formats, as CoreDNS defines them.
const (
	// CommonFormat is the common log format.
	CommonFormat = `{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}`
	// CombinedFormat adds the opcode.
	CombinedFormat = CommonFormat + ` "{>opcode}"`
	// DefaultFormat is used when a log line names none.
	DefaultFormat = CommonFormat
)

// format is a log format split into literal text and placeholders.
type format []segment

type segment struct {
	literal     string
	placeholder string // empty for a literal
}

var placeholders = map[string]bool{
	"{type}": true, "{name}": true, "{class}": true, "{proto}": true, "{remote}": true,
	"{port}": true, "{local}": true, "{size}": true, "{>id}": true, "{>opcode}": true,
	"{>do}": true, "{>bufsize}": true, "{rcode}": true, "{rsize}": true,
	"{duration}": true, "{>rflags}": true,
}

func containsPlaceholder(s string) bool { return strings.Contains(s, "{") }

// compile splits s into segments; an unknown placeholder is an error.
func compile(s string) (format, error) {
	s = strings.ReplaceAll(s, "{common}", CommonFormat)
	s = strings.ReplaceAll(s, "{combined}", CombinedFormat)
	var f format
	for s != "" {
		open := strings.Index(s, "{")
		if open < 0 {
			f = append(f, segment{literal: s})
			break
		}
		if open > 0 {
			f = append(f, segment{literal: s[:open]})
		}
		end := strings.Index(s[open:], "}")
		if end < 0 {
			return nil, fmt.Errorf("log format: unclosed placeholder %q", s[open:])
		}
		p := s[open : open+end+1]
		if !placeholders[p] {
			return nil, fmt.Errorf("log format: unknown placeholder %s", p)
		}
		f = append(f, segment{placeholder: p})
		s = s[open+end+1:]
	}
	return f, nil
}

// line renders the log line for request r and the reply rec recorded.
func (f format) line(rec *recorder, r *dns.Msg) string {
	var b strings.Builder
	for _, seg := range f {
		if seg.placeholder == "" {
			b.WriteString(seg.literal)
			continue
		}
		b.WriteString(value(seg.placeholder, rec, r))
	}
	return b.String()
}

func value(p string, rec *recorder, r *dns.Msg) string {
	q := r.Question[0]
	switch p {
	case "{type}":
		return dns.Type(q.Qtype).String()
	case "{name}":
		return strings.ToLower(dns.Name(q.Name).String())
	case "{class}":
		return dns.Class(q.Qclass).String()
	case "{proto}":
		if _, ok := rec.RemoteAddr().(*net.TCPAddr); ok {
			return "tcp"
		}
		return "udp"
	case "{remote}":
		host, _ := splitAddr(rec.RemoteAddr())
		return host
	case "{port}":
		_, port := splitAddr(rec.RemoteAddr())
		return port
	case "{local}":
		host, _ := splitAddr(rec.LocalAddr())
		return host
	case "{size}":
		return strconv.Itoa(r.Len())
	case "{>id}":
		return strconv.Itoa(int(r.Id))
	case "{>opcode}":
		return strconv.Itoa(r.Opcode)
	case "{>do}":
		opt := r.IsEdns0()
		return strconv.FormatBool(opt != nil && opt.Do())
	case "{>bufsize}":
		// As CoreDNS's request.Size: 64K over TCP; over UDP the query's
		// EDNS0 buffer size, 512 at least.
		if _, ok := rec.RemoteAddr().(*net.TCPAddr); ok {
			return strconv.Itoa(dns.MaxMsgSize)
		}
		if opt := r.IsEdns0(); opt != nil {
			return strconv.Itoa(int(max(opt.UDPSize(), dns.MinMsgSize)))
		}
		return strconv.Itoa(dns.MinMsgSize)
	case "{rcode}":
		if rec.msg == nil {
			return "-"
		}
		if s, ok := dns.RcodeToString[rec.rcode]; ok {
			return s
		}
		return strconv.Itoa(rec.rcode)
	case "{rsize}":
		return strconv.Itoa(rec.size)
	case "{duration}":
		return strconv.FormatFloat(time.Since(rec.start).Seconds(), 'f', -1, 64) + "s"
	case "{>rflags}":
		if rec.msg == nil {
			return "-"
		}
		return flags(rec.msg)
	}
	return "-"
}

// splitAddr returns an address's host, IPv6 in brackets (RFC 3986), and port.
func splitAddr(a net.Addr) (string, string) {
	if a == nil {
		return "-", "-"
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), "-"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host, port
}

// flags lists a reply's header flags in the order dig prints them.
func flags(m *dns.Msg) string {
	var fs []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"},
		{m.RecursionAvailable, "ra"}, {m.Zero, "z"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"},
	} {
		if f.set {
			fs = append(fs, f.name)
		}
	}
	return strings.Join(fs, ",")
}
