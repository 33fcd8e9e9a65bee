#!/usr/bin/env bash
# make bench: tpdns against Knot DNS, stock CoreDNS's file plugin and a bare
# miekg/dns map server, on equal work (bench/gen writes the same answers for
# all of them). Each server runs on CPU 0, the load on CPU 1, over 127.0.0.1
# only. Three measurements, each a median over rounds run in alternating
# order (no server always first or last):
#
#   - server-bound: bench/loadgen at max rate (batched, closed loop: the
#     server is the limit), mixed queries; qps and the server's CPU time per
#     query (robust to other load on the machine). Servers: tpdns with the
#     minimal chain (errors, prometheus, thirdparty), tpdns with a chain
#     users run (errors, log to a file, prometheus, acl, cache, thirdparty),
#     Knot (one UDP worker), CoreDNS file, the map server, and an echo
#     server: loadgen's own ceiling (in the first round only).
#   - latency: loadgen open loop at 50 % of Knot's median peak, tpdns
#     (minimal chain) and Knot: p50, p99, p99.9.
#   - dnsperf (-c 10) per query file, as the README's table has always been
#     (dnsperf saturates its own core before the fastest servers).
#
# At the end: a markdown summary with issue 18's goals, ready for the README.
#
# Environment: BENCH_SECONDS (per run, default 10), BENCH_ROUNDS (default 3),
# BENCH_SERVICES (default 10000), BENCH_PORT (first of the ports used,
# default 15353), BENCH_SERVERS (default "tpdns chain knot coredns map
# echo"), BENCH_FILES (dnsperf's query files, default "mixed A SRV TXT
# NXDOMAIN"; empty: no dnsperf), BENCH_INFLIGHT (loadgen's outstanding
# queries at max rate, default 128: more overflow a socket's default receive
# buffer), BENCH_LATENCY_QPS (the open loop's rate
# when Knot is not run), BENCH_LATENCY_ROUNDS (open-loop rounds, default 5:
# a tail percentile of a shared machine varies twofold from run to run).
#
# Missing dnsperf and knot are installed with apt-get (as root or with sudo).
set -euo pipefail

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
SERVICES=${BENCH_SERVICES:-10000}
PORT=${BENCH_PORT:-15353}
METRICS_PORT=$((PORT + 1))
FILES=${BENCH_FILES-mixed A SRV TXT NXDOMAIN}
read -r -a SERVERS <<<"${BENCH_SERVERS:-tpdns chain knot coredns map echo}"
INFLIGHT=${BENCH_INFLIGHT:-128}
LATENCY_QPS=${BENCH_LATENCY_QPS:-}
LATENCY_ROUNDS=${BENCH_LATENCY_ROUNDS:-5}
# WARMUP seconds of max-rate load, not counted, after each start: the Go
# servers' first queries grow their buffers and pools.
WARMUP=1

# What each server is, in the tables.
declare -A LABEL=(
	[tpdns]="tpdns (errors, prometheus, thirdparty)"
	[chain]="tpdns (errors, log, prometheus, acl, cache, thirdparty)"
	[knot]="Knot DNS (1 UDP worker)"
	[coredns]="CoreDNS \`file\`"
	[map]="map server (miekg/dns)"
	[echo]="echo (loadgen's ceiling; first round only)"
)
# ... and in the dnsperf table's columns.
declare -A SHORT=([tpdns]=tpdns [chain]="tpdns chain" [knot]=Knot [coredns]="CoreDNS \`file\`" [map]="map server" [echo]=echo)
# dnsperf measures these (the README's table); the others only server-bound.
DNSPERF_SERVERS=" tpdns knot coredns map "

has() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }

for s in "${SERVERS[@]}"; do
	if [[ -z ${LABEL[$s]:-} ]]; then
		echo "BENCH_SERVERS: unknown server $s (known: ${!LABEL[*]})" >&2
		exit 1
	fi
done

