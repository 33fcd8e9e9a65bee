package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// TestReadmeCommands runs every shell command the READMEs show, exactly as
// written, against the example served as `make run` serves it: issue 17's
// "on a fresh clone, `make run`, then every README command works".
//
// The READMEs are read when the test runs: README.md, then plugin/*/README.md
// in order (their shell blocks are queries of the example: tsig's signed dig).
// A shell block is a fence opened by ```sh or ~~~ sh (bash and shell too).
// Each block runs in one bash process with `set -e -o pipefail`, its
// commands in order, so that a line's variables (TOKEN=$(cat tpdns.token))
// reach the next; a command is a line, its `\` continuations and any quote
// left open at the end of a line included, and its comment left out.
//
// The working directory is the layout the commands expect: Corefile.example,
// examples/ and bin/ with the tpdns and tpdnsctl the test built (bin/ first on
// PATH, as after `make build`), and `bin/tpdns --conf Corefile.example`
// running in it on the example's fixed ports. The one change to
// Corefile.example is that its upstreams (`forward . /etc/resolv.conf`, and
// the default `resolver` of host-name endpoints) become a resolver on
// loopback that answers every A query with 198.51.100.1: tests talk to
// 127.0.0.1 only.
//
// Besides exit status 0, a command is held to what the README says of it
// where that is simple to check:
//   - `dig ... +short` whose comment is a list of values (`# A: 192.0.2.10,
//     192.0.2.11`: addresses, "quoted strings", names ending in a dot) prints
//     exactly those lines, in any order;
//   - every dig prints something, and status NOERROR where it shows one (dig
//     exits 0 on NXDOMAIN or REFUSED);
//   - curl fails on an HTTP error (a ~/.curlrc with --fail-with-body: curl -s
//     exits 0 on a 401);
//   - a command with $(...) prints nothing on standard error (set -e does not
//     see a failure inside the $(...) given to export or eval);
//   - a command whose comment says it runs "until interrupted" runs for 3 s,
//     then gets SIGINT (as Ctrl-C would give it) and must exit 0.
//
// dig comes with dnsutils, which `make test` installs: without it the test
// is skipped, except in CI (CI set), where it fails.
func TestReadmeCommands(t *testing.T) {
	for _, tool := range []string{"bash", "dig", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" || tool == "bash" {
				t.Fatalf("%s not found: the README's commands need it (make test installs dnsutils for dig)", tool)
			}
			t.Skipf("%s not found; `make test` installs dnsutils (dig)", tool)
		}
	}

	docs, err := filepath.Glob("../plugin/*/README.md")
	require.NoError(t, err)
	slices.Sort(docs)
	docs = append([]string{"../README.md"}, docs...)
	var blocks []shellBlock
	for _, doc := range docs {
		b, err := readmeShellBlocks(doc)
		require.NoError(t, err)
		blocks = append(blocks, b...)
	}
	require.NotEmpty(t, blocks, "no shell block in the READMEs")

	dir, env := readmeWorkdir(t)
	p := startReadmeExample(t, dir)

	used := make([]bool, len(readmeExempt))
	for _, b := range blocks {
		runShellBlock(t, dir, env, b, used)
	}
	select {
	case err := <-p.done:
		p.done <- err
		t.Errorf("bin/tpdns exited while the commands ran: %v", err)
	default:
	}
	for i, e := range readmeExempt {
		if !used[i] {
			t.Logf("exemption %q matched no command (drop it once the README settles)", e.match)
		}
	}
}

