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
# points the tests at it. A cold build of kube-apiserver takes about 17 CPU-minutes
# (9 minutes or more on 2 idle cores) and 2.5 GB of memory; etcd about 3 CPU-minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}

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
mkdir -p "$dir"

# build NAME MODULE_DIR LDFLAGS builds MODULE_DIR's main package into
# $dir/NAME unless it is there; the binary appears only once it is complete.
build() {
	local name=$1 module=$2 ldflags=$3
	if [[ -x $dir/$name ]]; then
		echo "kube-assets: $name is built already ($dir/$name)" >&2
		return
	fi
	echo "kube-assets: building $name from $module (go build -trimpath)..." >&2
	local start=$SECONDS
	(cd "$root/$module" && "$GO" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$dir/$name.tmp" .)
	mv -f "$dir/$name.tmp" "$dir/$name"
	echo "kube-assets: built $name in $((SECONDS - start)) s ($(du -h "$dir/$name" | cut -f1))" >&2
}

build etcd kube/assets/etcd "-s -w"
build kube-apiserver kube/assets/apiserver "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version"

echo "$dir"
