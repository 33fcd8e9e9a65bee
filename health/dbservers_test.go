package health

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/test/freeport"
)

// The database checks are tested against real servers from Debian's
// packages (scripts/test-deps.sh installs them): PostgreSQL, MariaDB and
// Redis. Each is started once per test process, when a test first needs
// one (all three start together, in the background), on loopback ports
// from freeport, in a directory of its own under the system's temporary
// directory, and stopped by TestMain. A machine without a server's
// binaries skips its tests, but CI (CI set) fails them.
//
// PostgreSQL refuses to run as root, MariaDB too unless told which user
// to become, and the tests run as root on CI and on the development
// machines. So when the test process is root, every server runs as the
// user "nobody": exec.Cmd's SysProcAttr.Credential switches to it between
// fork and exec (no sudo, runuser or setpriv in between), and the server's
// directory is handed to it with chown. Pdeathsig takes a server down with
// a test process that dies without TestMain's clean-up.

// dbServer is one kind of server under test: its processes, its
// directory, and the addresses its tests probe.
type dbServer struct {
	name  string // "postgres"
	pkg   string // the Debian package that has it
	ports int    // how many loopback ports start needs
	// start starts the server on addrs, in dir.
	start func(s *dbServer) error

	addrs []string
	dir   string
	done  chan struct{}
	err   error
	// missing is set when a binary is not installed.
	missing bool

	mu    sync.Mutex
	procs []*serverProc
}

// The servers. The first address of each is its main server.
var (
	pgServer    = &dbServer{name: "postgres", pkg: "postgresql", ports: 2, start: startPostgres}
	mysqlServer = &dbServer{name: "mariadb", pkg: "mariadb-server", ports: 1, start: startMariaDB}
	redisServer = &dbServer{name: "redis", pkg: "redis-server", ports: 1, start: startRedis}
	dbServers   = []*dbServer{pgServer, mysqlServer, redisServer}
	startOnce   sync.Once
)

// addr starts the servers on first use, waits for s and returns its
// address number i; it skips or fails the test when s cannot run.
func (s *dbServer) addr(t *testing.T, i int) string {
	t.Helper()
	startOnce.Do(func() {
		for _, srv := range dbServers {
			srv.done = make(chan struct{})
			for range srv.ports {
				srv.addrs = append(srv.addrs, "127.0.0.1:"+freeport.Port(t))
			}
			go func() {
				defer close(srv.done)
				srv.err = srv.begin()
			}()
		}
	})
	<-s.done
	switch {
	case s.missing && os.Getenv("CI") != "":
		t.Fatalf("%v: the %s package must be installed (scripts/test-deps.sh does it)", s.err, s.pkg)
	case s.missing:
		t.Skipf("%v; scripts/test-deps.sh installs %s", s.err, s.pkg)
	case s.err != nil:
		t.Fatalf("%s: %v", s.name, s.err)
	}
	return s.addrs[i]
}

func (s *dbServer) begin() error {
	dir, err := serverDir(s.name)
	if err != nil {
		return err
	}
	s.dir = dir
	return s.start(s)
}

// withDBServers runs the tests, then stops the servers they started,
// before TestMain looks for goroutines left behind (a server's Wait would
// be one).
type withDBServers struct{ *testing.M }

func (m withDBServers) Run() int {
	code := m.M.Run()
	stopDBServers()
	return code
}

// stopDBServers stops every server that was started and removes their
// directories.
func stopDBServers() {
	for _, s := range dbServers {
		if s.done == nil {
			continue
		}
		<-s.done
		s.mu.Lock()
		procs := s.procs
		s.mu.Unlock()
		for _, p := range procs {
			p.stop()
		}
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
	}
}

