package errors

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/test"
	"github.com/tpdns/tpdns/test/dnstest"
)

// failing returns SERVFAIL with the error text of the query name's first
// label.
var failing = plugin.HandlerFunc(func(_ context.Context, _ dns.ResponseWriter, r *dns.Msg) (int, error) {
	label := dns.SplitDomainName(r.Question[0].Name)[0]
	if label == "ok" {
		return dns.RcodeSuccess, nil
	}
	return dns.RcodeServerFailure, errors.New(label + " failed")
})

func serve(h plugin.Handler, name string) (int, error) {
	r := new(dns.Msg)
	r.SetQuestion(name, dns.TypeAAAA)
	return h.ServeDNS(context.Background(), &dnstest.Writer{}, r)
}

func TestErrorsAreLoggedAndPassedOn(t *testing.T) {
	logs := test.CaptureLog(t)
	e := &Errors{Next: failing, shared: &consolidator{}}

	rcode, err := serve(e, "upstream.example.org.")
	assert.Equal(t, dns.RcodeServerFailure, rcode)
	assert.EqualError(t, err, "upstream failed")
	rcode, err = serve(e, "ok.example.org.")
	assert.Equal(t, dns.RcodeSuccess, rcode)
	assert.NoError(t, err)

	assert.Equal(t, "[ERROR] plugin/errors: 2 upstream.example.org. AAAA: upstream failed\n", logs.String())
}

func TestConsolidate(t *testing.T) {
	logs := test.CaptureLog(t)
	shared := &consolidator{patterns: []*pattern{{period: 50 * time.Millisecond, re: regexp.MustCompile("timeout failed$"), level: "WARNING"}}}
	e := &Errors{Next: failing, shared: shared}

	for range 3 {
		serve(e, "timeout.example.org.")
	}
	serve(e, "refused.example.org.")
	assert.Equal(t, "[ERROR] plugin/errors: 2 refused.example.org. AAAA: refused failed\n", logs.String(), "matching errors are held back")

	want := "[WARNING] plugin/errors: 3 errors like 'timeout failed$' occurred in last 50ms\n"
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	assert.Contains(t, logs.String(), want)

	// A period cut short by shutdown still reports what it counted.
	serve(e, "timeout.example.org.")
	shared.stop()
	assert.Contains(t, logs.String(), "[WARNING] plugin/errors: 1 errors like 'timeout failed$' occurred in last 50ms\n")
	serve(e, "timeout.example.org.") // after stop: counted, never scheduled
}
