package tsigfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "jvGVMhy/aiN9ZXj/TIBgm/B3WJ5WG5Bo4rcKrZs2ndM="

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte(`// tsig-keygen app-finance
key "App-Finance." {
	algorithm hmac-sha512;
	secret "`+secret+`";
};
key ci { secret "`+secret+`"; }; # one line
key slashes { secret "ab//cd/+ef8="; }; // base64 holds slashes
`), 0o600))
	keys, err := Read(path)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	assert.Equal(t, []byte{105, 191, 255, 113, 223, 254, 121, 255}, keys[2].Secret)
	assert.Equal(t, "app-finance.", keys[0].Name)
	assert.Equal(t, "hmac-sha512.", keys[0].Algorithm)
	assert.Len(t, keys[0].Secret, 32)
	assert.Equal(t, Key{Name: "ci.", Secret: keys[0].Secret}, keys[1])
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, "keys")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	for body, want := range map[string]string{
		"key \"a\" {\n secret \"" + secret + "\";\n": `:1: key "a." is not closed with };`,
		"key \"a\" {\n algorithm hmac-sha256;\n};\n": `:3: key "a." has no secret`,
		"nonsense\n":                                `:1: unexpected "nonsense", want key`,
		"key \"a\" {\n secret \"%%%\";\n};\n":       `:2: the secret of key "a." is not base64`,
		"key \"a\" {\n secret " + secret + "\n};\n": `:2: unexpected "secret", want algorithm NAME; or secret "BASE64";`,
		"": `keys: no key`,
	} {
		_, err := Read(file(body))
		if assert.Error(t, err, body) {
			assert.Contains(t, err.Error(), want, body)
		}
	}
	_, err := Read(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "no such file")
}
