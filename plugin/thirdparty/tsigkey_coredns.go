//go:build coredns

package thirdparty

import (
	"context"
	"strings"

	"github.com/miekg/dns"
)

// tsigKey is the TSIG key the query was validly signed with, or "".
//
// CoreDNS's tsig plugin verifies a signed query in the server (with the
// keys it configured) and removes the TSIG record from the query before
// the plugins after it run, by shortening r.Extra. (It also puts the key in
// the context, but only its own package can read that, and this package,
// part of tpdns's module, does not import CoreDNS.) So the record is read
// just past the end of r.Extra, and trusted only when the server's
// verification passed. Without the tsig plugin no record is removed, none
// is past the end, and no key is given: a TSIG record still in r.Extra was
// verified by no one. The conformance test (TestTSIGSecretsKeys) checks
// this against the CoreDNS version the coredns module pins.
func tsigKey(_ context.Context, w dns.ResponseWriter, r *dns.Msg) string {
	if cap(r.Extra) == len(r.Extra) || w.TsigStatus() != nil {
		return ""
	}
	if sig, ok := r.Extra[:len(r.Extra)+1][len(r.Extra)].(*dns.TSIG); ok {
		return strings.ToLower(sig.Hdr.Name)
	}
	return ""
}
