// Package thirdparty registers the thirdparty plugin of tpdns with stock
// CoreDNS. The plugin is tpdns's own, unchanged: its setup returns a
// constructor, which is wired into CoreDNS's chain here. Its setup reads
// the server block keys as CoreDNS has normalized them ("dns://ZONE:PORT"),
// and refuses a block whose key CoreDNS made into a zone named after the
// key's text ("[2001:db8::/32]:1053" becomes the zone "[2001:db8::/32]."),
// so that such a Corefile stops CoreDNS as it stops tpdns.
package thirdparty

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	coreplugin "github.com/coredns/coredns/plugin"

	tpdns "github.com/tpdns/tpdns/plugin/thirdparty"
)

func init() { coreplugin.Register("thirdparty", setup) }

func setup(c *caddy.Controller) error {
	p, err := tpdns.Setup(c)
	if err != nil {
		return coreplugin.Error("thirdparty", err)
	}
	// The handler interfaces of tpdns and CoreDNS have the same methods, so
	// each side's handlers are the other's.
	dnsserver.GetConfig(c).AddPlugin(func(next coreplugin.Handler) coreplugin.Handler { return p(next) })
	return nil
}
