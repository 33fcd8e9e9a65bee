package log

import (
	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

func caddyController(input string) *caddy.Controller {
	return caddy.NewTestController(plugin.ServerType, input)
}
