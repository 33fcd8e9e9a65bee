package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testZones is the zone the tests serve in; names must fit in it.
var testZones = Options{Zones: []string{"tp.internal."}}

// longHost is a host name of 255 octets, 2 too many.
var longHost = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // the lines of the error
	}{
		{
			name: "syntax error",
			in: `services:
  - name: a
    ports: [
`,
			want: []string{
				"services.yaml:3: invalid YAML: did not find expected node content",
			},
		},
		{
			name: "unknown anchor",
			in: `services:
  - name: *nope
`,
			want: []string{
				"services.yaml:2: invalid YAML: unknown anchor 'nope' referenced",
			},
		},
		{
			name: "second document",
			in: `services: []
---
services: []
`,
			want: []string{
				"services.yaml:2: a second YAML document; the registry is one document",
			},
		},
		{
			name: "top level is a list",
			in: `- name: a
`,
			want: []string{
				"services.yaml:1: want a mapping with the key \"services\", got a list",
			},
		},
		{
			name: "top level unknown key",
			in: `servics: []
`,
			want: []string{
				"services.yaml:1: servics: unknown field; did you mean \"services\"?",
			},
		},
		{
			name: "services is a mapping",
			in: `services: {name: a}
`,
			want: []string{
				"services.yaml:1: services: want a list, got a mapping",
			},
		},
		{
			name: "service is a string",
			in: `services:
  - oracle
`,
			want: []string{
				"services.yaml:2: services[0]: want a mapping, got \"oracle\"",
			},
		},
		{
			name: "name missing",
			in: `services:
  - ports: []
`,
			want: []string{
				"services.yaml:2: services[0].name: is required",
			},
		},
		{
			name: "name not a string",
			in: `services:
  - name: 123
  - name: [a]
  - name: ~
`,
			want: []string{
				"services.yaml:2: services[0].name: want a string, got 123",
				"services.yaml:3: services[1].name: want a string, got a list",
				"services.yaml:4: services[2].name: want a string, got null",
			},
		},
		{
			name: "name labels",
			in: `services:
  - name: _db.finance
  - name: a..b
  - name: oracle.finance.
  - name: -a
  - name: a_b
  - name: ""
  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  - name: "é"
`,
			want: []string{
				"services.yaml:2: services[0].name: label \"_db\" starts with \"_\", which is reserved for SRV owner names",
				"services.yaml:3: services[1].name: \"a..b\" has an empty label",
				"services.yaml:4: services[2].name: \"oracle.finance.\" ends with a dot; names are relative to the zone",
				"services.yaml:5: services[3].name: label \"-a\" starts or ends with a hyphen",
				"services.yaml:6: services[4].name: label \"a_b\" has '_'; only letters, digits and hyphens are allowed",
				"services.yaml:7: services[5].name: must not be empty",
				"services.yaml:8: services[6].name: label \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 64 octets, more than 63",
				"services.yaml:9: services[7].name: label \"é\" has 'é'; only letters, digits and hyphens are allowed",
			},
		},
		{
			name: "unknown fields",
			in: `services:
  - name: a
    nmae: b
    endpoints:
      - adress: 10.0.0.1
    check:
      intervall: 5s
      zzzzzzzzzz: 1
`,
			want: []string{
				"services.yaml:3: services[0].nmae: unknown field; did you mean \"name\"?",
				"services.yaml:5: services[0].endpoints[0].adress: unknown field; did you mean \"address\"?",
				"services.yaml:5: services[0].endpoints[0].address: is required",
				"services.yaml:7: services[0].check.intervall: unknown field; did you mean \"interval\"?",
				"services.yaml:8: services[0].check.zzzzzzzzzz: unknown field",
			},
		},
		{
			name: "repeated key",
			in: `services:
  - name: a
    ttl: 1
    name: b
`,
			want: []string{
				"services.yaml:4: services[0].name: repeated key (first at line 2)",
			},
		},
		{
			name: "non-scalar key",
			in: `services:
  - name: a
    [x]: 1
`,
			want: []string{
				"services.yaml:3: services[0]: want a string key, got a list",
			},
		},
		{
			name: "ports",
			in: `services:
  - name: a
    ports:
      - name: db
      - port: 1
      - name: abcdefghijklmnop
        port: 2
      - name: "123"
        port: 3
      - name: a--b
        port: 4
      - name: -ab
        port: 5
      - name: a_b
        port: 6
      - name: ok
        port: 0
      - name: ok2
        port: 99999
        protocol: sctp
      - name: DB
        port: 8
      - name: p
        port: "80"
      - name: q
        port: 1.5
      - name: r
        port: 99999999999999999999
      - x
`,
			want: []string{
				"services.yaml:4: services[0].ports[0].port: is required",
				"services.yaml:5: services[0].ports[1].name: is required",
				"services.yaml:6: services[0].ports[2].name: \"abcdefghijklmnop\" is 16 characters, more than 15",
				"services.yaml:8: services[0].ports[3].name: \"123\" needs a letter",
				"services.yaml:10: services[0].ports[4].name: \"a--b\" has two hyphens in a row",
				"services.yaml:12: services[0].ports[5].name: \"-ab\" starts or ends with a hyphen",
				"services.yaml:14: services[0].ports[6].name: \"a_b\" has '_'; only letters, digits and hyphens are allowed",
				"services.yaml:17: services[0].ports[7].port: 0 is out of range 1-65535",
				"services.yaml:19: services[0].ports[8].port: 99999 is out of range 1-65535",
				"services.yaml:20: services[0].ports[8].protocol: want tcp or udp, got \"sctp\"",
				"services.yaml:21: services[0].ports[9].name: \"db\" is already used by services[0].ports[0] (line 4)",
				"services.yaml:24: services[0].ports[10].port: want an integer, got \"80\"",
				"services.yaml:26: services[0].ports[11].port: want an integer, got 1.5",
				"services.yaml:28: services[0].ports[12].port: 99999999999999999999 is out of range 1-65535",
				"services.yaml:29: services[0].ports[13]: want a mapping, got \"x\"",
			},
		},
		{
			name: "endpoint addresses",
			in: `services:
  - name: a
    endpoints:
      - 10.0.0.256
      - 2001:db8::zz
      - fe80::1%eth0
      - "[10.0.0.1]:80"
      - "[::1"
      - 10.0.0.1.
      - db_1.example.com
      - -db.example.com
      - 10
      - [a]
      - ""
`,
			want: []string{
				"services.yaml:4: services[0].endpoints[0]: \"10.0.0.256\" is not an IP address, and not a host name: its last label is all digits",
				"services.yaml:5: services[0].endpoints[1]: \"2001:db8::zz\" is not a valid IPv6 address",
				"services.yaml:6: services[0].endpoints[2]: \"fe80::1%eth0\" has the zone \"eth0\"; zones are not allowed",
				"services.yaml:7: services[0].endpoints[3]: \"[10.0.0.1]:80\" has no IPv6 address in the brackets",
				"services.yaml:8: services[0].endpoints[4]: \"[::1\" is not an address; want \"[IPv6]:PORT\"",
				"services.yaml:9: services[0].endpoints[5]: \"10.0.0.1.\" is an IP address with a trailing dot",
				"services.yaml:10: services[0].endpoints[6]: \"db_1.example.com\" is not an IP address, and not a host name: label \"db_1\" has '_'; only letters, digits and hyphens are allowed",
				"services.yaml:11: services[0].endpoints[7]: \"-db.example.com\" is not an IP address, and not a host name: label \"-db\" starts or ends with a hyphen",
				"services.yaml:12: services[0].endpoints[8]: want an address or a mapping, got 10",
				"services.yaml:13: services[0].endpoints[9]: want an address or a mapping, got a list",
				"services.yaml:14: services[0].endpoints[10]: \"\" is not an IP address, and not a host name: it is empty",
			},
		},
		{
			name: "endpoint addresses no client can connect to",
			in: `services:
  - name: a
    ports: [{name: db, port: 5432}]
    endpoints:
      - 0.0.0.0
      - "::"
      - "0.0.0.0:5432"
      - "[::]:5432"
      - ::ffff:0.0.0.0
      - 0.1.2.3
      - 255.255.255.255
      - 224.0.0.1
      - 239.255.255.250
      - ff02::1
      - ::ffff:224.0.0.1
      - address: 0.0.0.0
      - {address: 255.255.255.255, name: bcast}
      - 10.0.0.1
      - 127.0.0.1
      - 255.255.255.254
      - 223.255.255.255
      - 240.0.0.1
`,
			want: []string{
				"services.yaml:5: services[0].endpoints[0]: \"0.0.0.0\" is the unspecified address, which no client can connect to",
				"services.yaml:6: services[0].endpoints[1]: \"::\" is the unspecified address, which no client can connect to",
				"services.yaml:7: services[0].endpoints[2]: \"0.0.0.0:5432\" is the unspecified address, which no client can connect to",
				"services.yaml:8: services[0].endpoints[3]: \"[::]:5432\" is the unspecified address, which no client can connect to",
				"services.yaml:9: services[0].endpoints[4]: \"::ffff:0.0.0.0\" is the unspecified address, which no client can connect to",
				"services.yaml:10: services[0].endpoints[5]: \"0.1.2.3\" is in 0.0.0.0/8, \"this network\", which no client can connect to",
				"services.yaml:11: services[0].endpoints[6]: \"255.255.255.255\" is the broadcast address, which no client can connect to",
				"services.yaml:12: services[0].endpoints[7]: \"224.0.0.1\" is a multicast address, which no client can connect to",
				"services.yaml:13: services[0].endpoints[8]: \"239.255.255.250\" is a multicast address, which no client can connect to",
				"services.yaml:14: services[0].endpoints[9]: \"ff02::1\" is a multicast address, which no client can connect to",
				"services.yaml:15: services[0].endpoints[10]: \"::ffff:224.0.0.1\" is a multicast address, which no client can connect to",
				"services.yaml:16: services[0].endpoints[11].address: \"0.0.0.0\" is the unspecified address, which no client can connect to",
				"services.yaml:17: services[0].endpoints[12].address: \"255.255.255.255\" is the broadcast address, which no client can connect to",
			},
		},
		{
			name: "endpoint ports",
			in: `services:
  - name: a
    ports:
      - {name: db, port: 1521}
    endpoints:
      - 10.0.0.1:abc
      - 10.0.0.2:0
      - "10.0.0.3:"
      - address: 10.0.0.4
        port: 99999
      - address: 10.0.0.5:80
      - port: 80
  - name: b
    ports:
      - {name: db, port: 1521}
      - {name: web, port: 80}
    endpoints:
      - 10.0.0.1:1522
      - address: 10.0.0.2
        port: 1522
      - "[2001:db8::1]:1522"
  - name: c
    endpoints:
      - db.example.com:5432
`,
			want: []string{
				"services.yaml:6: services[0].endpoints[0]: port \"abc\" is not a number",
				"services.yaml:7: services[0].endpoints[1]: port 0 is out of range 1-65535",
				"services.yaml:8: services[0].endpoints[2]: port \"\" is not a number",
				"services.yaml:10: services[0].endpoints[3].port: 99999 is out of range 1-65535",
				"services.yaml:11: services[0].endpoints[4].address: \"10.0.0.5:80\" has a port; give the address alone, and the port as \"port\"",
				"services.yaml:12: services[0].endpoints[5].address: is required",
				"services.yaml:18: services[1].endpoints[0]: a port per endpoint needs the service to have exactly one port, it has 2",
				"services.yaml:20: services[1].endpoints[1].port: a port per endpoint needs the service to have exactly one port, it has 2",
				"services.yaml:21: services[1].endpoints[2]: a port per endpoint needs the service to have exactly one port, it has 2",
				"services.yaml:24: services[2].endpoints[0]: a port per endpoint needs the service to have exactly one port, it has 0",
			},
		},
		{
			name: "endpoint fields",
			in: `services:
  - name: a
    endpoints:
      - address: 10.0.0.1
        name: _x
        priority: 65536
        weight: -1
        disabled: yes
      - address: 10.0.0.2
        name: Bad.Label
      - address: 10.0.0.3
        name: ""
      - address: 10.0.0.4
        name: 5
  - name: b
    endpoints:
      - address: db.example.com
        name: primary
`,
			want: []string{
				"services.yaml:5: services[0].endpoints[0].name: label \"_x\" starts with \"_\", which is reserved for SRV owner names",
				"services.yaml:6: services[0].endpoints[0].priority: 65536 is out of range 0-65535",
				"services.yaml:7: services[0].endpoints[0].weight: -1 is out of range 0-65535",
				"services.yaml:8: services[0].endpoints[0].disabled: want true or false, got \"yes\"",
				"services.yaml:10: services[0].endpoints[1].name: label \"bad.label\" has '.'; only letters, digits and hyphens are allowed",
				"services.yaml:12: services[0].endpoints[2].name: must not be empty",
				"services.yaml:14: services[0].endpoints[3].name: want a string, got 5",
				"services.yaml:18: services[1].endpoints[0].name: a host name endpoint cannot have a name: it has no label",
			},
		},
		{
			name: "mixed endpoints",
			in: `services:
  - name: a
    endpoints:
      - db1.example.com
      - 10.0.0.1
      - 10.0.0.2
  - name: b
    endpoints:
      - 10.0.0.1
      - db1.example.com
`,
			want: []string{
				"services.yaml:5: services[0].endpoints[1]: \"10.0.0.1\" is an IP address, but services[0].endpoints[0] is a host name; endpoints are all IP addresses or all host names",
				"services.yaml:10: services[1].endpoints[1]: \"db1.example.com\" is a host name, but services[1].endpoints[0] is an IP address; endpoints are all IP addresses or all host names",
			},
		},
		{
			name: "duplicate addresses and labels",
			in: `services:
  - name: a
    endpoints:
      - 10.0.0.1
      - address: 10.0.0.1
      - address: 10.0.0.2
        name: 10-0-0-1
      - 2001:db8::1
      - 2001:DB8:0::1
      - address: 10.0.0.3
        name: x
      - address: 10.0.0.4
        name: X
  - name: b
    endpoints: [db.example.com, DB.example.com.]
`,
			want: []string{
				"services.yaml:5: services[0].endpoints[1].address: \"10.0.0.1\" is already used by services[0].endpoints[0] (line 4)",
				"services.yaml:7: services[0].endpoints[2].name: label \"10-0-0-1\" is already used by services[0].endpoints[0] (line 4)",
				"services.yaml:9: services[0].endpoints[4]: \"2001:db8::1\" is already used by services[0].endpoints[3] (line 8)",
				"services.yaml:13: services[0].endpoints[6].name: label \"x\" is already used by services[0].endpoints[5] (line 10)",
				"services.yaml:15: services[1].endpoints[1]: \"db.example.com\" is already used by services[1].endpoints[0] (line 15)",
			},
		},
		{
			name: "duplicate names across services",
			in: `services:
  - name: oracle.finance
    endpoints:
      - 10.0.0.10
      - address: 10.0.0.11
        name: standby
  - name: standby.oracle.finance
  - name: Oracle.Finance
  - name: x.standby.oracle.finance
  - name: finance
    endpoints:
      - address: 10.0.0.1
        name: oracle
`,
			want: []string{
				"services.yaml:7: services[1].name: \"standby.oracle.finance\" is already used by services[0].endpoints[1] (line 5)",
				"services.yaml:8: services[2].name: \"oracle.finance\" is already used by services[0] (line 2)",
				"services.yaml:13: services[4].endpoints[0].name: \"oracle.finance\" is already used by services[0] (line 2)",
			},
		},
		{
			// The names of endpoints are found from their services' names:
			// through services of the same name, and by the first use.
			name: "names of endpoints of services of one name",
			in: `services:
  - name: db
  - name: db
    endpoints:
      - address: 10.0.0.1
        name: a
  - name: a.db
  - name: db
    endpoints:
      - address: 10.0.0.2
        name: a
  - name: b.db
  - name: DB
    endpoints:
      - address: 10.0.0.3
        name: b
      - 10.0.0.4
  - name: 10-0-0-4.db
`,
			want: []string{
				"services.yaml:3: services[1].name: \"db\" is already used by services[0] (line 2)",
				"services.yaml:7: services[2].name: \"a.db\" is already used by services[1].endpoints[0] (line 5)",
				"services.yaml:8: services[3].name: \"db\" is already used by services[0] (line 2)",
				"services.yaml:11: services[3].endpoints[0].name: \"a.db\" is already used by services[1].endpoints[0] (line 5)",
				"services.yaml:13: services[5].name: \"db\" is already used by services[0] (line 2)",
				"services.yaml:16: services[5].endpoints[0].name: \"b.db\" is already used by services[4] (line 12)",
				"services.yaml:18: services[6].name: \"10-0-0-4.db\" is already used by services[5].endpoints[1] (line 17)",
			},
		},
		{
			name: "name lengths",
			in: `services:
  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    ports: [{name: db, port: 1}]
    endpoints: [10.0.0.1]
  - name: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    ports: [{name: db, port: 1}]
    endpoints: [10.0.0.1, 2001:db8::1]
`,
			want: []string{
				"services.yaml:2: services[0].name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa....\" is 261 octets in zone \"tp.internal.\", more than 253",
				"services.yaml:6: services[1].ports[0].name: \"_db._tcp.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\" is 258 octets in zone \"tp.internal.\", more than 253",
				"services.yaml:7: services[1].endpoints[0]: \"10-0-0-1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\" is 258 octets in zone \"tp.internal.\", more than 253",
				"services.yaml:7: services[1].endpoints[1]: \"2001-db8--1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\" is 261 octets in zone \"tp.internal.\", more than 253",
			},
		},
		{
			name: "connection and secrets",
			in: `services:
  - name: a
    connection:
      DB-NAME: x
      "DB NAME": x
      DB_HOSTS: [a, b]
      DB_OPTS: {a: b}
      DB_USER: app
      LONG: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    secrets:
      DB_USER: root
      1PASS: x
  - name: b
    secrets: [a]
    connection: x
`,
			want: []string{
				"services.yaml:4: services[0].connection.DB-NAME: key must match [A-Za-z_][A-Za-z0-9_]*",
				"services.yaml:5: services[0].connection.\"DB NAME\": key must match [A-Za-z_][A-Za-z0-9_]*",
				"services.yaml:6: services[0].connection.DB_HOSTS: want a string, number or boolean, got a list",
				"services.yaml:7: services[0].connection.DB_OPTS: want a string, number or boolean, got a mapping",
				"services.yaml:9: services[0].connection.LONG: LONG=… is 265 octets, more than the 255 a TXT string holds",
				"services.yaml:11: services[0].secrets.DB_USER: DB_USER is also in services[0].connection (line 8)",
				"services.yaml:12: services[0].secrets.1PASS: key must match [A-Za-z_][A-Za-z0-9_]*",
				"services.yaml:14: services[1].secrets: want a mapping, got a list",
				"services.yaml:15: services[1].connection: want a mapping, got \"x\"",
			},
		},
		{
			name: "allow lists",
			in: `services:
  - name: a
    allow: [10.0.0.0/8, 10.0.0.0/33, fe80::1%eth0, 5, nonsense]
    secrets_allow: 10.0.0.0/8
`,
			want: []string{
				"services.yaml:3: services[0].allow[1]: \"10.0.0.0/33\" is not a CIDR prefix or IP address",
				"services.yaml:3: services[0].allow[2]: \"fe80::1%eth0\" is not a CIDR prefix or IP address",
				"services.yaml:3: services[0].allow[3]: want a CIDR prefix, got 5",
				"services.yaml:3: services[0].allow[4]: \"nonsense\" is not a CIDR prefix or IP address",
				"services.yaml:4: services[0].secrets_allow: want a list, got \"10.0.0.0/8\"",
			},
		},
		{
			name: "secrets_keys",
			in: `services:
  - name: a
    secrets_keys: [app-finance, "bad key", "", a..b, App-Finance., 5]
  - name: b
    secrets_keys: app-finance
`,
			want: []string{
				"services.yaml:3: services[0].secrets_keys[1]: \"bad key\" is not a TSIG key name (a domain name such as app-finance)",
				"services.yaml:3: services[0].secrets_keys[2]: \"\" is not a TSIG key name (a domain name such as app-finance)",
				"services.yaml:3: services[0].secrets_keys[3]: \"a..b\" is not a TSIG key name (a domain name such as app-finance)",
				"services.yaml:3: services[0].secrets_keys[4]: \"App-Finance.\" is listed twice",
				"services.yaml:3: services[0].secrets_keys[5]: want a TSIG key name, got 5",
				"services.yaml:5: services[1].secrets_keys: want a list, got \"app-finance\"",
			},
		},
		{
			name: "ttl",
			in: `services:
  - name: a
    ttl: -1
  - name: b
    ttl: 2147483648
  - name: c
    ttl: abc
  - name: d
    ttl: 0
  - name: e
    ttl: 86401
  - name: f
    ttl: 9223372037
  - name: g
    ttl: 99999999999999999999
  - name: h
    ttl: 86400
  - name: i
    ttl: 1
`,
			want: []string{
				// A DNS TTL: 0 (never cache) and over a day are TTLs.
				"services.yaml:3: services[0].ttl: -1 is out of range 0-2147483647",
				"services.yaml:5: services[1].ttl: 2147483648 is out of range 0-2147483647",
				"services.yaml:7: services[2].ttl: want a number of seconds or a duration such as \"30s\", got \"abc\"",
				"services.yaml:13: services[5].ttl: 9223372037 is out of range 0-2147483647",
				"services.yaml:15: services[6].ttl: 99999999999999999999 is out of range 0-2147483647",
			},
		},
		{
			name: "check types and ports",
			in: `services:
  - name: a
    check: {type: icmp}
  - name: b
    ports: [{name: db, port: 1}]
    check: {type: tcp, port: web}
  - name: c
    ports: [{name: db, port: 1}]
    check: {type: tcp, port: 0}
  - name: d
    check: {type: tcp}
  - name: e
    check: {type: https, port: [1]}
  - name: f
    check: []
`,
			want: []string{
				"services.yaml:3: services[0].check.type: want none, tcp, http, https, postgres, mysql, redis, tns or mssql, got \"icmp\"",
				"services.yaml:6: services[1].check.port: no port named \"web\" in services[1].ports",
				"services.yaml:9: services[2].check.port: 0 is out of range 1-65535",
				"services.yaml:11: services[3].check.type: needs a port to probe; give the service a port, or the check one",
				"services.yaml:13: services[4].check.port: want a port name or number, got a list",
				"services.yaml:15: services[5].check: want a mapping, got a list",
			},
		},
		{
			name: "check service_name",
			in: `services:
  - name: a
    ports: [{name: db, port: 1521}]
    check: {type: tns}
  - name: b
    ports: [{name: db, port: 1521}]
    check: {type: TNS, service_name: ""}
  - name: c
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: "orcl)(x=y"}
  - name: d
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: [ORCL]}
  - name: e
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: ` + strings.Repeat("x", 256) + `}
  - name: f
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: orcl.db-1.example.com}
  - name: g
    ports: [{name: db, port: 5432}]
    check: {type: postgres, service_name: ORCL}
`,
			want: []string{
				"services.yaml:4: services[0].check.type: tns needs service_name, the service the listener must know",
				"services.yaml:7: services[1].check.service_name: must not be empty",
				"services.yaml:10: services[2].check.service_name: \"orcl)(x=y\": want letters, digits and any of _$#.-",
				"services.yaml:13: services[3].check.service_name: want a string, got a list",
				"services.yaml:16: services[4].check.service_name: is 256 characters long, over 255",
			},
		},
		{
			name: "check http fields",
			in: `services:
  - name: a
    ports: [{name: db, port: 1}]
    check:
      type: tcp
      path: /x
      host: h
      headers: {A: b}
      expect: 200
      tls_skip_verify: true
  - name: b
    ports: [{name: web, port: 80}]
    check:
      type: http
      path: healthz
      host: ""
      headers: {"X Probe": a, X-Ok: "a\nb", x-probe: c, X-PROBE: d}
      expect: 600
      tls_skip_verify: false
  - name: c
    ports: [{name: web, port: 80}]
    check:
      type: http
      path: "/a b"
      expect: 399-200
  - name: d
    ports: [{name: web, port: 80}]
    check:
      type: http
      expect: abc
`,
			want: []string{
				"services.yaml:15: services[1].check.path: \"healthz\" must start with \"/\"",
				"services.yaml:16: services[1].check.host: must not be empty",
				"services.yaml:17: services[1].check.headers.\"X Probe\": header name must be letters, digits and any of !#$%&'*+-.^_`|~",
				"services.yaml:17: services[1].check.headers.X-Ok: value has a control character",
				"services.yaml:17: services[1].check.headers.X-PROBE: header \"X-PROBE\" is also given as \"x-probe\" (line 17); header names ignore case",
				"services.yaml:18: services[1].check.expect: 600 is out of range 100-599",
				"services.yaml:24: services[2].check.path: \"/a b\" has a space or control character",
				"services.yaml:25: services[2].check.expect: \"399-200\" is backwards: 399 is above 200",
				"services.yaml:30: services[3].check.expect: want a status code such as \"204\" or a range such as \"200-399\", got \"abc\"",
			},
		},
		{
			name: "check timing",
			in: `services:
  - name: a
    check: {interval: ten, timeout: 0s, rise: 0, fall: x}
  - name: b
    check: {interval: 5s, timeout: 5s}
  - name: c
    check: {interval: 1ns}
  - name: d
    check: {timeout: 10s}
  - name: e
    check: {interval: 10, timeout: -1s}
`,
			want: []string{
				"services.yaml:3: services[0].check.interval: want a duration such as \"10s\" or a number of seconds, got \"ten\"",
				"services.yaml:3: services[0].check.timeout: 0s must be above zero",
				"services.yaml:3: services[0].check.rise: 0 is out of range 1-2147483647",
				"services.yaml:3: services[0].check.fall: want an integer, got \"x\"",
				"services.yaml:5: services[1].check.timeout: 5s must be below the interval, 5s",
				"services.yaml:7: services[2].check.interval: 1ns must be above the timeout, 1ns",
				"services.yaml:9: services[3].check.timeout: 10s must be below the interval, 10s",
				"services.yaml:11: services[4].check.timeout: -1s must be above zero",
			},
		},
		{
			name: "recursive alias",
			in: `services:
  - &s
    name: a
    check: *s
`,
			want: []string{
				"services.yaml:4: alias *s is inside the node it names",
			},
		},
		{
			name: "alias bomb",
			in: `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
`,
			want: []string{
				"services.yaml:5: aliases expand the document by more than 100000 nodes, counted up to alias *d",
			},
		},
		{
			name: "bad merge",
			in: `services:
  - name: a
    <<: [1]
  - name: b
    <<: x
`,
			want: []string{
				"services.yaml:3: services[0].\"<<\": want a mapping to merge, got 1",
				"services.yaml:5: services[1].\"<<\": want a mapping or a list of mappings to merge, got \"x\"",
			},
		},
		{
			name: "many errors in document order",
			in: `services:
  - name: Oracle.Finance
    ports:
      - name: db
        port: 1521
        protocol: sctp
    endpoints:
      - 10.0.0.10
      - address: 10.0.0.11
        port: 99999
        name: standby
    check:
      type: http
      timeout: 30s
  - name: standby.oracle.finance
    ttl: forever
    tags: [x]
`,
			want: []string{
				"services.yaml:6: services[0].ports[0].protocol: want tcp or udp, got \"sctp\"",
				"services.yaml:10: services[0].endpoints[1].port: 99999 is out of range 1-65535",
				"services.yaml:14: services[0].check.timeout: 30s must be below the interval, 10s",
				"services.yaml:15: services[1].name: \"standby.oracle.finance\" is already used by services[0].endpoints[1] (line 9)",
				"services.yaml:16: services[1].ttl: want a number of seconds or a duration such as \"30s\", got \"forever\"",
				"services.yaml:17: services[1].tags: unknown field",
			},
		},
		{
			name: "host name too long",
			in:   "services:\n  - name: a\n    endpoints:\n      - " + longHost + "\n",
			want: []string{
				`services.yaml:4: services[0].endpoints[0]: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...." is not an IP address, and not a host name: it is 255 octets, more than 253`,
			},
		},
		{
			// The check is decoded after the ports it refers to, yet its
			// errors come first.
			name: "sorted into document order",
			in: `services:
  - name: a
    check: {type: tcp, port: web, timeout: 20s}
    ports: [{name: db, port: 99999}]
    endpoints: ["10.0.0.1:0"]
`,
			want: []string{
				`services.yaml:3: services[0].check.port: no port named "web" in services[0].ports`,
				`services.yaml:3: services[0].check.timeout: 20s must be below the interval, 10s`,
				`services.yaml:4: services[0].ports[0].port: 99999 is out of range 1-65535`,
				`services.yaml:5: services[0].endpoints[0]: port 0 is out of range 1-65535`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services, err := ParseYAML("services.yaml", []byte(tt.in), testZones)
			require.Error(t, err)
			assert.Nil(t, services)
			assert.Equal(t, strings.Join(tt.want, "\n"), err.Error())
			var list ErrorList
			require.ErrorAs(t, err, &list)
			assert.Len(t, list, len(tt.want))
		})
	}
}

