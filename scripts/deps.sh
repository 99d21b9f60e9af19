#!/usr/bin/env bash
# Installs the Debian packages that tinyweb's build, tests and benchmarks need, when missing.
# Usage: scripts/deps.sh [build|echo|format|test|bench|fuzz]
#   build:  what building and serving need (make build, make run): compiler, cmake, python3,
#           pkg-config, libsodium, SQLite and MariaDB Connector/C (the application: passwords,
#           the database), OpenSSL 3 (HTTPS) and its CLI (make run's self-signed certificate)
#           + zlib, brotli and zstd (compressed variants of static files)
#   echo:   build + nc (netcat-openbsd), to talk to idle_echo (make run-echo)
#   format: clang-format (make format, make format-check)
#   test:   build + cmocka (unit tests), curl, clang-format, wrk and valgrind (stress tests),
#           chromium (the bundled site at phone width), chromium-driver and python3-selenium
#           (the live status page), promtool (from the prometheus package: /metrics)
#           logrotate and man-db (tests/integration/test_install.py: the installed snippet, man),
#           haproxy (tests/cluster: the cluster behind it; its own service is neither needed nor
#           touched),
#           mariadb-server (a throwaway server for the MariaDB tests: scripts/mariadb.sh; the
#           package's own service is neither needed nor touched),
#           openssl (scripts/tls_cert.sh, s_client in tests/integration/test_tls.py) and
#           testssl.sh (its tls.testssl scan, label stress)
#   bench:  build + what `make bench` needs: wrk, the peers h2o and nginx-light, pgrep (procps)
#           and taskset (util-linux)
#   fuzz:   build + clang 14, its sanitizer and libFuzzer runtimes, llvm-symbolizer
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

build=(gcc libc6-dev make cmake python3 pkg-config libsodium-dev libsqlite3-dev libmariadb-dev
  libssl-dev openssl zlib1g-dev libbrotli-dev libzstd-dev)
case "${1:-build}" in
build) want=("${build[@]}") ;;
echo) want=("${build[@]}" netcat-openbsd) ;;
format) want=(clang-format) ;;
test) want=("${build[@]}" pkg-config libcmocka-dev curl clang-format wrk valgrind chromium
  chromium-driver python3-selenium logrotate man-db haproxy mariadb-server openssl testssl.sh) ;;
bench) want=("${build[@]}" wrk h2o nginx-light procps util-linux) ;;
# libclang-rt-14-dev (libFuzzer, ASan, UBSan) is only recommended by clang-14, and installs here
# run without recommends; llvm-14 has the symbolizer that puts file:line in crash reports.
fuzz) want=("${build[@]}" clang-14 libclang-rt-14-dev llvm-14) ;;
*)
  echo "usage: scripts/deps.sh [build|echo|format|test|bench|fuzz]" >&2
  exit 2
  ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# test: promtool checks /metrics (tests/integration/test_status.py). Debian ships it only in the
# prometheus package, whose install would also set up and start a Prometheus service: the binary
# alone is taken from the package into /usr/local/bin.
need_promtool=0
if [ "${1:-build}" = test ] && ! command -v promtool >/dev/null; then
  need_promtool=1
fi
[ ${#missing[@]} -eq 0 ] && [ $need_promtool = 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  [ ${#missing[@]} -gt 0 ] && echo "deps: missing packages: ${missing[*]}" >&2
  [ ${#missing[@]} -gt 0 ] && echo "deps: run as root: apt-get update && $cmd" >&2
  [ $need_promtool = 1 ] && echo "deps: missing promtool: run as root: cd \$(mktemp -d) &&" \
    "apt-get download prometheus && dpkg-deb -x prometheus_*.deb . &&" \
    "install usr/bin/promtool /usr/local/bin/" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists are refreshed once per machine; a fresh one has none.
stamp=/var/lib/apt/periodic/tinyweb-update-stamp
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  if [ ! -e "$stamp" ] || ! $cmd >/dev/null 2>&1; then
    apt-get update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
    $cmd
  fi
fi
if [ $need_promtool = 1 ]; then
  echo "deps: installing promtool (from the prometheus package, without the service)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1)
  fi
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -m 0755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool
fi
