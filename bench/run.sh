#!/usr/bin/env bash
# make bench: tpdns against stock CoreDNS's file plugin and a bare miekg/dns
# map server, on equal work (bench/gen writes the same answers for all
# three). Each server runs on CPU 0, dnsperf on CPU 1, over 127.0.0.1 only.
#
# Environment: BENCH_SECONDS (per run, default 10), BENCH_ROUNDS (default 3),
# BENCH_SERVICES (default 10000), BENCH_PORT (first of the ports used,
# default 15353), BENCH_FILES (query files, default "mixed A SRV TXT NXDOMAIN").
set -euo pipefail

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
SERVICES=${BENCH_SERVICES:-10000}
PORT=${BENCH_PORT:-15353}
METRICS_PORT=$((PORT + 1))
FILES=${BENCH_FILES:-mixed A SRV TXT NXDOMAIN}
SERVERS=(tpdns coredns map)

if ! command -v dnsperf >/dev/null; then
	echo "make bench needs dnsperf: apt-get install dnsperf" >&2
	exit 1
fi
for tool in taskset dig; do
	if ! command -v "$tool" >/dev/null; then
		echo "make bench needs $tool" >&2
		exit 1
	fi
done

cd "$(dirname "$0")/.."
GO=${GO:-go}
WORK=$(mktemp -d -t tpdns-bench.XXXXXX)
SERVER_PID=

cleanup() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bin/tpdns, bin/coredns and the map server" >&2
make --no-print-directory build >/dev/null
make --no-print-directory coredns >/dev/null
$GO build -o "$WORK/mapserver" ./bench/mapserver

echo "generating $SERVICES services into $WORK" >&2
$GO run ./bench/gen -n "$SERVICES" -out "$WORK"

cat >"$WORK/Corefile.tpdns" <<CONF
tp.internal:$PORT {
    bind 127.0.0.1
    errors
    prometheus 127.0.0.1:$METRICS_PORT
    thirdparty {
        services $WORK/services.yaml
    }
}
CONF
cat >"$WORK/Corefile.coredns" <<CONF
tp.internal:$PORT {
    bind 127.0.0.1
    errors
    prometheus 127.0.0.1:$METRICS_PORT
    file $WORK/tp.internal.zone
}
CONF

# start SERVER: runs it on CPU 0 and waits until it answers.
start() {
	local log="$WORK/$1.log"
	case $1 in
	tpdns) taskset -c 0 ./bin/tpdns --conf "$WORK/Corefile.tpdns" >"$log" 2>&1 & ;;
	coredns) taskset -c 0 ./bin/coredns -conf "$WORK/Corefile.coredns" >"$log" 2>&1 & ;;
	map) taskset -c 0 "$WORK/mapserver" -addr "127.0.0.1:$PORT" -zone "$WORK/tp.internal.zone" >"$log" 2>&1 & ;;
	esac
	SERVER_PID=$!
	local deadline=$((SECONDS + 60))
	until dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 +short svc-0.tp.internal A 2>/dev/null | grep -q '^10\.'; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS > deadline)); then
			echo "$1 did not start:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

stop() {
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

RESULTS="$WORK/results" # server file qps latency_ms rss_kib, one run a line
: >"$RESULTS"
for ((round = 0; round < ROUNDS; round++)); do
	# Alternate the order, so that no server always runs first (or last).
	order=("${SERVERS[@]}")
	if ((round % 2 == 1)); then
		order=("${SERVERS[2]}" "${SERVERS[1]}" "${SERVERS[0]}")
	fi
	for server in "${order[@]}"; do
		start "$server"
		for file in $FILES; do
			echo "round $((round + 1))/$ROUNDS: $server, queries-$file.txt, ${SECONDS_PER_RUN}s" >&2
			out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/queries-$file.txt" \
				-l "$SECONDS_PER_RUN" -c 10 -Q 1000000 2>&1) || {
				echo "$out" >&2
				exit 1
			}
			qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
			lat=$(awk '/Average Latency \(s\):/ {printf "%.3f", $4 * 1000}' <<<"$out")
			rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
			lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
			if [[ -z $qps || -z $lat ]]; then
				echo "cannot read dnsperf's output:" >&2
				echo "$out" >&2
				exit 1
			fi
			if [[ $lost != 0 ]]; then
				echo "  $lost queries lost" >&2
			fi
			echo "$server $file $qps $lat $rss" >>"$RESULTS"
		done
		stop
	done
done

# The table: one row per server and query file, medians over the rounds.
echo
echo "$SERVICES services, $ROUNDS round(s) of ${SECONDS_PER_RUN}s, server on CPU 0, dnsperf -c 10 on CPU 1"
echo
awk -v files="$FILES" -v servers="${SERVERS[*]}" '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	lo = a[1]; hi = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n/2] + a[n/2 + 1]) / 2
}
{ k = $1 SUBSEP $2; qps[k] = qps[k] " " $3; lat[k] = lat[k] " " $4; rss[k] = rss[k] " " $5 }
END {
	nf = split(files, F, " "); ns = split(servers, S, " ")
	printf "%-8s %-9s %10s %10s %10s %12s %9s\n", "server", "queries", "qps median", "min", "max", "avg lat ms", "RSS MiB"
	for (f = 1; f <= nf; f++)
		for (s = 1; s <= ns; s++) {
			k = S[s] SUBSEP F[f]
			if (!(k in qps)) continue
			m = median(qps[k]); qlo = lo; qhi = hi
			med[k] = m
			printf "%-8s %-9s %10.0f %10.0f %10.0f %12.3f %9.1f\n", S[s], F[f], m, qlo, qhi, median(lat[k]), median(rss[k]) / 1024
		}
	printf "\n%-9s %16s %12s\n", "queries", "tpdns/CoreDNS", "tpdns/map"
	for (f = 1; f <= nf; f++) {
		t = med["tpdns" SUBSEP F[f]]; c = med["coredns" SUBSEP F[f]]; p = med["map" SUBSEP F[f]]
		printf "%-9s %16s %12s\n", F[f], c ? sprintf("%.2f", t / c) : "-", p ? sprintf("%.2f", t / p) : "-"
	}
}' "$RESULTS"
