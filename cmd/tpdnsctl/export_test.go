package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

// pgJSON is a store service as the API shows it, with a bit of every
// field: a label of its own, a disabled endpoint of weight 0, one
// registered with a ttl, references, a udp port and a ttl of 0.
const pgJSON = `{
  "name": "pg", "origin": "store",
  "ports": [{"name": "db", "port": 5432, "protocol": "tcp"}, {"name": "metrics", "port": 9187, "protocol": "udp"}],
  "endpoints": [
    {"address": "192.0.2.10", "name": "primary", "priority": 0, "weight": 1, "disabled": false,
     "health": {"state": "healthy", "last_check": "2026-11-26T21:49:58Z", "latency": "900µs"}},
    {"address": "192.0.2.11", "name": "192-0-2-11", "priority": 10, "weight": 0, "disabled": true, "health": {"state": "disabled"}},
    {"address": "192.0.2.12", "name": "192-0-2-12", "priority": 0, "weight": 1, "disabled": false,
     "expires": "2026-11-26T21:50:20Z", "health": {"state": "healthy", "last_check": "2026-11-26T21:49:59Z", "latency": "1ms"}}
  ],
  "connection": {"PGDATABASE": "app", "URL": "postgres://${DB_HOST}:${DB_PORT}/app"},
  "secrets_allow": ["10.244.0.0/16"], "secrets_keys": ["app-finance."], "allow": ["10.0.0.0/8"], "ttl": 0,
  "check": {"type": "postgres", "port": "db", "path": "/", "expect": "200-399", "interval": "5s", "timeout": "2s", "rise": 2, "fall": 3}
}`

// pgFile is pgJSON as a registry file.
const pgFile = `  # endpoint 192.0.2.12 left out: registered with a ttl, it is kept by its heartbeat
  - name: pg
    ports:
      - name: db
        port: 5432
      - name: metrics
        port: 9187
        protocol: udp
    endpoints:
      - address: 192.0.2.10
        name: primary
      - address: 192.0.2.11
        priority: 10
        weight: 0
        disabled: true
    connection:
      PGDATABASE: app
      URL: postgres://${DB_HOST}:${DB_PORT}/app
    secrets_allow: [10.244.0.0/16]
    secrets_keys: [app-finance.]
    allow: [10.0.0.0/8]
    ttl: 0
    check:
      type: postgres
      port: db
      interval: 5s
      rise: 2
`

// billingJSON has a secret, which the API masks.
const billingJSON = `{"name": "billing", "origin": "store",
  "ports": [{"name": "api", "port": 8443, "protocol": "tcp"}],
  "endpoints": [{"address": "192.0.2.50", "name": "192-0-2-50", "priority": 0, "weight": 1, "disabled": false, "health": {"state": "healthy"}}],
  "secrets": {"BILLING_KEY": "***", "API_TOKEN": "***"}}`

// probedJSON has an http check with a header, whose value the API masks.
const probedJSON = `{"name": "probed", "origin": "store",
  "ports": [{"name": "http", "port": 80, "protocol": "tcp"}],
  "endpoints": [{"address": "db.example.com", "priority": 0, "weight": 1, "disabled": false, "health": {"state": "healthy"}}],
  "check": {"type": "http", "port": "http", "path": "/", "headers": {"Authorization": "***"}, "expect": "200-399",
            "interval": "10s", "timeout": "2s", "rise": 1, "fall": 3}}`