func TestParseYAMLComplete(t *testing.T) {
	in := `services:
  - name: Oracle.Finance
    ports:
      - name: DB
        port: 1521
        protocol: TCP
    endpoints:
      - 10.0.0.10:1523
      - address: 10.0.0.11
        port: 1522
        name: Standby
        priority: 10
        weight: 0
        disabled: true
      - 2001:DB8::1
      - "[2001:db8::2]:1524"
    connection:
      DB_NAME: orcl
      DB_PORT: 1521
      DB_EMPTY: ~
    secrets:
      DB_PASSWORD: s3cret
    secrets_allow: [10.244.0.0/16]
    secrets_keys: [App-Finance, ci.example.org.]
    allow: [10.244.1.2/16, 127.0.0.1, "2001:db8::/32"]
    ttl: 30
    check:
      type: HTTPS
      port: db
      path: /healthz?full=1
      host: db.example.com
      headers: {X-Probe: tpdns, X-Num: 5}
      expect: 204
      tls_skip_verify: true
      interval: 15s
      timeout: 1500ms
      rise: 2
      fall: 4
  - name: files
    ports:
      - {name: nfs, port: 2049, protocol: udp}
      - {name: mountd, port: 0x4e50}
    endpoints:
      - nas1.example.com.
      - address: NAS2.example.com
        priority: 1
    check: {type: tcp, port: "2049", interval: 1m, timeout: 10s}
`
	ttl := uint32(30)
	want := []Service{{
		Name:  "oracle.finance",
		Ports: []Port{{Name: "db", Number: 1521, Protocol: "tcp"}},
		Endpoints: []Endpoint{
			{Address: "10.0.0.10", IP: netip.MustParseAddr("10.0.0.10"), Port: 1523, Label: "10-0-0-10", Weight: 1},
			{Address: "10.0.0.11", IP: netip.MustParseAddr("10.0.0.11"), Port: 1522, Label: "standby", Priority: 10, Weight: 0, Disabled: true},
			{Address: "2001:db8::1", IP: netip.MustParseAddr("2001:db8::1"), Label: "2001-db8--1", Weight: 1},
			{Address: "2001:db8::2", IP: netip.MustParseAddr("2001:db8::2"), Port: 1524, Label: "2001-db8--2", Weight: 1},
		},
		Connection:   map[string]string{"DB_NAME": "orcl", "DB_PORT": "1521", "DB_EMPTY": ""},
		Secrets:      map[string]string{"DB_PASSWORD": "s3cret"},
		SecretsAllow: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		SecretsKeys:  []string{"app-finance.", "ci.example.org."},
		Allow: []netip.Prefix{
			netip.MustParsePrefix("10.244.0.0/16"),
			netip.MustParsePrefix("127.0.0.1/32"),
			netip.MustParsePrefix("2001:db8::/32"),
		},
		TTL: &ttl,
		Check: Check{
			Type:          CheckHTTPS,
			Port:          "db",
			Path:          "/healthz?full=1",
			Host:          "db.example.com",
			Headers:       map[string]string{"X-Probe": "tpdns", "X-Num": "5"},
			ExpectMin:     204,
			ExpectMax:     204,
			TLSSkipVerify: true,
			Interval:      15 * time.Second,
			Timeout:       1500 * time.Millisecond,
			Rise:          2,
			Fall:          4,
		},
	}, {
		Name: "files",
		Ports: []Port{
			{Name: "nfs", Number: 2049, Protocol: "udp"},
			{Name: "mountd", Number: 20048, Protocol: "tcp"},
		},
		Endpoints: []Endpoint{
			{Address: "nas1.example.com", Weight: 1},
			{Address: "nas2.example.com", Priority: 1, Weight: 1},
		},
		Check: Check{
			Type:      CheckTCP,
			Port:      "2049",
			Path:      "/",
			ExpectMin: 200,
			ExpectMax: 399,
			Interval:  time.Minute,
			Timeout:   10 * time.Second,
			Rise:      1,
			Fall:      3,
		},
	}}
	services, err := ParseYAML("services.yaml", []byte(in), testZones)
	require.NoError(t, err)
	require.Equal(t, want, services)
}

