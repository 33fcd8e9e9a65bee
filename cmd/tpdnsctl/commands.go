package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// command is one subcommand of tpdnsctl.
type command struct {
	words    []string // what selects it: "services", "list"
	synopsis string   // what follows the words in its usage: "NAME"
	summary  string   // one line, lower case, no full stop
	details  string   // more for its --help; lines ending in "\n"
	// minArgs and maxArgs bound the arguments after the words; maxArgs
	// -1 is any number.
	minArgs, maxArgs int
	flags            flagGroup // its own flags; nil for the global ones only
	required         []string  // flags it cannot run without
	noAPI            bool      // it does not use the API: no token needed
	// outputs are the --output formats it has; nil: table and json.
	outputs []string
	run     func(ctx context.Context, c *call) error
}

// name is the command as typed: "services list".
func (cmd *command) name() string { return strings.Join(cmd.words, " ") }

// formats are the --output formats of cmd.
func (cmd *command) formats() []string {
	if cmd.outputs == nil {
		return []string{outputTable, outputJSON}
	}
	return cmd.outputs
}

// readOutputs are the formats of the commands that show services.
var readOutputs = []string{outputTable, outputWide, outputJSON, outputYAML}

// commands returns every subcommand, in the order help lists them.
func commands() []*command {
	return []*command{{
		words:   []string{"services", "list"},
		summary: "list the services, endpoints up/total",
		details: "ENDPOINTS counts the endpoints up (healthy, or not probed yet) of those not disabled.\n" +
			"ORIGIN store! marks a service that a registry file service of the same name shadows:\n" +
			"it is not served. -o wide adds each service's check and allow; -o yaml writes the\n" +
			"services as a registry file (see services export), -o json as the API gives them.\n",
		outputs: readOutputs,
		run:     servicesList,
	}, {
		words:    []string{"services", "get"},
		synopsis: "NAME", minArgs: 1, maxArgs: 1,
		summary: "show a service and its endpoints",
		details: "-o wide adds each endpoint's priority, weight, latency and expiry; -o yaml writes\n" +
			"the service as a registry file (see services export), -o json as the API gives it.\n",
		outputs: readOutputs,
		run:     servicesGet,
	}, {
		words:    []string{"services", "export"},
		synopsis: "[NAME...]", maxArgs: -1,
		summary: "write the store's services as a registry file",
		details: "Writes every service made through the API, or those named, as a registry file\n" +
			"(YAML) that services apply -f takes back unchanged: export, apply, export gives\n" +
			"the same file. The registry file's own services are not exported (they are in\n" +
			"that file already); naming one is an error. Endpoints registered with a ttl are\n" +
			"left out, noted in a comment: their heartbeat keeps them, and in the file they\n" +
			"would never expire.\n" +
			"\n" +
			"The API never shows secrets (nor an http check's header values), so export\n" +
			"cannot write them: a service with any stops the export, rather than write a file\n" +
			"whose apply would replace them with \"***\" or remove them. --omit-secrets exports\n" +
			"such a service without them, noted in a comment: applying the file then removes\n" +
			"them, unless they are added back to it first.\n",
		flags: exportFlags, outputs: []string{outputTable, outputYAML},
		run: servicesExport,
	}, {
		words:    []string{"services", "apply"},
		synopsis: "-f FILE",
		summary:  "create or replace a file's services",
		details: "FILE is a registry file (YAML). It is checked whole first: with any error in it\n" +
			"nothing is sent. Then each service is PUT in file order; the first refusal stops.\n" +
			"With --if-match, FILE holds one service, and it is replaced only if it is still at\n" +
			"ETAG: no one changed it since you read it.\n",
		flags: applyFlags, required: []string{"filename"},
		run: servicesApply,
	}, {
		words:    []string{"services", "create"},
		synopsis: "-f FILE",
		summary:  "create a file's services, none of which may exist",
		details: "As apply, but a service that exists already is not replaced: it stops the run\n" +
			"(the services before it are created).\n",
		flags: fileFlags, required: []string{"filename"},
		run: servicesCreate,
	}, {
		words:    []string{"services", "delete"},
		synopsis: "NAME", minArgs: 1, maxArgs: 1,
		summary: "delete a service made through the API",
		details: "With --if-match, only if it is still at ETAG: no one changed it since you read it.\n",
		flags:   ifMatchFlags,
		run:     servicesDelete,
	}, {
		words:    []string{"endpoints", "add"},
		synopsis: "SERVICE ADDRESS", minArgs: 2, maxArgs: 2,
		summary: "add or change an endpoint",
		details: "Only the flags given are sent, so changing one field of an endpoint keeps the others.\n",
		flags:   endpointFlags,
		run:     endpointsAdd,
	}, {
		words:    []string{"endpoints", "remove"},
		synopsis: "SERVICE ADDRESS", minArgs: 2, maxArgs: 2,
		summary: "remove an endpoint",
		run:     endpointsRemove,
	}, {
		words:    []string{"endpoints", "heartbeat"},
		synopsis: "SERVICE ADDRESS --ttl DURATION", minArgs: 2, maxArgs: 2,
		summary: "keep an endpoint alive until interrupted",
		details: "Puts the endpoint with --ttl at once, then again every third of it, until SIGINT\n" +
			"or SIGTERM. A failed renewal is reported and tried again at the next; -v reports\n" +
			"every renewal. On exit it says how many renewals were done and how many failed,\n" +
			"and leaves the endpoint in place, to expire when its ttl runs out.\n",
		flags: heartbeatFlags, required: []string{"ttl"},
		run: endpointsHeartbeat,
	}, {
		words:    []string{"health"},
		synopsis: "[SERVICE]", maxArgs: 1,
		summary: "show the health of the endpoints",
		details: "Every endpoint of every service, or of SERVICE only. On a terminal the states\n" +
			"are coloured, unless NO_COLOR is set. The endpoints of a service without a check\n" +
			"are always up: healthy, with \"no check\" for a last check. -o wide adds each\n" +
			"endpoint's name, port and expiry; -o json and -o yaml give the API's reply.\n",
		outputs: readOutputs,
		run:     health,
	}, {
		words:    []string{"env"},
		synopsis: "SERVICE", minArgs: 1, maxArgs: 1,
		summary: "print a service's connection information as export lines",
		details: "Asks DNS, as a workload would, for the TXT records of SERVICE.ZONE (a name ending\n" +
			"in a dot is taken whole) and prints each KEY=value as export KEY='value', for a\n" +
			"shell or an init container: eval \"$(tpdnsctl env oracle.finance)\". The secrets\n" +
			"are there only for a client in the service's secrets_allow, or with --tsig-key\n" +
			"when the service lists that key in secrets_keys; the reply must then be signed\n" +
			"with the key too. Needs no token.\n",
		flags: envFlags, noAPI: true, outputs: []string{outputTable, outputJSON, outputYAML},
		run: env,
	}}
}

// lookup finds the command that words start with. Its error says what is
// wrong, for a usage message.
func lookup(words []string) (*command, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("no command given")
	}
	var verbs []string
	for _, cmd := range commands() {
		if len(words) >= len(cmd.words) && slices.Equal(words[:len(cmd.words)], cmd.words) {
			return cmd, nil
		}
		if len(cmd.words) > 1 && cmd.words[0] == words[0] {
			verbs = append(verbs, cmd.words[1])
		}
	}
	switch {
	case len(verbs) == 0:
		return nil, fmt.Errorf("unknown command %q", words[0])
	case len(words) == 1:
		return nil, fmt.Errorf("%s needs a subcommand: %s", words[0], strings.Join(verbs, ", "))
	default:
		return nil, fmt.Errorf("unknown command %q; %s has %s", words[0]+" "+words[1], words[0], strings.Join(verbs, ", "))
	}
}