func TestExport(t *testing.T) {
	all := `{"services": [` + billingJSON + `,` + oracleJSON + `,` + pgJSON + `,` + probedJSON + `]}`
	replies := map[string][]reply{
		"GET /v1/services":                {{200, all}},
		"GET /v1/services/pg":             {{200, pgJSON}},
		"GET /v1/services/billing":        {{200, billingJSON}},
		"GET /v1/services/oracle.finance": {{200, oracleJSON}},
		"GET /v1/services/nope":           {{404, `{"error": "no service nope", "field": "name"}`}},
	}
	for _, tc := range []struct {
		name string
		args []string
		want result
		sent []recorded
	}{{
		name: "the services named",
		args: []string{"services", "export", "pg"},
		want: result{0, "services:\n" + pgFile, ""},
		sent: []recorded{get("/v1/services/pg")},
	}, {
		name: "as YAML, the one other form",
		args: []string{"services", "export", "pg", "-o", "yaml"},
		want: result{0, "services:\n" + pgFile, ""},
		sent: []recorded{get("/v1/services/pg")},
	}, {
		name: "a service with secrets stops it",
		args: []string{"services", "export", "pg", "billing"},
		want: result{1, "", "tpdnsctl: the API never shows the values of secrets and check headers, so these would be lost:\n" +
			"  billing: secrets API_TOKEN, BILLING_KEY\n" +
			"Give --omit-secrets to export them without (applying the file then removes them), or name the services to export.\n"},
		sent: []recorded{get("/v1/services/pg"), get("/v1/services/billing")},
	}, {
		name: "every service, secrets and headers stop it",
		args: []string{"services", "export"},
		want: result{1, "", "tpdnsctl: not exported, as the registry file has them: oracle.finance\n" +
			"tpdnsctl: the API never shows the values of secrets and check headers, so these would be lost:\n" +
			"  billing: secrets API_TOKEN, BILLING_KEY\n" +
			"  probed: check headers Authorization\n" +
			"Give --omit-secrets to export them without (applying the file then removes them), or name the services to export.\n"},
		sent: []recorded{get("/v1/services")},
	}, {
		name: "every service without secrets",
		args: []string{"services", "export", "--omit-secrets"},
		want: result{0, `services:
  # secrets API_TOKEN, BILLING_KEY left out: the API does not show their values
  - name: billing
    ports:
      - name: api
        port: 8443
    endpoints:
      - 192.0.2.50
` + pgFile + `  # check headers Authorization left out: the API does not show their values
  - name: probed
    ports:
      - name: http
        port: 80
    endpoints:
      - db.example.com
    check:
      type: http
      port: http
`, "tpdnsctl: not exported, as the registry file has them: oracle.finance\n"},
		sent: []recorded{get("/v1/services")},
	}, {
		name: "a file service named",
		args: []string{"services", "export", "oracle.finance"},
		want: result{1, "", "tpdnsctl: service oracle.finance is the registry file's: export writes the store's services\n"},
		sent: []recorded{get("/v1/services/oracle.finance")},
	}, {
		name: "an unknown service named",
		args: []string{"services", "export", "pg", "nope"},
		want: result{1, "", "tpdnsctl: no service nope (field name)\n"},
		sent: []recorded{get("/v1/services/pg"), get("/v1/services/nope")},
	}, {
		name: "none",
		args: []string{"services", "export"},
		want: result{0, "services: []\n", ""},
		sent: []recorded{get("/v1/services")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := replies
			if tc.name == "none" {
				r = map[string][]reply{"GET /v1/services": {{200, `{"services": []}`}}}
			}
			api := newFakeAPI(t, r)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.sent, api.seen())
		})
	}
}

// TestExportIsWhatApplySends: the exported file, read as services apply
// reads it, is the service the server has (its document: what apply
// sends back), less the endpoint that expires.
func TestExportIsWhatApplySends(t *testing.T) {
	api := newFakeAPI(t, map[string][]reply{"GET /v1/services/pg": {{200, pgJSON}}})
	got := runApp(context.Background(), apiEnv(api), false, "services", "export", "pg")
	require.Equal(t, 0, got.code, got.stderr)
	file, err := config.ParseYAML("pg.yaml", []byte(got.stdout), config.Options{})
	require.NoError(t, err)

	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(pgJSON), &doc))
	delete(doc, "origin")
	eps := doc["endpoints"].([]any)
	for _, e := range eps {
		delete(e.(map[string]any), "health")
	}
	doc["endpoints"] = eps[:2]
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	want, err := config.DecodeJSON(b, config.Options{})
	require.NoError(t, err)
	assert.Equal(t, []config.Service{want}, file)
}