func TestParseYAMLDefaults(t *testing.T) {
	in := `services:
  - name: pg
    ports: [{name: db, port: 5432}]
    endpoints: [10.0.0.1]
  - name: bare
`
	defaultCheck := Check{
		Type:      DefaultCheckType,
		Path:      DefaultCheckPath,
		ExpectMin: DefaultExpectMin,
		ExpectMax: DefaultExpectMax,
		Interval:  DefaultCheckInterval,
		Timeout:   DefaultCheckTimeout,
		Rise:      DefaultCheckRise,
		Fall:      DefaultCheckFall,
	}
	want := []Service{{
		Name:  "pg",
		Ports: []Port{{Name: "db", Number: 5432, Protocol: DefaultProtocol}},
		Endpoints: []Endpoint{
			{Address: "10.0.0.1", IP: netip.MustParseAddr("10.0.0.1"), Label: "10-0-0-1", Weight: DefaultWeight},
		},
		Check: defaultCheck,
	}, {
		Name:  "bare",
		Check: defaultCheck,
	}}
	services, err := ParseYAML("services.yaml", []byte(in), testZones)
	require.NoError(t, err)
	require.Equal(t, want, services)
	// The constants themselves, as the README documents them.
	assert.Equal(t, Check{
		Type:      "none",
		Path:      "/",
		ExpectMin: 200,
		ExpectMax: 399,
		Interval:  10 * time.Second,
		Timeout:   2 * time.Second,
		Rise:      1,
		Fall:      3,
	}, defaultCheck)
}

