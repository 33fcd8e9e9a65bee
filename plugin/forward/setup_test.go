package forward

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/dnstest"
)

// with returns the default options changed by f.
func with(from string, to []string, f func(o *options)) options {
	o := defaultOptions()
	o.from, o.to = from, to
	if f != nil {
		f(&o)
	}
	return o
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(resolv, []byte("# written by the test\nsearch example.org\nnameserver 10.0.0.1\nnameserver 2001:db8::53 # v6\noptions ndots:5\n"), 0o644))
	empty := filepath.Join(dir, "empty.conf")
	require.NoError(t, os.WriteFile(empty, []byte("search example.org\n"), 0o644))
	named := filepath.Join(dir, "named.conf")
	require.NoError(t, os.WriteFile(named, []byte("nameserver dns.example.org\n"), 0o644))
	sixteen := strings.Repeat(" 10.0.0.1", 16)

	cases := []struct {
		input string
		want  options
		err   string
	}{
		{input: "forward . 127.0.0.1", want: with(".", []string{"127.0.0.1:53"}, nil)},
		{
			input: "forward Example.ORG 127.0.0.1:1053 [::1]:5353 ::1 [2001:db8::1] dns://10.0.0.1 DNS://[2001:db8::2]:1053",
			want:  with("example.org.", []string{"127.0.0.1:1053", "[::1]:5353", "[::1]:53", "[2001:db8::1]:53", "10.0.0.1:53", "[2001:db8::2]:1053"}, nil),
		},
		{input: "forward 10.0.0.0/8 10.0.0.1", want: with("10.in-addr.arpa.", []string{"10.0.0.1:53"}, nil)},
		{input: "forward 10.0.0.0/9 10.0.0.1", want: with("0.10.in-addr.arpa.", []string{"10.0.0.1:53"}, nil)},
		{input: "forward . " + resolv, want: with(".", []string{"10.0.0.1:53", "[2001:db8::53]:53"}, nil)},
		{input: "forward . 10.0.0.9 " + resolv, want: with(".", []string{"10.0.0.9:53", "10.0.0.1:53", "[2001:db8::53]:53"}, nil)},
		{input: "forward . " + strings.Repeat(" 10.0.0.1", 15), want: with(".", strings.Fields(strings.Repeat(" 10.0.0.1:53", 15)), nil)},
		{
			input: "forward . 10.0.0.1 {\n except internal.Example.org 10.0.0.0/8\n force_tcp\n prefer_udp\n expire 30s\n max_fails 0\n health_check 5s no_rec domain Example.COM\n policy sequential\n max_concurrent 50\n}",
			want: with(".", []string{"10.0.0.1:53"}, func(o *options) {
				o.except = []string{"internal.example.org.", "10.in-addr.arpa."}
				o.forceTCP, o.preferUDP = true, true
				o.expire, o.maxFails = 30*time.Second, 0
				o.hcInterval, o.hcNoRec, o.hcName = 5*time.Second, true, "example.com."
				o.policy, o.maxConcurrent = sequentialPolicy, 50
			}),
		},
		{input: "forward . 10.0.0.1 {\n policy round_robin\n expire 0\n health_check 1m\n}", want: with(".", []string{"10.0.0.1:53"}, func(o *options) {
			o.policy, o.expire, o.hcInterval = roundRobinPolicy, 0, time.Minute
		})},
		{input: "forward . 10.0.0.1 {\n policy random\n max_fails 5\n}", want: with(".", []string{"10.0.0.1:53"}, func(o *options) { o.maxFails = 5 })},
		{input: "forward . 10.0.0.1 {\n max_concurrent 0\n}", want: with(".", []string{"10.0.0.1:53"}, func(o *options) { o.maxConcurrent = 0 })},

		{input: "forward", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'forward'"},
		{input: "forward .", err: "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after '.'"},
		{input: "forward a..b 10.0.0.1", err: `Testfile:1 - Error during parsing: FROM: "a..b" is not a domain name`},
		{input: "forward . 1.2.3", err: `Testfile:1 - Error during parsing: not an IP address or file: "1.2.3"`},
		{input: "forward . dns.example.org", err: `Testfile:1 - Error during parsing: not an IP address or file: "dns.example.org"`},
		{input: "forward . 127.0.0.1:99999", err: `Testfile:1 - Error during parsing: "127.0.0.1:99999": invalid port "99999"`},
		{input: "forward . [::1]:dns", err: `Testfile:1 - Error during parsing: "[::1]:dns": invalid port "dns"`},
		{input: "forward . tls://9.9.9.9", err: `Testfile:1 - Error during parsing: "tls://9.9.9.9": transport "tls" is not supported (only dns://)`},
		{input: "forward . dns://" + resolv, err: fmt.Sprintf(`Testfile:1 - Error during parsing: not an IP address: "dns://%s"`, resolv)},
		{input: "forward . " + empty, err: fmt.Sprintf("Testfile:1 - Error during parsing: %s: no nameserver", empty)},
		{input: "forward . " + named, err: fmt.Sprintf(`Testfile:1 - Error during parsing: %s: nameserver "dns.example.org" is not an IP address`, named)},
		{input: "forward ." + sixteen, err: "Testfile:1 - Error during parsing: more than 15 upstreams: 16"},
		{input: "forward . 10.0.0.1 " + resolv + strings.Repeat(" 10.0.0.1", 13), err: "Testfile:1 - Error during parsing: more than 15 upstreams: 16"},
		{input: "forward . 10.0.0.1 {\n fastest\n}", err: `Testfile:2 - Error during parsing: unknown property "fastest"`},
		{input: "forward . 10.0.0.1 {\n tls_servername dns.quad9.net\n}", err: `Testfile:2 - Error during parsing: property "tls_servername" of CoreDNS's forward is not supported`},
		{input: "forward . 10.0.0.1 {\n except\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'except'"},
		{input: "forward . 10.0.0.1 {\n except a..b\n}", err: `Testfile:2 - Error during parsing: except: "a..b" is not a domain name`},
		{input: "forward . 10.0.0.1 {\n force_tcp yes\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'yes'"},
		{input: "forward . 10.0.0.1 {\n policy\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'policy'"},
		{input: "forward . 10.0.0.1 {\n policy fastest\n}", err: `Testfile:2 - Error during parsing: unknown policy "fastest" (random, round_robin or sequential)`},
		{input: "forward . 10.0.0.1 {\n max_fails -1\n}", err: `Testfile:2 - Error during parsing: invalid max_fails "-1": want an integer of 0 or more`},
		{input: "forward . 10.0.0.1 {\n max_fails two\n}", err: `Testfile:2 - Error during parsing: invalid max_fails "two": want an integer of 0 or more`},
		{input: "forward . 10.0.0.1 {\n max_fails 1 2\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after '2'"},
		{input: "forward . 10.0.0.1 {\n expire soon\n}", err: `Testfile:2 - Error during parsing: invalid expire duration "soon": want one of 0 or more`},
		{input: "forward . 10.0.0.1 {\n expire -1s\n}", err: `Testfile:2 - Error during parsing: invalid expire duration "-1s": want one of 0 or more`},
		{input: "forward . 10.0.0.1 {\n health_check\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'health_check'"},
		{input: "forward . 10.0.0.1 {\n health_check 0s\n}", err: `Testfile:2 - Error during parsing: invalid health_check duration "0s": want one above 0`},
		{input: "forward . 10.0.0.1 {\n health_check -1s\n}", err: `Testfile:2 - Error during parsing: invalid health_check duration "-1s": want one above 0`},
		{input: "forward . 10.0.0.1 {\n health_check often\n}", err: `Testfile:2 - Error during parsing: invalid health_check duration "often": want one above 0`},
		{input: "forward . 10.0.0.1 {\n health_check 1s loud\n}", err: `Testfile:2 - Error during parsing: health_check: unknown option "loud"`},
		{input: "forward . 10.0.0.1 {\n health_check 1s domain\n}", err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'domain'"},
		{input: "forward . 10.0.0.1 {\n health_check 1s domain a..b\n}", err: `Testfile:2 - Error during parsing: health_check: invalid domain "a..b"`},
		{input: "forward . 10.0.0.1 {\n max_concurrent -1\n}", err: `Testfile:2 - Error during parsing: invalid max_concurrent "-1": want an integer of 0 or more`},
		{input: "forward . 10.0.0.1 {\n max_concurrent many\n}", err: `Testfile:2 - Error during parsing: invalid max_concurrent "many": want an integer of 0 or more`},
	}
	for _, c := range cases {
		ctl := caddy.NewTestController(plugin.ServerType, c.input)
		ctl.Next()
		o, err := parse(ctl)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		assert.Equal(t, c.want, o, c.input)
	}
}

func TestParseWarnsOfCIDRCut(t *testing.T) {
	logs := test.CaptureLog(t)
	ctl := caddy.NewTestController(plugin.ServerType, "forward 10.0.0.0/9 10.0.0.1")
	ctl.Next()
	_, err := parse(ctl)
	require.NoError(t, err)
	assert.Equal(t, "[WARNING] plugin/forward: 10.0.0.0/9 covers 128 reverse zones; only 0.10.in-addr.arpa. is forwarded\n", logs.String())
}

// Several forward lines in one block are tried in the order written, the
// way CoreDNS does it, and the last hands on to the rest of the chain.
func TestSeveralForwardLines(t *testing.T) {
	ctl := caddy.NewTestController(plugin.ServerType, "forward lab.example.org 10.20.0.1\nforward example.org 10.0.0.1\nforward . 10.0.0.2")
	p, err := setup(ctl)
	require.NoError(t, err)
	next := plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) { return dns.RcodeSuccess, nil })
	h := p(next)
	var froms []string
	for {
		f, ok := h.(*Forward)
		if !ok {
			break
		}
		froms = append(froms, f.group.opts.from+" "+f.group.opts.to[0])
		h = f.Next
	}
	assert.Equal(t, []string{"lab.example.org. 10.20.0.1:53", "example.org. 10.0.0.1:53", ". 10.0.0.2:53"}, froms)
	assert.Equal(t, "handlerfunc", h.Name())
}

