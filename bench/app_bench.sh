#!/usr/bin/env bash
# The application's benchmark: a logged-in page, a login flood beside a static load, and how the
# worker pool's priority shares the cores with the loops.
# Usage: bench/app_bench.sh BUILD_DIR [--quick]
#
# tinyweb -t 1 with the application on (--db sqlite:..., default --workers and --pwhash-*), a
# copy of www/ (its templates) plus a 612 B file, on 127.0.0.1. Measurements:
#   page:  wrk -t1 -c50 keep-alive on GET /welcome with a valid session cookie, against the
#          static 612 B file on the same server in the same round (server on CPU 0, wrk on 1);
#   flood: wrk -t1 -c10 on the 612 B file alone, then again while a second wrk -t1 -c64 logs
#          in repeatedly (POST /login, a Lua script that counts the answers: each must be 303);
#          static p99 without and with the flood, logins per second against workers / hash time,
#          where the hash time is bench/pwhash_time.c (one thread, the default 2 passes, 64 MiB);
#          once pinned (server on CPU 0, both wrk on CPU 1) and once with nothing pinned;
#   pool:  the flood again with the pool's threads at nice 0, 10, 19, SCHED_IDLE and
#          SCHED_BATCH: each a build of a private copy of the tree (CMakeLists.txt, src/, ...)
#          with POOL_NICE in src/server.c changed, or a pthread_setschedparam line added at the
#          top of worker_main in src/core/pool.c; the shared tree is never touched.
# --quick: one round of 5 s runs, no pool variants. Rounds alternate the variants.
# Writes the section "## The application" of docs/BENCHMARKS.md (replacing it if present,
# keeping the rest; bench/app_report.py) and prints it. Needs wrk, taskset, cmake, cc and
# libsodium-dev (scripts/deps.sh bench and build). Environment: APP_BENCH_PORT (default 18460),
# APP_BENCH_KEEP=1 keeps the temp dir. All traffic goes to 127.0.0.1; every load is bounded in
# time; only processes this script started are stopped, by PID.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,4p' "$0" >&2; exit 2; }
build=$1
quick=0
if [ $# -eq 2 ]; then
  [ "$2" = --quick ] || { sed -n '2,4p' "$0" >&2; exit 2; }
  quick=1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
doc=$root/docs/BENCHMARKS.md
tinyweb=$(cd "$build" && pwd)/tinyweb
[ -x "$tinyweb" ] || { echo "bench/app_bench.sh: $build/tinyweb not found (make build)" >&2; exit 1; }
log() { echo "app_bench: $*" >&2; }
for c in wrk taskset python3 cc cmake curl; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done

rounds=3 dur=10
[ $quick -eq 1 ] && rounds=1 dur=5
# tinyweb's defaults (src/config.c): --pwhash-ops 2, --pwhash-mem 64 MiB, --workers = online CPUs.
pw_ops=2
pw_mem=$((64 * 1024 * 1024))
workers=$(nproc)
password=bench-password-612
port=${APP_BENCH_PORT:-18460}
if port_open "$port"; then log "port $port is taken; set APP_BENCH_PORT"; exit 1; fi

tmp=$(mktemp -d /tmp/tinyweb-app-bench.XXXXXX)
raw=$tmp/raw
mkdir -p "$raw" "$tmp/bin"
rows=$tmp/rows.tsv
failures=$tmp/failures.txt
: >"$rows"
: >"$failures"
pid=
flood_pid=
cleanup() {
  [ -z "$flood_pid" ] || kill -TERM "$flood_pid" 2>/dev/null || true
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${APP_BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The site: www/ with its templates, and the 612 B file of the HTTP benchmark's size.
www=$tmp/www
mkdir -p "$www"
cp -r "$root/www/." "$www/"
head -c 612 /dev/zero | tr '\0' 'x' >"$www/612.html"

# The login flood's wrk script: POST /login with the form; counts the answers by status.
cat >"$tmp/login.lua" <<EOF
wrk.method = "POST"
wrk.body = "user=bench&password=$password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n303 = 0; nother = 0 end
function response(status, headers, body)
  if status == 303 then n303 = n303 + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("n303"); b = b + t:get("nother") end
  io.write(string.format("status303 %d\nstatus_other %d\nduration_us %d\n", a, b, summary.duration))
end
EOF

# ---------------------------------------------------------------------------------------------
# The hash time: one thread, the default parameters, median of 7, on CPU 1 with nothing else
# of ours running.
cc -O2 -o "$tmp/pwhash_time" "$root/bench/pwhash_time.c" -lsodium
pw_cmd="taskset -c 1 pwhash_time $pw_ops $pw_mem 7"
taskset -c 1 "$tmp/pwhash_time" $pw_ops $pw_mem 7 >"$raw/pwhash.txt"
hash_ms=$(awk '/^median/ { print $2 }' "$raw/pwhash.txt")
log "one hash: $hash_ms ms (median of 7: $(awk '/^run/ { printf "%s ", $3 }' "$raw/pwhash.txt"))"

# ---------------------------------------------------------------------------------------------
# The pool variants: one private copy of the sources, patched and rebuilt per variant.
variants=()
if [ $quick -eq 0 ]; then
  src=$tmp/src
  mkdir -p "$src"
  for f in CMakeLists.txt src bench dist examples; do cp -r "$root/$f" "$src/"; done
  cp "$src/src/server.c" "$tmp/server.c.orig"
  cp "$src/src/core/pool.c" "$tmp/pool.c.orig"
  grep -q '^#define POOL_NICE [0-9]*$' "$tmp/server.c.orig" ||
    { log "src/server.c has no '#define POOL_NICE N' line: cannot build the variants"; exit 1; }
  grep -q 'pthread_setname_np(pthread_self(), "tinyweb-work");' "$tmp/pool.c.orig" ||
    { log "src/core/pool.c: worker_main's pthread_setname_np line not found"; exit 1; }
  cmake -S "$src" -B "$tmp/vbuild" -DCMAKE_BUILD_TYPE=Release -DTINYWEB_TESTS=OFF >/dev/null
  for v in nice0 nice10 nice19 idle batch; do
    cp "$tmp/server.c.orig" "$src/src/server.c"
    cp "$tmp/pool.c.orig" "$src/src/core/pool.c"
    case $v in
      nice*) sed -i "s/^#define POOL_NICE [0-9]*\$/#define POOL_NICE ${v#nice}/" "$src/src/server.c" ;;
      idle | batch)
        policy=SCHED_${v^^}
        sed -i 's/^#define POOL_NICE [0-9]*$/#define POOL_NICE 0/' "$src/src/server.c"
        sed -i "s|pthread_setname_np(pthread_self(), \"tinyweb-work\");|&\n    pthread_setschedparam(pthread_self(), $policy, \&(struct sched_param){0});|" \
          "$src/src/core/pool.c"
        grep -q "pthread_setschedparam(pthread_self(), $policy" "$src/src/core/pool.c" ||
          { log "could not patch pool.c for $v"; exit 1; }
        ;;
    esac
    log "building the pool variant $v"
    cmake --build "$tmp/vbuild" -j2 --target tinyweb >"$raw/build-$v.txt" 2>&1 ||
      { tail -n 20 "$raw/build-$v.txt" >&2; exit 1; }
    cp "$tmp/vbuild/tinyweb" "$tmp/bin/tinyweb-$v"
    variants+=("$v")
    # What the SCHED_IDLE variant changed in pool.c, for the document.
    if [ $v = idle ]; then
      diff -u "$tmp/pool.c.orig" "$src/src/core/pool.c" | sed -n '/^@@/,$p' >"$tmp/patch-idle.txt" || true
    fi
  done
fi

# ---------------------------------------------------------------------------------------------
# A server: fresh database, the user registered, a session cookie in $cookie.
cookie=
start_server() { # binary pin(0|1)
  local pre=()
  [ "$2" = 1 ] && pre=(taskset -c 0)
  rm -f "$tmp"/app.db*
  "${pre[@]}" "$1" --root "$www" --listen "127.0.0.1:$port" -t 1 --db "sqlite:$tmp/app.db" \
    --access-log off </dev/null >>"$tmp/server.out" 2>>"$tmp/server.err" &
  pid=$!
  wait_port "$port" "$pid" || { log "the server did not start: $1"; tail -n 20 "$tmp/server.err" >&2; exit 1; }
  local st
  st=$(curl -s -o /dev/null -w '%{http_code}' -d "user=bench&password=$password" "http://127.0.0.1:$port/register")
  [ "$st" = 303 ] || { log "register answered $st"; exit 1; }
  cookie=$(curl -s -o /dev/null -D - -d "user=bench&password=$password" "http://127.0.0.1:$port/login" |
    sed -n 's/^Set-Cookie: \(session=[^;]*\).*/\1/p' | tr -d '\r')
  [ -n "$cookie" ] || { log "login gave no session cookie"; exit 1; }
  st=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port/welcome")
  [ "$st" = 200 ] || { log "GET /welcome with the cookie answered $st"; exit 1; }
  sleep 0.3
}
stop_server() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "the server (pid $pid) did not exit within 10 s of SIGTERM; killed" >>"$failures"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  pid=
}
# CPU time in clock ticks of the server's threads named tinyweb-work, of the others (the loop
# and the main thread), and how long the others waited on a run queue for a CPU, in µs
# (/proc/PID/task/TID/schedstat, its second field, ns).
thread_stats() { # -> "worker_ticks other_ticks other_wait_us"
  local t w=0 o=0 q=0 rest f s
  for t in /proc/"$pid"/task/*; do
    rest=$(sed 's/.*) //' "$t/stat" 2>/dev/null) || continue
    read -ra f <<<"$rest"
    if [ "$(cat "$t/comm" 2>/dev/null)" = tinyweb-work ]; then
      w=$((w + f[11] + f[12]))
    else
      o=$((o + f[11] + f[12]))
      read -ra s 2>/dev/null <"$t/schedstat" || continue
      q=$((q + s[1] / 1000))
    fi
  done
  echo "$w $o $q"
}
psi_us() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu 2>/dev/null || echo 0; }

# One static wrk run; appends to rows.tsv:
# round meas variant mode phase rps bps reqs p50 p99 err non2xx logins_s n303 nother
# worker_ticks other_ticks psi_pct loop_wait_us
declare -A cmd_of=()
wrk_static() { # round meas variant mode phase conns path [extra wrk args...]
  local r=$1 m=$2 v=$3 mode=$4 ph=$5 c=$6 path=$7
  shift 7
  local pre=() out=$raw/$m-$r-$v-$mode-$ph.txt
  [ "$mode" = pinned ] && pre=(taskset -c 1)
  local cmd=(wrk --latency -t1 -c"$c" -d"${dur}s" "$@" "http://127.0.0.1:$port$path")
  cmd_of[$m-$ph-$mode]="${pre[*]:+${pre[*]} }${cmd[*]}"
  local t0 t1 p0 p1 n0 n1 q0 q1
  read -r t0 p0 q0 <<<"$(thread_stats)"
  n0=$(psi_us)
  local s0 s1
  s0=$(date +%s%N)
  timeout $((dur + 30)) "${pre[@]}" "${cmd[@]}" >"$out" 2>&1 ||
    echo "wrk failed ($m $ph, round $r, $v, $mode): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  s1=$(date +%s%N)
  read -r t1 p1 q1 <<<"$(thread_stats)"
  n1=$(psi_us)
  local logins="0	0	0"
  if [ "$ph" = flood ]; then
    wait "$flood_pid" || echo "the login flood's wrk failed ($v, $mode, round $r)" >>"$failures"
    flood_pid=
    logins=$(awk '/^status303/ { a = $2 } /^status_other/ { b = $2 } /^duration_us/ { d = $2 }
      END { printf "%.2f\t%d\t%d", (d > 0 ? a * 1e6 / d : 0), a, b }' "$raw/$m-$r-$v-$mode-login.txt")
    grep -q 'Socket errors' "$raw/$m-$r-$v-$mode-login.txt" &&
      echo "login flood ($v, $mode, round $r): $(grep 'Socket errors' "$raw/$m-$r-$v-$mode-login.txt" | sed 's/^ *//')" >>"$failures"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n' "$r" "$m" "$v" "$mode" "$ph" "$(wrk_fields <"$out")" \
    "$logins" $((t1 - t0)) $((p1 - p0)) $(((n1 - n0) * 1000 * 100 / (s1 - s0 + 1))) $((q1 - q0)) >>"$rows"
  log "$(tail -n 1 "$rows" | awk -F'\t' '{printf "%s r%s %-6s %-8s %-6s %9.0f req/s p50 %6.0f us p99 %8.0f us err %d non2xx %d logins/s %.2f (303: %d, other: %d) cpu workers %d loop %d ticks, loop waited %d ms psi %d%%",
    $2, $1, $3, $4, $5, $6, $9, $10, $11, $12, $13, $14, $15, $16, $17, $19 / 1000, $18}')"
  kill -0 "$pid" 2>/dev/null || { echo "the server died ($m $ph, round $r, $v, $mode)" >>"$failures"; exit 1; }
}
flood_cmd=
start_flood() { # round meas variant mode
  local pre=()
  [ "$4" = pinned ] && pre=(taskset -c 1)
  local cmd=(wrk -t1 -c64 -d"${dur}s" --timeout 30s -s "$tmp/login.lua" "http://127.0.0.1:$port/login")
  flood_cmd="${pre[*]:+${pre[*]} }${cmd[*]}"
  timeout $((dur + 40)) "${pre[@]}" "${cmd[@]}" >"$raw/$2-$1-$3-$4-login.txt" 2>&1 &
  flood_pid=$!
  # The static run starts at once and lasts as long: the logins counted are those made beside it.
}
flood_pair() { # round meas variant binary mode
  start_server "$4" "$([ "$5" = pinned ] && echo 1 || echo 0)"
  wrk_static "$1" "$2" "$3" "$5" alone 10 /612.html
  start_flood "$1" "$2" "$3" "$5"
  wrk_static "$1" "$2" "$3" "$5" flood 10 /612.html
  stop_server
}