# install PACKAGE...: installs with apt-get what make bench lacks, saying so,
# as scripts/test-deps.sh does; without root or sudo, says what to run.
install_packages() {
	local sudo=
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "make bench needs $*: install them as root (apt-get install -y $*)" >&2
			exit 1
		fi
		sudo=sudo
	fi
	if ! command -v apt-get >/dev/null; then
		echo "make bench needs $* (Debian packages; no apt-get here: install them)" >&2
		exit 1
	fi
	echo "bench: installing $* (apt-get install -y $*)" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# knotd is in /usr/sbin, which a user's PATH may not have.
knotd_path() { command -v knotd 2>/dev/null || { [[ -x /usr/sbin/knotd ]] && echo /usr/sbin/knotd; } || true; }

for tool in taskset dig; do
	if ! command -v "$tool" >/dev/null; then
		echo "make bench needs $tool" >&2
		exit 1
	fi
done
need=()
if [[ -n $FILES ]] && ! command -v dnsperf >/dev/null; then
	need+=(dnsperf)
fi
if has knot && [[ -z $(knotd_path) ]]; then
	need+=(knot)
fi
if ((${#need[@]} > 0)); then
	install_packages "${need[@]}"
fi
KNOTD=$(knotd_path)

cd "$(dirname "$0")/.."
GO=${GO:-go}
WORK=$(mktemp -d -t tpdns-bench.XXXXXX)
SERVER_PID=
RMEM_DEFAULT= # net.core.rmem_default to put back, raised for Knot

cleanup() {
	if [[ -n $RMEM_DEFAULT ]]; then
		sysctl -qw net.core.rmem_default="$RMEM_DEFAULT" || true
	fi
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bin/tpdns, bin/coredns, the map server, the echo server and loadgen" >&2
make --no-print-directory build >/dev/null
if has coredns; then
	make --no-print-directory coredns >/dev/null
fi
$GO build -o "$WORK/mapserver" ./bench/mapserver
$GO build -o "$WORK/echo" ./bench/echo
$GO build -o "$WORK/loadgen" ./bench/loadgen

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
# The chain users put in front of thirdparty. The client (127.0.0.1) passes
# the block rule before the allow rule matches; log writes every query to
# stdout, which start sends to a file.
cat >"$WORK/Corefile.chain" <<CONF
tp.internal:$PORT {
    bind 127.0.0.1
    errors
    log
    prometheus 127.0.0.1:$METRICS_PORT
    acl {
        block net 192.0.2.0/24
        allow net 127.0.0.0/8
    }
    cache
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
# Knot run standalone (not the system service), on one UDP worker as tpdns
# has one reader per socket, everything it writes in the work directory; the
# zone file is loaded, never written back, and nothing is journaled.
cat >"$WORK/knot.conf" <<CONF
server:
    rundir: "$WORK/knot"
    listen: 127.0.0.1@$PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$WORK/knot"
template:
  - id: default
    storage: "$WORK/knot"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: tp.internal
    file: "$WORK/tp.internal.zone"
CONF

# dig_short NAME TYPE: the answer's records, sorted, on one line.
dig_short() {
	dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 +short "$1" "$2" 2>/dev/null | sort | tr '\n' ' '
}

# check_answers NAME: the server answers as bench/gen's data says (the same
# for every server), or the script stops.
check_answers() {
	local a srv txt nx
	a=$(dig_short svc-0.tp.internal A)
	srv=$(dig_short _db._tcp.svc-0.tp.internal SRV)
	txt=$(dig_short svc-0.tp.internal TXT)
	nx=$(dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 missing-0.tp.internal A 2>/dev/null | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	if [[ $a != "10.0.0.1 10.0.0.2 " ||
		$srv != "0 1 5432 10-0-0-1.svc-0.tp.internal. 0 1 5432 10-0-0-2.svc-0.tp.internal. " ||
		$(wc -w <<<"$txt") != 6 || $nx != NXDOMAIN ]]; then
		printf '%s answers wrong:\n  A: %s\n  SRV: %s\n  TXT: %s\n  NXDOMAIN: %s\n' "$1" "$a" "$srv" "$txt" "$nx" >&2
		exit 1
	fi
}

# start SERVER: runs it on CPU 0, waits until it answers and checks its
# answers.
start() {
	local log="$WORK/$1.log"
	# A server of someone else's on the port would be measured instead.
	if command -v ss >/dev/null && [[ -n $(ss -Hlun "sport = :$PORT") ]]; then
		echo "port $PORT is in use: set BENCH_PORT" >&2
		ss -Hlunp "sport = :$PORT" >&2
		exit 1
	fi
	case $1 in
	tpdns) taskset -c 0 ./bin/tpdns --conf "$WORK/Corefile.tpdns" >"$log" 2>&1 & ;;
	chain) taskset -c 0 ./bin/tpdns --conf "$WORK/Corefile.chain" >"$log" 2>&1 & ;;
	knot)
		rm -rf "$WORK/knot" && mkdir -p "$WORK/knot"
		knot_receive_buffer
		taskset -c 0 "$KNOTD" -c "$WORK/knot.conf" >"$log" 2>&1 &
		;;
	coredns) taskset -c 0 ./bin/coredns -conf "$WORK/Corefile.coredns" >"$log" 2>&1 & ;;
	map) taskset -c 0 "$WORK/mapserver" -addr "127.0.0.1:$PORT" -zone "$WORK/tp.internal.zone" >"$log" 2>&1 & ;;
	echo) taskset -c 0 "$WORK/echo" -addr "127.0.0.1:$PORT" >"$log" 2>&1 & ;;
	esac
	SERVER_PID=$!
	local deadline=$((SECONDS + 60))
	# The echo server answers every query with the query: any reply will do.
	local want='^10\.'
	[[ $1 == echo ]] && want=.
	until dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 +short svc-0.tp.internal A 2>/dev/null | grep -q "$want" ||
		{ [[ $1 == echo ]] && dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 svc-0.tp.internal A 2>/dev/null | grep -q 'status: NOERROR'; }; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS > deadline)); then
			echo "$1 did not start:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.1
	done
	if [[ $1 != echo ]]; then
		check_answers "$1"
	fi
	if [[ -n $RMEM_DEFAULT ]]; then
		sysctl -qw net.core.rmem_default="$RMEM_DEFAULT"
		RMEM_DEFAULT=
	fi
}

