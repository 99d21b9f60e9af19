#!/usr/bin/env bash
# Installs the Debian packages that tinyweb's build, tests and benchmarks need, when missing.
# Usage: scripts/deps.sh [build|echo|format|test|bench|fuzz]
#   build:  what building and serving need (make build, make run): compiler, cmake, python3
#   echo:   build + nc (netcat-openbsd), to talk to idle_echo (make run-echo)
#   format: clang-format (make format, make format-check)
#   test:   build + cmocka (unit tests), curl, clang-format, wrk and valgrind (stress tests),
#           chromium (the bundled site at phone width)
#   bench:  build + what `make bench` needs: wrk, the peers h2o and nginx-light, pgrep (procps)
#           and taskset (util-linux)
#   fuzz:   build + clang 14, its sanitizer and libFuzzer runtimes, llvm-symbolizer
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

build=(gcc libc6-dev make cmake python3)
case "${1:-build}" in
build) want=("${build[@]}") ;;
echo) want=("${build[@]}" netcat-openbsd) ;;
format) want=(clang-format) ;;
test) want=("${build[@]}" pkg-config libcmocka-dev curl clang-format wrk valgrind chromium) ;;
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
