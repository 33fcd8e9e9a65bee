package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadCommands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		replies map[string][]reply
		want    result
		sent    []recorded
	}{{
		name:    "services list",
		args:    []string{"services", "list"},
		replies: map[string][]reply{"GET /v1/services": {{200, listJSON}}},
		want: result{0,
			"NAME            ORIGIN  ENDPOINTS  PORTS                      TTL\n" +
				"oracle.finance  file    1/2        db:1521/tcp                30\n" +
				"web.shop        file    1/1        http:80/tcp                -\n" +
				"web.shop        store!  2/2        http:80/tcp,https:443/tcp  -\n",
			"tpdnsctl: warning: service web.shop is not served: shadowed by the registry file's service web.shop\n"},
		sent: []recorded{get("/v1/services")},
	}, {
		name:    "services list of none",
		args:    []string{"services", "list"},
		replies: map[string][]reply{"GET /v1/services": {{200, `{"services": []}`}}},
		want:    result{0, "NAME  ORIGIN  ENDPOINTS  PORTS  TTL\n", ""},
		sent:    []recorded{get("/v1/services")},
	}, {
		name: "services list as JSON",
		args: []string{"services", "list", "-o", "json"},
		replies: map[string][]reply{"GET /v1/services": {{200,
			`{"services":[{"name":"b.shop","origin":"store","ports":[],"generation":7,"ttl":null}]}`}}},
		want: result{0, `{
  "services": [
    {
      "name": "b.shop",
      "origin": "store",
      "ports": [],
      "generation": 7,
      "ttl": null
    }
  ]
}
`, ""},
		sent: []recorded{get("/v1/services")},
	}, {
		name:    "services get",
		args:    []string{"services", "get", "oracle.finance"},
		replies: map[string][]reply{"GET /v1/services/oracle.finance": {{200, oracleJSON}}},
		want: result{0, `Name:           oracle.finance
Origin:         file
Ports:          db:1521/tcp
TTL:            30
Allow:          everyone
Secrets allow:  10.244.0.0/16
Check:          tcp port=db interval=10s timeout=2s rise=1 fall=3
Connection:     DB_NAME=orcl
                DB_USER=app
Secrets:        DB_PASSWORD=***
Endpoints:      1/2 up
  ADDRESS    NAME       PORT  STATE      LAST CHECK  LAST ERROR
  10.0.0.10  10-0-0-10  1522  healthy    2s ago      -
  10.0.0.11  standby    1521  unhealthy  5m ago      dial tcp 10.0.0.11:1521: i/o timeout
  10.0.0.12  10-0-0-12  1521  disabled   -           -
`, ""},
		sent: []recorded{get("/v1/services/oracle.finance")},
	}, {
		name:    "services get of a shadowed store service with an http check",
		args:    []string{"services", "get", "web.shop"},
		replies: map[string][]reply{"GET /v1/services/web.shop": {{200, webStoreJSON}}},
		want: result{0, `Name:           web.shop
Origin:         store
Conflict:       shadowed by the registry file's service web.shop (not served)
Ports:          http:80/tcp,https:443/tcp
TTL:            -
Allow:          everyone
Secrets allow:  nobody
Check:          none (always healthy)
Connection:     -
Secrets:        -
Endpoints:      2/2 up
  ADDRESS    NAME       PORT    STATE    LAST CHECK  LAST ERROR
  fd00::1    fd00--1    80,443  unknown  no check    -
  192.0.2.8  192-0-2-8  80,443  unknown  no check    -
`, ""},
		sent: []recorded{get("/v1/services/web.shop")},
	}, {
		name:    "services get, http check",
		args:    []string{"services", "get", "web.shop"},
		replies: map[string][]reply{"GET /v1/services/web.shop": {{200, webFileJSON}}},
		want: result{0, `Name:           web.shop
Origin:         file
Ports:          http:80/tcp
TTL:            -
Allow:          10.244.0.0/16, 127.0.0.0/8
Secrets allow:  nobody
Check:          http port=80 path=/healthz header=X-Probe:tpdns expect=200-399 interval=5s timeout=1s rise=2 fall=2
Connection:     -
Secrets:        -
Endpoints:      1/1 up
  ADDRESS    NAME       PORT  STATE    LAST CHECK  LAST ERROR
  192.0.2.7  192-0-2-7  80    healthy  4d ago      -
`, ""},
		sent: []recorded{get("/v1/services/web.shop")},
	}, {
		name:    "services get as JSON",
		args:    []string{"-o", "json", "services", "get", "a.shop"},
		replies: map[string][]reply{"GET /v1/services/a.shop": {{200, `{"name":"a.shop","endpoints":[{"address":"10.1.1.1"}]}`}}},
		want: result{0, `{
  "name": "a.shop",
  "endpoints": [
    {
      "address": "10.1.1.1"
    }
  ]
}
`, ""},
		sent: []recorded{get("/v1/services/a.shop")},
	}, {
		name:    "services get of an unknown service",
		args:    []string{"services", "get", "nope"},
		replies: map[string][]reply{"GET /v1/services/nope": {{404, `{"error": "no service nope"}`}}},
		want:    result{1, "", "tpdnsctl: no service nope\n"},
		sent:    []recorded{get("/v1/services/nope")},
	}, {
		name:    "health",
		args:    []string{"health"},
		replies: map[string][]reply{"GET /v1/services": {{200, listJSON}}},
		want: result{0,
			"SERVICE         ADDRESS    STATE      LAST CHECK  LATENCY  LAST ERROR\n" +
				"oracle.finance  10.0.0.10  healthy    2s ago      1.2ms    -\n" +
				"oracle.finance  10.0.0.11  unhealthy  5m ago      2s       dial tcp 10.0.0.11:1521: i/o timeout\n" +
				"oracle.finance  10.0.0.12  disabled   -           -        -\n" +
				"web.shop        192.0.2.7  healthy    4d ago      800µs    -\n" +
				"web.shop        fd00::1    unknown    no check    -        -\n" +
				"web.shop        192.0.2.8  unknown    no check    -        -\n",
			""},
		sent: []recorded{get("/v1/services")},
	}, {
		name:    "health of one service",
		args:    []string{"health", "oracle.finance"},
		replies: map[string][]reply{"GET /v1/services/oracle.finance": {{200, oracleJSON}}},
		want: result{0,
			"SERVICE         ADDRESS    STATE      LAST CHECK  LATENCY  LAST ERROR\n" +
				"oracle.finance  10.0.0.10  healthy    2s ago      1.2ms    -\n" +
				"oracle.finance  10.0.0.11  unhealthy  5m ago      2s       dial tcp 10.0.0.11:1521: i/o timeout\n" +
				"oracle.finance  10.0.0.12  disabled   -           -        -\n",
			""},
		sent: []recorded{get("/v1/services/oracle.finance")},
	}, {
		name:    "health as JSON",
		args:    []string{"health", "a.shop", "--output=json"},
		replies: map[string][]reply{"GET /v1/services/a.shop": {{200, `{"name":"a.shop"}`}}},
		want:    result{0, "{\n  \"name\": \"a.shop\"\n}\n", ""},
		sent:    []recorded{get("/v1/services/a.shop")},
	}, {
		name:    "401",
		args:    []string{"health"},
		replies: map[string][]reply{"GET /v1/services": {{401, `{"error": "bad bearer token"}`}}},
		want:    result{1, "", "tpdnsctl: bad bearer token; check --token-file or TPDNS_TOKEN\n"},
		sent:    []recorded{get("/v1/services")},
	}, {
		name:    "an error that is not the API's",
		args:    []string{"services", "list"},
		replies: map[string][]reply{"GET /v1/services": {{502, `<html>Bad Gateway</html>`}}},
		want:    result{1, "", "tpdnsctl: server replied 502 Bad Gateway\n"},
		sent:    []recorded{get("/v1/services")},
	}, {
		name:    "a reply that is not JSON",
		args:    []string{"services", "list"},
		replies: map[string][]reply{"GET /v1/services": {{200, `services: []`}}},
		want:    result{1, "", "tpdnsctl: reply: invalid character 's' looking for beginning of value\n"},
		sent:    []recorded{get("/v1/services")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.replies)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.sent, api.seen())
		})
	}
}

