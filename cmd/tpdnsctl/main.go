// Command tpdnsctl manages the services of a tpdns server through its
// registration API: list and show them with their endpoints' health,
// apply a registry file, and add, remove or keep alive single endpoints.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tpdns/tpdns/config"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the server refused, or could not be reached
	exitUsage = 2 // the command line is wrong; nothing was sent
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is tpdnsctl with its arguments (without the program name), its
// environment and its output, and returns the exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := app{
		stdout: stdout,
		stderr: stderr,
		getenv: getenv,
		now:    time.Now,
		color:  wantColor(stdout, getenv),
	}
	return a.run(context.Background(), args)
}

// app is what one invocation sees of the world. Tests build their own,
// with a fixed clock and a context they cancel to end a heartbeat.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// color is whether health states are written in ANSI colours.
	color bool
}

// run parses args, runs the command and returns the exit status.
func (a app) run(ctx context.Context, args []string) int {
	inv, err := parse(args)
	if err != nil {
		var u *usageError
		if errors.As(err, &u) {
			fmt.Fprintf(a.stderr, "tpdnsctl: %s\n%s", u.reason, u.usage)
			return exitUsage
		}
		return a.fail(err)
	}
	if inv.opts.help {
		fmt.Fprint(a.stdout, inv.help())
		return exitOK
	}
	var c *client
	if !inv.cmd.noAPI {
		var err error
		if c, err = newClient(inv, a.getenv); err != nil {
			return a.fail(err)
		}
	}
	if err := inv.cmd.run(ctx, &call{app: a, invocation: inv, client: c}); err != nil {
		return a.fail(err)
	}
	return exitOK
}

// fail prints err and returns exitError. A registry file's errors are
// printed as they are, one "file:line: field: message" a line, for an
// editor to jump to.
func (a app) fail(err error) int {
	var list config.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(a.stderr, list)
		return exitError
	}
	fmt.Fprintf(a.stderr, "tpdnsctl: %s\n", err)
	return exitError
}

// call is one command being run: its arguments and flags, the client it
// reaches the server with, and where it writes.
type call struct {
	app
	*invocation
	client *client
}

// wantColor reports whether output to w is coloured: on a terminal,
// unless NO_COLOR says otherwise (https://no-color.org).
func wantColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
