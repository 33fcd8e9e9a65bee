package test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dig runs dig against the server on 127.0.0.1:port. Outside CI a machine
// without dig skips the test; `make test` installs it.
func dig(t *testing.T, port string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dig not found: the dnsutils package must be installed (make test does it)")
		}
		t.Skip("dig not found; `make test` installs dnsutils")
	}
	out, err := exec.Command(path, append([]string{"@127.0.0.1", "-p", port, "+tries=1", "+time=2"}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func TestDigAgainstTheBinary(t *testing.T) {
	port := FreePort(t)
	p := RunBinary(t, tpdnsBinary, "tp.internal:"+port+" {\n bind 127.0.0.1\n log\n whoami\n}\n", "127.0.0.1:"+port)

	out := dig(t, port, "whoami.tp.internal", "A", "+noall", "+additional")
	assert.Regexp(t, `^whoami\.tp\.internal\.\s+0\s+IN\s+A\s+127\.0\.0\.1\n_udp\.whoami\.tp\.internal\.\s+0\s+IN\s+SRV\s+0 0 \d+ \.\n$`, out)

	out = dig(t, port, "+tcp", "WhoAmI.tp.internal", "A", "+noall", "+additional")
	assert.Regexp(t, `^WhoAmI\.tp\.internal\.\s+0\s+IN\s+A\s+127\.0\.0\.1\n_tcp\.WhoAmI\.tp\.internal\.\s+0\s+IN\s+SRV\s+0 0 \d+ \.\n$`, out)

	out = dig(t, port, "example.com", "A")
	assert.Contains(t, out, "status: REFUSED")

	// The log plugin's lines, in CoreDNS's format; names outside the
	// server block's zone never reach it.
	p.WaitOutput(t, `"A IN whoami.tp.internal. udp`)
	p.WaitOutput(t, `"A IN whoami.tp.internal. tcp`) // lower case, as CoreDNS logs it
	var lines []string
	for _, l := range strings.Split(p.Output.String(), "\n") {
		if strings.HasPrefix(l, "[INFO] 127.0.0.1:") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 2, p.Output.String())
	re := regexp.MustCompile(`^\[INFO\] 127\.0\.0\.1:\d+ - \d+ "A IN whoami\.tp\.internal\. udp \d+ false 1232" NOERROR qr,aa,rd \d+ \d+\.\d+s$`)
	assert.Regexp(t, re, lines[0])
	// Over TCP the buffer is TCP's, 65535, as CoreDNS logs it.
	re = regexp.MustCompile(`^\[INFO\] 127\.0\.0\.1:\d+ - \d+ "A IN whoami\.tp\.internal\. tcp \d+ false 65535" NOERROR qr,aa,rd \d+ \d+\.\d+s$`)
	assert.Regexp(t, re, lines[1])
}