func TestWriteCommands(t *testing.T) {
	put := func(path, body string) recorded {
		return recorded{Method: http.MethodPut, Path: path, Auth: "Bearer " + testToken, Body: body}
	}
	del := func(path string) recorded {
		return recorded{Method: http.MethodDelete, Path: path, Auth: "Bearer " + testToken}
	}
	const ep = "/v1/services/web.shop/endpoints/"
	for _, tc := range []struct {
		name    string
		args    []string
		replies map[string][]reply
		want    result
		sent    []recorded
	}{{
		name:    "services delete",
		args:    []string{"services", "delete", "web.shop"},
		replies: map[string][]reply{"DELETE /v1/services/web.shop": {{204, ""}}},
		want:    result{0, "service web.shop deleted\n", ""},
		sent:    []recorded{del("/v1/services/web.shop")},
	}, {
		name:    "services delete prints no JSON for a 204",
		args:    []string{"services", "delete", "web.shop", "-o", "json"},
		replies: map[string][]reply{"DELETE /v1/services/web.shop": {{204, ""}}},
		want:    result{0, "", ""},
		sent:    []recorded{del("/v1/services/web.shop")},
	}, {
		name: "services delete of a file service",
		args: []string{"services", "delete", "oracle.finance"},
		replies: map[string][]reply{"DELETE /v1/services/oracle.finance": {{409,
			`{"error": "oracle.finance belongs to the registry file", "field": "name"}`}}},
		want: result{1, "", "tpdnsctl: oracle.finance belongs to the registry file (field name)\n"},
		sent: []recorded{del("/v1/services/oracle.finance")},
	}, {
		name:    "endpoints add, every flag",
		args:    []string{"endpoints", "add", "web.shop", "fd00::1", "--port", "8443", "--name", "v6", "--priority", "10", "--weight", "0", "--disabled", "--ttl", "1500ms"},
		replies: map[string][]reply{"PUT " + ep + "fd00::1": {{201, webStoreJSON}}},
		want:    result{0, "endpoint fd00::1 of web.shop added\n", ""},
		sent:    []recorded{put(ep+"fd00::1", `{"port":8443,"name":"v6","priority":10,"weight":0,"disabled":true,"ttl":2}`)},
	}, {
		name:    "endpoints add sends only the flags given",
		args:    []string{"--weight=3", "endpoints", "add", "--disabled=false", "web.shop", "192.0.2.8"},
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{200, webStoreJSON}}},
		want:    result{0, "endpoint 192.0.2.8 of web.shop updated\n", ""},
		sent:    []recorded{put(ep+"192.0.2.8", `{"weight":3,"disabled":false}`)},
	}, {
		name:    "endpoints add without flags sends no body",
		args:    []string{"endpoints", "add", "web.shop", "192.0.2.8"},
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{200, webStoreJSON}}},
		want:    result{0, "endpoint 192.0.2.8 of web.shop updated\n", ""},
		sent:    []recorded{put(ep+"192.0.2.8", "")},
	}, {
		name:    "endpoints add rounds the ttl up",
		args:    []string{"endpoints", "add", "web.shop", "192.0.2.8", "--ttl", "1ms"},
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{200, webStoreJSON}}},
		want:    result{0, "endpoint 192.0.2.8 of web.shop updated\n", ""},
		sent:    []recorded{put(ep+"192.0.2.8", `{"ttl":1}`)},
	}, {
		name:    "endpoints add escapes the address",
		args:    []string{"endpoints", "add", "web.shop", "fe80::1%eth0"},
		replies: map[string][]reply{"PUT " + ep + "fe80::1%25eth0": {{201, webStoreJSON}}},
		want:    result{0, "endpoint fe80::1%eth0 of web.shop added\n", ""},
		sent:    []recorded{put(ep+"fe80::1%25eth0", "")},
	}, {
		name:    "endpoints add as JSON",
		args:    []string{"endpoints", "add", "web.shop", "192.0.2.8", "-o", "json"},
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{200, `{"name":"web.shop","origin":"store"}`}}},
		want:    result{0, "{\n  \"name\": \"web.shop\",\n  \"origin\": \"store\"\n}\n", ""},
		sent:    []recorded{put(ep+"192.0.2.8", "")},
	}, {
		name: "endpoints add refused with several errors",
		args: []string{"endpoints", "add", "web.shop", "192.0.2.8", "--port", "8080", "--name", "Bad_Label"},
		// The server repeats the first of the errors as the message.
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{400, `{
			"error": "port given, but the service has 2 ports", "field": "port", "errors": [
				{"error": "port given, but the service has 2 ports", "field": "port"},
				{"error": "invalid label \"Bad_Label\"", "field": "name"},
				{"error": "the body is wrong"}]}`}}},
		want: result{1, "",
			"tpdnsctl: port given, but the service has 2 ports (--port)\n" +
				"  invalid label \"Bad_Label\" (--name)\n" +
				"  the body is wrong\n"},
		sent: []recorded{put(ep+"192.0.2.8", `{"port":8080,"name":"Bad_Label"}`)},
	}, {
		name: "an error summing up several",
		args: []string{"endpoints", "add", "web.shop", "192.0.2.8"},
		replies: map[string][]reply{"PUT " + ep + "192.0.2.8": {{400, `{
			"error": "2 errors", "errors": [{"error": "a", "field": "port"}, {"error": "b", "field": "name"}]}`}}},
		want: result{1, "", "tpdnsctl: 2 errors\n  a (field port)\n  b (field name)\n"},
		sent: []recorded{put(ep+"192.0.2.8", "")},
	}, {
		name:    "endpoints remove",
		args:    []string{"endpoints", "remove", "web.shop", "fd00::1"},
		replies: map[string][]reply{"DELETE " + ep + "fd00::1": {{204, ""}}},
		want:    result{0, "endpoint fd00::1 of web.shop removed\n", ""},
		sent:    []recorded{del(ep + "fd00::1")},
	}, {
		name:    "endpoints remove of an unknown endpoint",
		args:    []string{"endpoints", "remove", "web.shop", "192.0.2.99"},
		replies: map[string][]reply{"DELETE " + ep + "192.0.2.99": {{404, `{"error": "no endpoint 192.0.2.99 in web.shop", "field": "address"}`}}},
		want:    result{1, "", "tpdnsctl: no endpoint 192.0.2.99 in web.shop (field address)\n"},
		sent:    []recorded{del(ep + "192.0.2.99")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.replies)
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.sent, api.seen())
		})
	}
}
