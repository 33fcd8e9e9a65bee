#!/usr/bin/env bash
# make bench-sharing: the simulation of shared probing (health_sharing) in
# test/sharing_sim_test.go: 3 replicas of the built binary on one etcd,
# 10,000 tcp-checked endpoints every 10 s (listeners of the test process on
# 127.20.0.0/16), first each replica probing everything, then sharing, and a
# replica killed. Prints the figures it logs; the whole output goes to
# bench-sharing.log unless BENCH_SHARING_LOG says. TPDNS_SIM_REPLICAS,
# TPDNS_SIM_ENDPOINTS, TPDNS_SIM_INTERVAL, TPDNS_SIM_WINDOW and
# TPDNS_SIM_MODES change the defaults (see the test).
set -euo pipefail

GO=${GO:-go}
log=${BENCH_SHARING_LOG:-bench-sharing.log}

if ! command -v etcd >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "bench-sharing: installing etcd-server with apt-get"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
fi

# Every target is a listening socket of the test process.
endpoints=${TPDNS_SIM_ENDPOINTS:-10000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((endpoints + 1000)) ]; then
	echo "bench-sharing: $endpoints endpoints need $((endpoints + 1000)) open files; the limit is $(ulimit -n)" >&2
	exit 1
fi

: >"$log"
echo "bench-sharing: the whole output is in $log"
TPDNS_SHARING_SIM=1 $GO test -run '^TestSharingSimulation$' -count=1 -timeout 30m -v ./test/ 2>&1 | tee -a "$log" |
	awk '/^=== RUN/ { sub(/^=== RUN +TestSharingSimulation\/?/, ""); if ($0 != "") print $0 ":"; fflush(); next }
	/^ +[a-z_]+_test\.go:[0-9]+: / { sub(/^ +[a-z_]+_test\.go:[0-9]+: /, "  "); print; fflush(); next }
	/^(--- FAIL|FAIL|panic:|ok )/ { print; fflush() }'