# ---------------------------------------------------------------------------------------------
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"
pool_nice=$(sed -n 's/^#define POOL_NICE \([0-9]*\)$/\1/p' "$root/src/server.c")
log "temp dir $tmp; $rounds round(s) of ${dur}s runs; pool variants: ${variants[*]:-none}"
for r in $(seq "$rounds"); do
  log "round $r/$rounds: the logged-in page against the static file"
  start_server "$tinyweb" 1
  if [ $((r % 2)) = 1 ]; then
    wrk_static "$r" page tree pinned static 50 /612.html
    wrk_static "$r" page tree pinned welcome 50 /welcome -H "Cookie: $cookie"
  else
    wrk_static "$r" page tree pinned welcome 50 /welcome -H "Cookie: $cookie"
    wrk_static "$r" page tree pinned static 50 /612.html
  fi
  stop_server
  log "round $r/$rounds: the login flood beside the static load"
  for mode in pinned unpinned; do flood_pair "$r" flood tree "$tinyweb" $mode; done
  for v in "${variants[@]}"; do
    for mode in pinned unpinned; do flood_pair "$r" pool "$v" "$tmp/bin/tinyweb-$v" $mode; done
  done
done
t_end=$(date +%s)

if [ -s "$tmp/server.err" ] && grep -qvE '^tinyweb: (listening on|application on)|running as root| \[info\] ' "$tmp/server.err"; then
  echo "server stderr:" >>"$failures"
  grep -vE '^tinyweb: (listening on|application on)|running as root| \[info\] ' "$tmp/server.err" |
    sort | uniq -c | sort -rn | head -n 20 | sed 's/^/    /' >>"$failures"
