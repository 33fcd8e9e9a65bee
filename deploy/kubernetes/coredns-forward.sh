#!/bin/sh
# Makes the cluster's CoreDNS forward tpdns's zone to the tpdns Service: it
# looks up the Service's ClusterIP and writes one server block at the end
# of the Corefile of the ConfigMap kube-system/coredns, between two lines it
# owns:
#
#   # tpdns: begin (written by deploy/kubernetes/coredns-forward.sh, ...)
#   tp.internal:53 {
#       errors
#       cache 10
#       forward . 10.96.114.7
#   }
#   # tpdns: end
#
# Run again, it writes the same block (and patches nothing when the Corefile
# already has it); -r takes the block out. CoreDNS's reload plugin (in the
# kubeadm Corefile) loads the new Corefile once the kubelet has updated
# CoreDNS's copy of the ConfigMap, within about two minutes.
#
# usage: coredns-forward.sh [-n NAMESPACE] [-s SERVICE] [-z ZONE]... [-c] [-d] [-r]
#   -n NAMESPACE  namespace of the tpdns Service (default tpdns)
#   -s SERVICE    name of the tpdns Service (default tpdns)
#   -z ZONE       zone to forward (default tp.internal); repeat for more,
#                 e.g. -z tp.internal -z 2.0.192.in-addr.arpa
#   -c            write the block as tpdns.server in the ConfigMap
#                 kube-system/coredns-custom instead (AKS and k3s manage
#                 their coredns ConfigMap and import coredns-custom's *.server)
#   -d            dry run: print what would be written, change nothing
#   -r            remove the block
# Environment: KUBECTL (default kubectl, e.g. "kubectl --context prod"),
# COREDNS_NAMESPACE (default kube-system), COREDNS_CONFIGMAP (default coredns).
set -eu

kubectl=${KUBECTL:-kubectl}
cns=${COREDNS_NAMESPACE:-kube-system}
ccm=${COREDNS_CONFIGMAP:-coredns}
ns=tpdns svc=tpdns zones='' custom='' dry='' remove=''
begin='# tpdns: begin'
end='# tpdns: end'

help() {
	sed -n '/^# usage:/,/^[^#]/s/^# \{0,1\}//p' "$0"
}
usage() {
	help >&2
	exit 2
}
die() {
	echo "coredns-forward: $*" >&2
	exit 1
}

while getopts n:s:z:cdrh opt; do
	case $opt in
	n) ns=$OPTARG ;;
	s) svc=$OPTARG ;;
	z) zones="$zones $OPTARG" ;;
	c) custom=1 ;;
	d) dry=1 ;;
	r) remove=1 ;;
	h)
		help
		exit 0
		;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[ -n "$zones" ] || zones=tp.internal
for z in $zones; do
	case $z in
	*[!A-Za-z0-9.-]* | .*) die "-z $z: not a zone name" ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# json prints standard input as a JSON string, a final newline included.
json() {
	tab=$(printf '\t')
	cr=$(printf '\r')
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$tab/\\\\t/g" -e "s/$cr/\\\\r/g" |
		awk 'BEGIN { printf "\"" } NR > 1 { printf "\\n" } { printf "%s", $0 } END { printf "\\n\"" }'
}

# The block, from the Service's ClusterIP: never assumed, a headless
# Service (None) has none to forward to.
if [ -z "$remove" ]; then
	ip=$($kubectl -n "$ns" get service "$svc" -o 'jsonpath={.spec.clusterIP}') ||
		die "cannot read the Service $ns/$svc: apply deploy/kubernetes first, or name it with -n and -s"
	case $ip in
	'' | None) die "the Service $ns/$svc has no ClusterIP (${ip:-empty}): CoreDNS needs an address to forward to" ;;
	*[!0-9A-Fa-f.:]*) die "the Service $ns/$svc has a ClusterIP that is no address: $ip" ;;
	esac
	keys=''
	for z in $zones; do keys="$keys${keys:+ }$z:53"; done
	cat >"$tmp/block" <<EOF
$begin (written by deploy/kubernetes/coredns-forward.sh, which replaces the lines up to "$end")
$keys {
    errors
    cache 10
    forward . $ip
}
$end
EOF
fi

