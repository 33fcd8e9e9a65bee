package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const wantCommandsUsage = `Usage: tpdnsctl COMMAND [ARGS] [flags]
Commands:
  services list                                       list the services, endpoints up/total
  services get NAME                                   show a service and its endpoints
  services export [NAME...]                           write the store's services as a registry file
  services apply -f FILE                              create or replace a file's services
  services create -f FILE                             create a file's services, none of which may exist
  services delete NAME                                delete a service made through the API
  endpoints add SERVICE ADDRESS                       add or change an endpoint
  endpoints remove SERVICE ADDRESS                    remove an endpoint
  endpoints heartbeat SERVICE ADDRESS --ttl DURATION  keep an endpoint alive until interrupted
  health [SERVICE]                                    show the health of the endpoints
  env SERVICE                                         print a service's connection information as export lines
Run 'tpdnsctl --help' for the flags.
`

const wantTopUsage = `Usage: tpdnsctl COMMAND [ARGS] [flags]
Run 'tpdnsctl --help' for more.
`

func TestUsageErrors(t *testing.T) {
	cmdUsage := func(cmd string) string {
		var line string
		for _, c := range commands() {
			if c.name() == cmd {
				line = c.usageLine()
			}
		}
		require.NotEmpty(t, line, cmd)
		return "Usage: " + line + "\nRun 'tpdnsctl " + cmd + " --help' for the flags.\n"
	}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "tpdnsctl: no command given\n" + wantCommandsUsage},
		{[]string{"bogus"}, "tpdnsctl: unknown command \"bogus\"\n" + wantCommandsUsage},
		{[]string{"services"}, "tpdnsctl: services needs a subcommand: list, get, export, apply, create, delete\n" + wantCommandsUsage},
		{[]string{"endpoints", "list"}, "tpdnsctl: unknown command \"endpoints list\"; endpoints has add, remove, heartbeat\n" + wantCommandsUsage},
		{[]string{"--bogus", "health"}, "tpdnsctl: unknown flag: --bogus\n" + wantTopUsage},
		{[]string{"--timeout", "soon", "health"}, "tpdnsctl: --timeout soon: want a duration such as \"30s\" or a number of seconds\n" + wantTopUsage},
		{[]string{"services", "list", "extra"}, "tpdnsctl: services list takes no arguments, got 1\n" + cmdUsage("services list")},
		{[]string{"services", "get"}, "tpdnsctl: services get takes 1 argument, got 0\n" + cmdUsage("services get")},
		{[]string{"health", "a", "b"}, "tpdnsctl: health takes at most 1 argument, got 2\n" + cmdUsage("health")},
		{[]string{"endpoints", "add", "web.shop"}, "tpdnsctl: endpoints add takes 2 arguments, got 1\n" + cmdUsage("endpoints add")},
		{[]string{"services", "list", "--ttl", "5s"}, "tpdnsctl: unknown flag: --ttl\n" + cmdUsage("services list")},
		{[]string{"services", "apply"}, "tpdnsctl: services apply needs --filename\n" + cmdUsage("services apply")},
		{[]string{"services", "create"}, "tpdnsctl: services create needs --filename\n" + cmdUsage("services create")},
		{[]string{"services", "create", "-f", "x.yaml", "--if-match", "5"}, "tpdnsctl: unknown flag: --if-match\n" + cmdUsage("services create")},
		{[]string{"services", "get", "x", "--if-match", "5"}, "tpdnsctl: unknown flag: --if-match\n" + cmdUsage("services get")},
		{[]string{"endpoints", "heartbeat", "web.shop", "10.0.0.1"}, "tpdnsctl: endpoints heartbeat needs --ttl\n" + cmdUsage("endpoints heartbeat")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--ttl", "0s"}, "tpdnsctl: --ttl 0s: out of range 1s-24h\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--ttl", "0"}, "tpdnsctl: --ttl 0: out of range 1s-24h\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "heartbeat", "web.shop", "10.0.0.1", "--ttl", "86401"}, "tpdnsctl: --ttl 86401: out of range 1s-24h\n" + cmdUsage("endpoints heartbeat")},
		{[]string{"endpoints", "heartbeat", "web.shop", "10.0.0.1", "--ttl", "24h0m0.5s"}, "tpdnsctl: --ttl 24h0m0.5s: out of range 1s-24h\n" + cmdUsage("endpoints heartbeat")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--ttl", "soon"}, "tpdnsctl: --ttl soon: want a duration such as \"30s\" or a number of seconds\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--port", "70000"}, "tpdnsctl: --port 70000: out of range 0-65535\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--weight", "70000"}, "tpdnsctl: --weight 70000: out of range 0-65535\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--priority=-1"}, "tpdnsctl: --priority -1: out of range 0-65535\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "--weight", "heavy"}, "tpdnsctl: --weight heavy: want an integer from 0 to 65535\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "add", "web.shop", "192.0.2.52:99"}, "tpdnsctl: ADDRESS 192.0.2.52:99 has a port: give the address alone, 192.0.2.52, and the port with --port 99\n" + cmdUsage("endpoints add")},
		{[]string{"endpoints", "heartbeat", "web.shop", "[fd00::1]:99", "--ttl", "30"}, "tpdnsctl: ADDRESS [fd00::1]:99 has a port: give the address alone, fd00::1, and the port with --port 99\n" + cmdUsage("endpoints heartbeat")},
		{[]string{"endpoints", "remove", "web.shop", "db.example.com:5432"}, "tpdnsctl: ADDRESS db.example.com:5432 has a port: an endpoint is named by its address alone, db.example.com\n" + cmdUsage("endpoints remove")},
		{[]string{"health", "-o", "xml"}, "tpdnsctl: --output xml: health writes table, wide, json or yaml\n" + cmdUsage("health")},
		{[]string{"services", "apply", "-f", "x.yaml", "-o", "yaml"}, "tpdnsctl: --output yaml: services apply writes table or json\n" + cmdUsage("services apply")},
		{[]string{"services", "export", "-o", "json"}, "tpdnsctl: --output json: services export writes table or yaml\n" + cmdUsage("services export")},
		{[]string{"services", "list", "--omit-secrets"}, "tpdnsctl: unknown flag: --omit-secrets\n" + cmdUsage("services list")},
		{[]string{"endpoints", "add", "web.shop", "10.0.0.1", "-v"}, "tpdnsctl: unknown shorthand flag: 'v' in -v\n" + cmdUsage("endpoints add")},
		{[]string{"health", "--timeout", "0s"}, "tpdnsctl: --timeout 0s: want a duration above zero\n" + cmdUsage("health")},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			api := newFakeAPI(t, nil)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, result{2, "", tc.stderr}, got)
			assert.Empty(t, api.seen())
		})
	}
}

