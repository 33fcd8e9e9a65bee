#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, saying so as it does.
set -euo pipefail

need=()
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test-deps: the tests need ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "test-deps: installing ${need[*]} with apt-get (needed by the end-to-end tests)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
