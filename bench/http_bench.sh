#!/usr/bin/env bash
# HTTP benchmark: tinyweb against h2o and nginx on loopback, with wrk.
# Usage: bench/http_bench.sh BUILD_DIR [--quick]
#
# Needs wrk, h2o and nginx-light (`scripts/deps.sh bench` installs them; `make bench` runs it).
# Serves a generated docroot (612 B, 100 KiB, 10 MiB) from all three servers on 127.0.0.1 with
# one worker each, pinned to CPU 0, loads them with wrk -t1 pinned to CPU 1, in alternating
# rounds (tinyweb, h2o, nginx, repeat), and reads each serving process's CPU time from
# /proc/PID/stat around every run.
# Writes the section "## HTTP: tinyweb vs h2o and nginx" of docs/BENCHMARKS.md (replacing that
# section if present, keeping the rest of the file) and prints it.
#
# Scenarios: (a) 612 B keep-alive -c 50, (b) 612 B keep-alive -c 500, (c) 612 B
# Connection: close -c 50, (d) 100 KiB keep-alive -c 50, (e) 10 MiB keep-alive -c 10,
# (f) 10,000 idle keep-alive connections (RSS per connection), (g) 10,000 idle + wrk -c 50,
# (h) tinyweb's seed mode (--timer list --tick alarm) against its defaults, 10,000 idle + 50
# active, (i) both cores: two loops/workers per server, wrk -t2 unpinned. (c) also runs tinyweb
# with --defer-accept on (TCP_DEFER_ACCEPT), as a row of its own.
#
# Environment: HTTP_BENCH_PORT (first of 5 consecutive ports, default 18480),
# HTTP_BENCH_KEEP=1 keeps the temp dir (configs, logs, raw wrk output).
# All traffic goes to 127.0.0.1; every load is bounded in time; only processes this script
# started are stopped, by PID.
set -euo pipefail

usage() {
  echo "usage: bench/http_bench.sh BUILD_DIR [--quick]" >&2
  exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
quick=0
if [ $# -eq 2 ]; then
  [ "$2" = --quick ] || usage
  quick=1
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
doc=$root/docs/BENCHMARKS.md
[ -x "$build/tinyweb" ] || {
  echo "bench/http_bench.sh: $build/tinyweb not found; build it first (make build)" >&2
  exit 1
}
tinyweb=$(cd "$build" && pwd)/tinyweb
build_rel=$build

log() { echo "http_bench: $*" >&2; }

for c in wrk h2o nginx pgrep taskset python3; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# Parameters.
if [ $quick -eq 1 ]; then
  rounds=1
  dur=5
else
  rounds=3
  dur=10
fi
n_idle=10000    # the fd hard limit is 20,000 per process; the client holding them needs fds too
max_conns=15000 # every server's connection limit (tinyweb's default, 10,000, is below 10,050)
keepalive_s=120 # every server's keep-alive idle timeout: the idle connections must outlive a run
clk_tck=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((n_idle + 1000)) ] || {
  log "ulimit -n is $(ulimit -n); need at least $((n_idle + 1000))"
  exit 1
}

base_port=${HTTP_BENCH_PORT:-18480}
declare -A port=([tinyweb]=$base_port [h2o]=$((base_port + 1)) [nginx]=$((base_port + 2))
  [tinyweb-seed]=$((base_port + 3)) [tinyweb-deferred]=$((base_port + 4)))
for p in "${port[@]}"; do
  if port_open "$p"; then
    log "port $p on 127.0.0.1 is taken; set HTTP_BENCH_PORT to a free range"
    exit 1
  fi
done

tmp=$(mktemp -d /tmp/tinyweb-http-bench.XXXXXX)
chmod 755 "$tmp" # h2o and nginx workers run as nobody
www=$tmp/www
raw=$tmp/raw
mkdir -p "$www" "$raw"
runs_tsv=$tmp/runs.tsv
idle_tsv=$tmp/idle.tsv
failures=$tmp/failures.txt
: >"$runs_tsv"
: >"$idle_tsv"
: >"$failures"

declare -A pid=()
helper_pid=
cleanup() {
  local name
  if [ -n "$helper_pid" ]; then kill -TERM "$helper_pid" 2>/dev/null || true; fi
  for name in "${!pid[@]}"; do
    kill -TERM "${pid[$name]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${HTTP_BENCH_KEEP:-0}" = 1 ]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Docroot: deterministic bytes.
python3 - "$www" <<'EOF'
import sys, hashlib
www = sys.argv[1]
def det(n, seed):
    out, block = bytearray(), hashlib.sha256(seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])
