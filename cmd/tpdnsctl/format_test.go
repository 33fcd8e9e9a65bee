package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    table
		want string
	}{{
		name: "columns two spaces apart, last cell unpadded",
		t:    table{rows: [][]string{{"A", "BB", "C"}, {"aaaa", "b", "c"}}},
		want: "A     BB  C\naaaa  b   c\n",
	}, {
		name: "width in characters, not bytes",
		t:    table{rows: [][]string{{"LATENCY", "X"}, {"800µs", "y"}}},
		want: "LATENCY  X\n800µs    y\n",
	}, {
		name: "indent",
		t:    table{rows: [][]string{{"A", "B"}}, indent: "  "},
		want: "  A  B\n",
	}, {
		name: "colour not counted in the width",
		t: table{rows: [][]string{{"X", "STATE", "Y"}, {"a", "healthy", "b"}, {"c", "", "d"}},
			color: func(row, col int) string {
				if row > 0 && col == 1 {
					return "32"
				}
				return ""
			}},
		want: "X  STATE    Y\n" +
			"a  \x1b[32mhealthy\x1b[0m  b\n" +
			"c  \x1b[32m\x1b[0m         d\n",
	}, {
		name: "empty",
		t:    table{},
		want: "",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, tc.t.write(&b))
			assert.Equal(t, tc.want, b.String())
		})
	}
}

func TestAge(t *testing.T) {
	now := testNow()
	for _, tc := range []struct {
		stamp, want string
	}{
		{"", "-"},
		{"2026-11-26T21:49:59.999Z", "0s ago"},
		{"2026-11-26T21:49:57.123Z", "2s ago"},
		{"2026-11-26T21:49:00Z", "1m ago"},
		{"2026-11-26T20:50:01Z", "59m ago"},
		{"2026-11-26T20:50:00Z", "1h ago"},
		{"2026-11-24T21:50:01Z", "47h ago"},
		{"2026-11-24T21:50:00Z", "2d ago"},
		{"2026-11-26T22:50:00+01:00", "0s ago"}, // another zone, same instant
		{"2026-11-26T21:50:05Z", "0s ago"},      // a server clock ahead of ours
		{"yesterday", "yesterday"},
	} {
		assert.Equal(t, tc.want, age(now, tc.stamp), tc.stamp)
	}
}

func TestTTLSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{time.Nanosecond, 1},
		{300 * time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{30 * time.Second, 30},
		{time.Hour, 3600},
	} {
		assert.Equal(t, tc.want, ttlSeconds(tc.d), tc.d.String())
	}
}

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		json, want string
	}{
		{`null`, "none (always healthy)"},
		{`{"type": "none"}`, "none (always healthy)"},
		{`{"type": "tcp", "path": "/", "expect": "200-399", "interval": "2s", "timeout": "500ms", "rise": 1, "fall": 3}`,
			"tcp interval=2s timeout=500ms rise=1 fall=3"},
		{`{"type": "https", "port": 8443, "host": "a.example", "headers": {"B": "2", "A": "1"}, "expect": 200,
		   "tls_skip_verify": true, "interval": "10s", "timeout": "2s", "rise": 1, "fall": 3}`,
			"https port=8443 host=a.example header=A:1 header=B:2 expect=200 tls_skip_verify=true interval=10s timeout=2s rise=1 fall=3"},
	} {
		c, err := decode[*check]([]byte(tc.json))
		require.NoError(t, err)
		assert.Equal(t, tc.want, checkText(c), tc.json)
	}
}

func TestCell(t *testing.T) {
	assert.Equal(t, "-", cell(""))
	assert.Equal(t, "a  b", cell("a  b"))
	assert.Equal(t, "line one line two", cell("line one\nline two"))
	assert.Equal(t, " [2J", cell("\x1b[2J"))
}

func TestUpTotal(t *testing.T) {
	s, err := decode[service]([]byte(oracleJSON))
	require.NoError(t, err)
	up, total := s.upTotal()
	assert.Equal(t, [2]int{1, 2}, [2]int{up, total}, "healthy, unhealthy, disabled")

	s, err = decode[service]([]byte(`{"endpoints": [{"address": "a", "disabled": true, "health": {"state": "healthy"}}, {"address": "b"}]}`))
	require.NoError(t, err)
	up, total = s.upTotal()
	assert.Equal(t, [2]int{1, 1}, [2]int{up, total}, "disabled by its flag; no state is unknown")
}

func TestColour(t *testing.T) {
	const (
		green  = "\x1b[32m"
		red    = "\x1b[31m"
		yellow = "\x1b[33m"
		grey   = "\x1b[90m"
		reset  = "\x1b[0m"
	)
	api := newFakeAPI(t, map[string][]reply{
		"GET /v1/services":                {{200, listJSON}},
		"GET /v1/services/oracle.finance": {{200, oracleJSON}},
	})
	got := runApp(context.Background(), apiEnv(api), true, "health")
	assert.Equal(t, result{0,
		"SERVICE         ADDRESS    STATE      LAST CHECK  LATENCY  LAST ERROR\n" +
			"oracle.finance  10.0.0.10  " + green + "healthy" + reset + "    2s ago      1.2ms    -\n" +
			"oracle.finance  10.0.0.11  " + red + "unhealthy" + reset + "  5m ago      2s       dial tcp 10.0.0.11:1521: i/o timeout\n" +
			"oracle.finance  10.0.0.12  " + grey + "disabled" + reset + "   -           -        -\n" +
			"web.shop        192.0.2.7  " + green + "healthy" + reset + "    4d ago      800µs    -\n" +
			"web.shop        fd00::1    " + yellow + "unknown" + reset + "    no check    -        -\n" +
			"web.shop        192.0.2.8  " + yellow + "unknown" + reset + "    no check    -        -\n",
		""}, got)

	got = runApp(context.Background(), apiEnv(api), true, "services", "get", "oracle.finance")
	assert.Contains(t, got.stdout, "  10.0.0.11  standby    1521  "+red+"unhealthy"+reset+"  5m ago      dial tcp")
	assert.Contains(t, got.stdout, "  ADDRESS    NAME       PORT  STATE      LAST CHECK  LAST ERROR\n", "the header stays plain")
}

func TestWantColor(t *testing.T) {
	// /dev/null is a character device, as a terminal is.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer file.Close()

	for _, tc := range []struct {
		name    string
		w       io.Writer
		noColor string
		want    bool
	}{
		{"terminal", devNull, "", true},
		{"terminal, NO_COLOR", devNull, "1", false},
		{"file", file, "", false},
		{"not a file", &strings.Builder{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"NO_COLOR": tc.noColor}
			assert.Equal(t, tc.want, wantColor(tc.w, envFunc(env)))
		})
	}
}
