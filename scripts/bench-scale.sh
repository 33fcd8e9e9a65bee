#!/usr/bin/env bash
# make bench-scale: the scale benchmarks of test/scale_test.go (100,000
# services of 3 endpoints from a registry file and from etcd) and the health
# checker's of 10,000 endpoints, once each. Prints each benchmark's figures one
# a line, with the lines it logs; everything else (the generator's and the
# servers' output) goes to the log, bench-scale.log unless BENCH_SCALE_LOG says.
set -euo pipefail

GO=${GO:-go}
log=${BENCH_SCALE_LOG:-bench-scale.log}

# BenchmarkScaleEtcdLoad100k starts a real etcd (Debian's etcd-server).
if ! command -v etcd >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "bench-scale: installing etcd-server with apt-get (BenchmarkScaleEtcdLoad100k)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
fi

# A benchmark's start ("BenchmarkX", in -v) prints its name, its log lines
# follow, then its result ("BenchmarkX-2  1  v1 unit1  v2 unit2 ...") one
# "unit value" a line; failures pass as they are.
format() {
	awk '
	/^Benchmark[^ \t]*$/ { sub(/^Benchmark/, ""); print; fflush(); next }
	/^Benchmark[^ \t]*-[0-9]+[ \t]/ {
		for (i = 3; i < NF; i += 2) if ($(i + 1) != "ns/op") printf "  %-20s %10s\n", $(i + 1), $i
		fflush(); next
	}
	/^    [a-z_]+_test\.go:[0-9]+: / { sub(/^    [a-z_]+_test\.go:[0-9]+: /, "  "); print; fflush(); next }
	/^(--- FAIL|FAIL|panic:)/ { print; fflush() }'
}

: >"$log"
echo "bench-scale: the whole output is in $log"
$GO test -run '^$' -bench Scale -benchtime 1x -timeout 30m -v ./test/ 2>&1 | tee -a "$log" | format
$GO test -run '^$' -bench Checker10k -benchtime 1x -v ./health/ 2>&1 | tee -a "$log" | format
