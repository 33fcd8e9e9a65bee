#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, saying so as it does.
set -euo pipefail

need=()
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)   # deploy/ manifests (test/deploy_test.go)
# The status page (/ui/) is tested in headless Chromium (test/ui_test.go).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The client matrix (test/clients) resolves with every stack Debian packages:
# glibc and cgo (a C compiler), musl (musl-gcc), Node, Java (java and javac),
# and dnspython for the system Python (/usr/bin/python3, not the first on PATH).
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
command -v node >/dev/null 2>&1 || need+=(nodejs)
{ command -v java && command -v javac; } >/dev/null 2>&1 || need+=(default-jdk-headless)
/usr/bin/python3 -c 'import dns.resolver' >/dev/null 2>&1 || need+=(python3-dnspython)
# The database health checks (health/dbcheck_real_test.go) probe real servers,
# each started by the tests on a loopback port in a temporary directory:
# PostgreSQL (Debian keeps its binaries in /usr/lib/postgresql/N/bin, off
# PATH), MariaDB and Redis. The packages' own services are not used.
{ command -v postgres || ls /usr/lib/postgresql/*/bin/postgres; } >/dev/null 2>&1 || need+=(postgresql)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1 || need+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test-deps: the tests need ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "test-deps: installing ${need[*]} with apt-get (needed by the end-to-end tests, the client matrix and the database checks)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