// readmeExempt lists the commands the test does not run, and why; every
// other command runs.
var readmeExempt = []struct {
	match  string // a regexp the whole command (comment left out) matches
	reason string
}{
	{`^make run$`, "the test serves the example itself, as make run does: bin/tpdns --conf Corefile.example"},
	{`^make (build|install)$`, "the test builds bin/tpdns and bin/tpdnsctl itself and puts bin/ on PATH"},
	{`^make test$`, "the whole test suite, this test included"},
	{`^go install `, "installs into GOPATH/bin; the test runs the binaries it built"},
	{`^kubectl `, "needs a Kubernetes cluster"},
	{`^sh deploy/kubernetes/`, "needs a Kubernetes cluster (test/deploy_test.go runs the script against a fake API server)"},
	{`^docker `, "needs a Docker daemon, and the network to pull the base images"},
}

func readmeExemption(cmd string) (int, string) {
	for i, e := range readmeExempt {
		if regexp.MustCompile(e.match).MatchString(cmd) {
			return i, e.reason
		}
	}
	return -1, ""
}

// shellBlock is a fenced shell block of a README.
type shellBlock struct {
	file string // as given, ../README.md
	line int    // of the opening fence
	cmds []shellCommand
}

// shellCommand is one command of a block.
type shellCommand struct {
	line    int    // where it starts
	text    string // as written, continuation lines included, comment left out
	comment string // its comment, without the #; "" if none
}

// where is file:line of the command, relative to the repository.
func (b shellBlock) where(c shellCommand) string {
	return fmt.Sprintf("%s:%d", strings.TrimPrefix(b.file, "../"), c.line)
}

// oneLine is the command with its continuations joined, for messages.
func (c shellCommand) oneLine() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(c.text, "\\\n", " ")), " ")
}

var (
	readmeShellFence = regexp.MustCompile("^ *(```+|~~~+)[ \t]*(sh|bash|shell)[ \t]*$")
	readmeAnyFence   = regexp.MustCompile("^( *)(```+|~~~+)")
)

// readmeShellBlocks returns the shell blocks of a Markdown file.
func readmeShellBlocks(path string) ([]shellBlock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks []shellBlock
		fence  string // the open fence; "" outside
		indent string // before the open fence (a block in a list item)
		shell  bool
		start  int
		body   []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if fence == "" {
			if m := readmeAnyFence.FindStringSubmatch(line); m != nil {
				indent, fence, start, body = m[1], m[2], n, nil
				shell = readmeShellFence.MatchString(line)
			}
			continue
		}
		line = strings.TrimPrefix(line, indent)
		if t := strings.TrimLeft(line, " "); strings.HasPrefix(t, fence) && strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == "" {
			if shell {
				cmds, err := readmeSplitCommands(body, start+1)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", path, start, err)
				}
				blocks = append(blocks, shellBlock{file: path, line: start, cmds: cmds})
			}
			fence = ""
			continue
		}
		body = append(body, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if fence != "" {
		return nil, fmt.Errorf("%s:%d: fence never closed", path, start)
	}
	return blocks, nil
}