head = b"<!DOCTYPE html>\n<html><head><title>612</title></head><body><pre>\n"
tail = b"</pre></body></html>\n"
body = det((612 - len(head) - len(tail)) // 2, b"612").hex().encode()
html = head + body + b"x" * (612 - len(head) - len(tail) - len(body)) + tail
assert len(html) == 612
open(f"{www}/612.html", "wb").write(html)
open(f"{www}/100k.bin", "wb").write(det(100 * 1024, b"100k"))
open(f"{www}/10m.bin", "wb").write(det(10 * 1024 * 1024, b"10m"))
EOF
chmod -R a+rX "$www"

# ---------------------------------------------------------------------------------------------
# Configs. $1: worker threads/processes.
write_h2o_conf() {
  cat >"$tmp/h2o-$1.conf" <<EOF
# h2o $(h2o --version 2>/dev/null | head -n1 | sed 's/h2o version //'); access log off (no access-log directive)
num-threads: $1
max-connections: $max_conns
http1-request-timeout: $keepalive_s
error-log: $tmp/h2o-error.log
listen:
  host: 127.0.0.1
  port: ${port[h2o]}
hosts:
  default:
    paths:
      /:
        file.dir: $www
EOF
}
write_nginx_conf() {
  cat >"$tmp/nginx-$1.conf" <<EOF
daemon off;
master_process on;
worker_processes $1;
worker_rlimit_nofile $(ulimit -Hn);
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events {
    worker_connections $max_conns;
}
http {
    access_log off;
    sendfile on;      # as in Debian's /etc/nginx/nginx.conf
    tcp_nopush on;    # as in Debian's /etc/nginx/nginx.conf
    keepalive_timeout ${keepalive_s}s;
    keepalive_requests 1000000;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:${port[nginx]};
        root $www;
    }
}
EOF
}
for w in 1 2; do
  write_h2o_conf $w
  write_nginx_conf $w
done

