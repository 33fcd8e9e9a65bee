package main

import (
	"fmt"

	"github.com/spf13/pflag"
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
	all := newFlagSet(&scratch, globalFlags, applyFlags, endpointFlags, envFlags)
	if err := all.Parse(args); err != nil {
		// The words before the bad flag may name the command already.
		if cmd, lerr := lookup(all.Args()); lerr == nil {
			return nil, cmd.usageError("%v", err)
		}
		return nil, &usageError{reason: err.Error(), usage: shortUsage(nil)}
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
		return nil, cmd.usageError("%v", err)
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
	if n := len(inv.args); n < cmd.minArgs || n > cmd.maxArgs {
		return cmd.usageError("%s takes %s, got %d", cmd.name(), cmd.wantArgs(), n)
	}
	for _, name := range cmd.required {
		if !inv.flags.Changed(name) {
			return cmd.usageError("%s needs --%s", cmd.name(), name)
		}
	}
	if o.output != outputTable && o.output != outputJSON {
		return cmd.usageError("--output %q: want %s or %s", o.output, outputTable, outputJSON)
	}
	if o.timeout <= 0 {
		return cmd.usageError("--timeout %s: want a positive duration", o.timeout)
	}
	if inv.flags.Changed("ttl") && o.endpoint.ttl <= 0 {
		return cmd.usageError("--ttl %s: want a positive duration", o.endpoint.ttl)
	}
	return nil
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