func TestOutputFormats(t *testing.T) {
	replies := map[string][]reply{
		"GET /v1/services":                {{200, listJSON}},
		"GET /v1/services/oracle.finance": {{200, oracleJSON}},
		"GET /v1/services/pg":             {{200, pgJSON}},
		"GET /v1/services/a.shop":         {{200, `{"name": "a.shop", "origin": "store", "allow": [], "ttl": null}`}},
	}
	for _, tc := range []struct {
		name string
		args []string
		want result
	}{{
		name: "services list -o wide",
		args: []string{"services", "list", "-o", "wide"},
		want: result{0,
			"NAME            ORIGIN  ENDPOINTS  PORTS                      TTL  CHECK          ALLOW\n" +
				"oracle.finance  file    1/2        db:1521/tcp                30   tcp every 10s  everyone\n" +
				"web.shop        file    1/1        http:80/tcp                -    http every 5s  10.244.0.0/16,127.0.0.0/8\n" +
				"web.shop        store!  2/2        http:80/tcp,https:443/tcp  -    none           everyone\n",
			"tpdnsctl: warning: service web.shop is not served: shadowed by the registry file's service web.shop\n"},
	}, {
		name: "services get -o wide",
		args: []string{"services", "get", "pg", "-o", "wide"},
		want: result{0, `Name:           pg
Origin:         store
Ports:          db:5432/tcp,metrics:9187/udp
TTL:            0
Allow:          10.0.0.0/8
Secrets allow:  10.244.0.0/16
Check:          postgres port=db interval=5s timeout=2s rise=2 fall=3
Connection:     PGDATABASE=app
                URL=postgres://${DB_HOST}:${DB_PORT}/app
Secrets:        -
Endpoints:      2/2 up
  ADDRESS     NAME        PORT       PRIORITY  WEIGHT  STATE     LAST CHECK  LATENCY  EXPIRES  LAST ERROR
  192.0.2.10  primary     5432,9187  0         1       healthy   2s ago      900µs    -        -
  192.0.2.11  192-0-2-11  5432,9187  10        0       disabled  -           -        -        -
  192.0.2.12  192-0-2-12  5432,9187  0         1       healthy   1s ago      1ms      in 20s   -
`, ""},
	}, {
		name: "services get -o yaml: a registry file",
		args: []string{"services", "get", "pg", "-o", "yaml"},
		want: result{0, "services:\n" + pgFile, ""},
	}, {
		name: "services get -o yaml of a file service with a secret",
		args: []string{"services", "get", "oracle.finance", "-o", "yaml"},
		want: result{0, `services:
  # from the registry file: change it there, the API cannot
  # secrets DB_PASSWORD left out: the API does not show their values
  - name: oracle.finance
    ports:
      - name: db
        port: 1521
    endpoints:
      - 10.0.0.10:1522
      - address: 10.0.0.11
        name: standby
        priority: 10
        weight: 5
      - address: 10.0.0.12
        disabled: true
    connection:
      DB_NAME: orcl
      DB_USER: app
    secrets_allow: [10.244.0.0/16]
    ttl: 30
    check:
      type: tcp
      port: db
`, ""},
	}, {
		name: "services list -o yaml: a registry file of every service",
		args: []string{"services", "list", "-o", "yaml"},
		want: result{0, `services:
  # from the registry file: change it there, the API cannot
  # secrets DB_PASSWORD left out: the API does not show their values
  - name: oracle.finance
    ports:
      - name: db
        port: 1521
    endpoints:
      - 10.0.0.10:1522
      - address: 10.0.0.11
        name: standby
        priority: 10
        weight: 5
      - address: 10.0.0.12
        disabled: true
    connection:
      DB_NAME: orcl
      DB_USER: app
    secrets_allow: [10.244.0.0/16]
    ttl: 30
    check:
      type: tcp
      port: db
  # from the registry file: change it there, the API cannot
  # check headers X-Probe left out: the API does not show their values
  - name: web.shop
    ports:
      - name: http
        port: 80
    endpoints:
      - 192.0.2.7
    allow: [10.244.0.0/16, 127.0.0.0/8]
    check:
      type: http
      port: 80
      path: /healthz
      interval: 5s
      timeout: 1s
      rise: 2
      fall: 2
  # not served: shadowed by the registry file's service web.shop
  # endpoint fd00::1 left out: registered with a ttl, it is kept by its heartbeat
  - name: web.shop
    ports:
      - name: http
        port: 80
      - name: https
        port: 443
    endpoints:
      - 192.0.2.8
`, ""},
	}, {
		name: "health -o wide",
		args: []string{"health", "-o", "wide"},
		want: result{0,
			"SERVICE         ADDRESS    NAME       PORT    STATE      LAST CHECK  LATENCY  EXPIRES  LAST ERROR\n" +
				"oracle.finance  10.0.0.10  10-0-0-10  1522    healthy    2s ago      1.2ms    -        -\n" +
				"oracle.finance  10.0.0.11  standby    1521    unhealthy  5m ago      2s       -        dial tcp 10.0.0.11:1521: i/o timeout\n" +
				"oracle.finance  10.0.0.12  10-0-0-12  1521    disabled   -           -        -        -\n" +
				"web.shop        192.0.2.7  192-0-2-7  80      healthy    4d ago      800µs    -        -\n" +
				"web.shop        fd00::1    fd00--1    80,443  unknown    no check    -        in 30s   -\n" +
				"web.shop        192.0.2.8  192-0-2-8  80,443  unknown    no check    -        -        -\n",
			""},
	}, {
		name: "health -o yaml: the API's reply",
		args: []string{"health", "a.shop", "-o", "yaml"},
		want: result{0, "name: a.shop\norigin: store\nallow: []\nttl: null\n", ""},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, replies)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
		})
	}
}