# Command lines, by server name and worker count.
server_cmd() { # name workers
  case $1 in
    tinyweb) echo "$tinyweb --root $www --listen 127.0.0.1:${port[tinyweb]} -t $2 -c 1 --idle-timeout ${keepalive_s}s --max-connections $max_conns" ;;
    tinyweb-seed) echo "$tinyweb --root $www --listen 127.0.0.1:${port[tinyweb-seed]} -t $2 -c 1 --idle-timeout ${keepalive_s}s --max-connections $max_conns --timer list --tick alarm" ;;
    tinyweb-deferred) echo "$tinyweb --root $www --listen 127.0.0.1:${port[tinyweb-deferred]} -t $2 -c 1 --idle-timeout ${keepalive_s}s --max-connections $max_conns --defer-accept on" ;;
    h2o) echo "h2o -c $tmp/h2o-$2.conf" ;;
    nginx) echo "nginx -p $tmp/ -e $tmp/nginx-error.log -c $tmp/nginx-$2.conf" ;;
  esac
}
# For the document: the temp dir written as $TMP, paths relative to the repository.
show() { sed -e "s|$tmp|\$TMP|g" -e "s|$tinyweb|$build_rel/tinyweb|g" -e "s|$root/||g"; }
quote() { # words, single-quoted where they hold a space
  local w q=()
  for w in "$@"; do
    if [[ $w == *" "* ]]; then q+=("'$w'"); else q+=("$w"); fi
  done
  echo "${q[*]}"
}
# CPU pressure (PSI): microseconds in which some runnable task waited for a CPU. With the
# server alone on CPU 0 and wrk alone on CPU 1 it stays near 0 unless other jobs share the host.
psi_us() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------------------------
# Servers.
declare -A workers=() pinned=()
start_server() { # name workers pin(0|1)
  local name=$1 cmd
  cmd=$(server_cmd "$1" "$2")
  workers[$name]=$2
  pinned[$name]=$3
  local pre=()
  [ "$3" = 1 ] && pre=(taskset -c 0)
  # shellcheck disable=SC2086
  "${pre[@]}" $cmd </dev/null >>"$tmp/$name.out" 2>>"$tmp/$name.err" &
  pid[$name]=$!
  if ! wait_port "${port[$name]}" "${pid[$name]}"; then
    log "$name did not start: $cmd"
    tail -n 20 "$tmp/$name.err" >&2 || true
    exit 1
  fi
  if [ "$name" = nginx ]; then # wait for the workers
    for _ in $(seq 50); do
      [ "$(pgrep -c -P "${pid[$name]}" || true)" -ge "$2" ] && break
      sleep 0.1
    done
  fi
  sleep 0.3
}
stop_server() {
  local name=$1 p=${pid[$1]}
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    echo "$name (pid $p) did not exit within 15 s of SIGTERM; killed" >>"$failures"
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
  unset "pid[$name]"
}
# The processes that serve: nginx's workers (the master only manages them), else the server.
serving_pids() {
  if [ "$1" = nginx ]; then pgrep -P "${pid[$1]}" | tr '\n' ' '; else echo "${pid[$1]}"; fi
}
rss_kb() {
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo $sum
}
check_alive() { # name scenario round
  if ! kill -0 "${pid[$1]}" 2>/dev/null; then
    local rc=0
    wait "${pid[$1]}" 2>/dev/null || rc=$?
    {
      echo "$1 died during scenario $2, round $3 (exit status $rc); last stderr:"
      tail -n 20 "$tmp/$1.err" | sed 's/^/    /'
    } >>"$failures"
    log "$1 died during scenario $2 (status $rc); restarting it"
    unset "pid[$1]"
    start_server "$1" "${workers[$1]}" "${pinned[$1]}"
  fi
}

# ---------------------------------------------------------------------------------------------
# wrk runs. Appends to runs.tsv:
# round scen server rps transfer_Bps requests p50_us p99_us sock_errors non2xx cpu_ticks psi_pct
declare -A wrk_cmd=()
run_wrk() { # scen round server threads conns path pin(0|1) [extra wrk args...]
  local scen=$1 r=$2 name=$3 threads=$4 conns=$5 path=$6 pin=$7
  shift 7
  local url="http://127.0.0.1:${port[$name]}$path" out="$raw/$scen-$r-$name.txt"
  local pre=() pids c0 c1
  [ "$pin" = 1 ] && pre=(taskset -c 1)
  local cmd=(wrk --latency -t"$threads" -c"$conns" -d"${dur}s" "$@" "$url")
  wrk_cmd[$scen]="${pre[*]:+${pre[*]} }$(quote "${cmd[@]}")"
  read -ra pids <<<"$(serving_pids "$name")"
  c0=$(cpu_ticks "${pids[@]}")
  local psi0 t0 psi1 t1
  psi0=$(psi_us)
  t0=$(date +%s%N)
  if ! timeout $((dur + 30)) "${pre[@]}" "${cmd[@]}" >"$out" 2>&1; then
    echo "wrk failed (scenario $scen, round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  fi
  c1=$(cpu_ticks "${pids[@]}")
  psi1=$(psi_us)
  t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\t%d\t%d\n' "$r" "$scen" "$name" "$(wrk_fields <"$out")" $((c1 - c0)) \
    $(((psi1 - psi0) * 1000 * 100 / (t1 - t0 + 1))) >>"$runs_tsv"
  log "$(tail -n 1 "$runs_tsv" | awk -F'\t' '{printf "%s r%s %-12s %10.0f req/s  p50 %7.0f us  p99 %7.0f us  err %d non2xx %d  cpu %d ticks  psi %d%%", $2, $1, $3, $4, $7, $8, $9, $10, $11, $12}')"
  check_alive "$name" "$scen" "$r"
}

