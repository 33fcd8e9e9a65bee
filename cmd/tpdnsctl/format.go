package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ANSI SGR colours of the health states. All are two digits, though the
// table does not depend on it.
const (
	colorGreen  = "32"
	colorRed    = "31"
	colorYellow = "33"
	colorGrey   = "90"
)

// cell is s fit for a table cell: "-" when empty, so that columns stay
// countable for awk, and its control characters blanked, so that a
// server's text neither breaks the line nor drives the terminal.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// age says how long before now the RFC 3339 time stamp was, coarsely:
// "3s ago", "5m ago", "2h ago", "4d ago"; "-" for never. A stamp that is
// not RFC 3339 is shown as it is.
func age(now time.Time, stamp string) string {
	if stamp == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return cell(stamp)
	}
	// A server clock ahead of ours would read as the future.
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", d/time.Minute)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", d/time.Hour)
	}
	return fmt.Sprintf("%dd ago", d/(24*time.Hour))
}

// until says how long after now the RFC 3339 time stamp is, coarsely, as
// age does: "in 25s"; "expired" once it is past, "-" for never.
func until(now time.Time, stamp string) string {
	if stamp == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return cell(stamp)
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "expired"
	case d < time.Minute:
		return fmt.Sprintf("in %ds", (d+time.Second-1)/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("in %dm", d/time.Minute)
	}
	return fmt.Sprintf("in %dh", d/time.Hour)
}

// noCheck is the LAST CHECK of an endpoint of a service without a check:
// it is always up, and never probed.
const noCheck = "no check"

// hasCheck reports whether the service's endpoints are probed.
func (s service) hasCheck() bool {
	return s.Check != nil && s.Check.Type != "" && s.Check.Type != "none"
}

// lastCheck is the LAST CHECK of an endpoint of s: how long ago it was
// probed, "-" before the first probe, "no check" when s has none.
func (s service) lastCheck(now time.Time, e endpoint) string {
	if !s.hasCheck() {
		return noCheck
	}
	return age(now, e.Health.LastCheck)
}

// durationText is d as time.Duration writes it, without the zero units
// ("24h", not "24h0m0s").
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// portList is the ports as "db:1521/tcp,http:80/tcp"; "-" for none.
func portList(ports []port) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol)
	}
	return cell(strings.Join(s, ","))
}

// ttlText is a service's TTL in seconds; "-" when it has none of its own.
func ttlText(ttl *int64) string {
	if ttl == nil {
		return "-"
	}
	return strconv.FormatInt(*ttl, 10)
}

// endpointPort is where an endpoint listens: its own port, else the
// numbers of its service's ports.
func endpointPort(e endpoint, ports []port) string {
	if e.Port != 0 {
		return strconv.Itoa(e.Port)
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p.Port)
	}
	return cell(strings.Join(s, ","))
}

// checkShort is a check in a few words: "tcp every 10s"; "none".
func checkShort(c *check) string {
	if c == nil || c.Type == "" || c.Type == "none" {
		return "none"
	}
	if c.Interval == "" {
		return cell(c.Type)
	}
	return cell(c.Type + " every " + string(c.Interval))
}

// checkText is a check on one line: "tcp port=db interval=10s timeout=2s
// rise=1 fall=3".
func checkText(c *check) string {
	if c == nil || c.Type == "" || c.Type == "none" {
		return "none (always healthy)"
	}
	parts := []string{c.Type}
	add := func(key, value string) {
		if value != "" {
			parts = append(parts, key+"="+value)
		}
	}
	add("port", string(c.Port))
	// The server fills in the http defaults whatever the type; they mean
	// nothing to a tcp check.
	if c.Type == "http" || c.Type == "https" {
		add("path", c.Path)
		add("host", c.Host)
		for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
			add("header", k+":"+c.Headers[k])
		}
		add("expect", string(c.Expect))
		if c.TLSSkipVerify {
			add("tls_skip_verify", "true")
		}
	}
	add("interval", string(c.Interval))
	add("timeout", string(c.Timeout))
	add("rise", strconv.Itoa(c.Rise))
	add("fall", strconv.Itoa(c.Fall))
	return strings.Join(parts, " ")
}

// stateColor is the colour of a health state, "" for one it does not know.
func stateColor(state string) string {
	switch state {
	case stateHealthy:
		return colorGreen
	case stateUnhealthy:
		return colorRed
	case stateUnknown:
		return colorYellow
	case stateDisabled:
		return colorGrey
	}
	return ""
}

// colorStates colours column col of t, which holds health states, by
// state; the header row stays plain.
func colorStates(t *table, col int) {
	t.color = func(row, c int) string {
		if row == 0 || c != col {
			return ""
		}
		return stateColor(t.rows[row][c])
	}
}