// findBinary returns the first of names found on PATH, or at a path
// (which may be a glob: the highest match is taken, /usr/lib/postgresql/16
// over 15).
func findBinary(names ...string) (string, error) {
	for _, n := range names {
		if !strings.Contains(n, "/") {
			if p, err := exec.LookPath(n); err == nil {
				return p, nil
			}
			continue
		}
		matches, _ := filepath.Glob(n)
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(b, a) })
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode()&0o111 != 0 {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found", names[0])
}

// compareVersions orders paths that differ in a number by the number.
func compareVersions(a, b string) int {
	na, _ := strconv.Atoi(strings.Trim(filepath.Base(filepath.Dir(filepath.Dir(a))), "abcdefghijklmnopqrstuvwxyz.-"))
	nb, _ := strconv.Atoi(strings.Trim(filepath.Base(filepath.Dir(filepath.Dir(b))), "abcdefghijklmnopqrstuvwxyz.-"))
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// serverAccount is the user the servers run as when the tests run as
// root; nil otherwise.
var serverAccount = sync.OnceValues(func() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("the tests run as root, and the database servers, which refuse root, need the user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
})

// serverDir makes a directory for a server, its own.
func serverDir(name string) (string, error) {
	cred, err := serverAccount()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "tpdns-"+name+"-")
	if err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// serverCommand is a command run as the servers' user, with the
// environment of the test (HOME set to dir: nobody's does not exist).
func serverCommand(dir, bin string, args ...string) (*exec.Cmd, error) {
	cred, err := serverAccount()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// runIn runs a set-up command to its end.
func runIn(dir, bin string, args ...string) error {
	cmd, err := serverCommand(dir, bin, args...)
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(bin), err, out)
	}
	return nil
}

// serverProc is a server process.
type serverProc struct {
	cmd    *exec.Cmd
	log    string
	sig    syscall.Signal // the signal that stops it cleanly
	exited chan struct{}
}

