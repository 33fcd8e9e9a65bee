// Command coredns is stock CoreDNS with the thirdparty plugin of tpdns,
// placed just before forward in the chain, so that prometheus, log, cache
// and acl see its answers.
package main

import (
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"

	_ "github.com/tpdns/tpdns/coredns/thirdparty"
)

func init() {
	i := slices.Index(dnsserver.Directives, "forward")
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i, "thirdparty")
}

func main() { coremain.Run() }