func TestRunUsage(t *testing.T) {
	// run itself, as main calls it: the wiring of the real environment.
	var stdout, stderr bytes.Buffer
	code := run([]string{"services"}, func(string) string { return "" }, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "tpdnsctl: services needs a subcommand")
}

func TestHelp(t *testing.T) {
	top := `tpdnsctl manages the services of a tpdns server through its registration API.

Usage: tpdnsctl COMMAND [ARGS] [flags]

Commands:
  services list                                       list the services, endpoints up/total
  services get NAME                                   show a service and its endpoints
  services export [NAME...]                           write the store's services as a registry file
  services apply -f FILE                              create or replace a file's services
  services create -f FILE                             create a file's services, none of which may exist
  services delete NAME                                delete a service made through the API
  endpoints add SERVICE ADDRESS                       add or change an endpoint
  endpoints remove SERVICE ADDRESS                    remove an endpoint
  endpoints heartbeat SERVICE ADDRESS --ttl DURATION  keep an endpoint alive until interrupted
  health [SERVICE]                                    show the health of the endpoints
  env SERVICE                                         print a service's connection information as export lines

Flags:
      --server URL          the tpdns API at URL (env TPDNS_SERVER) (default "http://127.0.0.1:8053")
      --token-file PATH     read the bearer token from PATH (else env TPDNS_TOKEN)
  -o, --output FORMAT       output FORMAT: table, wide, json or yaml, as the command has them (default "table")
      --timeout DURATION    give up on a request after DURATION (10s, or 10 for seconds) (default 10s)
  -h, --help[=true|false]   show this help

Environment:
  TPDNS_SERVER  the server, when --server is not given
  TPDNS_TOKEN   the bearer token, when --token-file is not given
  TPDNS_DNS     the DNS server env asks, when --dns is not given
  TPDNS_ZONE    the zone of env's service names, when --zone is not given
  NO_COLOR      when set and not empty, health states are never coloured

Run 'tpdnsctl COMMAND --help' for the flags of a command.
`
	heartbeat := `Usage: tpdnsctl endpoints heartbeat SERVICE ADDRESS --ttl DURATION [flags]

Keep an endpoint alive until interrupted.

Puts the endpoint with --ttl at once, then again every third of it, until SIGINT
or SIGTERM. A failed renewal is reported and tried again at the next; -v reports
every renewal. On exit it says how many renewals were done and how many failed,
and leaves the endpoint in place, to expire when its ttl runs out.

Flags:
      --port PORT               the endpoint's PORT, for a service of one port (0: the service's)
      --name LABEL              the endpoint's LABEL in DNS
      --priority N              SRV priority N, 0-65535
      --weight N                SRV weight N, 0-65535
      --disabled[=true|false]   take the endpoint out of DNS (--disabled=false puts it back)
      --ttl DURATION            expire the endpoint unless renewed within DURATION (30s, or 30 for seconds; 1s to 24h, rounded up to whole seconds)
  -v, --verbose[=true|false]    print each renewal

Global flags:
      --server URL          the tpdns API at URL (env TPDNS_SERVER) (default "http://127.0.0.1:8053")
      --token-file PATH     read the bearer token from PATH (else env TPDNS_TOKEN)
  -o, --output FORMAT       output FORMAT: table, wide, json or yaml, as the command has them (default "table")
      --timeout DURATION    give up on a request after DURATION (10s, or 10 for seconds) (default 10s)
  -h, --help[=true|false]   show this help

Environment:
  TPDNS_SERVER  the server, when --server is not given
  TPDNS_TOKEN   the bearer token, when --token-file is not given
  TPDNS_DNS     the DNS server env asks, when --dns is not given
  TPDNS_ZONE    the zone of env's service names, when --zone is not given
  NO_COLOR      when set and not empty, health states are never coloured
`
	get := `Usage: tpdnsctl services get NAME [flags]

Show a service and its endpoints.

-o wide adds each endpoint's priority, weight, latency and expiry; -o yaml writes
the service as a registry file (see services export), -o json as the API gives it.

Global flags:
      --server URL          the tpdns API at URL (env TPDNS_SERVER) (default "http://127.0.0.1:8053")
      --token-file PATH     read the bearer token from PATH (else env TPDNS_TOKEN)
  -o, --output FORMAT       output FORMAT: table, wide, json or yaml, as the command has them (default "table")
      --timeout DURATION    give up on a request after DURATION (10s, or 10 for seconds) (default 10s)
  -h, --help[=true|false]   show this help

Environment:
  TPDNS_SERVER  the server, when --server is not given
  TPDNS_TOKEN   the bearer token, when --token-file is not given
  TPDNS_DNS     the DNS server env asks, when --dns is not given
  TPDNS_ZONE    the zone of env's service names, when --zone is not given
  NO_COLOR      when set and not empty, health states are never coloured
`
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, top},
		{[]string{"-h"}, top},
		{[]string{"services", "--help"}, top},
		{[]string{"bogus", "-h"}, top},
		{[]string{"endpoints", "heartbeat", "--help"}, heartbeat},
		// Help needs neither the arguments nor a token.
		{[]string{"services", "get", "-h"}, get},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runApp(context.Background(), map[string]string{}, false, tc.args...)
			assert.Equal(t, result{0, tc.want, ""}, got)
		})
	}
}

