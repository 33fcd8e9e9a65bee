// Command tpdns serves the zones of a Corefile: DNS for third-party
// services, and whatever else its plugins answer.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/coredns/caddy"
	"github.com/spf13/pflag"

	"github.com/tpdns/tpdns/plugin"
	"github.com/tpdns/tpdns/plugin/prometheus"
	"github.com/tpdns/tpdns/server"

	// The plugins compiled in; the order of the chain is plugin's, not this.
	_ "github.com/tpdns/tpdns/plugin/acl"
	_ "github.com/tpdns/tpdns/plugin/bind"
	_ "github.com/tpdns/tpdns/plugin/cache"
	_ "github.com/tpdns/tpdns/plugin/errors"
	_ "github.com/tpdns/tpdns/plugin/forward"
	_ "github.com/tpdns/tpdns/plugin/health"
	_ "github.com/tpdns/tpdns/plugin/log"
	_ "github.com/tpdns/tpdns/plugin/multisocket"
	_ "github.com/tpdns/tpdns/plugin/ready"
	_ "github.com/tpdns/tpdns/plugin/reload"
	_ "github.com/tpdns/tpdns/plugin/rrl"
	_ "github.com/tpdns/tpdns/plugin/thirdparty"
	_ "github.com/tpdns/tpdns/plugin/timeouts"
	_ "github.com/tpdns/tpdns/plugin/tsig"
	_ "github.com/tpdns/tpdns/plugin/whoami"
)

// version is the release; gitCommit is set by the Makefile
// (-ldflags "-X main.gitCommit=...") or read from the build information.
var (
	version   = "0.1.0-dev"
	gitCommit = ""
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	conf     string
	port     int
	pidfile  string
	quiet    bool
	plugins  bool
	version  bool
	validate bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("tpdns", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&o.conf, "conf", "c", "./Corefile", "Corefile to load; - reads standard input")
	fs.IntVarP(&o.port, "port", "p", 53, "default port for server blocks that name none")
	fs.StringVar(&o.pidfile, "pidfile", "", "write the process ID to this file")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print no start-up banner")
	fs.BoolVar(&o.plugins, "plugins", false, "list the compiled-in directives in chain order and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.validate, "validate", false, "check the Corefile, print every error, serve nothing")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tpdns [flags]\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(coreDNSFlags(args)); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: tpdns takes no arguments, only flags (--conf FILE)", fs.Arg(0))
	}
	if o.port < 0 || o.port > 65535 {
		return o, fmt.Errorf("--port %d: out of range", o.port)
	}
	return o, nil
}

// coreDNSNames are CoreDNS's single-dash flags and the names they have here.
var coreDNSNames = map[string]string{
	"-conf": "--conf", "-dns.port": "--port", "--dns.port": "--port", "-pidfile": "--pidfile",
	"-quiet": "--quiet", "-plugins": "--plugins", "-version": "--version",
}

// coreDNSFlags rewrites CoreDNS's spellings of the flags (Go's flag
// package: "-conf FILE", "-dns.port=53") as pflag's, so that tpdns runs
// unchanged in a CoreDNS Deployment or script. pflag alone would read
// "-conf" as "-c onf".
func coreDNSFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if long, ok := coreDNSNames[name]; ok {
			a = long
			if hasValue {
				a += "=" + value
			}
		}
		out[i] = a
	}
	return out
}

func run(args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tpdns: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(err)
	}

	switch {
	case o.version:
		fmt.Fprint(stdout, versionText())
		return 0
	case o.plugins:
		for _, name := range plugin.Directives() {
			fmt.Fprintln(stdout, name)
		}
		return 0
	}

	in, err := server.ReadInput(o.conf)
	if err != nil {
		return fail(err)
	}
	in.Port = strconv.Itoa(o.port)
	in.Quiet = o.quiet

	if o.validate {
		if err := server.Validate(in); err != nil {
			// One error per line: a registry file reports all of its own.
			fmt.Fprintf(stderr, "tpdns: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: valid\n", in.Filename)
		return 0
	}

	log.SetOutput(stdout)
	log.SetFlags(0)
	prometheus.SetBuildInfo(version, revision())
	caddy.Quiet = true // its file-descriptor notice is not ours to print

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	inst, err := server.Start(in)
	if err != nil {
		return fail(err)
	}
	if o.pidfile != "" {
		if err := os.WriteFile(o.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			server.Stop(inst)
			return fail(fmt.Errorf("pidfile: %w", err))
		}
		defer os.Remove(o.pidfile)
	}
	if !o.quiet {
		fmt.Fprint(stdout, versionText())
	}

	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			// The reload plugin may have replaced inst: reload what runs.
			if running := caddy.Instances(); len(running) > 0 {
				inst = running[len(running)-1]
			}
			inst = reload(inst, in, o.conf)
			continue
		}
		log.Printf("[INFO] %s: shutting down", sig)
		// A reload plugin may have replaced inst; stop whatever runs.
		code := 0
		for _, i := range slices.Clone(caddy.Instances()) {
			if err := server.Stop(i); err != nil {
				log.Printf("[ERROR] shutdown: %v", err)
				code = 1
			}
		}
		return code
	}
	return 0
}

// reload reads the Corefile again and restarts with it, keeping the sockets.
// A Corefile that cannot be read or set up leaves inst serving as before.
func reload(inst *caddy.Instance, in server.Input, path string) *caddy.Instance {
	log.Printf("[INFO] SIGUSR1: reloading %s", in.Filename)
	if path != "-" {
		next, err := server.ReadInput(path)
		if err != nil {
			log.Printf("[ERROR] Reload failed, keeping the running configuration: %v", err)
			return inst
		}
		in.Contents = next.Contents
	}
	newInst, err := inst.Restart(in)
	if err != nil {
		log.Printf("[ERROR] Reload failed, keeping the running configuration: %v", err)
		return inst
	}
	return newInst
}

// versionText is what --version and the start-up banner print.
func versionText() string {
	return fmt.Sprintf("tpdns-%s\n%s/%s, %s, %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version(), revision())
}

// revision is the git commit the binary was built from, or "unknown".
func revision() string {
	if gitCommit != "" {
		return gitCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}
