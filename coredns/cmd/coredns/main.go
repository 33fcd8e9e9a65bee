// Command coredns is stock CoreDNS with the thirdparty plugin of tpdns,
// placed just before cache in the chain (SPEC section 2). Its answers
// depend on the client (allow, secrets_allow, secrets_keys) and on health,
// and CoreDNS's cache keys a reply by question only: a cache in front of
// thirdparty would hand the first client's answer, secrets included, to
// everyone. So cache, and the plugins after it (header, dnssec, minimal,
// template, hosts, file, forward...), only see the queries thirdparty
// passes on (names outside its zones, fallthrough); prometheus, log, acl,
// rewrite and tsig still run before it.
package main

import (
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"

	_ "github.com/tpdns/tpdns/coredns/thirdparty"
)

func init() {
	i := slices.Index(dnsserver.Directives, "cache")
	if i < 0 {
		panic("coredns: no cache directive to put thirdparty before")
	}
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i, "thirdparty")
}

func main() { coremain.Run() }
