package config

import "bytes"

// checkText checks the characters of a registry file before any YAML is
// read, as yaml.v3's reader does (with its messages), and reports the first
// problem at the line of its first bad byte: yaml.v3 reports these without
// a line, and only when its parse gets that far. plain reports whether the
// text is what the stream decoder reads: UTF-8 without tabs, carriage
// returns, byte order marks or line breaks other than "\n".
func (d *decoder) checkText(data []byte) (plain, ok bool) {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return false, true // UTF-16, which yaml.v3 reads and checks itself
	}
	plain = true
	for i := 0; i < len(data); {
		c := data[i]
		if c >= 0x20 && c < 0x7f || c == '\n' {
			i++ // the common case, first
			continue
		}
		r, width, problem := decodeChar(data[i:])
		switch {
		case problem != "":
			bad := i + width // decodeChar's width is where the problem is
			d.errs = append(d.errs, posError{line: lineOf(data, bad), err: &Error{
				File: d.file, Line: lineOf(data, bad), Msg: "invalid YAML: " + problem}})
			return false, false
		// Tabs, carriage returns and the other line breaks count
		// differently in YAML; a byte order mark may be skipped.
		case r == '\t' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF:
			plain = false
		}
		i += width
	}
	return plain, true
}

// decodeChar decodes the character at the start of b as yaml.v3's reader
// does. On a problem, width is the offset of the bad byte in b.
func decodeChar(b []byte) (r rune, width int, problem string) {
	c := b[0]
	switch {
	case c < 0x80:
		r, width = rune(c), 1
	case c&0xE0 == 0xC0:
		r, width = rune(c&0x1F), 2
	case c&0xF0 == 0xE0:
		r, width = rune(c&0x0F), 3
	case c&0xF8 == 0xF0:
		r, width = rune(c&0x07), 4
	default:
		return 0, 0, "invalid leading UTF-8 octet"
	}
	if width > len(b) {
		return 0, 0, "incomplete UTF-8 octet sequence"
	}
	for k := 1; k < width; k++ {
		if b[k]&0xC0 != 0x80 {
			return 0, k, "invalid trailing UTF-8 octet"
		}
		r = r<<6 | rune(b[k]&0x3F)
	}
	switch {
	case width == 2 && r < 0x80, width == 3 && r < 0x800, width == 4 && r < 0x10000:
		return 0, 0, "invalid length of a UTF-8 sequence"
	case r >= 0xD800 && r <= 0xDFFF || r > 0x10FFFF:
		return 0, 0, "invalid Unicode character"
	}
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r >= 0x20 && r <= 0x7E, r == 0x85,
		r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000:
		return r, width, ""
	}
	return 0, 0, "control characters are not allowed"
}

// lineOf is the line of offset i in data, from 1.
func lineOf(data []byte, i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }
