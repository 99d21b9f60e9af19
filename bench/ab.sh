#!/usr/bin/env bash
# A/B of tinyweb variants, run alternately: each round starts every variant fresh on 127.0.0.1
# (pinned to CPU 0, -t 1, logging off), loads it with wrk -t1 pinned to CPU 1, and prints its
# req/s, transfer rate and server CPU per request (utime + stime from /proc/PID/stat).
# Usage: bench/ab.sh DOCROOT PATH CONNS ROUNDS [WRK_ARG...] -- 'BINARY [ARG...]' ...
#   bench/ab.sh /dev/shm/twb f10m.bin 10 3 -- 'build/tinyweb' 'build/tinyweb --sendfile on'
#   bench/ab.sh /dev/shm/twb f612.bin 50 2 -H 'Connection: close' -- old/tinyweb build/tinyweb
# Environment: AB_PORT (default 18490), AB_SECONDS (default 5). Only processes it starts are
# stopped, by PID.
set -euo pipefail
[ $# -ge 6 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
root=$1 path=$2 conns=$3 rounds=$4
shift 4
wrk_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do wrk_args+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || { echo "bench/ab.sh: no variants after --" >&2; exit 2; }
port=${AB_PORT:-18490}
secs=${AB_SECONDS:-5}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for ((r = 1; r <= rounds; r++)); do
  for variant in "$@"; do
    read -r -a cmd <<<"$variant"
    taskset -c 0 "${cmd[@]}" --root "$root" --listen "127.0.0.1:$port" -t 1 -c 1 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    t0=$(cpu_ticks $pid)
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "${wrk_args[@]}" "http://127.0.0.1:$port/$path")
    t1=$(cpu_ticks $pid)
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v v="$variant" -v r="$r" -v reqs="$reqs" -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
      '/Requests\/sec/ {rps = $2} /Transfer\/sec/ {tps = $2}
       END {printf "round %d  %-45s %10s req/s %10s/s %9.2f us CPU/req\n", r, v, rps, tps,
            ticks * 1e6 / hz / reqs}' <<<"$out"
  done
done
