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
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$1 path=$2 conns=$3 rounds=$4
shift 4
wrk_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do wrk_args+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || { echo "bench/ab.sh: no variants after --" >&2; exit 2; }
port=${AB_PORT:-18490}
secs=${AB_SECONDS:-5}
hz=$(getconf CLK_TCK)
if port_open "$port"; then
  echo "bench/ab.sh: port $port on 127.0.0.1 is taken; set AB_PORT to a free one" >&2
  exit 1
fi

pid=
trap '[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true' EXIT

for ((r = 1; r <= rounds; r++)); do
  for variant in "$@"; do
    read -r -a cmd <<<"$variant"
    taskset -c 0 "${cmd[@]}" --root "$root" --listen "127.0.0.1:$port" -t 1 -c 1 2>/dev/null &
    pid=$!
    if ! wait_port "$port" $pid; then
      echo "bench/ab.sh: '$variant' did not start on 127.0.0.1:$port (round $r)" >&2
      exit 1
    fi
    t0=$(cpu_ticks $pid)
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "${wrk_args[@]}" "http://127.0.0.1:$port/$path")
    t1=$(cpu_ticks $pid)
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    pid=
    read -r rps bps reqs _ <<<"$(wrk_fields <<<"$out")"
    if [ "$reqs" -eq 0 ]; then
      echo "bench/ab.sh: wrk completed no request against '$variant' (round $r); its output:" >&2
      echo "$out" >&2
      exit 1
    fi
    awk -v v="$variant" -v r="$r" -v rps="$rps" -v bps="$bps" -v reqs="$reqs" \
      -v ticks=$((t1 - t0)) -v hz="$hz" 'BEGIN {
        printf "round %d  %-45s %10.0f req/s %9.1f MiB/s %9.2f us CPU/req\n", r, v, rps,
          bps / 1048576, ticks * 1e6 / hz / reqs }'
  done
done
