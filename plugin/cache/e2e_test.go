package cache

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	"github.com/tpdns/tpdns/server"
	"github.com/tpdns/tpdns/test"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

func TestEndToEnd(t *testing.T) {
	port := test.FreePort(t)
	test.Start(t, `example.org:`+port+` {
    bind 127.0.0.1
    cache
    testanswer hello
}`)
	addr := "127.0.0.1:" + port
	server := "dns://" + addr
	hitsBefore := testutil.ToFloat64(hits.WithLabelValues(server, "success"))
	missesBefore := testutil.ToFloat64(misses.WithLabelValues(server))

	first := test.Exchange(t, "udp", addr, test.Query("db.example.org.", dns.TypeTXT, 1232))
	require.Len(t, first.Answer, 1)
	assert.True(t, first.Authoritative, "the first reply is testanswer's")
	assert.Equal(t, uint32(60), first.Answer[0].Header().Ttl)

	for _, proto := range []string{"udp", "tcp", "udp"} {
		q := test.Query("DB.example.org.", dns.TypeTXT, 0)
		m := test.Exchange(t, proto, addr, q)
		require.Len(t, m.Answer, 1, proto)
		assert.Equal(t, q.Id, m.Id)
		assert.Equal(t, "DB.example.org.", m.Question[0].Name)
		assert.False(t, m.Authoritative, "%s: answered by the cache", proto)
		assert.Equal(t, []string{"hello 0"}, m.Answer[0].(*dns.TXT).Txt)
		assert.Nil(t, m.IsEdns0(), "no OPT for a query without one")
		// The real clock: counted down, by a few seconds at most.
		assert.LessOrEqual(t, m.Answer[0].Header().Ttl, uint32(60))
		assert.GreaterOrEqual(t, m.Answer[0].Header().Ttl, uint32(55))
	}
	withDO := test.Query("db.example.org.", dns.TypeTXT, 0)
	withDO.SetEdns0(1232, true)
	test.Exchange(t, "udp", addr, withDO) // another key: a miss

	assert.Equal(t, 3.0, testutil.ToFloat64(hits.WithLabelValues(server, "success"))-hitsBefore)
	assert.Equal(t, 2.0, testutil.ToFloat64(misses.WithLabelValues(server))-missesBefore)
}

// TestReadmeExamples sets up every Corefile the README shows.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)~~~ corefile\n(.*?)~~~").FindAllSubmatch(b, -1)
	assert.GreaterOrEqual(t, len(blocks), 3)
	for _, m := range blocks {
		err := server.Validate(server.Input{Filename: filepath.Join(t.TempDir(), "Corefile"), Contents: m[1]})
		assert.NoError(t, err, "%s", m[1])
	}
}
