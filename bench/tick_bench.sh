#!/usr/bin/env bash
# Timer ticks: how late idle keep-alive connections are closed, and what a finer tick costs.
# Usage: bench/tick_bench.sh BUILD_DIR [--quick]
#
# tinyweb with --tick-ms 1ms, 10ms and 100ms, h2o and nginx, one worker each pinned to CPU 0,
# the clients (bench/idle_conns.py, wrk -t1) pinned to CPU 1, in alternating rounds; per round
# and variant, four phases:
#   late:  10,000 keep-alive connections (one GET each, then silent), idle timeout 2 s, no
#          other load: when each is closed, against the moment its response arrived + 2 s
#          (idle_conns.py --idle-timeout), the server's CPU time and its wake-ups (voluntary
#          context switches) from the moment all are set up to the last close;
#   flood: the same 10,000 connections, and wrk -c 50 keep-alive on the 612 B file while they
#          expire (they are set up first; the run lasts until past their closes);
#   ka:    wrk -c 50 keep-alive alone (idle timeout 120 s);
#   idle:  wrk -c 50 while 10,000 idle connections are held (idle timeout 120 s, none expires).
# Writes the section "## Timer ticks: close lateness and cost" of docs/BENCHMARKS.md (replacing
# it if present, keeping the rest) and prints it. Needs wrk, h2o and nginx-light
# (scripts/deps.sh bench). Environment: TICK_BENCH_PORT (default 18470), TICK_BENCH_KEEP=1
# keeps the temp dir. All traffic goes to 127.0.0.1; every load is bounded in time; only
# processes this script started are stopped, by PID.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
build=$1
quick=0
if [ $# -eq 2 ]; then
  [ "$2" = --quick ] || { sed -n '2,3p' "$0" >&2; exit 2; }
  quick=1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
doc=$root/docs/BENCHMARKS.md
tinyweb=$(cd "$build" && pwd)/tinyweb
[ -x "$tinyweb" ] || { echo "bench/tick_bench.sh: $build/tinyweb not found" >&2; exit 1; }
log() { echo "tick_bench: $*" >&2; }
for c in wrk h2o nginx taskset python3; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done

rounds=3 dur=5
[ $quick -eq 1 ] && rounds=1
n_idle=10000
idle_s=2
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((n_idle + 1000)) ] || { log "ulimit -n is $(ulimit -n); need $((n_idle + 1000))"; exit 1; }
port=${TICK_BENCH_PORT:-18470}
if port_open "$port"; then log "port $port is taken; set TICK_BENCH_PORT"; exit 1; fi

tmp=$(mktemp -d /tmp/tinyweb-tick-bench.XXXXXX)
chmod 755 "$tmp"
www=$tmp/www
mkdir -p "$www"
head -c 612 /dev/zero | tr '\0' 'x' >"$www/612.html"
chmod -R a+rX "$www"
rows=$tmp/rows.tsv
: >"$rows"
pid=
helper=
cleanup() {
  [ -z "$helper" ] || kill -TERM "$helper" 2>/dev/null || true
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${TICK_BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

variants=(tinyweb-1ms tinyweb-10ms tinyweb-100ms h2o nginx)
# The command line of a variant with an idle (keep-alive) timeout of $2 seconds.
server_cmd() { # variant idle_s
  case $1 in
    tinyweb-*)
      echo "$tinyweb --root $www --listen 127.0.0.1:$port -t 1 -c 1 --idle-timeout ${2}s --max-connections 15000 --tick-ms ${1#tinyweb-}"
      ;;
    h2o)
      cat >"$tmp/h2o-$2.conf" <<EOF
num-threads: 1
max-connections: 15000
http1-request-timeout: $2
error-log: $tmp/h2o-error.log
listen:
  host: 127.0.0.1
  port: $port
hosts:
  default:
    paths:
      /:
        file.dir: $www
EOF
      echo "h2o -c $tmp/h2o-$2.conf"
      ;;
    nginx)
      cat >"$tmp/nginx-$2.conf" <<EOF
