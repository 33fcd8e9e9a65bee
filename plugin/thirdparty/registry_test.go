package thirdparty

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/zone"
)

func answerA(t *testing.T, tp *ThirdParty, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	(*tp.views.Load())["tp.internal."].Lookup(zone.Query{Name: name, Type: dns.TypeA, Client: netip.MustParseAddr("127.0.0.1")}, m)
	var out []string
	for _, rr := range m.Answer {
		out = append(out, rr.(*dns.A).A.String())
	}
	return out
}

func TestReloadKeepsLastGoodRegistryAndLogsErrorsOnce(t *testing.T) {
	logs := test.CaptureLog(t)
	path := filepath.Join(t.TempDir(), "services.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o644)) }
	write("services:\n  - name: db\n    endpoints: [10.0.0.1]\n")
	tp, err := newThirdParty(options{zones: []string{"tp.internal."}, services: path, ttl: 10})
	require.NoError(t, err)
	tp.reg.Subscribe(tp.serve)
	serial := tp.serial()

	tp.reload() // unchanged: nothing happens
	assert.Equal(t, serial, tp.serial())
	assert.Empty(t, logs.String())

	write("services:\n  - name: db\n    endpoints: [10.0.0.2]\n")
	tp.reload()
	assert.Equal(t, []string{"10.0.0.2"}, answerA(t, tp, "db.tp.internal."))
	assert.Greater(t, tp.serial(), serial, "the SOA serial grows with every change")
	assert.Equal(t, "[INFO] plugin/thirdparty: "+path+": serving 1 services\n", logs.String())

	// Two errors in a broken edit: logged once, however often it is polled.
	write("services:\n  - name: db\n    endpoints: [10.0.0.3]\n    ttl: soon\n  - name: db\n")
	for range 3 {
		tp.reload()
	}
	assert.Equal(t, []string{"10.0.0.2"}, answerA(t, tp, "db.tp.internal."), "the last good registry stays")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 4, logs.String())
	assert.Equal(t, "[ERROR] plugin/thirdparty: "+path+" is invalid; the last good registry stays in force", lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "[ERROR] plugin/thirdparty: "+path+":4: services[0].ttl: "), lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "[ERROR] plugin/thirdparty: "+path+":5: services[1].name: "), lines[3])

	// A vanished file is reported once too.
	require.NoError(t, os.Remove(path))
	tp.reload()
	tp.reload()
	assert.Equal(t, 5, strings.Count(logs.String(), "\n"))
	assert.Contains(t, logs.String(), "no such file or directory; the last good registry stays in force")

	write("services:\n  - name: db\n    endpoints: [10.0.0.4]\n")
	tp.reload()
	assert.Equal(t, []string{"10.0.0.4"}, answerA(t, tp, "db.tp.internal."))
}

// TestRegistryFileSizeLimit checks services_max_size: a registry file over
// it stops the start, and a reload that finds one keeps the last good
// registry serving, saying why once.
func TestRegistryFileSizeLimit(t *testing.T) {
	logs := test.CaptureLog(t)
	path := filepath.Join(t.TempDir(), "services.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o644)) }
	big := "services:\n  - name: db\n    endpoints: [10.0.0.2]\n"
	big += strings.Repeat("#", 1536-len(big)-1) + "\n"
	opts := options{zones: []string{"tp.internal."}, services: path, ttl: 10, servicesMaxSize: 1 << 10}

	write(big)
	_, err := newThirdParty(opts)
	require.EqualError(t, err, "services "+path+": 1.5 KiB, more than the 1 KiB limit (services_max_size)")

	write("services:\n  - name: db\n    endpoints: [10.0.0.1]\n")
	tp, err := newThirdParty(opts)
	require.NoError(t, err)
	tp.reg.Subscribe(tp.serve)
	write(big)
	tp.reload()
	tp.reload()
	assert.Equal(t, []string{"10.0.0.1"}, answerA(t, tp, "db.tp.internal."), "the last good registry stays")
	assert.Equal(t, "[ERROR] plugin/thirdparty: services "+path+": 1.5 KiB, more than the 1 KiB limit (services_max_size); the last good registry stays in force\n", logs.String())
}