# knot_receive_buffer: Knot has no setting for its sockets' receive buffer,
# and Linux's default (208 KiB) drops the queries of a stall that tpdns's
# (4 MiB, as far as net.core.rmem_max allows) keeps and answers late: a
# dropped query costs its client a retry seconds later, yet it leaves the
# percentiles of the answered ones shorter. So Knot starts with the same
# buffer: net.core.rmem_default is raised while it binds (as root), then
# put back (start, or cleanup).
knot_receive_buffer() {
	local want have max
	want=$((4 << 20))
	have=$(sysctl -n net.core.rmem_default 2>/dev/null) || return 0
	max=$(sysctl -n net.core.rmem_max)
	want=$((want < max ? want : max))
	if ((have >= want)); then
		KNOT_BUFFER="Knot's socket had a receive buffer of $((have >> 10)) KiB (net.core.rmem_default), tpdns's $((want >> 10)) KiB."
		return 0
	fi
	if [[ $(id -u) != 0 ]]; then
		echo "knot keeps the default receive buffer ($have bytes; tpdns has $want): raising it needs root" >&2
		return 0
	fi
	sysctl -qw net.core.rmem_default="$want"
	RMEM_DEFAULT=$have
	KNOT_BUFFER="Knot's socket had tpdns's receive buffer, $((want >> 10)) KiB (Linux's default: $((have >> 10)) KiB)."
}
KNOT_BUFFER="Knot's socket had Linux's default receive buffer, tpdns's is up to 4 MiB: Knot drops the queries of a stall that tpdns answers late."


stop() {
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	rm -f "$WORK/$1.log" # the chain's query log: hundreds of MB
}

# kv KEY LINE: the value of KEY in loadgen's key=value line.
kv() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' <<<"$2"; }

# loadgen SERVER SECONDS [FLAG...]: runs loadgen on CPU 1 against the server
# running, for the mixed queries, and prints its key=value line; a loss or
# an error is told on stderr.
loadgen() {
	local server=$1 secs=$2 out line
	shift 2
	out=$(taskset -c 1 "$WORK/loadgen" -s "127.0.0.1:$PORT" -d "$WORK/queries-mixed.txt" \
		-l "$secs" -pid "$SERVER_PID" "$@" 2>&1) || {
		echo "$out" >&2
		exit 1
	}
	line=$(grep '^sent=' <<<"$out" | tail -n 1)
	if [[ -z $line ]]; then
		echo "cannot read loadgen's output:" >&2
		echo "$out" >&2
		exit 1
	fi
	if [[ $(kv lost "$line") != 0 || $(kv errors "$line") != 0 ]]; then
		echo "  $server: $(kv lost "$line") queries lost, $(kv errors "$line") errors" >&2
		grep -v '^sent=' <<<"$out" >&2 || true
	fi
	echo "$line"
}

