package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/server"
)

// fakeUpstream answers every A query with 198.51.100.1 on a UDP and TCP
// port of 127.0.0.1, and counts what it was asked.
func fakeUpstream(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	port := FreePort(t)
	asked := new(atomic.Int64)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		asked.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 198.51.100.1")
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})
	for _, proto := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: "127.0.0.1:" + port, Net: proto, Handler: h}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ListenAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return "127.0.0.1:" + port, asked
}

// TestUpstreamDNS: tpdns as a cluster's upstream: its zone answered from
// the registry, everything else forwarded (and cached), and only for the
// clients the acl lets in.
func TestUpstreamDNS(t *testing.T) {
	upstream, asked := fakeUpstream(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port := FreePort(t)
	corefile := fmt.Sprintf(`.:%s {
    bind 127.0.0.1 127.0.0.2
    acl {
        allow net 127.0.0.1/32
        block
    }
    cache 60
    thirdparty tp.internal {
        services services.yaml
    }
    forward . %s
}`, port, upstream)
	StartInput(t, server.Input{Filename: filepath.Join(dir, "Corefile"), Contents: []byte(corefile)})
	addr := "127.0.0.1:" + port

	r := Exchange(t, "udp", addr, Query("db.tp.internal.", dns.TypeA, 0))
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "10.0.0.1", r.Answer[0].(*dns.A).A.String())
	assert.True(t, r.Authoritative)
	assert.Zero(t, asked.Load(), "the registry's names never go upstream")

	for range 3 {
		r = Exchange(t, "udp", addr, Query("www.Example.COM.", dns.TypeA, 0))
		require.Len(t, r.Answer, 1)
		assert.Equal(t, "198.51.100.1", r.Answer[0].(*dns.A).A.String())
		assert.Equal(t, "www.Example.COM.", r.Question[0].Name)
	}
	assert.EqualValues(t, 1, asked.Load(), "forwarded once, then cached")

	// Another client: the acl refuses it before anything is forwarded.
	c := &dns.Client{Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)}}}
	r, _, err := c.Exchange(Query("other.example.com.", dns.TypeA, 0), "127.0.0.2:"+port)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
	assert.EqualValues(t, 1, asked.Load())
}
