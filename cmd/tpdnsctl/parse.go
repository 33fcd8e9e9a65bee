package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tpdns/tpdns/config"
)

// invocation is a parsed command line.
type invocation struct {
	cmd  *command // nil when only --help was asked for
	args []string // the arguments after the command's words
	opts options
	// flags tells the flags given from their defaults.
	flags *pflag.FlagSet
}

// usageError is a command line that cannot run: the reason, and the
// usage that shows how to mend it.
type usageError struct {
	reason string
	usage  string
}

// Error is the reason alone; the usage is printed apart.
func (e *usageError) Error() string { return e.reason }

// parse reads a command line: global flags and the command's own may come
// before, between and after its words.
func parse(args []string) (*invocation, error) {
	// pflag tells a flag's value from a word only by knowing the flag, and
	// which flags are allowed depends on the words. So the words are found
	// with every flag known, then the line is parsed again with the
	// command's flags only, to refuse the others.
	var scratch options
	all := newFlagSet(&scratch, globalFlags, applyFlags, heartbeatFlags, exportFlags, envFlags)
	if err := all.Parse(args); err != nil {
		// The words before the bad flag may name the command already.
		if cmd, lerr := lookup(all.Args()); lerr == nil {
			return nil, cmd.usageError("%s", flagError(err))
		}
		return nil, &usageError{reason: flagError(err), usage: shortUsage(nil)}
	}
	cmd, err := lookup(all.Args())
	if err != nil {
		if scratch.help {
			return &invocation{opts: scratch}, nil
		}
		return nil, &usageError{reason: err.Error(), usage: commandsUsage()}
	}

	inv := &invocation{cmd: cmd}
	inv.flags = newFlagSet(&inv.opts, globalFlags, cmd.flags)
	if err := inv.flags.Parse(args); err != nil {
		return nil, cmd.usageError("%s", flagError(err))
	}
	inv.args = inv.flags.Args()[len(cmd.words):]
	if inv.opts.help {
		return inv, nil
	}
	if err := inv.check(); err != nil {
		return nil, err
	}
	return inv, nil
}

// check refuses what the flag parser let through.
func (inv *invocation) check() error {
	cmd, o := inv.cmd, inv.opts
	if n := len(inv.args); n < cmd.minArgs || n > cmd.maxArgs && cmd.maxArgs >= 0 {
		return cmd.usageError("%s takes %s, got %d", cmd.name(), cmd.wantArgs(), n)
	}
	for _, name := range cmd.required {
		if !inv.flags.Changed(name) {
			return cmd.usageError("%s needs --%s", cmd.name(), name)
		}
	}
	if cmd.words[0] == "endpoints" {
		// The API would take "192.0.2.52:99" for a host name, and refuse
		// it as one with a port.
		if host, port, ok := addressPort(inv.args[1]); ok {
			if inv.flags.Lookup("port") != nil {
				return cmd.usageError("ADDRESS %s has a port: give the address alone, %s, and the port with --port %s", inv.args[1], host, port)
			}
			return cmd.usageError("ADDRESS %s has a port: an endpoint is named by its address alone, %s", inv.args[1], host)
		}
	}
	if outputs := cmd.formats(); !slices.Contains(outputs, o.output) {
		return cmd.usageError("--output %s: %s writes %s", o.output, cmd.name(), orList(outputs))
	}
	if o.timeout <= 0 {
		return cmd.usageError("--timeout %s: want a duration above zero", inv.flags.Lookup("timeout").Value)
	}
	if inv.flags.Changed("ttl") {
		// Rounded up to whole seconds, as the API takes it.
		if s := ttlSeconds(o.endpoint.ttl); s < int64(config.MinTTL/time.Second) || s > int64(config.MaxTTL/time.Second) {
			return cmd.usageError("--ttl %s: out of range %s-%s", inv.flags.Lookup("ttl").Value, config.MinTTL, durationText(config.MaxTTL))
		}
	}
	return nil
}

// flagError words an error of the flag parser: a value it refused as
// "--weight 70000: out of range 0-65535", the others as pflag has them.
func flagError(err error) string {
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) {
		return fmt.Sprintf("--%s %s: %v", bad.GetFlag().Name, bad.GetValue(), errors.Unwrap(bad))
	}
	return err.Error()
}

// orList is "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// usageError returns a usageError for cmd with the reason formatted.
func (cmd *command) usageError(format string, args ...any) error {
	return &usageError{reason: fmt.Sprintf(format, args...), usage: shortUsage(cmd)}
}

// wantArgs says how many arguments cmd takes.
func (cmd *command) wantArgs() string {
	noun := "arguments"
	if cmd.maxArgs == 1 {
		noun = "argument"
	}
	switch {
	case cmd.maxArgs == 0:
		return "no arguments"
	case cmd.minArgs == cmd.maxArgs:
		return fmt.Sprintf("%d %s", cmd.maxArgs, noun)
	case cmd.minArgs == 0:
		return fmt.Sprintf("at most %d %s", cmd.maxArgs, noun)
	}
	return fmt.Sprintf("%d to %d %s", cmd.minArgs, cmd.maxArgs, noun)
}
