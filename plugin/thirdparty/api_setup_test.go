package thirdparty

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/plugin"
)

func parseAPI(input string) (apiOptions, error) {
	c := caddy.NewTestController(plugin.ServerType, "thirdparty {\n store bolt x.db\n "+input+"\n}")
	c.ServerBlockKeys = []string{"tp.internal:1053"}
	o, err := parse(c)
	return o.api, err
}

// TestAPIOptions: the api block's options, their defaults and their
// errors.
func TestAPIOptions(t *testing.T) {
	o, err := parseAPI("api 127.0.0.1:8053")
	require.NoError(t, err)
	assert.Equal(t, apiLimits{readHeaderTimeout: 5 * time.Second, idleTimeout: 60 * time.Second, maxConnections: 512}, o.limits)
	assert.Equal(t, "", o.tokensFile)

	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(tokens, []byte("tokens:\n  - {name: a, sha256: "+sum("x")+", role: register}\n"), 0o600))
	o, err = parseAPI("api 127.0.0.1:8053 {\n read_header_timeout 2s\n idle_timeout 30s\n max_connections 100\n tokens " + tokens + "\n }")
	require.NoError(t, err)
	assert.Equal(t, apiLimits{readHeaderTimeout: 2 * time.Second, idleTimeout: 30 * time.Second, maxConnections: 100}, o.limits)
	assert.Equal(t, tokens, o.tokensFile)
	require.Len(t, o.tokens, 1)
	assert.Equal(t, apiToken{name: "a", role: roleRegister}, o.tokens[0].apiToken)

	for _, c := range []struct{ block, want string }{
		{"max_connections 0", `Testfile:4 - Error during parsing: api max_connections: "0" is not a number of connections (1 or more)`},
		{"max_connections lots", `Testfile:4 - Error during parsing: api max_connections: "lots" is not a number of connections (1 or more)`},
		{"idle_timeout 0s", `Testfile:4 - Error during parsing: api idle_timeout: "0s" is not a positive duration`},
		{"read_header_timeout -1s", `Testfile:4 - Error during parsing: api read_header_timeout: "-1s" is not a positive duration`},
		{"read_header_timeout", `Testfile:4 - Error during parsing: Wrong argument count or unexpected line ending after 'read_header_timeout'`},
		{"tokens a b", `Testfile:4 - Error during parsing: Wrong argument count or unexpected line ending after 'b'`},
		{"max_connection 5", `Testfile:4 - Error during parsing: unknown api property "max_connection"`},
	} {
		_, err := parseAPI("api 127.0.0.1:8053 {\n " + c.block + "\n }")
		if assert.Error(t, err, c.block) {
			assert.Equal(t, c.want, err.Error(), c.block)
		}
	}
}
