package tsig

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tpdns/tpdns/plugin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM="

func TestParse(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "tsig.keys")
	require.NoError(t, os.WriteFile(keys, []byte(`# made by tsig-keygen
key "App-Finance." {
	algorithm hmac-sha512;
	secret "`+secret+`";
};
key ci { secret "`+secret+`"; };
`), 0o600))

	ctl := caddy.NewTestController(plugin.ServerType, `tsig example.org {
		secret Key1 `+secret+`
		secrets `+keys+`
		require A TXT
		require_opcode update
	}`)
	ctl.ServerBlockKeys = []string{"tp.internal:53"}
	tsig, got, err := parse(ctl)
	require.NoError(t, err)
	assert.Equal(t, []string{"example.org."}, tsig.zones)
	assert.Equal(t, map[uint16]bool{dns.TypeA: true, dns.TypeTXT: true}, tsig.types)
	assert.Equal(t, map[int]bool{dns.OpcodeUpdate: true}, tsig.opcodes)
	assert.False(t, tsig.allTypes)
	require.Len(t, got, 3)
	assert.Equal(t, "", got["key1."].Algorithm)
	assert.Equal(t, dns.HmacSHA512, got["app-finance."].Algorithm)
	assert.Len(t, got["ci."].Secret, 32)

	ctl = caddy.NewTestController(plugin.ServerType, "tsig {\n secret k "+secret+"\n require all\n}")
	ctl.ServerBlockKeys = []string{"tp.internal:53"}
	tsig, _, err = parse(ctl)
	require.NoError(t, err)
	assert.Equal(t, []string{"tp.internal."}, tsig.zones)
	assert.True(t, tsig.allTypes)
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, "keys")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	cases := map[string]string{
		"tsig":                            "Testfile:1 - Error during parsing: tsig needs at least one key (secret or secrets)",
		"tsig {\n secret k\n}":            "Testfile:2 - Error during parsing: secret wants NAME KEY",
		"tsig {\n secret k not!base64\n}": "Testfile:2 - Error during parsing: secret k: the key is not base64",
		"tsig {\n secret k " + secret + "\n secret K. " + secret + "\n}": `Testfile:3 - Error during parsing: key "k." is defined twice`,
		"tsig {\n secret k " + secret + "\n require\n}":                  "Testfile:3 - Error during parsing: require wants a list, all or none",
		"tsig {\n secret k " + secret + "\n require AAAAA\n}":            `Testfile:3 - Error during parsing: require: unknown "AAAAA"`,
		"tsig {\n secret k " + secret + "\n nonsense\n}":                 `Testfile:3 - Error during parsing: unknown property "nonsense"`,
		"tsig {\n secrets " + file("key \"a\" {\n algorithm hmac-md5;\n secret \""+secret+"\";\n};\n") + "\n}": "Testfile:2 - Error during parsing: " +
			filepath.Join(dir, "keys") + ":2: algorithm hmac-md5 is not supported (hmac-sha256, hmac-sha384 or hmac-sha512)",
	}
	for input, want := range cases {
		ctl := caddy.NewTestController(plugin.ServerType, input)
		_, _, err := parse(ctl)
		if assert.Error(t, err, input) {
			assert.Equal(t, want, err.Error(), input)
		}
	}
}