fi

# ---------------------------------------------------------------------------------------------
show() { sed -e "s|$tmp|\$TMP|g" -e "s|$tinyweb|$build/tinyweb|g" -e "s|$root/||g" -e "s|127\.0\.0\.1:$port|127.0.0.1:PORT|g"; }
cat >"$tmp/meta.txt" <<EOF
build	$build
quick	$quick
rounds	$rounds
dur	$dur
minutes	$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s
date	$(date -u '+%Y-%m-%d %H:%M UTC')
commit	$commit
load	$load_start
cpus	$(nproc)
workers	$workers
hash_ms	$hash_ms
hash_runs	$(awk '/^run/ { printf "%s%s", sep, $3; sep = ", " }' "$raw/pwhash.txt")
pw_cmd	$pw_cmd
pool_nice	${pool_nice:-?}
clk_tck	$(getconf CLK_TCK)
EOF
{
  echo "taskset -c 0 $tinyweb --root $www --listen 127.0.0.1:$port -t 1 --db sqlite:$tmp/app.db --access-log off"
  echo "curl -d 'user=bench&password=$password' http://127.0.0.1:$port/register   # then the same to /login: its Set-Cookie"
  echo "${cmd_of[page-static-pinned]:-}"
  echo "${cmd_of[page-welcome-pinned]:-}" | sed -E "s/-H Cookie: session=[A-Za-z0-9_-]+/-H 'Cookie: session=TOKEN'/"
  echo "${cmd_of[flood-alone-pinned]:-}   # alone, then beside the flood; without taskset when nothing is pinned"
  echo "$flood_cmd   # with taskset -c 1 when pinned"
} | show >"$tmp/commands.txt"
[ -f "$tmp/patch-idle.txt" ] && show <"$tmp/patch-idle.txt" >"$tmp/patch.txt"
python3 "$root/bench/app_report.py" --rows "$rows" --meta "$tmp/meta.txt" --commands "$tmp/commands.txt" \
  --failures "$failures" --doc "$doc" ${variants[0]:+--patch "$tmp/patch.txt"}
log "wrote the application's section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