# Idle connections: opens n_idle keep-alive connections (one GET each), measures the serving
# processes' RSS before and after, runs wrk -c 50 (scenario $active) while they are held, then
# releases them. Appends to idle.tsv:
# round scen server ok failed non200 open_s rss0_kb rss_idle_kb rss_after_kb open_cpu_ticks closed_by_server
idle_cmd=
idle_phase() { # scen_idle scen_active round server
  local si=$1 sa=$2 r=$3 name=$4 pids rss0 rss1 rss2 c0 c1 out=$raw/idle-$1-$3-$4.txt ready
  read -ra pids <<<"$(serving_pids "$name")"
  rss0=$(rss_kb "${pids[@]}")
  c0=$(cpu_ticks "${pids[@]}")
  local cmd=(python3 "$root/bench/idle_conns.py" 127.0.0.1 "${port[$name]}" "$n_idle" /612.html
    --open-timeout 120 --max-hold $((dur + 90)))
  idle_cmd="taskset -c 1 ${cmd[*]}"
  taskset -c 1 "${cmd[@]}" >"$out" 2>&1 &
  helper_pid=$!
  ready=
  for _ in $(seq 1300); do
    ready=$(grep '^ready' "$out" || true)
    [ -n "$ready" ] && break
    kill -0 "$helper_pid" 2>/dev/null || break
    sleep 0.1
  done
  c1=$(cpu_ticks "${pids[@]}")
  sleep 1
  rss1=$(rss_kb "${pids[@]}")
  if [ -z "$ready" ]; then
    echo "idle helper did not get ready (scenario $si, round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  fi
  run_wrk "$sa" "$r" "$name" 1 50 /612.html 1
  kill -TERM "$helper_pid" 2>/dev/null || true
  wait "$helper_pid" 2>/dev/null || true
  helper_pid=
  sleep 1
  read -ra pids <<<"$(serving_pids "$name")"
  rss2=$(rss_kb "${pids[@]}")
  awk -v r="$r" -v s="$si" -v n="$name" -v r0="$rss0" -v r1="$rss1" -v r2="$rss2" -v cpu=$((c1 - c0)) '
    /^ready/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    /^done/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { printf "%s\t%s\t%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%d\t%d\n", r, s, n, v["ok"], v["failed"],
            v["non200"], v["open_s"], r0, r1, r2, cpu, v["closed_by_server"] }' "$out" >>"$idle_tsv"
  log "$(tail -n 1 "$idle_tsv" | awk -F'\t' '{printf "%s r%s %-12s ok %d failed %d non200 %d open %.2fs  rss %d -> %d -> %d KiB  closed_by_server %d", $2, $1, $3, $4, $5, $6, $7, $8, $9, $10, $12}')"
}

