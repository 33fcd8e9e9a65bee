package main

import (
	"strings"
)

// environment is the help's list of the variables tpdnsctl reads.
const environment = `Environment:
  TPDNS_SERVER  the server, when --server is not given
  TPDNS_TOKEN   the bearer token, when --token-file is not given
  TPDNS_DNS     the DNS server env asks, when --dns is not given
  TPDNS_ZONE    the zone of env's service names, when --zone is not given
  NO_COLOR      when set and not empty, health states are never coloured
`

// shortUsage is what follows a usage error: how to call cmd, or tpdnsctl
// when there is no cmd.
func shortUsage(cmd *command) string {
	if cmd == nil {
		return "Usage: tpdnsctl COMMAND [ARGS] [flags]\n" +
			"Run 'tpdnsctl --help' for more.\n"
	}
	return "Usage: " + cmd.usageLine() + "\n" +
		"Run 'tpdnsctl " + cmd.name() + " --help' for the flags.\n"
}

// commandsUsage is what follows a command line without a known command.
func commandsUsage() string {
	return "Usage: tpdnsctl COMMAND [ARGS] [flags]\n" + commandList() +
		"Run 'tpdnsctl --help' for the flags.\n"
}

// help is the text of --help: of the command, or of tpdnsctl as a whole.
func (inv *invocation) help() string {
	var o options
	global := newFlagSet(&o, globalFlags).FlagUsages()
	cmd := inv.cmd
	if cmd == nil {
		return "tpdnsctl manages the services of a tpdns server through its registration API.\n\n" +
			"Usage: tpdnsctl COMMAND [ARGS] [flags]\n\n" +
			commandList() +
			"\nFlags:\n" + global +
			"\n" + environment +
			"\nRun 'tpdnsctl COMMAND --help' for the flags of a command.\n"
	}
	var b strings.Builder
	b.WriteString("Usage: " + cmd.usageLine() + "\n\n")
	b.WriteString(strings.ToUpper(cmd.summary[:1]) + cmd.summary[1:] + ".\n")
	if cmd.details != "" {
		b.WriteString("\n" + cmd.details)
	}
	if cmd.flags != nil {
		b.WriteString("\nFlags:\n" + newFlagSet(&o, cmd.flags).FlagUsages())
	}
	b.WriteString("\nGlobal flags:\n" + global)
	b.WriteString("\n" + environment)
	return b.String()
}

// usageLine is how to call cmd.
func (cmd *command) usageLine() string {
	return strings.Join(strings.Fields("tpdnsctl "+cmd.name()+" "+cmd.synopsis+" [flags]"), " ")
}

// commandList lists every command with its summary.
func commandList() string {
	t := table{indent: "  "}
	for _, cmd := range commands() {
		t.add(strings.TrimSpace(cmd.name()+" "+cmd.synopsis), cmd.summary)
	}
	var b strings.Builder
	b.WriteString("Commands:\n")
	_ = t.write(&b) // a strings.Builder does not fail
	return b.String()
}
