#!/usr/bin/env bash
# Installs the Debian packages that tinyweb's build, tests and benchmarks need, when missing.
# Usage: scripts/deps.sh [build|test|bench|fuzz]   (build: compiler, cmake, cmocka, python3;
# test: + wrk and valgrind for the stress tests; bench: + what `make bench` needs: wrk, the peers
# h2o and nginx-light, pgrep (procps) and taskset (util-linux); fuzz: + clang 14, its sanitizer
# and libFuzzer runtimes, llvm-symbolizer)
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

want=(gcc libc6-dev make cmake pkg-config libcmocka-dev python3 clang-format curl)
case "${1:-build}" in
test) want+=(wrk valgrind) ;;
bench) want+=(wrk h2o nginx-light procps util-linux) ;;
esac
# libclang-rt-14-dev (libFuzzer, ASan, UBSan) is only recommended by clang-14, and installs here
# run without recommends; llvm-14 has the symbolizer that puts file:line in crash reports.
if [ "${1:-build}" = fuzz ]; then
  want+=(clang-14 libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root: apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists are refreshed once per machine; a fresh one has none.
stamp=/var/lib/apt/periodic/tinyweb-update-stamp
if [ ! -e "$stamp" ] || ! $cmd >/dev/null 2>&1; then
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  $cmd
fi