# ---------------------------------------------------------------------------------------------
# The rounds.
peers=(tinyweb h2o nginx)
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# The commit the run began at: others may commit while it runs.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"
log "temp dir $tmp; $rounds round(s) of ${dur}s runs; results in $doc"
for r in $(seq "$rounds"); do
  log "round $r/$rounds: one worker each, servers on CPU 0, wrk on CPU 1"
  for s in "${peers[@]}"; do start_server "$s" 1 1; done
  for s in "${peers[@]}"; do run_wrk a "$r" "$s" 1 50 /612.html 1; done
  for s in "${peers[@]}"; do run_wrk b "$r" "$s" 1 500 /612.html 1; done
  start_server tinyweb-deferred 1 1
  for s in "${peers[@]}" tinyweb-deferred; do run_wrk c "$r" "$s" 1 50 /612.html 1 -H 'Connection: close'; done
  stop_server tinyweb-deferred
  for s in "${peers[@]}"; do run_wrk d "$r" "$s" 1 50 /100k.bin 1; done
  for s in "${peers[@]}"; do run_wrk e "$r" "$s" 1 10 /10m.bin 1; done
  for s in "${peers[@]}"; do idle_phase f g "$r" "$s"; done
  for s in "${peers[@]}"; do stop_server "$s"; done

  log "round $r/$rounds: tinyweb seed mode against its defaults"
  start_server tinyweb 1 1
  start_server tinyweb-seed 1 1
  for s in tinyweb tinyweb-seed; do idle_phase h-idle h "$r" "$s"; done
  stop_server tinyweb
  stop_server tinyweb-seed

  log "round $r/$rounds: both cores, two workers each, nothing pinned"
  for s in "${peers[@]}"; do start_server "$s" 2 0; done
  for s in "${peers[@]}"; do run_wrk i "$r" "$s" 2 50 /612.html 0; done
  for s in "${peers[@]}"; do stop_server "$s"; done
done
t_end=$(date +%s)

# Server-side complaints: anything tinyweb printed besides its banner, h2o/nginx error logs
# above notice level.
for s in tinyweb tinyweb-seed tinyweb-deferred; do
  if [ -s "$tmp/$s.err" ] && grep -qv '^tinyweb: listening on' "$tmp/$s.err"; then
    echo "$s stderr:" >>"$failures"
    grep -v '^tinyweb: listening on' "$tmp/$s.err" | sort | uniq -c | sort -rn | head -n 20 |
      sed 's/^/    /' >>"$failures"
  fi
done
if [ -s "$tmp/nginx-error.log" ] && grep -Eq '\[(alert|crit|emerg|error)\]' "$tmp/nginx-error.log"; then
  echo "nginx error log (for comparison):" >>"$failures"
  grep -E '\[(alert|crit|emerg|error)\]' "$tmp/nginx-error.log" | sed 's/^[0-9/: ]*//' |
    sort | uniq -c | sort -rn | head -n 10 | sed 's/^/    /' >>"$failures"
fi

# ---------------------------------------------------------------------------------------------
client_cmds() {
  local s
  for s in a b c d e; do echo "($s) ${wrk_cmd[$s]:-}"; done
  echo "(f) $idle_cmd"
  echo "(g) ${wrk_cmd[g]:-}    # while (f)'s connections are held"
  echo "(h) (f), then (g) while they are held, against tinyweb with its defaults and in seed mode"
  echo "(i) ${wrk_cmd[i]:-}"
}