// readmeSplitCommands splits a block's lines (the first at line first) into
// commands: a newline ends one unless it is escaped or inside quotes or
// $(...); a # that starts a word outside quotes starts a comment. Lines that
// are only a comment belong to no command.
func readmeSplitCommands(lines []string, first int) ([]shellCommand, error) {
	var (
		cmds    []shellCommand
		text    strings.Builder
		comment strings.Builder
		start   = -1
		stack   []byte // open contexts: '\'', '"', '('
		prev    byte   = '\n'
	)
	top := func() byte {
		if len(stack) == 0 {
			return 0
		}
		return stack[len(stack)-1]
	}
	src := strings.Join(lines, "\n") + "\n"
	line := first
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case top() == '\'':
			if c == '\'' {
				stack = stack[:len(stack)-1]
			}
		case c == '\\' && i+1 < len(src):
			text.WriteByte(c)
			i++
			c = src[i]
		case top() == '"':
			switch {
			case c == '"':
				stack = stack[:len(stack)-1]
			case c == '$' && i+1 < len(src) && src[i+1] == '(':
				stack = append(stack, '(')
				text.WriteByte(c)
				i++
				c = src[i]
			}
		case c == '#' && strings.IndexByte(" \t\n;&|()", prev) >= 0:
			end := strings.IndexByte(src[i:], '\n')
			if start >= 0 && top() == 0 {
				comment.WriteString(strings.TrimSpace(src[i+1 : i+end]))
			}
			i += end - 1 // the newline is next
			continue
		case c == '\'' || c == '"':
			stack = append(stack, c)
		case c == '$' && i+1 < len(src) && src[i+1] == '(':
			stack = append(stack, '(')
			text.WriteByte(c)
			i++
			c = src[i]
		case c == ')' && top() == '(':
			stack = stack[:len(stack)-1]
		case c == '<' && i+1 < len(src) && src[i+1] == '<' && top() == 0:
			return nil, fmt.Errorf("line %d: a here-document; the test's splitter does not take them", line)
		case c == '\n' && top() == 0:
			if s := strings.TrimSpace(text.String()); s != "" {
				cmds = append(cmds, shellCommand{line: start, text: s, comment: comment.String()})
			}
			text.Reset()
			comment.Reset()
			start = -1
			prev = c
			line++
			continue
		}
		if c == '\n' {
			line++
		}
		if start < 0 && c != ' ' && c != '\t' && c != '\n' {
			start = line
		}
		text.WriteByte(c)
		prev = c
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("a quote or $( left open at the end of the block")
	}
	return cmds, nil
}