# AKS, k3s: the block is a file of its own, coredns-custom's tpdns.server.
if [ -n "$custom" ]; then
	where="$cns/coredns-custom"
	if [ -n "$remove" ]; then
		if [ -n "$dry" ]; then
			echo "would remove tpdns.server from the ConfigMap $where"
			exit 0
		fi
		$kubectl -n "$cns" patch configmap coredns-custom --type merge -p '{"data":{"tpdns.server":null}}' >/dev/null ||
			die "cannot patch the ConfigMap $where"
	elif [ -n "$dry" ]; then
		cat "$tmp/block"
		exit 0
	elif $kubectl -n "$cns" get configmap coredns-custom -o 'jsonpath={.data.tpdns\.server}' >"$tmp/old" 2>"$tmp/err"; then
		if cmp -s "$tmp/old" "$tmp/block"; then
			echo "coredns-forward: $where already has this tpdns.server; nothing changed"
			exit 0
		fi
		$kubectl -n "$cns" patch configmap coredns-custom --type merge \
			-p "{\"data\":{\"tpdns.server\":$(json <"$tmp/block")}}" >/dev/null ||
			die "cannot patch the ConfigMap $where"
	elif grep -q NotFound "$tmp/err"; then
		printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"coredns-custom","namespace":"%s"},"data":{"tpdns.server":%s}}\n' \
			"$cns" "$(json <"$tmp/block")" | $kubectl create --validate=false -f - >/dev/null ||
			die "cannot create the ConfigMap $where"
	else
		cat "$tmp/err" >&2
		die "cannot read the ConfigMap $where"
	fi
	echo "coredns-forward: $where updated; CoreDNS reads it when it restarts:"
	echo "  $kubectl -n $cns rollout restart deployment coredns"
	exit 0
fi

# The Corefile, and the version it was read at: a change made meanwhile
# by someone else fails the patch (409) instead of being overwritten.
$kubectl -n "$cns" get configmap "$ccm" -o 'jsonpath={.metadata.resourceVersion}{"\n"}{.data.Corefile}' >"$tmp/got" ||
	die "cannot read the ConfigMap $cns/$ccm (COREDNS_NAMESPACE, COREDNS_CONFIGMAP name another)"
rv=$(sed -n 1p "$tmp/got")
sed 1d "$tmp/got" >"$tmp/old"
[ -s "$tmp/old" ] || die "the ConfigMap $cns/$ccm has no Corefile"

# The Corefile without the block (and without trailing blank lines); a
# server block for one of the zones on port 53 that is not between the
# markers would make CoreDNS refuse the Corefile, so it stops here.
awk -v begin="$begin" -v end="$end" -v zones="$zones" -v where="$cns/$ccm" '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function norm(k) { k = tolower(k); sub(/^dns:\/\//, "", k); sub(/:53$/, "", k); sub(/\.$/, "", k); return k }
BEGIN { nz = split(tolower(zones), z, " "); for (i = 1; i <= nz; i++) sub(/\.$/, "", z[i]) }
{
	t = trim($0)
	if (!inblock && index(t, begin) == 1) { inblock = 1; next }
	if (inblock) { if (index(t, end) == 1) inblock = 0; next }
	code = $0; sub(/#.*/, "", code)
	if (depth == 0) {
		keys = code; sub(/\{.*/, "", keys)
		n = split(keys, k, /[ \t]+/)
		for (i = 1; i <= n; i++) for (j = 1; j <= nz; j++) if (k[i] != "" && norm(k[i]) == z[j]) {
			printf "coredns-forward: %s already serves %s on port 53 (Corefile line %d: %s), in a block this script did not write: remove it first\n", where, z[j], NR, t > "/dev/stderr"
			failed = 1
			exit
		}
	}
	depth += gsub(/\{/, "{", code) - gsub(/\}/, "}", code)
	line[++nl] = $0
	if (t != "") last = nl
}
END {
	if (failed) exit 3
	if (inblock) { printf "coredns-forward: %s: \"%s\" has no \"%s\" line after it: fix the Corefile by hand\n", where, begin, end > "/dev/stderr"; exit 3 }
	for (i = 1; i <= last; i++) print line[i]
}' "$tmp/old" >"$tmp/new" || exit 1
if [ -z "$remove" ]; then
	{
		echo
		cat "$tmp/block"
	} >>"$tmp/new"
fi

if [ -n "$dry" ]; then
	cat "$tmp/new"
	exit 0
fi
if cmp -s "$tmp/old" "$tmp/new"; then
	echo "coredns-forward: the Corefile of $cns/$ccm is already as it should be; nothing changed"
	exit 0
fi
$kubectl -n "$cns" patch configmap "$ccm" --type merge \
	-p "{\"metadata\":{\"resourceVersion\":\"$rv\"},\"data\":{\"Corefile\":$(json <"$tmp/new")}}" >/dev/null ||
	die "cannot patch the ConfigMap $cns/$ccm (if it changed meanwhile, run this again)"

if [ -n "$remove" ]; then
	echo "coredns-forward: the tpdns block is out of the Corefile of $cns/$ccm"
else
	echo "coredns-forward: the Corefile of $cns/$ccm forwards$(for z in $zones; do printf ' %s' "$z"; done) to $ip"
fi
if grep -Eq '^[[:space:]]*reload([[:space:]]|$)' "$tmp/new"; then
	echo "CoreDNS's reload plugin loads it within about two minutes (its log says \"Reloading complete\")."
else
	echo "The Corefile has no reload plugin: restart CoreDNS to load it:"
	echo "  $kubectl -n $cns rollout restart deployment coredns"
fi