func TestServerAndToken(t *testing.T) {
	api := newFakeAPI(t, map[string][]reply{"GET /v1/services": {{200, `{"services": []}`}}})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("  from-file\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, []byte("\n"), 0o600))
	missing := filepath.Join(dir, "missing")

	const header = "NAME  ORIGIN  ENDPOINTS  PORTS  TTL\n"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want result
		auth string // the Authorization sent; "" when nothing may be sent
	}{{
		name: "token from the environment",
		env:  map[string]string{"TPDNS_SERVER": api.URL, "TPDNS_TOKEN": " from-env "},
		args: []string{"services", "list"},
		want: result{0, header, ""},
		auth: "Bearer from-env",
	}, {
		name: "--token-file wins over the environment",
		env:  map[string]string{"TPDNS_SERVER": api.URL, "TPDNS_TOKEN": "from-env"},
		args: []string{"services", "list", "--token-file", tokenFile},
		want: result{0, header, ""},
		auth: "Bearer from-file",
	}, {
		name: "--server wins over the environment, given before the words",
		env:  map[string]string{"TPDNS_SERVER": dead.URL, "TPDNS_TOKEN": "from-env"},
		args: []string{"--server", api.URL + "/", "services", "list"},
		want: result{0, header, ""},
		auth: "Bearer from-env",
	}, {
		name: "no token",
		env:  map[string]string{"TPDNS_SERVER": api.URL},
		args: []string{"services", "list"},
		want: result{1, "", "tpdnsctl: no token: give --token-file PATH or set TPDNS_TOKEN\n"},
	}, {
		name: "missing token file",
		env:  map[string]string{"TPDNS_SERVER": api.URL, "TPDNS_TOKEN": "from-env"},
		args: []string{"services", "list", "--token-file", missing},
		want: result{1, "", "tpdnsctl: token: open " + missing + ": no such file or directory\n"},
	}, {
		name: "empty token file",
		env:  map[string]string{"TPDNS_SERVER": api.URL},
		args: []string{"services", "list", "--token-file", emptyFile},
		want: result{1, "", "tpdnsctl: token file " + emptyFile + " is empty\n"},
	}, {
		name: "server without a scheme",
		env:  map[string]string{"TPDNS_TOKEN": "t"},
		args: []string{"services", "list", "--server", "localhost:8053"},
		want: result{1, "", "tpdnsctl: server \"localhost:8053\": want http://HOST:PORT or https://HOST:PORT\n"},
	}, {
		name: "connection refused",
		env:  map[string]string{"TPDNS_SERVER": dead.URL, "TPDNS_TOKEN": "t"},
		args: []string{"services", "list"},
		want: result{1, "", "tpdnsctl: Get \"" + dead.URL + "/v1/services\": dial tcp " +
			dead.Listener.Addr().String() + ": connect: connection refused\n"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.seen())
			got := runApp(context.Background(), tc.env, false, tc.args...)
			assert.Equal(t, tc.want, got)
			sent := api.seen()[before:]
			if tc.auth == "" {
				assert.Empty(t, sent)
				return
			}
			if assert.Len(t, sent, 1) {
				assert.Equal(t, tc.auth, sent[0].Auth)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	env := map[string]string{"TPDNS_SERVER": slow.URL, "TPDNS_TOKEN": "t"}
	got := runApp(context.Background(), env, false, "services", "list", "--timeout", "50ms")
	assert.Equal(t, result{1, "", "tpdnsctl: Get \"" + slow.URL +
		"/v1/services\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\n"}, got)
}

func TestDefaultServer(t *testing.T) {
	inv, err := parse([]string{"health"})
	require.NoError(t, err)
	c, err := newClient(inv, envFunc(map[string]string{"TPDNS_TOKEN": "t"}))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8053", c.base)
	assert.Equal(t, defaultTimeout, c.http.Timeout)
}