// readmeWorkdir makes the directory the commands run in, and their
// environment: bin/ first on PATH, no TPDNS_* from outside, and a HOME of
// its own whose .curlrc makes curl fail on an HTTP error and whose .digrc
// gives up sooner than dig's 3 tries of 5 s.
func readmeWorkdir(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	for _, bin := range []string{tpdnsBinary, tpdnsctlBinary} {
		require.NoError(t, os.Symlink(bin, filepath.Join(dir, "bin", filepath.Base(bin))))
	}
	require.NoError(t, os.CopyFS(filepath.Join(dir, "examples"), os.DirFS("../examples")))

	home := filepath.Join(dir, ".home")
	require.NoError(t, os.Mkdir(home, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".curlrc"), []byte("--fail-with-body\n--max-time 10\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".digrc"), []byte("+time=2 +tries=2\n"), 0o644))

	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TPDNS_") || k == "HOME" || k == "CURL_HOME" || k == "XDG_CONFIG_HOME" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "CURL_HOME="+home, "PATH="+filepath.Join(dir, "bin")+":"+os.Getenv("PATH"))
	return dir, env
}

// startReadmeExample serves Corefile.example in dir as `make run` does, on its
// own ports, and waits until it answers DNS, has written tpdns.token and is
// ready. A port in use fails the test, naming it.
func startReadmeExample(t *testing.T, dir string) *Process {
	t.Helper()
	b, err := os.ReadFile("../Corefile.example")
	require.NoError(t, err)
	corefile := string(b)

	dnsPorts, httpPorts := readmeExamplePorts(corefile)
	require.NotEmpty(t, dnsPorts, "Corefile.example: no server block port")
	for _, p := range dnsPorts {
		readmeHoldPort(t, p, true)
	}
	for _, p := range httpPorts {
		readmeHoldPort(t, p, false)
	}

	// Upstreams on loopback: the machine's resolvers are not the test's to ask.
	upstream := readmeLoopbackResolver(t)
	for _, r := range []struct{ old, new string }{
		{"forward . /etc/resolv.conf", "forward . " + upstream},
		{"thirdparty {", "thirdparty {\n        resolver " + upstream},
	} {
		require.Equal(t, 1, strings.Count(corefile, r.old),
			"Corefile.example should hold %q once: the test moves that upstream to loopback", r.old)
		corefile = strings.Replace(corefile, r.old, r.new, 1)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Corefile.example"), []byte(corefile), 0o644))

	p := &Process{Corefile: filepath.Join(dir, "Corefile.example"), Output: &LogBuffer{}, done: make(chan error, 1)}
	p.Cmd = exec.Command(filepath.Join(dir, "bin", "tpdns"), "--conf", "Corefile.example")
	p.Cmd.Dir = dir
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	require.NoError(t, p.Cmd.Start())
	go func() { p.done <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("bin/tpdns --conf Corefile.example printed:\n%s", p.Output)
		}
	})
	p.WaitAnswer(t, "127.0.0.1:"+dnsPorts[0])
	waitFor(t, 10*time.Second, "tpdns.token", func() bool {
		_, err := os.Stat(filepath.Join(dir, "tpdns.token"))
		return err == nil
	})
	if m := regexp.MustCompile(`(?m)^\s*ready\s+(\S+)`).FindStringSubmatch(corefile); m != nil {
		waitFor(t, 10*time.Second, "/ready on "+m[1], func() bool {
			resp, err := http.Get("http://" + m[1] + "/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return p
}

// readmeExamplePorts returns the ports of a Corefile's server block keys (DNS:
// UDP and TCP) and of its 127.0.0.1:PORT addresses (HTTP: TCP).
func readmeExamplePorts(corefile string) (dnsPorts, httpPorts []string) {
	add := func(list *[]string, p string) {
		if !slices.Contains(dnsPorts, p) && !slices.Contains(httpPorts, p) {
			*list = append(*list, p)
		}
	}
	for _, l := range strings.Split(corefile, "\n") {
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || !strings.HasSuffix(strings.TrimSpace(l), "{") {
			continue
		}
		for _, key := range strings.Fields(strings.TrimSuffix(strings.TrimSpace(l), "{")) {
			port := "53"
			if i := strings.LastIndexByte(key, ':'); i >= 0 {
				if _, err := strconv.Atoi(key[i+1:]); err == nil {
					port = key[i+1:]
				}
			}
			add(&dnsPorts, port)
		}
	}
	for _, m := range regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindAllStringSubmatch(corefile, -1) {
		add(&httpPorts, m[1])
	}
	return dnsPorts, httpPorts
}

// readmeHoldPort fails the test, naming the port, unless 127.0.0.1:port is
// free (TCP, and UDP for DNS); it also reserves the port as test/freeport
// does, so that no other test process is handed it while this test runs.
func readmeHoldPort(t *testing.T, port string, udp bool) {
	t.Helper()
	if runtime.GOOS == "linux" {
		ln, err := net.Listen("unix", "@tpdns-test-port-"+port)
		if err != nil {
			t.Fatalf("port %s is reserved by another test process: the example served as `make run` serves it needs it", port)
		}
		t.Cleanup(func() { ln.Close() })
	}
	busy := func(proto string, err error) {
		t.Fatalf("127.0.0.1:%s (%s) is in use: `make run` serves the example there, and so does this test; "+
			"stop what holds it (ss -lntup 'sport = :%s', perhaps a `make run`) and run the test again: %v", port, proto, port, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		busy("tcp", err)
	}
	ln.Close()
	if udp {
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+port)
		if err != nil {
			busy("udp", err)
		}
		pc.Close()
	}
}

// readmeLoopbackResolver stands in for the machine's resolvers: every A query is
// answered 198.51.100.1, any other type with no data.
func readmeLoopbackResolver(t *testing.T) string {
	t.Helper()
	addr := "127.0.0.1:" + FreePort(t)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 198.51.100.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	for _, proto := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: addr, Net: proto, Handler: h}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ListenAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return addr
}

// runShellBlock runs a block's commands, but the exempt, in one bash with
// set -e -o pipefail, each one's output to files of its own, then holds
// each command that ran to what the README says of it.
func runShellBlock(t *testing.T, dir string, env []string, b shellBlock, used []bool) {
	t.Helper()
	out := t.TempDir()
	file := func(i int, ext string) string { return filepath.Join(out, strconv.Itoa(i)+"."+ext) }
	started := filepath.Join(out, "started")

	var script strings.Builder
	script.WriteString("set -e -o pipefail\n")
	var run []int // indexes into b.cmds, in order
	for i, c := range b.cmds {
		if e, reason := readmeExemption(c.oneLine()); e >= 0 {
			used[e] = true
			t.Logf("%s: not run: `%s`: %s", b.where(c), c.oneLine(), reason)
			continue
		}
		run = append(run, i)
		fmt.Fprintf(&script, "printf '%d\\n' >%s\n", i, readmeShellQuote(started))
		redirect := fmt.Sprintf(">%s 2>%s", readmeShellQuote(file(i, "out")), readmeShellQuote(file(i, "err")))
		if strings.Contains(c.comment, "until interrupted") {
			// In a process group of its own, as a terminal's foreground
			// job is, and interrupted as Ctrl-C would.
			fmt.Fprintf(&script, "set -m\n{ %s\n} %s &\nsleep 3\nkill -INT -- -$! 2>/dev/null || true\nset +m\nwait $!\n", c.text, redirect)
		} else {
			fmt.Fprintf(&script, "{ %s\n} %s\n", c.text, redirect)
		}
	}
	if len(run) == 0 {
		return
	}
	scriptPath := filepath.Join(out, "block.sh")
	require.NoError(t, os.WriteFile(scriptPath, []byte(script.String()), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptPath)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	shellOut, err := cmd.CombinedOutput()
	failed := -1
	if err != nil {
		if s, rerr := os.ReadFile(started); rerr == nil {
			if n, aerr := strconv.Atoi(strings.TrimSpace(string(s))); aerr == nil {
				failed = n
			}
		}
	}

	for _, i := range run {
		c := b.cmds[i]
		stdout, _ := os.ReadFile(file(i, "out"))
		stderr, _ := os.ReadFile(file(i, "err"))
		if i != failed {
			checked := ""
			if want, ok := readmeDigExpectation(c); ok {
				checked = fmt.Sprintf(" (output checked: %q)", want)
			}
			t.Logf("%s: $ %s%s\n%s%s", b.where(c), c.oneLine(), checked, readmeClip(string(stdout)), readmeClip(string(stderr)))
		} else {
			why := err.Error()
			switch {
			case ctx.Err() != nil:
				why = "still running after 2 minutes (a command that runs until interrupted? say so in its comment)"
			case strings.Contains(c.comment, "until interrupted"):
				why += " (after 3 s it got SIGINT, as from Ctrl-C, and should have exited 0)"
			}
			t.Errorf("%s: `%s` failed: %s\nstdout:\n%s\nstderr:\n%s%s",
				b.where(c), c.oneLine(), why, stdout, stderr, shellOut)
			break
		}
		for _, problem := range readmeCommandProblems(c, string(stdout), string(stderr)) {
			t.Errorf("%s: `%s`: %s\nstdout:\n%s\nstderr:\n%s", b.where(c), c.oneLine(), problem, stdout, stderr)
		}
	}
	if err != nil && failed < 0 {
		t.Errorf("%s: the block failed before its first command: %v\n%s", b.file, err, shellOut)
	}
}

// readmeCommandProblems is what a command that exited 0 got wrong.
func readmeCommandProblems(c shellCommand, stdout, stderr string) []string {
	var problems []string
	if strings.Contains(c.text, "$(") && strings.TrimSpace(stderr) != "" {
		problems = append(problems, "printed on standard error (a failure inside $(...) that set -e cannot see)")
	}
	fields := strings.Fields(c.text)
	if len(fields) == 0 || fields[0] != "dig" {
		return problems
	}
	if strings.TrimSpace(stdout) == "" {
		problems = append(problems, "dig printed nothing: no such records")
	}
	if m := regexp.MustCompile(`status: (\w+)`).FindStringSubmatch(stdout); m != nil && m[1] != "NOERROR" {
		problems = append(problems, "status "+m[1])
	}
	if m := regexp.MustCompile(`(?im)^;;.*(couldn't verify|verify fail|tsig.*(fail|error)|bad(sig|key|time)).*$`).FindString(stdout + stderr); m != "" {
		problems = append(problems, "dig says: "+m)
	}
	if want, ok := readmeDigExpectation(c); ok {
		if got := readmeShortLines(stdout); !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("the README's comment says %q, dig printed %q", want, got))
		}
	}
	return problems
}

// readmeDigExpectation is the output a dig +short command's comment states, if
// it states one.
func readmeDigExpectation(c shellCommand) ([]string, bool) {
	fields := strings.Fields(c.text)
	if len(fields) == 0 || fields[0] != "dig" || !slices.Contains(fields, "+short") {
		return nil, false
	}
	return readmeExpectedLines(c.comment)
}

var (
	readmeListValue = regexp.MustCompile(`^("[^"]*"|[0-9A-Za-z._-]+\.)$`) // "a string", or name.
	readmeListSep   = regexp.MustCompile(`,\s*`)
)

// readmeExpectedLines reads a comment that states a dig +short's output: a list
// of addresses, "quoted strings" or names ending in a dot, separated by
// commas, after an optional label ending in ": " ("A: ", "one endpoint: ").
// It returns the lines sorted, and false if the comment is no such list.
func readmeExpectedLines(comment string) ([]string, bool) {
	candidates := []string{comment}
	for i := 0; i < len(comment); i++ {
		if strings.HasPrefix(comment[i:], ": ") {
			candidates = append(candidates, comment[i+2:])
		}
	}
	for _, s := range candidates {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		items, ok := readmeSplitList(s)
		if !ok {
			continue
		}
		slices.Sort(items)
		return items, true
	}
	return nil, false
}

// readmeSplitList splits "a, b, c" into values each an IP address, a quoted
// string or a name ending in a dot; quoted strings may hold commas.
func readmeSplitList(s string) ([]string, bool) {
	var items []string
	for s != "" {
		var item string
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, false
			}
			item, s = s[:end+2], s[end+2:]
		} else if i := strings.IndexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i:]
		} else {
			item, s = s, ""
		}
		item = strings.TrimSpace(item)
		if net.ParseIP(item) == nil && !readmeListValue.MatchString(item) {
			return nil, false
		}
		items = append(items, item)
		if loc := readmeListSep.FindStringIndex(s); loc != nil && loc[0] == 0 {
			s = s[loc[1]:]
		} else if strings.TrimSpace(s) != "" {
			return nil, false
		}
	}
	return items, len(items) > 0
}

