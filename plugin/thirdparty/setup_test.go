package thirdparty

import (
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/health"
	"github.com/tpdns/tpdns/plugin"
)

func TestParse(t *testing.T) {
	cases := []struct {
		input string
		keys  []string
		want  options
		err   string
	}{
		{
			input: "thirdparty {\n services /etc/tpdns/services.yaml\n}",
			keys:  []string{"TP.internal:1053"},
			want:  options{zones: []string{"tp.internal."}, services: "/etc/tpdns/services.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{
			input: "thirdparty {\n services services.yaml\n}",
			keys:  []string{"tp.internal", "10.0.0.0/8", "dns://2001:db8::/32:53"},
			want: options{zones: []string{"tp.internal."}, reverse: []string{"10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."},
				services: "services.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{
			// The keys as tpdns reads them: CoreDNS's CIDR forms.
			input: "thirdparty {\n services services.yaml\n}",
			keys:  []string{"tp.internal:1053", "192.0.2.0/24:1053", "2001:db8::/32:1053", "2001:db8:1::/48"},
			want: options{zones: []string{"tp.internal."}, reverse: []string{"2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
				services: "services.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{
			// The same keys as CoreDNS hands them to the plugin, expanded.
			input: "thirdparty {\n services services.yaml\n}",
			keys:  []string{"dns://tp.internal.:1053", "dns://2.0.192.in-addr.arpa.:1053", "dns://8.b.d.0.1.0.0.2.ip6.arpa.:1053"},
			want: options{zones: []string{"tp.internal."}, reverse: []string{"2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."},
				services: "services.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{
			// Zones given: the transport of the keys does not matter.
			input: "thirdparty tp.internal 2001:db8::/32 {\n services services.yaml\n}",
			keys:  []string{"tls://tp.internal.:853", "tls://8.b.d.0.1.0.0.2.ip6.arpa.:853"},
			want: options{zones: []string{"tp.internal."}, reverse: []string{"8.b.d.0.1.0.0.2.ip6.arpa."},
				services: "services.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		// A key that would be a zone named after its text: the bracketed
		// IPv6 CIDR as tpdns reads it, and as CoreDNS hands it over (a
		// zone "[2001:db8::/32]."), whether or not the zones are given.
		{
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"tp.internal:1053", "[2001:db8::/32]:1053"},
			err: `Testfile:1 - Error during parsing: server block key "[2001:db8::/32]:1053": "[2001:db8::/32]" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"dns://tp.internal.:1053", "dns://[2001:db8::/32].:1053"},
			err: `Testfile:1 - Error during parsing: server block key "dns://[2001:db8::/32].:1053": "[2001:db8::/32]." is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			input: "thirdparty tp.internal 2001:db8::/32 {\n services s.yaml\n}", keys: []string{"dns://tp.internal.:53", "dns://[2001:db8::/32].:53"},
			err: `Testfile:1 - Error during parsing: server block key "dns://[2001:db8::/32].:53": "[2001:db8::/32]." is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			// CoreDNS's zone for the key 2001:db8::1 (no prefix length): "2001:db8:." on port 1.
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"dns://tp.internal.:53", "dns://2001:db8:.:1"},
			err: `Testfile:1 - Error during parsing: server block key "dns://2001:db8:.:1": "2001:db8:." is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)`,
		},
		{
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"dns://tp.internal.:53", "dns://10.0.0.0/33.:53"},
			err: `Testfile:1 - Error during parsing: server block key "dns://10.0.0.0/33.:53": invalid CIDR "10.0.0.0/33."`,
		},
		{
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"dns://tp.internal.:53", "dns://192.0.2.1.:53"},
			err: `Testfile:1 - Error during parsing: server block key "dns://192.0.2.1.:53": 192.0.2.1 is an address, not a zone: write a CIDR (192.0.2.1/32) for its reverse zone`,
		},
		{
			input: "thirdparty {\n services s.yaml\n}", keys: []string{"tls://tp.internal.:853"},
			err: `Testfile:1 - Error during parsing: server block key "tls://tp.internal.:853": transport "tls" is not supported (only dns://)`,
		},
		{
			input: "thirdparty tp.internal [2001:db8::/32] {\n services s.yaml\n}", keys: []string{"."},
			err: `Testfile:1 - Error during parsing: "[2001:db8::/32]" is not a zone or a CIDR: brackets have no place in either (an IPv6 reverse zone is 2001:db8::/32, with a port 2001:db8::/32:PORT)`,
		},
		{
			input: "thirdparty tp.internal:53 {\n services s.yaml\n}", keys: []string{"."},
			err: `Testfile:1 - Error during parsing: "tp.internal:53" is not a zone or a CIDR: a colon only comes before the port, and a reverse zone needs its prefix length (2001:db8::/32)`,
		},
		{
			input: "thirdparty tp.internal other.example 192.168.0.0/16 {\n services s.yaml\n reload 0\n ttl 30\n max_answers 4\n fallthrough\n}",
			keys:  []string{"."},
			want: options{zones: []string{"tp.internal.", "other.example."}, reverse: []string{"168.192.in-addr.arpa."}, services: "s.yaml",
				reload: 0, ttl: 30, maxAnswers: 4, fall: []string{"tp.internal.", "other.example.", "168.192.in-addr.arpa."}, probes: health.DefaultConcurrency},
		},
		{
			input: "thirdparty {\n services s.yaml\n reload 1m\n fallthrough legacy.tp.internal\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", reload: time.Minute, ttl: defaultTTL, fall: []string{"legacy.tp.internal."}, probes: health.DefaultConcurrency},
		},
		{input: "thirdparty", keys: []string{"tp.internal"}, err: "Testfile:1 - Error during parsing: no registry: give services FILE, a store, kubernetes, or more of them"},
		{input: "thirdparty 10.0.0.0/8 {\n services s.yaml\n}", keys: []string{"."}, err: "Testfile:1 - Error during parsing: a forward zone is needed: PTR records point into it"},
		{input: "thirdparty exa..mple {\n services s.yaml\n}", keys: []string{"."}, err: `Testfile:1 - Error during parsing: "exa..mple" is not a domain name`},
		{input: "thirdparty {\n services\n}", keys: []string{"."}, err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'services'"},
		{input: "thirdparty {\n services a.yaml b.yaml\n}", keys: []string{"."}, err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'b.yaml'"},
		{input: "thirdparty {\n services s.yaml\n reload soon\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: reload: invalid duration "soon"`},
		{input: "thirdparty {\n services s.yaml\n reload -1s\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: reload: invalid duration "-1s"`},
		{input: "thirdparty {\n services s.yaml\n ttl -1\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: ttl: "-1" is not a number of seconds between 0 and 2147483647`},
		{input: "thirdparty {\n services s.yaml\n ttl 2147483648\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: ttl: "2147483648" is not a number of seconds between 0 and 2147483647`},
		{input: "thirdparty {\n services s.yaml\n max_answers all\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: max_answers: "all" is not a number of records (0: all)`},
		{
			input: "thirdparty {\n services s.yaml\n panic\n health_concurrency 16\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", reload: defaultReload, ttl: defaultTTL, panic: true, probes: 16},
		},
		{input: "thirdparty {\n services s.yaml\n panic now\n}", keys: []string{"."}, err: "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'now'"},
		{
			input: "thirdparty {\n services s.yaml\n guard 30 2m\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency, guard: 30, guardHold: 2 * time.Minute},
		},
		{
			input: "thirdparty {\n services s.yaml\n guard 0\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency, guard: 0, guardHold: defaultGuardHold},
		},
		{input: "thirdparty {\n services s.yaml\n guard 101\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: guard: "101" is not a percentage (0 to 100; 0 turns the guard off)`},
		{input: "thirdparty {\n services s.yaml\n guard 50 soon\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: guard: "soon" is not a duration such as 10m`},
		{input: "thirdparty {\n services s.yaml\n health_concurrency 0\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: health_concurrency: "0" is not a number of probes (1 or more)`},
		{input: "thirdparty {\n services s.yaml\n api 127.0.0.1:8080\n}", keys: []string{"."}, err: "Testfile:4 - Error during parsing: api needs a store to keep what it registers: add store bolt PATH"},
		{
			input: "thirdparty {\n store bolt /var/lib/tpdns/tpdns.db\n api 127.0.0.1:8053 {\n  token_file /etc/tpdns/token\n }\n}",
			keys:  []string{"tp.internal"},
			want: options{zones: []string{"tp.internal."}, reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency,
				store: storeOptions{kind: "bolt", path: "/var/lib/tpdns/tpdns.db"}, api: apiOptions{addr: "127.0.0.1:8053", tokenFile: "/etc/tpdns/token", limits: defaultAPILimits}},
		},
		{
			input: "thirdparty {\n store bolt tpdns.db\n api 127.0.0.1:8053\n}",
			keys:  []string{"tp.internal"},
			want: options{zones: []string{"tp.internal."}, reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency,
				store: storeOptions{kind: "bolt", path: "tpdns.db"}, api: apiOptions{addr: "127.0.0.1:8053", tokenFile: "tpdns.token", limits: defaultAPILimits}},
		},
		{
			input: "thirdparty {\n store etcd http://10.0.0.1:2379 http://10.0.0.2:2379 {\n  prefix /tp/\n  credentials tpdns s3cret\n }\n ttl 20\n}",
			keys:  []string{"tp.internal"},
			want: options{zones: []string{"tp.internal."}, reload: defaultReload, ttl: 20, probes: health.DefaultConcurrency,
				store: storeOptions{kind: "etcd", endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}, prefix: "/tp", username: "tpdns", password: "s3cret"}},
		},
		{
			input: "thirdparty {\n store etcd 127.0.0.1:2379\n}",
			keys:  []string{"tp.internal"},
			want: options{zones: []string{"tp.internal."}, reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency,
				store: storeOptions{kind: "etcd", endpoints: []string{"127.0.0.1:2379"}, prefix: "/tpdns"}},
		},
		{input: "thirdparty {\n store etcd\n}", keys: []string{"."}, err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'etcd'"},
		{input: "thirdparty {\n store etcd 127.0.0.1:2379 {\n  prefix tp\n }\n}", keys: []string{"."}, err: "Testfile:3 - Error during parsing: store etcd prefix: want one path starting with /"},
		{input: "thirdparty {\n store etcd 127.0.0.1:2379 {\n  user x\n }\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: unknown store etcd property "user"`},
		{input: "thirdparty {\n store zk 127.0.0.1:2181\n}", keys: []string{"."}, err: `Testfile:2 - Error during parsing: store: unknown kind "zk" (bolt or etcd)`},
		{input: "thirdparty {\n store bolt\n}", keys: []string{"."}, err: "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'bolt'"},
		{input: "thirdparty {\n store bolt x.db\n api 8053\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: api: "8053" is not HOST:PORT`},
		{input: "thirdparty {\n store bolt x.db\n api :8053 {\n  tls cert.pem key.pem\n }\n}", keys: []string{"."}, err: "Testfile:4 - Error during parsing: api tls: open cert.pem: no such file or directory"},
		{input: "thirdparty {\n store bolt x.db\n api :8053 {\n  token nope\n }\n}", keys: []string{"."}, err: `Testfile:4 - Error during parsing: unknown api property "token"`},
		{
			input: "thirdparty {\n services s.yaml\n resolver 10.0.0.53 127.0.0.1:5353 [::1]:53 dns://192.0.2.53\n}",
			keys:  []string{"tp.internal"},
			want: options{zones: []string{"tp.internal."}, services: "s.yaml", reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency,
				resolvers: []string{"10.0.0.53:53", "127.0.0.1:5353", "[::1]:53", "192.0.2.53:53"}},
		},
		{input: "thirdparty {\n services s.yaml\n resolver\n}", keys: []string{"."}, err: "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'resolver'"},
		{input: "thirdparty {\n services s.yaml\n resolver 10.0.0.300\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: resolver: "10.0.0.300" is not IP, IP:PORT or a resolv.conf file: open 10.0.0.300: no such file or directory`},
		{
			input: "thirdparty {\n services s.yaml\n services_max_size 512KiB\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", servicesMaxSize: 512 << 10, reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{
			input: "thirdparty {\n services s.yaml\n services_max_size 1000000\n}",
			keys:  []string{"tp.internal"},
			want:  options{zones: []string{"tp.internal."}, services: "s.yaml", servicesMaxSize: 1000000, reload: defaultReload, ttl: defaultTTL, probes: health.DefaultConcurrency},
		},
		{input: "thirdparty {\n services s.yaml\n services_max_size 64MB\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: services_max_size: "64MB" is not a size such as 64MiB, 512KiB or a number of bytes`},
		{input: "thirdparty {\n services s.yaml\n services_max_size 0\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: services_max_size: "0" is not a size such as 64MiB, 512KiB or a number of bytes`},
		{input: "thirdparty {\n services s.yaml\n services_max_size\n}", keys: []string{"."}, err: "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'services_max_size'"},
		{input: "thirdparty {\n services s.yaml\n debug\n}", keys: []string{"."}, err: `Testfile:3 - Error during parsing: unknown property "debug"`},
		{input: "thirdparty {\n services s.yaml\n}\nthirdparty {\n services t.yaml\n}", keys: []string{"."}, err: "Testfile:4 - Error during parsing: thirdparty may appear once per server block"},
	}
	for _, c := range cases {
		ctl := caddy.NewTestController(plugin.ServerType, c.input)
		ctl.ServerBlockKeys = c.keys
		got, err := parse(ctl)
		if c.err != "" {
			assert.EqualError(t, err, c.err, c.input)
			continue
		}
		require.NoError(t, err, c.input)
		if c.want.guardHold == 0 { // the guard's defaults, unless the case is about it
			c.want.guard, c.want.guardHold = defaultGuard, defaultGuardHold
		}
		assert.Equal(t, c.want, got, c.input)
	}
}

func TestParseKubernetes(t *testing.T) {
	ctl := caddy.NewTestController(plugin.ServerType, "thirdparty {\n kubernetes /etc/kube/config {\n  namespaces finance legacy\n  labels tier=legacy, env in (prod)\n  status\n  endpointslices\n }\n}")
	ctl.ServerBlockKeys = []string{"tp.internal"}
	got, err := parse(ctl)
	require.NoError(t, err)
	require.NotNil(t, got.kube)
	assert.Equal(t, "/etc/kube/config", got.kube.kubeconfig)
	assert.Equal(t, []string{"finance", "legacy"}, got.kube.namespaces)
	assert.Equal(t, "env in (prod),tier=legacy", got.kube.selector.String())
	assert.True(t, got.kube.status)
	assert.True(t, got.kube.endpointSlices)

	ctl = caddy.NewTestController(plugin.ServerType, "thirdparty {\n kubernetes\n}")
	ctl.ServerBlockKeys = []string{"tp.internal"}
	got, err = parse(ctl)
	require.NoError(t, err)
	assert.Equal(t, &kubeOptions{}, got.kube, "in-cluster, every namespace and label, nothing written but conditions")

	for input, want := range map[string]string{
		"thirdparty {\n kubernetes {\n  namespaces\n }\n}":       "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'namespaces'",
		"thirdparty {\n kubernetes {\n  labels tier in (\n }\n}": "Testfile:3 - Error during parsing: kubernetes labels: ",
		"thirdparty {\n kubernetes {\n  status yes\n }\n}":       "Testfile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'yes'",
		"thirdparty {\n kubernetes {\n  endpoints\n }\n}":        `Testfile:3 - Error during parsing: kubernetes: unknown property "endpoints"`,
		"thirdparty {\n kubernetes a b\n}":                       "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'b'",
		"thirdparty {\n kubernetes\n kubernetes\n}":              "Testfile:3 - Error during parsing: kubernetes may appear once",
	} {
		ctl := caddy.NewTestController(plugin.ServerType, input)
		ctl.ServerBlockKeys = []string{"tp.internal"}
		_, err := parse(ctl)
		require.Error(t, err, input)
		assert.Contains(t, err.Error(), want, input)
	}
}