# The document section's head: machine, versions, commands, configs.
head_md=$tmp/head.md
chunk=$(sed -n 's/^#define CONN_FILE_CHUNK (\([0-9]*\) \* 1024)$/\1 KiB/p' "$root/src/net/conn.c")
[ -n "$chunk" ] || chunk=scratch
{
  cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
  mode=$([ $quick -eq 1 ] && echo "--quick: 1 round of ${dur} s runs" || echo "$rounds rounds of ${dur} s runs")
  cat <<EOF
## HTTP: tinyweb vs h2o and nginx

Produced by \`bench/http_bench.sh $build_rel$([ $quick -eq 1 ] && echo " --quick")\` ($mode) in
$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s, $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand, re-run it.
Source: [bench/http_bench.sh](../bench/http_bench.sh), idle connections by
[bench/idle_conns.py](../bench/idle_conns.py), tables by [bench/http_report.py](../bench/http_report.py).

| machine and software | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | ${cpu:-unknown} |
| memory | $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) |
| kernel | $(uname -r) |
| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |
| tinyweb | $("$tinyweb" -V 2>&1 | head -n1), commit $commit, CMake Release build |
| h2o | $(h2o --version 2>&1 | head -n1 | sed 's/h2o version //') (Debian package $(dpkg-query -W -f='${Version}' h2o 2>/dev/null || echo '?')) |
| nginx | $(nginx -v 2>&1 | sed 's/nginx version: //') (Debian package nginx-light $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null || echo '?')) |
| wrk | $(wrk -v 2>&1 | head -n1 | awk '{print $2}') (Debian package $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')) |
| fd limit | ulimit -n $(ulimit -n) (raised to the hard limit) |
| clock ticks | CLK_TCK $clk_tck (server CPU from /proc/PID/stat utime + stime) |
| load average at start | $load_start (the host may be shared with other jobs: see the CPU pressure column) |

### Setup

- One worker each in (a)–(h): tinyweb \`-t 1\`, h2o \`num-threads: 1\`, nginx \`worker_processes 1\`;
  the servers run under \`taskset -c 0\`, wrk (\`-t1\`) and the idle-connection helper under
  \`taskset -c 1\`. In (i) nothing is pinned: tinyweb \`-t 2\`, h2o \`num-threads: 2\`, nginx
  \`worker_processes 2\`, \`wrk -t2\`.
- Logging off everywhere (tinyweb \`-c 1\`, nginx \`access_log off\`, h2o without \`access-log\`).
  Keep-alive on, idle timeout ${keepalive_s} s in all three (the 10,000 idle connections must outlive a
  run), connection limit $max_conns in all three (tinyweb's default of 10,000 is below 10,050),
  no limit on requests per connection (nginx \`keepalive_requests 1000000\`).
- File bodies: nginx with \`sendfile on; tcp_nopush on;\`, as Debian's /etc/nginx/nginx.conf
  sets them; h2o 2.2 has no sendfile setting (it reads files with pread into its buffers);
  tinyweb runs with its default \`--sendfile off\`: files in its file cache (up to 1/16 of
  \`--file-cache-bytes\`, 2 MiB by default, so the 612 B and 100 KiB files) go from memory, larger
  ones by pread into one $chunk buffer per loop (\`CONN_FILE_CHUNK\` in src/net/conn.c), each
  piece sent with sendmsg (the first with the response head).
- nginx runs with \`daemon off; master_process on;\` (the master stays in the foreground), because
  (i) needs two workers and only a master starts workers; the master takes no requests, so CPU and
  RSS are those of the worker process(es) only. h2o's CPU and RSS are those of its one process
  (all threads; its idle perl crash-handler child is left out). tinyweb's are its one process.
- Server CPU: utime + stime of the serving process(es), read from /proc/PID/stat just before
  and after each wrk run. *req per server CPU-s* = requests / that CPU time; *µs CPU/req* is
  its inverse.
- Servers are started fresh for each round (and for (h) and (i)); each round runs every
  scenario with tinyweb, h2o, nginx in turn. Medians are over rounds.

Server command lines (\$TMP is the temp dir with the docroot \$TMP/www, configs and logs):

\`\`\`
$(for s in tinyweb h2o nginx; do echo "taskset -c 0 $(server_cmd $s 1)"; done | show)
$(server_cmd tinyweb-seed 1 | sed 's/^/taskset -c 0 /' | show)    # (h) seed mode
$(server_cmd tinyweb-deferred 1 | sed 's/^/taskset -c 0 /' | show)    # (c), a row of its own
$(for s in tinyweb h2o nginx; do server_cmd $s 2; done | show)    # (i)
\`\`\`

wrk and helper command lines:

\`\`\`
$(client_cmds | sed -E 's/127\.0\.0\.1([: ])[0-9]+/127.0.0.1\1PORT/' | show)
\`\`\`

<details><summary>h2o and nginx configs ((i) differs only in num-threads: 2 / worker_processes 2)</summary>

\`\`\`yaml
$(show <"$tmp/h2o-1.conf")
\`\`\`

\`\`\`nginx
$(show <"$tmp/nginx-1.conf")
\`\`\`

</details>
EOF
} >"$head_md"

python3 "$root/bench/http_report.py" --runs "$runs_tsv" --idle "$idle_tsv" --head "$head_md" \
  --failures "$failures" --doc "$doc" --n-idle "$n_idle" --clk-tck "$clk_tck"
log "wrote the HTTP section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
