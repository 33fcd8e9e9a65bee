#!/usr/bin/env bash
# kube-assets.sh builds kube-apiserver and etcd, the two programs of the test
# control plane (test/kubetest, controller-runtime's envtest), from the wrapper
# modules kube/assets/apiserver and kube/assets/etcd, into a cache directory
# outside the clone named after their versions:
#
#   ${KUBE_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tpdns/kube-assets}/k8s-vX.Y.Z-etcd-vA.B.C/
#
# A binary already there is not built again (delete the directory to rebuild).
# Progress goes to stderr; the directory is the only line on stdout, so
#
#   export KUBEBUILDER_ASSETS=$(make -s kube-assets)
#
# points the tests at it. `make test` runs this in the background while the
# tests that need no control plane run.
#
#   kube-assets.sh          build what is missing, print the directory
#   kube-assets.sh --plan   say what `make test` is about to build and how long it
#                           takes; build nothing
#
# The binaries serve tests only, so they are built without optimizations
# (-gcflags=all=-N -l: no inlining, no optimizing passes): a cold build of
# kube-apiserver takes 14 CPU-minutes instead of 17 and etcd 2 instead of 2.6,
# and kube-apiserver starts as fast (about 6 s for test/kubetest's control
# plane on a busy 2-core machine either way). KUBE_ASSETS_GCFLAGS overrides the
# flags (KUBE_ASSETS_GCFLAGS= builds them optimized). The build needs about
# 2.5 GB of memory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
gcflags=${KUBE_ASSETS_GCFLAGS-all=-N -l}

# Cold-build costs measured on a 2-core machine with the default gcflags, in
# CPU-minutes, for --plan and the progress lines; the wall time on an idle
# machine is about half, the machine's cores being busy throughout.
apiserver_cpu_min=14
etcd_cpu_min=2

# version MODULE GOMOD prints the version that GOMOD requires of MODULE.
version() {
	local v
	v=$(awk -v m="$1" '$1 == "require" && $2 == m { print $3 } $1 == m && $2 ~ /^v/ { print $2 }' "$2" | head -n1)
	if [[ -z $v ]]; then
		echo "kube-assets: $2 does not require $1" >&2
		exit 1
	fi
	echo "$v"
}

k8s_version=$(version k8s.io/kubernetes "$root/kube/assets/apiserver/go.mod")
etcd_version=$(version go.etcd.io/etcd/server/v3 "$root/kube/assets/etcd/go.mod")
dir="${KUBE_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tpdns/kube-assets}/k8s-$k8s_version-etcd-$etcd_version"

# estimate CPU_MIN says how long a build of CPU_MIN CPU-minutes takes here.
estimate() {
	local cores
	cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	echo "about $1 CPU-minutes: $(( ($1 + cores - 1) / cores )) min on $cores idle cores"
}

if [[ ${1:-} == --plan ]]; then
	missing=() cpu=0
	[[ -x $dir/etcd ]] || { missing+=(etcd); cpu=$((cpu + etcd_cpu_min)); }
	[[ -x $dir/kube-apiserver ]] || { missing+=(kube-apiserver); cpu=$((cpu + apiserver_cpu_min)); }
	if [[ ${#missing[@]} -eq 0 ]]; then
		echo "kube-assets: kube-apiserver and etcd are built already ($dir)"
	else
		what=${missing[*]}
		echo "kube-assets: building ${what// / and } into $dir in the background, kept for later" \
			"runs ($(estimate "$cpu")); the tests that need a Kubernetes control plane run once they are built"
	fi
	exit 0
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--plan]" >&2
	exit 2
fi

mkdir -p "$dir"

# build NAME MODULE_DIR CPU_MIN LDFLAGS builds MODULE_DIR's main package into
# $dir/NAME unless it is there. It builds into a file of its own and renames
# it, so that the binary appears only once complete, and two builds at once
# (two clones) do not write the same file.
build() {
	local name=$1 module=$2 cpu_min=$3 ldflags=$4
	if [[ -x $dir/$name ]]; then
		echo "kube-assets: $name is built already ($dir/$name)" >&2
		return
	fi
	echo "kube-assets: building $name from $module ($(estimate "$cpu_min"))..." >&2
	local start=$SECONDS tmp="$dir/.$name.$$.tmp" rc=0
	# -trimpath: the binaries do not depend on where the clone and the module
	# cache are; -s -w: no symbol table or DWARF, which tests do not read and
	# the linker would spend time writing.
	(cd "$root/$module" && "$GO" build -trimpath -buildvcs=false -gcflags "$gcflags" -ldflags "$ldflags" -o "$tmp" .) || rc=$?
	if [[ $rc -ne 0 ]]; then
		rm -f "$tmp"
		echo "kube-assets: building $name failed (go build exited $rc): the tests that need a Kubernetes control plane (test/kubetest) cannot run" >&2
		exit "$rc"
	fi
	mv -f "$tmp" "$dir/$name"
	echo "kube-assets: built $name in $((SECONDS - start)) s ($(du -h "$dir/$name" | cut -f1))" >&2
}

build etcd kube/assets/etcd "$etcd_cpu_min" "-s -w"
build kube-apiserver kube/assets/apiserver "$apiserver_cpu_min" "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version"

echo "$dir"
