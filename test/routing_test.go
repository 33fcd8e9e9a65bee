package test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// txt returns the first string of every TXT record in m's answer.
func txt(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, t.Txt[0])
		}
	}
	return out
}

func TestBlocksOnTwoPortsAnswerFromTheirOwnChains(t *testing.T) {
	p1, p2 := FreePort(t), FreePort(t)
	Start(t, fmt.Sprintf(`
example.org:%s {
    bind 127.0.0.1
    testanswer org
}
example.net:%s {
    bind 127.0.0.1
    testanswer net
}`, p1, p2))

	cases := []struct {
		port, name string
		rcode      int
		answer     []string
	}{
		{p1, "www.example.org.", dns.RcodeSuccess, []string{"org 0"}},
		{p2, "www.example.net.", dns.RcodeSuccess, []string{"net 0"}},
		{p1, "EXAMPLE.ORG.", dns.RcodeSuccess, []string{"org 0"}},
		// Each port serves only its own zone.
		{p1, "www.example.net.", dns.RcodeRefused, nil},
		{p2, "www.example.org.", dns.RcodeRefused, nil},
		{p1, "example.com.", dns.RcodeRefused, nil},
		{p1, ".", dns.RcodeRefused, nil},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, c := range cases {
			r := Exchange(t, proto, "127.0.0.1:"+c.port, Query(c.name, dns.TypeTXT, 0))
			assert.Equal(t, dns.RcodeToString[c.rcode], dns.RcodeToString[r.Rcode], "%s %s :%s", proto, c.name, c.port)
			assert.Equal(t, c.answer, txt(r), "%s %s :%s", proto, c.name, c.port)
			require.Len(t, r.Question, 1)
			assert.Equal(t, c.name, r.Question[0].Name, "question echoed as asked")
		}
	}
}

func TestMostSpecificZoneWins(t *testing.T) {
	port := FreePort(t)
	Start(t, fmt.Sprintf(`
example.:%[1]s {
    bind 127.0.0.1
    testanswer example
}
a.example.:%[1]s {
    bind 127.0.0.1
    testanswer a
}
.:%[1]s {
    bind 127.0.0.1
    testanswer root
}`, port))

	for name, want := range map[string]string{
		"example.":         "example 0",
		"b.example.":       "example 0",
		"a.example.":       "a 0",
		"x.y.a.example.":   "a 0",
		"X.A.Example.":     "a 0",
		"aa.example.":      "example 0", // a label boundary, not a suffix
		"org.":             "root 0",
		".":                "root 0",
		"example.example.": "example 0",
		"exampl.":          "root 0",
	} {
		r := Exchange(t, "udp", "127.0.0.1:"+port, Query(name, dns.TypeTXT, 0))
		assert.Equal(t, []string{want}, txt(r), name)
	}
}

func TestBlockWithoutPluginsRefuses(t *testing.T) {
	port := FreePort(t)
	Start(t, fmt.Sprintf("example.org:%s {\n bind 127.0.0.1\n}\n", port))
	r := Exchange(t, "udp", "127.0.0.1:"+port, Query("example.org.", dns.TypeA, 0))
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
}

func TestKeysOfOneBlockShareItsChain(t *testing.T) {
	port := FreePort(t)
	Start(t, fmt.Sprintf(`example.org:%[1]s dns://example.net:%[1]s 10.0.0.0/23:%[1]s {
    bind 127.0.0.1
    testanswer shared
}`, port))
	for _, name := range []string{"example.org.", "www.example.net.", "1.0.0.10.in-addr.arpa.", "7.1.0.10.in-addr.arpa."} {
		r := Exchange(t, "udp", "127.0.0.1:"+port, Query(name, dns.TypeTXT, 0))
		assert.Equal(t, []string{"shared 0"}, txt(r), name)
	}
	r := Exchange(t, "udp", "127.0.0.1:"+port, Query("7.2.0.10.in-addr.arpa.", dns.TypeTXT, 0))
	assert.Equal(t, dns.RcodeRefused, r.Rcode, "10.0.2.0 is outside 10.0.0.0/23")
}

func TestPanickingPluginAnswersServfailAndServerLives(t *testing.T) {
	logs := CaptureLog(t)
	port := FreePort(t)
	Start(t, fmt.Sprintf(`
panic.example:%[1]s {
    bind 127.0.0.1
    testpanic boom
}
example:%[1]s {
    bind 127.0.0.1
    testanswer alive
}`, port))
	for _, proto := range []string{"udp", "tcp"} {
		for i := range 3 {
			r := Exchange(t, proto, "127.0.0.1:"+port, Query("x.panic.example.", dns.TypeA, 0))
			assert.Equal(t, dns.RcodeServerFailure, r.Rcode, "%s query %d", proto, i)
			assert.Equal(t, "x.panic.example.", r.Question[0].Name)

			r = Exchange(t, proto, "127.0.0.1:"+port, Query("example.", dns.TypeTXT, 0))
			assert.Equal(t, []string{"alive 0"}, txt(r), "%s query %d", proto, i)
		}
	}
	assert.Equal(t, 6, strings.Count(logs.String(), `[ERROR] Recovered from panic in server "127.0.0.1:`+port+`": testpanic: boom`+"\n"))
}

func TestBindListensOnlyWhereTold(t *testing.T) {
	port := FreePort(t)
	inst := Start(t, fmt.Sprintf(`
example.org:%[1]s {
    bind 127.0.0.2 127.0.0.3
    testanswer two-and-three
}
example.org:%[1]s {
    bind 127.0.0.4
    testanswer four
}`, port))
	assert.Len(t, inst.Servers(), 3, "one server per listen address")

	for host, want := range map[string]string{"127.0.0.2": "two-and-three 0", "127.0.0.3": "two-and-three 0", "127.0.0.4": "four 0"} {
		for _, proto := range []string{"udp", "tcp"} {
			r := Exchange(t, proto, host+":"+port, Query("example.org.", dns.TypeTXT, 0))
			assert.Equal(t, []string{want}, txt(r), "%s %s", proto, host)
		}
	}
	_, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	assert.ErrorContains(t, err, "connection refused", "nothing listens on 127.0.0.1")
}