// TestCheckTimeoutDefault: a check without a timeout gets 2s, or half its
// interval when that is less, from YAML and JSON alike.
func TestCheckTimeoutDefault(t *testing.T) {
	for _, c := range []struct {
		interval string
		want     time.Duration
	}{
		{"", 2 * time.Second},
		{"10s", 2 * time.Second},
		{"4s", 2 * time.Second},
		{"3s", 1500 * time.Millisecond},
		{"1s", 500 * time.Millisecond},
		{"3ns", 1},
	} {
		t.Run(c.interval, func(t *testing.T) {
			check, body := "{type: none}", `{"name": "a", "check": {"type": "none"}}`
			if c.interval != "" {
				check = "{interval: " + c.interval + "}"
				body = `{"name": "a", "check": {"interval": "` + c.interval + `"}}`
			}
			services, err := ParseYAML("services.yaml", []byte("services:\n  - name: a\n    check: "+check+"\n"), testZones)
			require.NoError(t, err)
			assert.Equal(t, c.want, services[0].Check.Timeout)
			s, err := DecodeJSON([]byte(body), testZones)
			require.NoError(t, err)
			assert.Equal(t, c.want, s.Check.Timeout)
		})
	}
}

func TestParseYAMLEmpty(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty file", ""},
		{"comments only", "# no services yet\n# really\n"},
		{"document marker", "---\n"},
		{"null", "~\n"},
		{"empty mapping", "{}\n"},
		{"services null", "services:\n"},
		{"services empty", "services: []\n"},
		{"empty second document", "services: []\n---\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services, err := ParseYAML("services.yaml", []byte(tt.in), testZones)
			require.NoError(t, err)
			assert.Empty(t, services)
		})
	}
}

