GO       ?= go
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -X main.gitCommit=$(REVISION)
FUZZTIME ?= 20s

.PHONY: build install run coredns test test-tpdns test-tpdns-other test-tpdns-kube test-kube-assets test-coredns test-deps lint fuzz bench bench-scale bench-sharing bench-go kube-assets clean

## build: the tpdns and tpdnsctl binaries, in bin/
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/tpdns ./cmd/tpdns
	$(GO) build -o bin/tpdnsctl ./cmd/tpdnsctl

## install: tpdns and tpdnsctl into $(go env GOPATH)/bin (its first entry), for PATH
install:
	@bin="$$($(GO) env GOPATH | cut -d: -f1)/bin" && mkdir -p "$$bin" && \
	$(GO) build -ldflags "$(LDFLAGS)" -o "$$bin/tpdns" ./cmd/tpdns && \
	$(GO) build -o "$$bin/tpdnsctl" ./cmd/tpdnsctl && \
	echo "installed tpdns and tpdnsctl in $$bin"

## coredns: stock CoreDNS with the thirdparty plugin, in bin/ (the coredns/ module)
coredns:
	cd coredns && $(GO) build -tags coredns -o ../bin/coredns ./cmd/coredns

## run: serve the example zone tp.internal on 127.0.0.1:1053
run: build
	./bin/tpdns --conf Corefile.example

## test: vet, then every test (unit, end-to-end, fuzz seeds): the main module's with
## the race detector and, alongside them, the coredns/ module's (its conformance test
## runs one table against tpdns and the CoreDNS build). Packages run in parallel:
## servers under test take loopback ports from test.FreePort (test/freeport), which
## reserves each one against every other test process. The tests that run a Kubernetes
## control plane (test/kubetest) run with KUBEBUILDER_ASSETS set, once kube-apiserver
## and etcd are built (make kube-assets): a machine without them builds them
## alongside the other tests, a fresh machine's longest step. -k: one failure does
## not keep the other tests from running.
test: test-deps
	@GO=$(GO) ./scripts/kube-assets.sh --plan
	$(MAKE) --no-print-directory --output-sync=target -k -j3 test-tpdns test-coredns

# KUBETEST_PKGS are the main module's packages whose tests start a Kubernetes
# control plane: those importing test/kubetest (directly or not), and its own.
# Computed when first needed, once (go list takes seconds): the eval makes the
# variable simple on first use.
KUBETEST := github.com/tpdns/tpdns/test/kubetest
KUBETEST_PKGS = $(eval KUBETEST_PKGS := $$(shell $(GO) list -test -f '{{if .ForTest}}{{if eq .ForTest "$(KUBETEST)"}}{{.ForTest}}{{"\n"}}{{end}}{{range .Deps}}{{if eq . "$(KUBETEST)"}}{{$$$$.ForTest}}{{"\n"}}{{end}}{{end}}{{end}}' ./... | sort -u))$(KUBETEST_PKGS)

## test-tpdns: the main module's tests, those of KUBETEST_PKGS once kube-apiserver and
## etcd are built
test-tpdns: test-tpdns-other test-tpdns-kube

test-tpdns-other:
	$(GO) vet ./...
	$(GO) test -race -count=1 $(filter-out $(KUBETEST_PKGS),$(shell $(GO) list ./...))

test-tpdns-kube: test-kube-assets
	@test -n "$(KUBETEST_PKGS)" || { echo "test-tpdns-kube: no package imports $(KUBETEST) (go list failed?)" >&2; exit 1; }
	assets=$$(GO=$(GO) ./scripts/kube-assets.sh) && \
	KUBEBUILDER_ASSETS=$$assets $(GO) test -race -count=1 $(KUBETEST_PKGS)

# The build's output shows once it is done (--output-sync); `test` says first
# what it is about to build. It runs at the tests' priority: niced, it starved
# on a machine shared with other work (the tests cope with a busy machine).
test-kube-assets:
	@GO=$(GO) ./scripts/kube-assets.sh >/dev/null

test-coredns:
	cd coredns && $(GO) vet ./... && $(GO) test -count=1 ./...

test-deps:
	@./scripts/test-deps.sh

## lint: staticcheck, pinned in go.mod as a tool
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd coredns && $(GO) vet ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "fuzz: $$t in $$(dirname $$f) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "./$$(dirname $$f)" || exit 1; \
		done; \
	done

## bench: tpdns (minimal chain and a chain users run) against Knot DNS, stock
## CoreDNS's file plugin and a bare miekg/dns server: server-bound (bench/loadgen),
## latency at half Knot's peak, dnsperf; prints a markdown summary for the README.
## BENCH_SECONDS per run (default 10), BENCH_ROUNDS (default 3), BENCH_SERVERS
## (default all), BENCH_FILES (dnsperf's); installs dnsperf and knot if missing
bench:
	bash bench/run.sh

## bench-scale: 100,000 services of 3 endpoints from a registry file and from
## etcd (start to last answer, CPU, memory, reload, health flip, parse and
## build) and 10,000 health-checked endpoints (CPU); installs etcd-server if
## missing; the whole output goes to bench-scale.log
bench-scale:
	GO=$(GO) ./scripts/bench-scale.sh

## bench-sharing: shared probing (health_sharing) simulated: 3 replicas on one
## etcd, 10,000 tcp-checked endpoints every 10 s, each replica probing
## everything and then sharing, a replica killed (probes/s on the targets, etcd
## writes and watch events, CPU, memory, take-over); installs etcd-server if
## missing; the whole output goes to bench-sharing.log
bench-sharing:
	GO=$(GO) ./scripts/bench-sharing.sh

## bench-go: the Go benchmarks of the answering path
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./server/ ./plugin/thirdparty/ ./plugin/cache/ ./zone/

## kube-assets: kube-apiserver and etcd for the tests that run a Kubernetes control
## plane (test/kubetest), built from kube/assets/ into a cache directory outside the
## clone named after their versions (kept between runs; about 16 CPU-minutes and 2.5 GB
## cold, nothing when built); prints the directory:
## export KUBEBUILDER_ASSETS=$$(make -s kube-assets)
kube-assets:
	@GO=$(GO) ./scripts/kube-assets.sh

clean:
	rm -rf bin
