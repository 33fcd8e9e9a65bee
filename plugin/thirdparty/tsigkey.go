//go:build !coredns

package thirdparty

import (
	"context"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/plugin"
)

// tsigKey is the TSIG key the query was validly signed with, or "": tpdns's
// tsig plugin says so in the context.
func tsigKey(ctx context.Context, _ dns.ResponseWriter, _ *dns.Msg) string {
	return plugin.VerifiedTSIGKey(ctx)
}