// readmeShortLines returns dig +short's lines, blanks folded, sorted.
func readmeShortLines(out string) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			l = append(l, s)
		}
	}
	slices.Sort(l)
	return l
}

func readmeShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// readmeClip keeps the first 20 lines of a command's output for the test log.
func readmeClip(s string) string {
	l := strings.SplitAfter(s, "\n")
	if len(l) > 20 {
		return strings.Join(l[:20], "") + fmt.Sprintf("... (%d more lines)\n", len(l)-20)
	}
	return s
}

// TestReadmeCommandsSplitting checks the splitter on the README's forms.
func TestReadmeCommandsSplitting(t *testing.T) {
	cmds, err := readmeSplitCommands([]string{
		`TOKEN=$(cat tpdns.token)`,
		`curl -s -X PUT -H "Authorization: Bearer $TOKEN" http://x/v1/services/billing \`,
		`     -d '{"ports": [{"name": "api"}],`,
		`          "connection": {"URL": "https://b#x"}}'   # a # inside quotes`,
		`  # a comment line alone`,
		`dig @127.0.0.1 -p 1053 a.tp.internal +short   # A: 192.0.2.10, 192.0.2.11`,
		`eval "$(tpdnsctl env x --dns "127.0.0.1:1053")"   # export lines`,
		`curl -s 127.0.0.1:8181/ready; curl -s x/ui/#token=$T | grep ^tpdns_   # both`,
	}, 10)
	require.NoError(t, err)
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%d|%s|%s", c.line, c.text, c.comment))
	}
	require.Equal(t, []string{
		`10|TOKEN=$(cat tpdns.token)|`,
		"11|curl -s -X PUT -H \"Authorization: Bearer $TOKEN\" http://x/v1/services/billing \\\n     -d '{\"ports\": [{\"name\": \"api\"}],\n          \"connection\": {\"URL\": \"https://b#x\"}}'|a # inside quotes",
		`15|dig @127.0.0.1 -p 1053 a.tp.internal +short|A: 192.0.2.10, 192.0.2.11`,
		`16|eval "$(tpdnsctl env x --dns "127.0.0.1:1053")"|export lines`,
		`17|curl -s 127.0.0.1:8181/ready; curl -s x/ui/#token=$T | grep ^tpdns_|both`,
	}, got)

	for comment, want := range map[string][]string{
		"A: 192.0.2.10, 192.0.2.11":                     {"192.0.2.10", "192.0.2.11"},
		"2001:db8::20":                                  {"2001:db8::20"},
		"PTR: 192-0-2-20.web.tp.internal.":              {"192-0-2-20.web.tp.internal."},
		`one record (line) per key: "B=2", "A=1, 3"`:    {`"A=1, 3"`, `"B=2"`},
		"the address tpdns sees you as":                 nil,
		"SRV, targets' A records as glue":               nil,
		"forwarded to this machine's resolvers, cached": nil,
	} {
		got, ok := readmeExpectedLines(comment)
		require.Equal(t, want != nil, ok, comment)
		require.Equal(t, want, got, comment)
	}
}

