#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, saying so as it does.
set -euo pipefail

need=()
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
# The client matrix (test/clients) resolves with every stack Debian packages:
# glibc and cgo (a C compiler), musl (musl-gcc), Node, Java (java and javac),
# and dnspython for the system Python (/usr/bin/python3, not the first on PATH).
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
command -v node >/dev/null 2>&1 || need+=(nodejs)
{ command -v java && command -v javac; } >/dev/null 2>&1 || need+=(default-jdk-headless)
/usr/bin/python3 -c 'import dns.resolver' >/dev/null 2>&1 || need+=(python3-dnspython)

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test-deps: the tests need ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "test-deps: installing ${need[*]} with apt-get (needed by the end-to-end tests and the client matrix)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
