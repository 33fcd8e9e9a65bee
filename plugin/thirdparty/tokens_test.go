package thirdparty

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sum(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func TestTokensFile(t *testing.T) {
	tokens, err := parseTokens("tokens.yaml", []byte(`# the API's users
tokens:
  - name: ci-finance
    sha256: `+strings.ToUpper(sum("s3cret"))+`
    role: write
    services: ["finance.*", "Billing."]
  - {name: monitor, sha256: `+sum("m0n")+`, role: read}
  - name: ops
    sha256: "`+sum("0ps")+`"
    role: admin
`))
	require.NoError(t, err)
	require.Len(t, tokens, 3)
	tt := newTokenTable([]byte("adm1n"), tokens)

	ci := tt.lookup("s3cret")
	require.NotNil(t, ci)
	assert.Equal(t, apiToken{name: "ci-finance", role: roleWrite, scope: []string{"finance.*", "billing"}}, *ci)
	assert.Equal(t, apiToken{name: "monitor", role: roleRead}, *tt.lookup("m0n"))
	assert.Equal(t, apiToken{name: "ops", role: roleAdmin}, *tt.lookup("0ps"))
	assert.Equal(t, apiToken{name: tokenFileName, role: roleAdmin}, *tt.lookup("adm1n"))
	assert.Nil(t, tt.lookup("S3CRET"))
	assert.Nil(t, tt.lookup(sum("s3cret")), "the hash is no token")

	for _, c := range []struct {
		act     role
		service string
		want    bool
	}{
		{roleRead, "finance.ledger", true},
		{roleWrite, "finance.ledger", true},
		{roleWrite, "billing", true},
		{roleWrite, "finance", false}, // "finance.*" needs the dot
		{roleRead, "payroll", false},
		{roleAdmin, "billing", false},
	} {
		assert.Equal(t, c.want, ci.may(c.act, c.service), "%v %s", c.act, c.service)
	}

	for _, empty := range []string{"", "# nothing\n", "tokens:\n", "tokens: []\n"} {
		tokens, err := parseTokens("tokens.yaml", []byte(empty))
		assert.NoError(t, err, "%q", empty)
		assert.Empty(t, tokens)
	}
}

func TestTokensFileErrors(t *testing.T) {
	h := sum("x")
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"syntax", "tokens:\n\t- name: a\n", []string{
			"tokens.yaml:2: invalid YAML: found character that cannot start any token"}},
		{"not a mapping", "- a\n", []string{
			`tokens.yaml:1: want a mapping with the key "tokens", got a list`}},
		{"unknown top key", "tokens: []\nusers: []\n", []string{
			"tokens.yaml:2: users: unknown field; want one of tokens"}},
		{"not a list", "tokens: {name: a}\n", []string{
			"tokens.yaml:1: tokens: want a list, got a mapping"}},
		{"every error of an entry", "tokens:\n  - name: bad name\n    sha256: abc\n    role: root\n    services: []\n    colour: blue\n", []string{
			`tokens.yaml:2: tokens[0].name: "bad name" is not a name: letters, digits and . _ @ : -, at most 64, starting with a letter or digit`,
			`tokens.yaml:3: tokens[0].sha256: want the SHA-256 of the token, 64 hex digits (sha256sum), got "abc"`,
			`tokens.yaml:4: tokens[0].role: want read, register, write or admin, got "root"`,
			`tokens.yaml:5: tokens[0].services: empty: a token with no service could do nothing; leave services out for every service`,
			`tokens.yaml:6: tokens[0].colour: unknown field; want one of name, sha256, role, services`,
		}},
		{"missing fields", "tokens:\n  - name: a\n", []string{
			"tokens.yaml:2: tokens[0].sha256: missing",
			"tokens.yaml:2: tokens[0].role: missing",
		}},
		{"repeated key", "tokens:\n  - name: a\n    name: b\n    sha256: " + h + "\n    role: read\n", []string{
			"tokens.yaml:3: tokens[0].name: repeated key (first at line 2)"}},
		{"duplicates", "tokens:\n  - {name: a, sha256: " + h + ", role: read}\n  - {name: a, sha256: " + sum("y") + ", role: read}\n  - {name: b, sha256: " + strings.ToUpper(h) + ", role: write}\n", []string{
			"tokens.yaml:3: tokens[1].name: a is the name of another token (line 2)",
			"tokens.yaml:4: tokens[2].sha256: the same token as a (line 2)",
		}},
		{"reserved name", "tokens:\n  - {name: token_file, sha256: " + h + ", role: read}\n", []string{
			"tokens.yaml:2: tokens[0].name: token_file is the name of the token_file's token"}},
		{"scoped admin", "tokens:\n  - {name: a, sha256: " + h + ", role: admin, services: [x]}\n", []string{
			"tokens.yaml:2: tokens[0].services: an admin token has every service; leave services out"}},
		{"bad glob", "tokens:\n  - {name: a, sha256: " + h + ", role: read, services: [\"[x\", {a: b}]}\n", []string{
			`tokens.yaml:2: tokens[0].services[0]: "[x" is not a glob: syntax error in pattern`,
			`tokens.yaml:2: tokens[0].services[1]: want a service name or glob, got a mapping`,
		}},
		{"wrong types", "tokens:\n  - {name: [a], sha256: null, role: read}\n  - 7\n", []string{
			"tokens.yaml:2: tokens[0].name: want a string, got a list",
			"tokens.yaml:2: tokens[0].sha256: want a string, got nothing",
			`tokens.yaml:3: tokens[1]: want a mapping with name, sha256, role and services, got "7"`,
		}},
		{"two documents", "tokens: []\n---\ntokens: []\n", []string{
			"tokens.yaml:3: a second YAML document; the tokens file is one document"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tokens, err := parseTokens("tokens.yaml", []byte(c.file))
			require.Error(t, err)
			assert.Nil(t, tokens)
			assert.Equal(t, strings.Join(c.want, "\n"), err.Error())
		})
	}
}