// TestReadmeCommandsBlocks checks which fences are shell blocks.
func TestReadmeCommandsBlocks(t *testing.T) {
	md := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(md, []byte("# x\n\n```sh\necho a   # one\n```\n\n```\nnot shell\n```\n"+
		"~~~ corefile\n. {\n}\n~~~\n* item:\n\n  ~~~ sh\n  echo b \\\n      c\n  ~~~\n~~~ bash\n~~~\n"), 0o644))
	blocks, err := readmeShellBlocks(md)
	require.NoError(t, err)
	require.Len(t, blocks, 3)
	require.Equal(t, []shellCommand{{line: 4, text: "echo a", comment: "one"}}, blocks[0].cmds)
	require.Equal(t, []shellCommand{{line: 17, text: "echo b \\\n    c"}}, blocks[1].cmds)
	require.Empty(t, blocks[2].cmds)
}

// TestReadmeCommandsRunner checks the runner on a block of its own: the
// exempt left out, variables kept from line to line, a command that runs
// until interrupted stopped as Ctrl-C would stop it.
func TestReadmeCommandsRunner(t *testing.T) {
	cmds, err := readmeSplitCommands([]string{
		`go install ./cmd/tpdns   # exempt`,
		`A=$(echo 192.0.2.1)`,
		`bash -c 'trap "echo stopped >stopped; exit 0" INT; while :; do sleep 0.1; done'   # runs until interrupted`,
		`test -s stopped && echo "$A" >result`,
	}, 1)
	require.NoError(t, err)
	dir := t.TempDir()
	used := make([]bool, len(readmeExempt))
	runShellBlock(t, dir, os.Environ(), shellBlock{file: "../SELFTEST.md", line: 1, cmds: cmds}, used)
	b, err := os.ReadFile(filepath.Join(dir, "result"))
	require.NoError(t, err)
	require.Equal(t, "192.0.2.1\n", string(b))
	e, _ := readmeExemption("go install ./cmd/tpdns")
	require.True(t, used[e])
}