# ordered ROUND NAME...: the names, reversed in odd rounds.
ordered() {
	local round=$1
	shift
	local names=("$@") i
	if ((round % 2 == 1)); then
		for ((i = ${#names[@]} - 1; i >= 0; i--)); do echo "${names[i]}"; done
	else
		printf '%s\n' "${names[@]}"
	fi
}

RESULTS="$WORK/results"
# One run a line:
#   max SERVER qps server_cpu_us lost
#   lat SERVER p50_us p99_us p999_us lost qps
#   dnsperf SERVER FILE qps latency_ms rss_kib
: >"$RESULTS"

# Server-bound and dnsperf, each server started once a round.
for ((round = 0; round < ROUNDS; round++)); do
	mapfile -t order < <(ordered "$round" "${SERVERS[@]}")
	for server in "${order[@]}"; do
		# The echo server is a reference, not a contender: one round will do.
		if [[ $server == echo ]] && ((round > 0)); then
			continue
		fi
		start "$server"
		echo "round $((round + 1))/$ROUNDS: $server, loadgen max rate, ${SECONDS_PER_RUN}s" >&2
		loadgen "$server" "$WARMUP" -inflight "$INFLIGHT" >/dev/null
		line=$(loadgen "$server" "$SECONDS_PER_RUN" -inflight "$INFLIGHT")
		echo "  $line" >&2
		echo "max $server $(kv qps "$line") $(kv server_cpu_us "$line") $(kv lost "$line")" >>"$RESULTS"
		if [[ $server == chain ]]; then
			# The log plugin must have written a line per query (warm-up included).
			echo "  chain: $(grep -c ' NOERROR \| NXDOMAIN ' "$WORK/chain.log" || true) query log lines written" >&2
		fi
		if [[ $DNSPERF_SERVERS == *" $server "* ]]; then
			for file in $FILES; do
				echo "round $((round + 1))/$ROUNDS: $server, dnsperf queries-$file.txt, ${SECONDS_PER_RUN}s" >&2
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
				echo "dnsperf $server $file $qps $lat $rss" >>"$RESULTS"
			done
		fi
		stop "$server"
	done
done

# median KIND SERVER FIELD: the median of a field (3 = the first value) of
# the result lines of a kind and server.
median() {
	awk -v kind="$1" -v server="$2" -v f="$3" '$1 == kind && $2 == server { v[++n] = $f }
	END {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		if (n) print (n % 2 ? v[(n + 1) / 2] : (v[n/2] + v[n/2 + 1]) / 2)
	}' "$RESULTS"
}

# Latency: the open loop at half Knot's median peak, tpdns and Knot
# alternating.
LATENCY_SERVERS=()
for s in tpdns knot; do has "$s" && LATENCY_SERVERS+=("$s"); done
if has knot; then
	LATENCY_QPS=$(awk -v q="$(median max knot 3)" 'BEGIN { printf "%d", q / 2 }')
fi
if [[ -n $LATENCY_QPS && ${#LATENCY_SERVERS[@]} -gt 0 ]]; then
	for ((round = 0; round < LATENCY_ROUNDS; round++)); do
		mapfile -t order < <(ordered "$round" "${LATENCY_SERVERS[@]}")
		for server in "${order[@]}"; do
			start "$server"
			echo "round $((round + 1))/$LATENCY_ROUNDS: $server, loadgen at $LATENCY_QPS qps, ${SECONDS_PER_RUN}s" >&2
			loadgen "$server" "$WARMUP" -inflight "$INFLIGHT" >/dev/null
			line=$(loadgen "$server" "$SECONDS_PER_RUN" -rate "$LATENCY_QPS")
			echo "  $line" >&2
			echo "lat $server $(kv p50_us "$line") $(kv p99_us "$line") $(kv p999_us "$line") $(kv lost "$line") $(kv qps "$line")" >>"$RESULTS"
			stop "$server"
		done
	done
else
	echo "no latency run: it needs knot in BENCH_SERVERS, or BENCH_LATENCY_QPS" >&2
fi

# The dnsperf table as it always was: one row per server and query file.
if [[ -n $FILES ]] && grep -q '^dnsperf ' "$RESULTS"; then
	echo
	echo "dnsperf: $SERVICES services, $ROUNDS round(s) of ${SECONDS_PER_RUN}s, server on CPU 0, dnsperf -c 10 on CPU 1"
	echo
	awk -v files="$FILES" -v servers="${SERVERS[*]}" '
	function median(list,    n, a, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		lo = a[1]; hi = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n/2] + a[n/2 + 1]) / 2
	}
	$1 == "dnsperf" { k = $2 SUBSEP $3; qps[k] = qps[k] " " $4; lat[k] = lat[k] " " $5; rss[k] = rss[k] " " $6 }
	END {
		nf = split(files, F, " "); ns = split(servers, S, " ")
		printf "%-8s %-9s %10s %10s %10s %12s %9s\n", "server", "queries", "qps median", "min", "max", "avg lat ms", "RSS MiB"
		for (f = 1; f <= nf; f++)
			for (s = 1; s <= ns; s++) {
				k = S[s] SUBSEP F[f]
				if (!(k in qps)) continue
				m = median(qps[k]); qlo = lo; qhi = hi
				printf "%-8s %-9s %10.0f %10.0f %10.0f %12.3f %9.1f\n", S[s], F[f], m, qlo, qhi, median(lat[k]), median(rss[k]) / 1024
			}
	}' "$RESULTS"
fi

# The summary, in markdown for the README.
knot_version=
if has knot; then
	knot_version=$("$KNOTD" --version 2>/dev/null | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n 1)
fi
echo
echo "### make bench: $SERVICES services, medians of $ROUNDS round(s) of ${SECONDS_PER_RUN}s"
echo
echo "Server on CPU 0, load on CPU 1, loopback; $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)${knot_version:+; Knot DNS $knot_version}."
if has knot; then
	echo
	echo "$KNOT_BUFFER"
fi
echo
awk -v servers="${SERVERS[*]}" -v files="$FILES" -v inflight="$INFLIGHT" -v rate="$LATENCY_QPS" -v latency_rounds="$LATENCY_ROUNDS" \
	-v rate_from="$(has knot && echo "50% of Knot's peak" || echo BENCH_LATENCY_QPS)" \
	-v labels="$(for s in "${SERVERS[@]}"; do printf '%s=%s\t' "$s" "${LABEL[$s]}"; done)" \
	-v shorts="$(for s in "${SERVERS[@]}"; do printf '%s=%s\t' "$s" "${SHORT[$s]}"; done)" '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n/2] + a[n/2 + 1]) / 2
}
function commas(x,    s, r) {
	s = sprintf("%.0f", x); r = ""
	while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
	return s r
}
function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
function met(ok) { return ok ? "yes" : "**no**" }
$1 == "max" { qps[$2] = qps[$2] " " $3; cpu[$2] = cpu[$2] " " $4; lost[$2] += $5 }
$1 == "lat" { p50[$2] = p50[$2] " " $3; p99[$2] = p99[$2] " " $4; p999[$2] = p999[$2] " " $5; llost[$2] += $6 }
$1 == "dnsperf" { k = $2 SUBSEP $3; dq[k] = dq[k] " " $4 }
END {
	ns = split(servers, S, " ")
	n = split(labels, L, "\t")
	for (i = 1; i <= n; i++) { eq = index(L[i], "="); if (eq) label[substr(L[i], 1, eq - 1)] = substr(L[i], eq + 1) }
	n = split(shorts, L, "\t")
	for (i = 1; i <= n; i++) { eq = index(L[i], "="); if (eq) short[substr(L[i], 1, eq - 1)] = substr(L[i], eq + 1) }
	for (s = 1; s <= ns; s++) if (S[s] in qps) { mq[S[s]] = median(qps[S[s]]); mc[S[s]] = median(cpu[S[s]]) }

	print "Server-bound: bench/loadgen at max rate (" inflight " queries outstanding), mixed queries (40% A, 20% SRV, 20% TXT, 20% NXDOMAIN)."
	print ""
	print "| server | qps | server CPU per query | lost |"
	print "|---|---|---|---|"
	for (s = 1; s <= ns; s++) if (S[s] in mq)
		printf "| %s | %s | %.2f µs | %d |\n", label[S[s]], commas(mq[S[s]]), mc[S[s]], lost[S[s]]
	print ""
	# A server near the echo server'"'"'s rate may be measuring loadgen.
	if ("echo" in mq)
		for (s = 1; s <= ns; s++)
			if (S[s] != "echo" && (S[s] in mq) && mq[S[s]] > 0.6 * mq["echo"])
				printf "Note: %s reaches %.0f%% of the echo server'"'"'s rate: loadgen may be its limit.\n\n", label[S[s]], 100 * mq[S[s]] / mq["echo"]

	for (s in lost) if (lost[s] > 0) maxlost = 1
	if (maxlost)
		print "Note: queries were lost at max rate (stderr says where: a server'"'"'s socket dropping them means it was not given its CPU): the machine was not quiet.\n"
	if (("tpdns" in p50) || ("knot" in p50)) {
		printf "Latency: bench/loadgen open loop at %s qps (%s), mixed queries, medians of %d rounds.\n\n", commas(rate), rate_from, latency_rounds
		print "| server | p50 | p99 | p99.9 | lost |"
		print "|---|---|---|---|---|"
		for (s = 1; s <= ns; s++) if (S[s] in p50) {
			lp99[S[s]] = median(p99[S[s]])
			printf "| %s | %s µs | %s µs | %s µs | %d |\n", label[S[s]], commas(median(p50[S[s]])), commas(lp99[S[s]]), commas(median(p999[S[s]])), llost[S[s]]
			if (llost[S[s]] > 0) latlost = 1
		}
		print ""
		if (latlost)
			print "Note: queries were lost in the open loop (stderr says where): a lost query counts as lasting the loadgen timeout (1 s) in the percentiles; measure again on a quiet machine.\n"
	}

	print "| goal (issue 18) | measured | goal | met |"
	print "|---|---|---|---|"
	if (("tpdns" in mq) && ("knot" in mq)) {
		r = mq["tpdns"] / mq["knot"]
		printf "| tpdns / Knot, server-bound qps | %.2f | ≥ 1.25 | %s |\n", r, met(r >= 1.25)
		if (mc["tpdns"] > 0)
			printf "| Knot / tpdns, server CPU per query (the same goal, less sensitive to other load) | %.2f | ≥ 1.25 | %s |\n", mc["knot"] / mc["tpdns"], met(mc["knot"] / mc["tpdns"] >= 1.25)
	}
	if (("chain" in mq) && ("tpdns" in mq)) {
		r = mq["chain"] / mq["tpdns"]
		printf "| chain / minimal chain, server-bound qps | %.2f | ≥ 0.8 | %s |\n", r, met(r >= 0.8)
	}
	if (("tpdns" in lp99) && ("knot" in lp99))
		printf "| p99 at 50%% of Knot'"'"'s peak, tpdns vs Knot | %s µs vs %s µs | ≤ | %s |\n", commas(lp99["tpdns"]), commas(lp99["knot"]), met(lp99["tpdns"] <= lp99["knot"])
	print ""

	nf = split(files, F, " ")
	if (nf == 0) exit
	print "dnsperf (-c 10, on its own core: its limit is near the fastest servers'"'"' rates), qps:"
	print ""
	head = "| queries |"; rule = "|---|"
	nd = 0
	for (s = 1; s <= ns; s++) if ((S[s] SUBSEP F[1]) in dq) { D[++nd] = S[s]; head = head " " short[S[s]] " |"; rule = rule "---|" }
	for (d = 1; d <= nd; d++) if (D[d] != "tpdns" && ("tpdns" SUBSEP F[1]) in dq) { head = head " tpdns/" short[D[d]] " |"; rule = rule "---|" }
	print head; print rule
	for (f = 1; f <= nf; f++) {
		row = "| " F[f] " |"
		for (d = 1; d <= nd; d++) { m[D[d]] = median(dq[D[d] SUBSEP F[f]]); row = row " " commas(m[D[d]]) " |" }
		for (d = 1; d <= nd; d++) if (D[d] != "tpdns" && ("tpdns" SUBSEP F[f]) in dq) row = row " " ratio(m["tpdns"], m[D[d]]) " |"
		print row
	}
}' "$RESULTS"