daemon off;
master_process off;
worker_rlimit_nofile $(ulimit -Hn);
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 15000; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout ${2}s;
    keepalive_requests 1000000;
    types { text/html html; }
    server { listen 127.0.0.1:$port; root $www; }
}
EOF
      echo "nginx -p $tmp/ -e $tmp/nginx-error.log -c $tmp/nginx-$2.conf"
      ;;
  esac
}
start() { # variant idle_s
  local cmd
  cmd=$(server_cmd "$1" "$2")
  # shellcheck disable=SC2086
  taskset -c 0 $cmd </dev/null >>"$tmp/$1.out" 2>>"$tmp/$1.err" &
  pid=$!
  wait_port "$port" "$pid" || { log "$1 did not start: $cmd"; tail -n 5 "$tmp/$1.err" >&2; exit 1; }
  sleep 0.3
}
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  while port_open "$port"; do sleep 0.1; done
}
# CPU time (ns, from /proc/PID/task/*/schedstat) and voluntary context switches of all threads.
cpu_ns() { cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
wakes() { cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
# Starts the idle-connection helper; with a timeout it times the closes (and leaves after them).
idle_start() { # out [idle_timeout_s]
  local extra=()
  [ $# -ge 2 ] && extra=(--idle-timeout "$2")
  taskset -c 1 python3 "$root/bench/idle_conns.py" 127.0.0.1 "$port" "$n_idle" /612.html \
    --open-timeout 60 --max-hold 60 "${extra[@]}" >"$1" 2>&1 &
  helper=$!
  for _ in $(seq 600); do
    grep -q '^ready' "$1" && return 0
    kill -0 "$helper" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
idle_stop() {
  kill -TERM "$helper" 2>/dev/null || true
  wait "$helper" 2>/dev/null || true
  helper=
}
# One row: round variant phase rps requests p99_us cpu_ns wakes seconds closes_line
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$rows"; }
wrk_run() { # out duration_s
  taskset -c 1 wrk --latency -t1 -c50 -d"${2}s" "http://127.0.0.1:$port/612.html" >"$1" 2>&1 || true
}

t_start=$(date +%s)
# The commit the run began at: others may commit while it runs.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"
for r in $(seq $rounds); do
  for v in "${variants[@]}"; do
    log "round $r/$rounds: $v"
    # late and flood: idle timeout 2 s.
    start "$v" $idle_s
    out=$tmp/late-$r-$v.txt
    idle_start "$out" $idle_s || log "idle helper not ready ($v, late)"
    c0=$(cpu_ns) w0=$(wakes) t0=$(date +%s%N)
    wait "$helper" 2>/dev/null || true
    helper=
    c1=$(cpu_ns) w1=$(wakes) t1=$(date +%s%N)
    row "$r" "$v" late 0 0 0 $((c1 - c0)) $((w1 - w0)) $(((t1 - t0) / 1000000)) \
      "$(grep '^closes' "$out" || echo none)"
    out=$tmp/flood-$r-$v.txt
    idle_start "$out" $idle_s || log "idle helper not ready ($v, flood)"
    c0=$(cpu_ns) w0=$(wakes) t0=$(date +%s%N)
    wrk_run "$tmp/flood-wrk-$r-$v.txt" $((idle_s + 3))
    c1=$(cpu_ns) w1=$(wakes) t1=$(date +%s%N)
    wait "$helper" 2>/dev/null || true
    helper=
    read -r rps _ reqs _ p99 _ <<<"$(wrk_fields <"$tmp/flood-wrk-$r-$v.txt")"
    row "$r" "$v" flood "$rps" "$reqs" "$p99" $((c1 - c0)) $((w1 - w0)) $(((t1 - t0) / 1000000)) \
      "$(grep '^closes' "$out" || echo none)"
    stop
    # ka and idle: idle timeout 120 s.
    start "$v" 120
    c0=$(cpu_ns) w0=$(wakes) t0=$(date +%s%N)
    wrk_run "$tmp/ka-$r-$v.txt" $dur
    c1=$(cpu_ns) w1=$(wakes) t1=$(date +%s%N)
    read -r rps _ reqs _ p99 _ <<<"$(wrk_fields <"$tmp/ka-$r-$v.txt")"
    row "$r" "$v" ka "$rps" "$reqs" "$p99" $((c1 - c0)) $((w1 - w0)) $(((t1 - t0) / 1000000)) none
    idle_start "$tmp/idle-$r-$v.txt" || log "idle helper not ready ($v, idle)"
    c0=$(cpu_ns) w0=$(wakes) t0=$(date +%s%N)
    wrk_run "$tmp/idle-wrk-$r-$v.txt" $dur
    c1=$(cpu_ns) w1=$(wakes) t1=$(date +%s%N)
    idle_stop
    read -r rps _ reqs _ p99 _ <<<"$(wrk_fields <"$tmp/idle-wrk-$r-$v.txt")"
    row "$r" "$v" idle "$rps" "$reqs" "$p99" $((c1 - c0)) $((w1 - w0)) $(((t1 - t0) / 1000000)) none
    stop
  done
done
t_end=$(date +%s)

python3 "$root/bench/tick_report.py" --rows "$rows" --doc "$doc" --build "$build" \
  --quick "$quick" --seconds $((t_end - t_start)) --commit "$commit" --n-idle $n_idle \
  --idle-s $idle_s --dur $dur --load "$(cut -d' ' -f1-3 /proc/loadavg)"