func TestSetupFailsOnAnyLine(t *testing.T) {
	_, err := setup(caddy.NewTestController(plugin.ServerType, "forward . 10.0.0.1\nforward example.org"))
	assert.EqualError(t, err, "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'example.org'")
}

// A query for FROM itself is forwarded even when an except name covers it.
func TestMatch(t *testing.T) {
	g := newGroup(with("example.org.", []string{"127.0.0.1:53"}, func(o *options) { o.except = []string{"example.org.", "internal.example.org."} }))
	defer g.stop()
	for name, want := range map[string]bool{
		"example.org.": true, "EXAMPLE.ORG.": true, "www.example.org.": false, "a.internal.example.org.": false,
		"org.": false, "example.net.": false, ".": false,
	} {
		assert.Equal(t, want, g.match(name), name)
	}
}

// A handler without a next plugin answers SERVFAIL for names it does not
// forward.
func TestNoNext(t *testing.T) {
	g := newGroup(with("example.org.", []string{"127.0.0.1:53"}, nil))
	defer g.stop()
	r := new(dns.Msg)
	r.SetQuestion("example.net.", dns.TypeA)
	rcode, err := (&Forward{group: g}).ServeDNS(context.Background(), &dnstest.Writer{}, r)
	assert.Equal(t, dns.RcodeServerFailure, rcode)
	assert.EqualError(t, err, "plugin/forward: no next plugin found")
}

// A relative resolv.conf path is found beside the Corefile.
func TestResolvConfBesideCorefile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 10.0.0.1\n"), 0o644))
	corefile := []byte(". {\n forward . resolv.conf\n}\n")
	assert.NoError(t, server.Validate(server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: corefile}))
	elsewhere := filepath.Join(t.TempDir(), "Corefile")
	err := server.Validate(server.Input{Filename: elsewhere, Contents: corefile})
	assert.ErrorContains(t, err, `plugin/forward: `+elsewhere+`:2 - Error during parsing: not an IP address or file: "resolv.conf"`)
}