// spawn starts a server process, its output in dir/NAME.log.
func (s *dbServer) spawn(name string, sig syscall.Signal, bin string, args ...string) (*serverProc, error) {
	cmd, err := serverCommand(s.dir, bin, args...)
	if err != nil {
		return nil, err
	}
	log := filepath.Join(s.dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, log: log, sig: sig, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// stop stops p, cleanly if it will within 10 seconds.
func (p *serverProc) stop() {
	p.cmd.Process.Signal(p.sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill stops p at once.
func (p *serverProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// tail is the end of p's log, for an error.
func (p *serverProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// waitProbe probes addr with a check of type typ until ok accepts the
// result, for at most a minute, and fails when p exits meanwhile.
func waitProbe(p *serverProc, addr, typ string, ok func(Result) bool) error {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	c := config.Check{Type: typ, Timeout: 5 * time.Second, Interval: 10 * time.Second, ServiceName: "x"}
	pr := newProber()
	deadline := time.Now().Add(time.Minute)
	var last Result
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited: %v\n%s", filepath.Base(p.cmd.Path), p.cmd.ProcessState, p.tail())
		default:
		}
		if last = pr.probe(context.Background(), Target{Host: host, Port: uint16(n), Check: c}); ok(last) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s on %s: not ready after a minute (last probe: %+v)\n%s", filepath.Base(p.cmd.Path), addr, last, p.tail())
}

// up accepts a probe that found the server up.
func up(r Result) bool { return r.OK }

// startPostgres starts two PostgreSQL servers from one initdb: a primary,
// which asks for a password (scram-sha-256) over TCP, and a standby with
// hot_standby off, which stays in recovery (it has no primary to follow)
// and turns every connection away with 57P03.
func startPostgres(s *dbServer) error {
	initdb, err := findBinary("initdb", "/usr/lib/postgresql/*/bin/initdb")
	if err != nil {
		s.missing = true
		return err
	}
	postgres, err := findBinary("postgres", "/usr/lib/postgresql/*/bin/postgres")
	if err != nil {
		s.missing = true
		return err
	}
	primary, standby := filepath.Join(s.dir, "primary"), filepath.Join(s.dir, "standby")
	if err := runIn(s.dir, initdb, "-D", primary, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
		"--no-sync", "--no-locale", "-E", "UTF8"); err != nil {
		return err
	}
	if err := runIn(s.dir, "cp", "-a", primary, standby); err != nil {
		return err
	}
	if err := runIn(s.dir, "sh", "-c", `touch "$1/standby.signal" && echo "hot_standby = off" >> "$1/postgresql.conf"`, "sh", standby); err != nil {
		return err
	}
	var procs [2]*serverProc
	for i, data := range []string{primary, standby} {
		_, port, _ := net.SplitHostPort(s.addrs[i])
		// -k: the Unix socket in the server's directory, not /run/postgresql.
		procs[i], err = s.spawn(filepath.Base(data), syscall.SIGINT, postgres, "-D", data, "-k", s.dir, "-h", "127.0.0.1", "-p", port,
			"-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=20")
		if err != nil {
			return err
		}
	}
	if err := waitProbe(procs[0], s.addrs[0], config.CheckPostgres, up); err != nil {
		return err
	}
	return waitProbe(procs[1], s.addrs[1], config.CheckPostgres, func(r Result) bool {
		return strings.Contains(r.Err, "not accepting connections")
	})
}

// startMariaDB starts a MariaDB server that takes 10 connections (its
// least) and blocks a host after 2 connection errors in a row; a user
// 'probe'@'127.0.0.2' lets that address in, so that the server keeps
// count of its errors (it never does for 127.0.0.1, nor with
// skip-name-resolve: it looks up 127.0.0.2's name, which the machine's
// resolver answers at once, with no name).
func startMariaDB(s *dbServer) error {
	install, err := findBinary("mariadb-install-db", "mysql_install_db")
	if err != nil {
		s.missing = true
		return err
	}
	mariadbd, err := findBinary("mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld")
	if err != nil {
		s.missing = true
		return err
	}
	data := filepath.Join(s.dir, "data")
	if err := runIn(s.dir, install, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal", "--skip-test-db"); err != nil {
		return err
	}
	initFile := filepath.Join(s.dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("CREATE USER IF NOT EXISTS 'probe'@'127.0.0.2';\n"), 0o644); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.addrs[0])
	p, err := s.spawn("mariadbd", syscall.SIGTERM, mariadbd, "--no-defaults", "--datadir="+data,
		"--socket="+filepath.Join(s.dir, "mysqld.sock"), "--pid-file="+filepath.Join(s.dir, "mysqld.pid"),
		"--bind-address=127.0.0.1", "--port="+port, "--skip-log-bin", "--innodb-buffer-pool-size=16M",
		"--max-connections=10", "--max-connect-errors=2", "--connect-timeout=60", "--init-file="+initFile)
	if err != nil {
		return err
	}
	return waitProbe(p, s.addrs[0], config.CheckMySQL, up)
}

// startRedis starts a Redis server whose scripts are "busy" after 100ms.
func startRedis(s *dbServer) error {
	bin, err := findBinary("redis-server")
	if err != nil {
		s.missing = true
		return err
	}
	p, err := s.spawnRedis("redis", bin, s.addrs[0], "--lua-time-limit", "100")
	if err != nil {
		return err
	}
	return waitProbe(p, s.addrs[0], config.CheckRedis, up)
}

// spawnRedis starts a redis-server on addr, in the server's directory,
// with no persistence unless args ask for it.
func (s *dbServer) spawnRedis(name, bin, addr string, args ...string) (*serverProc, error) {
	_, port, _ := net.SplitHostPort(addr)
	return s.spawn(name, syscall.SIGTERM, bin, append([]string{"--port", port, "--bind", "127.0.0.1",
		"--dir", s.dir, "--dbfilename", name + ".rdb", "--save", "", "--appendonly", "no", "--daemonize", "no"}, args...)...)
}

// respCommand renders a command as a RESP array of bulk strings.
func respCommand(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}
