package main

// The services of the tests, as the API would send them. They carry
// fields tpdnsctl does not know ("generation", "zone"), which it must
// ignore.

const oracleJSON = `{
  "name": "oracle.finance", "origin": "file", "generation": 4,
  "ports": [{"name": "db", "port": 1521, "protocol": "tcp"}],
  "endpoints": [
    {"address": "10.0.0.10", "port": 1522, "name": "10-0-0-10", "priority": 0, "weight": 1, "disabled": false,
     "health": {"state": "healthy", "last_check": "2026-11-26T21:49:57.123Z", "latency": "1.2ms", "last_error": ""}},
    {"address": "10.0.0.11", "name": "standby", "priority": 10, "weight": 5, "disabled": false,
     "health": {"state": "unhealthy", "last_check": "2026-11-26T21:45:00Z", "latency": "2s",
                "last_error": "dial tcp 10.0.0.11:1521: i/o timeout"}},
    {"address": "10.0.0.12", "name": "10-0-0-12", "priority": 0, "weight": 1, "disabled": true,
     "health": {"state": "disabled"}}
  ],
  "connection": {"DB_USER": "app", "DB_NAME": "orcl"}, "secrets": {"DB_PASSWORD": "***"},
  "secrets_allow": ["10.244.0.0/16"], "allow": [], "ttl": 30,
  "check": {"type": "tcp", "port": "db", "interval": "10s", "timeout": "2s", "rise": 1, "fall": 3}
}`

const webFileJSON = `{
  "name": "web.shop", "origin": "file",
  "ports": [{"name": "http", "port": 80, "protocol": "tcp"}],
  "endpoints": [
    {"address": "192.0.2.7", "name": "192-0-2-7", "priority": 0, "weight": 1, "disabled": false,
     "health": {"state": "healthy", "last_check": "2026-11-22T20:10:00Z", "latency": "800µs"}}
  ],
  "allow": ["10.244.0.0/16", "127.0.0.0/8"],
  "check": {"type": "http", "port": 80, "path": "/healthz", "headers": {"X-Probe": "tpdns"}, "expect": "200-399",
            "interval": "5s", "timeout": "1s", "rise": 2, "fall": 2}
}`

const webStoreJSON = `{
  "name": "web.shop", "origin": "store", "zone": "tp.internal.",
  "conflict": "shadowed by the registry file's service web.shop",
  "ports": [{"name": "http", "port": 80, "protocol": "tcp"}, {"name": "https", "port": 443, "protocol": "tcp"}],
  "endpoints": [
    {"address": "fd00::1", "name": "fd00--1", "priority": 0, "weight": 1, "disabled": false,
     "expires": "2026-11-26T21:50:30Z", "health": {"state": "unknown"}},
    {"address": "192.0.2.8", "name": "192-0-2-8", "priority": 0, "weight": 1, "disabled": false}
  ]
}`

const listJSON = `{"services": [` + oracleJSON + `,` + webFileJSON + `,` + webStoreJSON + `]}`
