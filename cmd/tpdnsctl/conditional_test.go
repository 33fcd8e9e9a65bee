package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const oneService = `services:
  - name: billing
    endpoints: [192.0.2.50]
`

// TestConditionalWrites: create sends If-None-Match: *, apply and delete
// --if-match send If-Match, and a failed precondition (412) or a refusal
// (403) is told plainly.
func TestConditionalWrites(t *testing.T) {
	one := writeFile(t, "billing.yaml", oneService)
	two := writeFile(t, "services.yaml", registry)
	const billing = "/v1/services/billing"
	const changed = `{"error": "service billing is at ETag \"8\" (If-Match: \"5\")", "field": ""}`
	for _, tc := range []struct {
		name    string
		args    []string
		replies map[string][]reply
		etags   map[string]string // of the replies, by route
		want    result
		sent    []recorded // the method, path and preconditions
	}{{
		name:    "create",
		args:    []string{"services", "create", "-f", one},
		replies: map[string][]reply{"PUT " + billing: {{201, `{"name": "billing"}`}}},
		want:    result{0, "service billing created\n", ""},
		sent:    []recorded{{Method: "PUT", Path: billing, IfNoneMatch: "*"}},
	}, {
		name: "create stops at a service that exists",
		args: []string{"services", "create", "-f", two},
		replies: map[string][]reply{
			"PUT /v1/services/oracle.finance": {{201, oracleJSON}},
			"PUT /v1/services/web.shop":       {{412, `{"error": "service web.shop already exists (If-None-Match: *)", "field": ""}`}},
		},
		etags: map[string]string{"PUT /v1/services/web.shop": `"3"`},
		want:  result{1, "service oracle.finance created\n", "tpdnsctl: service web.shop exists already; services apply replaces it\n"},
		sent: []recorded{
			{Method: "PUT", Path: "/v1/services/oracle.finance", IfNoneMatch: "*"},
			{Method: "PUT", Path: "/v1/services/web.shop", IfNoneMatch: "*"},
		},
	}, {
		name:    "apply --if-match",
		args:    []string{"services", "apply", "-f", one, "--if-match", `"5"`},
		replies: map[string][]reply{"PUT " + billing: {{200, `{"name": "billing"}`}}},
		want:    result{0, "service billing configured\n", ""},
		sent:    []recorded{{Method: "PUT", Path: billing, IfMatch: `"5"`}},
	}, {
		name:    "apply --if-match without the quotes a shell eats",
		args:    []string{"services", "apply", "-f", one, "--if-match=5"},
		replies: map[string][]reply{"PUT " + billing: {{200, `{"name": "billing"}`}}},
		want:    result{0, "service billing configured\n", ""},
		sent:    []recorded{{Method: "PUT", Path: billing, IfMatch: `"5"`}},
	}, {
		name:    "apply --if-match of a service changed since",
		args:    []string{"services", "apply", "-f", one, "--if-match", "5"},
		replies: map[string][]reply{"PUT " + billing: {{412, changed}}},
		etags:   map[string]string{"PUT " + billing: `"8"`},
		want:    result{1, "", "tpdnsctl: service billing changed since you read it: it is at ETag \"8\", not \"5\"; get it again, then retry\n"},
		sent:    []recorded{{Method: "PUT", Path: billing, IfMatch: `"5"`}},
	}, {
		name:    "apply --if-match of a service that does not exist",
		args:    []string{"services", "apply", "-f", one, "--if-match", "5"},
		replies: map[string][]reply{"PUT " + billing: {{412, `{"error": "service billing does not exist (If-Match: \"5\")", "field": ""}`}}},
		want:    result{1, "", "tpdnsctl: service billing does not exist (--if-match \"5\")\n"},
		sent:    []recorded{{Method: "PUT", Path: billing, IfMatch: `"5"`}},
	}, {
		name: "apply --if-match of a file of two services",
		args: []string{"services", "apply", "-f", two, "--if-match", "5"},
		want: result{1, "", "tpdnsctl: --if-match is the ETag of one service, and " + two + " has 3\n"},
	}, {
		name:    "delete --if-match",
		args:    []string{"services", "delete", "billing", "--if-match", `"8"`},
		replies: map[string][]reply{"DELETE " + billing: {{204, ""}}},
		want:    result{0, "service billing deleted\n", ""},
		sent:    []recorded{{Method: "DELETE", Path: billing, IfMatch: `"8"`}},
	}, {
		name:    "delete --if-match of a service changed since",
		args:    []string{"services", "delete", "billing", "--if-match", `"5"`},
		replies: map[string][]reply{"DELETE " + billing: {{412, changed}}},
		etags:   map[string]string{"DELETE " + billing: `"8"`},
		want:    result{1, "", "tpdnsctl: service billing changed since you read it: it is at ETag \"8\", not \"5\"; get it again, then retry\n"},
		sent:    []recorded{{Method: "DELETE", Path: billing, IfMatch: `"5"`}},
	}, {
		name:    "apply without --if-match sends no precondition",
		args:    []string{"services", "apply", "-f", one},
		replies: map[string][]reply{"PUT " + billing: {{201, `{"name": "billing"}`}}},
		want:    result{0, "service billing created\n", ""},
		sent:    []recorded{{Method: "PUT", Path: billing}},
	}, {
		name: "a token outside its role or scope",
		args: []string{"services", "apply", "-f", one},
		replies: map[string][]reply{"PUT " + billing: {{403,
			`{"error": "token ci-finance may not write service billing", "field": ""}`}}},
		want: result{1, "", "tpdnsctl: service billing: token ci-finance may not write service billing\n"},
		sent: []recorded{{Method: "PUT", Path: billing}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.replies)
			for route, etag := range tc.etags {
				api.etags[route] = etag
			}
			got := runApp(context.Background(), apiEnv(api), false, tc.args...)
			assert.Equal(t, tc.want, got)
			var sent []recorded
			for _, r := range api.seen() {
				sent = append(sent, recorded{Method: r.Method, Path: r.Path, IfMatch: r.IfMatch, IfNoneMatch: r.IfNoneMatch})
			}
			assert.Equal(t, tc.sent, sent)
		})
	}
}

// TestGetShowsTheETag: services get shows a store service's ETag, for
// --if-match.
func TestGetShowsTheETag(t *testing.T) {
	api := newFakeAPI(t, map[string][]reply{"GET /v1/services/web.shop": {{200, webStoreJSON}}})
	api.etags["GET /v1/services/web.shop"] = `"42"`
	got := runApp(context.Background(), apiEnv(api), false, "services", "get", "web.shop")
	require.Equal(t, 0, got.code, got.stderr)
	assert.Equal(t, `Name:           web.shop
Origin:         store
ETag:           "42"
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
`, got.stdout)
	assert.Equal(t, []recorded{get("/v1/services/web.shop")}, api.seen())
}
