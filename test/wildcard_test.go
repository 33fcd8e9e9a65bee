package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWildcardSocketRepliesFromTheAddressQueried checks that a server
// listening on every address answers from the one each query came to:
// clients with connected sockets (most stub resolvers) drop a reply from
// any other. 127.0.0.2 is this host's too, but not the address the kernel
// would pick to reach 127.0.0.1 from.
func TestWildcardSocketRepliesFromTheAddressQueried(t *testing.T) {
	dir := t.TempDir()
	registry := filepath.Join(dir, "services.yaml")
	require.NoError(t, os.WriteFile(registry, []byte("services:\n  - name: db\n    endpoints: [10.0.0.1]\n"), 0o644))
	port := FreePort(t)
	Start(t, fmt.Sprintf(`
tp.internal:%[1]s {
    errors
    thirdparty {
        services %[2]s
    }
}
example.org:%[1]s {
    whoami
}`, port, registry))

	addrs := []string{"127.0.0.1", "127.0.0.2"}
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		ln.Close()
		addrs = append(addrs, "::1")
	}
	for _, addr := range addrs {
		to := net.JoinHostPort(addr, port)
		// Answered by the packet path, and through the chain.
		r := Exchange(t, "udp", to, Query("db.tp.internal.", dns.TypeA, 0))
		require.Len(t, r.Answer, 1, to)
		assert.Equal(t, "10.0.0.1", r.Answer[0].(*dns.A).A.String(), to)
		r = Exchange(t, "udp", to, Query("db.tp.internal.", dns.TypeANY, 1232))
		assert.Len(t, r.Answer, 1, to)
		r = Exchange(t, "udp", to, Query("example.org.", dns.TypeA, 0))
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, to)
	}
}
