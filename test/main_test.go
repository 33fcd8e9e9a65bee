package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	_ "github.com/tpdns/tpdns/plugin/acl"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/cache"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/plugin/forward"
	_ "github.com/tpdns/tpdns/plugin/health"
	_ "github.com/tpdns/tpdns/plugin/log"
	_ "github.com/tpdns/tpdns/plugin/multisocket"
	_ "github.com/tpdns/tpdns/plugin/prometheus"
	_ "github.com/tpdns/tpdns/plugin/ready"
	_ "github.com/tpdns/tpdns/plugin/reload"
	_ "github.com/tpdns/tpdns/plugin/rrl"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	_ "github.com/tpdns/tpdns/plugin/timeouts"
	_ "github.com/tpdns/tpdns/plugin/tsig"
	_ "github.com/tpdns/tpdns/plugin/whoami"
	_ "github.com/tpdns/tpdns/test/testplugins"
)

// The binaries built for the end-to-end tests.
var tpdnsBinary, tpdnsctlBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tpdns-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The snapshot files of the replicas' etcd stores (in the user's
	// cache directory by default) stay in dir: no test serves another
	// run's snapshot.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	tpdnsBinary, err = BuildBinary(dir, "tpdns")
	if err == nil {
		tpdnsctlBinary, err = BuildBinary(dir, "tpdnsctl")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the commands:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
