module github.com/tpdns/tpdns

go 1.26

require (
	github.com/coredns/caddy v1.1.4
	github.com/miekg/dns v1.1.73
	github.com/spf13/pflag v1.1.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/flynn/go-shlex v0.0.0-20150515145356-3f9db97f8568 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