func TestParseYAMLAliases(t *testing.T) {
	in := `services:
  - name: a
    ports: &ports
      - {name: db, port: 5432}
    check: &check
      type: tcp
      interval: 5s
  - name: b
    ports: *ports
    check:
      <<: *check
      interval: 20s
`
	services, err := ParseYAML("services.yaml", []byte(in), testZones)
	require.NoError(t, err)
	require.Len(t, services, 2)
	assert.Equal(t, services[0].Ports, services[1].Ports)
	assert.Equal(t, CheckTCP, services[1].Check.Type)
	assert.Equal(t, 5*time.Second, services[0].Check.Interval)
	assert.Equal(t, 20*time.Second, services[1].Check.Interval)
}

func TestNameLengthZones(t *testing.T) {
	// 241 octets: with "tp.internal" and the dot between, exactly 253.
	name := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 58)
	in := "services:\n  - name: " + name + "\n"
	tests := []struct {
		name  string
		zones []string
		want  string
	}{
		{"no zones", nil, ""},
		{"root zone", []string{"."}, ""},
		{"fits exactly", []string{"tp.internal."}, ""},
		{"longest zone counts", []string{"tp.internal.", "tp.internal.x."},
			`services.yaml:2: services[0].name: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbb..." is 255 octets in zone "tp.internal.x.", more than 253`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML("services.yaml", []byte(in), Options{Zones: tt.zones})
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services.yaml")
	require.NoError(t, os.WriteFile(path, []byte("services:\n  - name: a\n    ttl: x\n"), 0o600))

	_, err := LoadFile(path, testZones)
	assert.EqualError(t, err, path+`:3: services[0].ttl: want a number of seconds or a duration such as "30s", got "x"`)

	missing := filepath.Join(dir, "missing.yaml")
	_, err = LoadFile(missing, testZones)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.EqualError(t, err, "services "+missing+": open "+missing+": no such file or directory")
}

func TestSpecExampleIsValid(t *testing.T) {
	services, err := LoadFile("testdata/spec-example.yaml", Options{Zones: []string{"tp.internal."}})
	require.NoError(t, err)
	require.Len(t, services, 1)
	assert.Equal(t, "oracle.finance", services[0].Name)
	assert.Equal(t, uint16(1522), services[0].Endpoints[1].Port)
	assert.Equal(t, "standby", services[0].Endpoints[1].Label)
	assert.Equal(t, CheckTCP, services[0].Check.Type)
	assert.Equal(t, "ORCL", services[0].Check.ServiceName)
}

func TestDatabaseCheckTypes(t *testing.T) {
	services, err := ParseYAML("services.yaml", []byte(`services:
  - name: pg
    ports: [{name: db, port: 5432}]
    check: {type: Postgres}
  - name: my
    ports: [{name: db, port: 3306}]
    endpoints: ["192.0.2.1:3307"]
    check: {type: mysql}
  - name: cache
    ports: [{name: redis, port: 6379}]
    check: {type: redis, port: redis}
  - name: ora
    ports: [{name: db, port: 1521}]
    check: {type: tns, service_name: Finance.example.com}
  - name: sql
    ports: [{name: db, port: 1433}]
    check: {type: mssql}
`), testZones)
	require.NoError(t, err)
	var got []string
	for _, s := range services {
		got = append(got, s.Check.Type+" "+s.Check.Port+" "+s.Check.ServiceName)
	}
	// No port is assumed for a type: the check's port rule is the same
	// as for tcp. The service name keeps its case.
	assert.Equal(t, []string{"postgres  ", "mysql  ", "redis redis ", "tns  Finance.example.com", "mssql  "}, got)
}

// TestLargeRegistryErrorsInOrder checks that the stream decoder finds the
// errors of a large registry that the tree decoder finds, in the same
// order, a name used twice far apart included.
func TestLargeRegistryErrorsInOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 5000 {
		switch i {
		case 7, 2001, 4999:
			fmt.Fprintf(&b, "  - name: svc-%d\n    ports: [{name: db, port: 0}]\n    endpoints: [10.0.0.300]\n", i)
		case 4000:
			b.WriteString("  - name: svc-3\n") // a duplicate, far from the first
		default:
			fmt.Fprintf(&b, "  - name: svc-%d\n    endpoints: [10.0.0.1]\n", i)
		}
	}
	data := []byte(b.String())
	_, err := ParseYAML("big.yaml", data, Options{})
	require.Error(t, err)

	d := newDecoder("big.yaml", "YAML", true, Options{})
	d.tree(data)
	assert.Equal(t, d.err().Error(), err.Error())
	assert.Len(t, err.(ErrorList), 7)
}
