#!/usr/bin/env bash
# A/B of tinyweb variants, and of the peers h2o and nginx, run alternately: each round starts
# every variant fresh on 127.0.0.1 (pinned to CPU 0, one loop/worker, logging off), loads it
# with wrk -t1 pinned to CPU 1, and prints its req/s, transfer rate and server CPU per request
# (utime + stime from /proc/PID/stat), then, at the end, each variant's median and range over
# the rounds and its median ratio of requests per server CPU-second to the first variant's,
# round by round.
# Usage: bench/ab.sh DOCROOT PATH CONNS ROUNDS [WRK_ARG...] -- VARIANT ...
#   VARIANT: 'BINARY [ARG...]' (tinyweb; --root, --listen, -t 1 and -c 1 are added), or h2o or
#   nginx (configured as in bench/http_bench.sh: one worker, access log off; nginx with
#   sendfile and tcp_nopush on, master_process off so that its one process serves), or
#   nginx-deferred (the same with `listen ... deferred`: TCP_DEFER_ACCEPT).
#   bench/ab.sh /dev/shm/twb f10m.bin 10 3 -- 'build/tinyweb' 'build/tinyweb --sendfile on'
#   bench/ab.sh /dev/shm/twb f612.bin 50 5 -H 'Connection: close' -- h2o build/tinyweb nginx
# Environment: AB_PORT (default 18490), AB_SECONDS (default 5). Only processes it starts are
# stopped, by PID.
set -euo pipefail
[ $# -ge 6 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(cd "$1" && pwd) path=$2 conns=$3 rounds=$4
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
tmp=$(mktemp -d /tmp/tinyweb-ab.XXXXXX)
chmod 755 "$tmp" # h2o's and nginx's workers may run as nobody
trap '[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
results=$tmp/results.tsv
: >"$results"

# The command line of a variant: a tinyweb binary with its arguments, or a peer with a config.
variant_cmd() {
  case $1 in
    h2o)
      cat >"$tmp/h2o.conf" <<EOC
num-threads: 1
max-connections: 15000
error-log: $tmp/h2o-error.log
listen:
  host: 127.0.0.1
  port: $port
hosts:
  default:
    paths:
      /:
        file.dir: $root
EOC
      echo "h2o -c $tmp/h2o.conf"
      ;;
    nginx | nginx-deferred)
      local deferred=
      [ "$1" = nginx-deferred ] && deferred=' deferred'
      cat >"$tmp/nginx.conf" <<EOC
daemon off;
master_process off;
worker_rlimit_nofile 20000;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 15000; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    server { listen 127.0.0.1:$port$deferred; root $root; }
}
EOC
      echo "nginx -p $tmp/ -e $tmp/nginx-error.log -c $tmp/nginx.conf"
      ;;
    *) echo "$1 --root $root --listen 127.0.0.1:$port -t 1 -c 1" ;;
  esac
}

for ((r = 1; r <= rounds; r++)); do
  for variant in "$@"; do
    read -r -a cmd <<<"$(variant_cmd "$variant")"
    taskset -c 0 "${cmd[@]}" </dev/null >/dev/null 2>&1 &
    pid=$!
    if ! wait_port "$port" $pid; then
      echo "bench/ab.sh: '$variant' did not start on 127.0.0.1:$port (round $r)" >&2
      exit 1
    fi
    sleep 0.2
    t0=$(cpu_ticks $pid)
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "${wrk_args[@]}" "http://127.0.0.1:$port/$path")
    t1=$(cpu_ticks $pid)
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    pid=
    while port_open "$port"; do sleep 0.1; done
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
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$variant" "$rps" "$reqs" $((t1 - t0)) >>"$results"
  done
done

# Medians and ranges per variant; the ratio of requests per CPU-second to the first variant's
# is taken round by round, then its median and range.
python3 - "$results" "$hz" "$1" <<'EOF_PY'
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
hz, first = float(sys.argv[2]), sys.argv[3]
by = {}
for r, v, rps, reqs, ticks in rows:
    by.setdefault(v, {})[r] = (float(rps), int(reqs) / max(int(ticks), 1) * hz)
def fmt(xs, f):
    return f'{f(statistics.median(xs))} ({f(min(xs))}-{f(max(xs))})'
print(f'\n{"variant":45} {"req/s median (range)":>26} {"req per CPU-s median (range)":>30} '
      f'{"vs first, per round":>22}')
for v, rounds in by.items():
    rps = [x[0] for x in rounds.values()]
    eff = [x[1] for x in rounds.values()]
    ratio = [rounds[r][1] / by[first][r][1] for r in rounds if r in by[first]]
    print(f'{v:45} {fmt(rps, lambda x: f"{x:,.0f}"):>26} {fmt(eff, lambda x: f"{x:,.0f}"):>30} '
          f'{fmt(ratio, lambda x: f"{x:.2f}x"):>22}')
EOF_PY
