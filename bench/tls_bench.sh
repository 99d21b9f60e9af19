#!/usr/bin/env bash
# HTTPS benchmark (issue 13): tinyweb against h2o and nginx over TLS 1.3 on loopback.
# Usage: bench/tls_bench.sh BUILD_DIR [--quick]
#
# All servers get the same ECDSA P-256 certificate (scripts/tls_cert.sh in the temp dir), TLS 1.3
# only, the ciphersuite TLS_AES_128_GCM_SHA256 only, one worker pinned to CPU 0 (tinyweb -t 1,
# h2o num-threads: 1, nginx worker_processes 1), access logs off, and the same files (a 612 B
# index.html, 100 KiB, 10 MiB). The clients run pinned to CPU 1:
#   ka       612 B keep-alive, wrk -t1 -c50
#   full     a new TLS connection per request, full handshake: bench/tls_handshakes.c -c 50
#   resumed  the same, offering a TLS 1.3 session ticket saved from an earlier connection
#   k100     100 KiB keep-alive, wrk -t1 -c10
#   m10      10 MiB keep-alive, wrk -t1 -c4
#   idle     10,000 idle TLS keep-alive connections (handshake, one GET, then silent) by
#            bench/idle_conns.py --tls-ca, on freshly started servers: RSS per connection
# Server CPU is utime + stime from /proc/PID/stat around each run (nginx: master + worker), RSS
# is VmRSS of the same processes. Rounds alternate the server order (3 rounds of 10 s runs;
# --quick: 1 round of 5 s runs); the tables show medians. tinyweb is included when
# BUILD_DIR/tinyweb --help mentions --listen-tls, else skipped with a message (h2o and nginx only).
# Writes the section "## HTTPS (issue 13)" of docs/BENCHMARKS.md (replacing it if present, the
# rest kept byte for byte) and prints it.
#
# Needs wrk (Debian's links OpenSSL), h2o, nginx, cc, pkg-config and the OpenSSL headers
# (scripts/deps.sh bench), python3, openssl, taskset. Environment: TLS_BENCH_PORT (first of 3
# consecutive ports, default 18590), TLS_BENCH_KEEP=1 keeps the temp dir. All traffic goes to
# 127.0.0.1; every load is bounded in time; only processes this script started are stopped, by
# PID.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '3p' "$0" >&2; exit 2; }
build=$1
quick=0
if [ $# -eq 2 ]; then
  [ "$2" = --quick ] || { sed -n '3p' "$0" >&2; exit 2; }
  quick=1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
doc=$root/docs/BENCHMARKS.md
build_rel=$build
log() { echo "tls_bench: $*" >&2; }

for c in wrk h2o nginx; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done
for c in taskset pgrep python3 openssl cc pkg-config; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done
pkg-config --exists openssl || { log "OpenSSL headers not found (apt-get install libssl-dev)"; exit 1; }

tinyweb=
# The help text is read whole first: grep -q would quit at the match, and the SIGPIPE of a
# tinyweb still writing would fail the pipeline under pipefail.
help_text=
[ -x "$build/tinyweb" ] && help_text=$("$build/tinyweb" --help 2>&1 || true)
if grep -q -- '--listen-tls' <<<"$help_text"; then
  tinyweb=$(cd "$build" && pwd)/tinyweb
else
  log "$build/tinyweb has no --listen-tls (or is not built): tinyweb skipped, h2o and nginx only"
fi

# ---------------------------------------------------------------------------------------------
# Parameters.
rounds=3 dur=10
[ $quick -eq 1 ] && rounds=1 dur=5
n_idle=10000    # the fd hard limit is 20,000 per process; the helper holding them needs fds too
max_conns=15000 # every server's connection limit
keepalive_s=120 # every server's keep-alive idle timeout: the idle connections must outlive a run
suite=TLS_AES_128_GCM_SHA256
clk_tck=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((n_idle + 1000)) ] || { log "ulimit -n is $(ulimit -n); need $((n_idle + 1000))"; exit 1; }

base_port=${TLS_BENCH_PORT:-18590}
declare -A port=([tinyweb]=$base_port [h2o]=$((base_port + 1)) [nginx]=$((base_port + 2)))
for p in "${port[@]}"; do
  if port_open "$p"; then log "port $p on 127.0.0.1 is taken; set TLS_BENCH_PORT to a free range"; exit 1; fi
done
servers=(h2o nginx)
[ -n "$tinyweb" ] && servers=(tinyweb h2o nginx)

tmp=$(mktemp -d /tmp/tinyweb-tls-bench.XXXXXX)
chmod 755 "$tmp" # h2o and nginx workers run as nobody
www=$tmp/www raw=$tmp/raw
mkdir -p "$www" "$raw"
runs_tsv=$tmp/runs.tsv hs_tsv=$tmp/handshakes.tsv idle_tsv=$tmp/idle.tsv neg_tsv=$tmp/negotiated.tsv
failures=$tmp/failures.txt
: >"$runs_tsv"; : >"$hs_tsv"; : >"$idle_tsv"; : >"$neg_tsv"; : >"$failures"

declare -A pid=()
helper_pid=
cleanup() {
  local name
  if [ -n "$helper_pid" ]; then kill -TERM "$helper_pid" 2>/dev/null || true; fi
  for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${TLS_BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Files (the same deterministic bytes as bench/http_bench.sh's, the 612 B one as index.html),
# certificate, the handshake client.
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
open(f"{www}/index.html", "wb").write(html)
open(f"{www}/100k.bin", "wb").write(det(100 * 1024, b"100k"))
open(f"{www}/10m.bin", "wb").write(det(10 * 1024 * 1024, b"10m"))
EOF
chmod -R a+rX "$www"
"$root/scripts/tls_cert.sh" "$tmp/cert" ecdsa >/dev/null
cert=$tmp/cert/cert.pem key=$tmp/cert/key.pem
hs_bin=$tmp/tls_handshakes
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -o "$hs_bin" "$root/bench/tls_handshakes.c" $(pkg-config --cflags --libs openssl) || {
  log "could not compile bench/tls_handshakes.c"
  exit 1
}

# TLS 1.3 and the one ciphersuite for the processes that have no setting of their own: h2o 2.2
# (its ssl: block has no TLS 1.3 ciphersuite key) and the clients (wrk, Python), through
# OpenSSL's default configuration, which libssl reads when it starts.
ossl_cnf=$tmp/openssl-tls13.cnf
cat >"$ossl_cnf" <<EOF
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = $suite
EOF

cat >"$tmp/h2o.conf" <<EOF
# h2o $(h2o --version 2>/dev/null | sed -n 1p | sed 's/h2o version //'); access log off (no access-log directive)
num-threads: 1
max-connections: $max_conns
http1-request-timeout: $keepalive_s
error-log: $tmp/h2o-error.log
listen:
  host: 127.0.0.1
  port: ${port[h2o]}
  ssl:
    certificate-file: $cert
    key-file: $key
    minimum-version: TLSv1.3
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        file.dir: $www
EOF
cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events {
    worker_connections $max_conns;
}
http {
    access_log off;
    sendfile on;      # as in Debian's /etc/nginx/nginx.conf (not used for TLS bodies)
    tcp_nopush on;    # as in Debian's /etc/nginx/nginx.conf
    keepalive_timeout ${keepalive_s}s;
    keepalive_requests 1000000;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:${port[nginx]} ssl;
        root $www;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites $suite;
        ssl_session_tickets on;
    }
}
EOF

server_cmd() { # name
  case $1 in
    tinyweb) echo "$tinyweb --root $www --listen-tls 127.0.0.1:${port[tinyweb]} --tls-cert $cert --tls-key $key --tls-protocols TLSv1.3 --tls-ciphersuites $suite -t 1 -c 1 --idle-timeout ${keepalive_s}s --max-connections $max_conns" ;;
    h2o) echo "env OPENSSL_CONF=$ossl_cnf h2o -c $tmp/h2o.conf" ;;
    nginx) echo "nginx -p $tmp/ -e $tmp/nginx-error.log -c $tmp/nginx.conf" ;;
  esac
}
show() {
  sed -e "s|$tmp|\$TMP|g" -e "s|$root/||g" -e "s|${tinyweb:-/nonexistent/tinyweb}|$build_rel/tinyweb|g"
}
psi_us() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------------------------
# Servers (started with taskset -c 0).
start_server() { # name
  local name=$1 cmd _
  cmd=$(server_cmd "$name")
  # shellcheck disable=SC2086
  taskset -c 0 $cmd </dev/null >>"$tmp/$name.out" 2>>"$tmp/$name.err" &
  pid[$name]=$!
  if ! wait_port "${port[$name]}" "${pid[$name]}"; then
    log "$name did not start: $cmd"
    tail -n 20 "$tmp/$name.err" >&2 || true
    exit 1
  fi
  if [ "$name" = nginx ]; then
    for _ in $(seq 50); do
      [ "$(pgrep -c -P "${pid[$name]}" || true)" -ge 1 ] && break
      sleep 0.1
    done
  fi
  sleep 0.3
}
stop_server() { # name
  local name=$1 p=${pid[$1]} _
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
# The server's processes: nginx's master and worker, h2o's and tinyweb's one process (h2o's
# idle crash-handler child is left out).
server_pids() {
  if [ "$1" = nginx ]; then echo "${pid[$1]} $(pgrep -P "${pid[$1]}" | tr '\n' ' ')"; else echo "${pid[$1]}"; fi
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
    log "$1 died during $2 (status $rc); restarting it"
    unset "pid[$1]"
    start_server "$1"
  fi
}

# What each server negotiates with an unrestricted client (openssl s_client's defaults), whether
# it refuses TLS 1.2, and whether its certificate verifies for 127.0.0.1.
negotiated() { # name
  local p=${port[$1]} out brief ver suite_ grp refuse12 verify
  out=$(timeout 10 env -u OPENSSL_CONF openssl s_client -connect "127.0.0.1:$p" -brief \
    -CAfile "$cert" -verify_ip 127.0.0.1 -verify_return_error </dev/null 2>&1 || true)
  ver=$(sed -n 's/^Protocol version: //p' <<<"$out" | sed -n 1p)
  suite_=$(sed -n 's/^Ciphersuite: //p' <<<"$out" | sed -n 1p)
  grp=$(sed -n 's/^Server Temp Key: //p; s/^Peer Temp Key: //p' <<<"$out" | sed -n 1p)
  verify=$(grep -q '^Verification: OK' <<<"$out" && echo OK || echo failed)
  if timeout 10 env -u OPENSSL_CONF openssl s_client -connect "127.0.0.1:$p" -tls1_2 </dev/null >/dev/null 2>&1; then
    refuse12=no
  else
    refuse12=yes
  fi
  brief="${ver:-none}	${suite_:-none}	${grp:-none}	$verify	$refuse12"
  printf '%s\t%s\n' "$1" "$brief" >>"$neg_tsv"
  log "$1 negotiates $(tr '\t' ' ' <<<"$brief") (version, suite, key exchange, verify, refuses TLS 1.2)"
}

# ---------------------------------------------------------------------------------------------
# wrk runs. runs.tsv: round scen server rps transfer_Bps requests p50_us p99_us sock_errors
# non2xx cpu_ticks psi_pct
declare -A client_cmd=()
run_wrk() { # scen round server conns path
  local scen=$1 r=$2 name=$3 conns=$4 path=$5 out pids c0 c1 psi0 psi1 t0 t1
  out=$raw/$scen-$r-$name.txt
  local cmd=(wrk --latency -t1 -c"$conns" -d"${dur}s" "https://127.0.0.1:${port[$name]}$path")
  client_cmd[$scen]="OPENSSL_CONF=\$TMP/openssl-tls13.cnf taskset -c 1 ${cmd[*]}"
  read -ra pids <<<"$(server_pids "$name")"
  c0=$(cpu_ticks "${pids[@]}") psi0=$(psi_us) t0=$(date +%s%N)
  if ! OPENSSL_CONF=$ossl_cnf timeout $((dur + 30)) taskset -c 1 "${cmd[@]}" >"$out" 2>&1; then
    echo "wrk failed ($scen, round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  fi
  c1=$(cpu_ticks "${pids[@]}") psi1=$(psi_us) t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\t%d\t%d\n' "$r" "$scen" "$name" "$(wrk_fields <"$out")" $((c1 - c0)) \
    $(((psi1 - psi0) * 1000 * 100 / (t1 - t0 + 1))) >>"$runs_tsv"
  log "$(tail -n 1 "$runs_tsv" | awk -F'\t' '{printf "%-5s r%s %-8s %9.0f req/s %8.1f MiB/s  p99 %7.0f us  err %d non2xx %d  cpu %d ticks  psi %d%%", $2, $1, $3, $4, $5/1048576, $8, $9, $10, $11, $12}')"
  check_alive "$name" "$scen" "$r"
}

# New connections. handshakes.tsv: round scen server cpu_ticks psi_pct, then tls_handshakes'
# "done" line (key=value fields); first_error goes to the failures.
run_hs() { # scen round server [-r]
  local scen=$1 r=$2 name=$3 out pids c0 c1 psi0 psi1 t0 t1
  shift 3
  out=$raw/$scen-$r-$name.txt
  local cmd=("$hs_bin" 127.0.0.1 "${port[$name]}" -c 50 -d "$dur" -p /index.html -s "$suite" "$@")
  client_cmd[$scen]="taskset -c 1 \$TMP/tls_handshakes 127.0.0.1 PORT -c 50 -d $dur -p /index.html -s $suite${*:+ $*}"
  read -ra pids <<<"$(server_pids "$name")"
  c0=$(cpu_ticks "${pids[@]}") psi0=$(psi_us) t0=$(date +%s%N)
  if ! timeout $((dur + 30)) taskset -c 1 "${cmd[@]}" >"$out" 2>&1; then
    echo "tls_handshakes failed ($scen, round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  fi
  c1=$(cpu_ticks "${pids[@]}") psi1=$(psi_us) t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%d\t%d\t%s\n' "$r" "$scen" "$name" $((c1 - c0)) \
    $(((psi1 - psi0) * 1000 * 100 / (t1 - t0 + 1))) "$(grep '^done ' "$out" | sed -n 1p)" >>"$hs_tsv"
  if grep -q '^first_error=' "$out"; then
    echo "$scen round $r $name: $(grep '^first_error=' "$out")" >>"$failures"
  fi
  log "$(printf '%-7s r%s %-8s ' "$scen" "$r" "$name")$(grep '^done ' "$out" | awk '{for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } printf "%8.0f conn/s  errors %d  resumed %s  p99 %s ms", v["rate"], v["errors"], v["resumed_share"], v["p99_ms"]}')  cpu $((c1 - c0)) ticks"
  check_alive "$name" "$scen" "$r"
}

# Idle connections on a fresh server. idle.tsv: round server ok failed non200 open_s rss0_kb
# rss_idle_kb rss_after_kb open_cpu_ticks closed_by_server
run_idle() { # round server
  local r=$1 name=$2 out pids rss0 rss1 rss2 c0 c1 ready _
  out=$raw/idle-$r-$name.txt
  read -ra pids <<<"$(server_pids "$name")"
  rss0=$(rss_kb "${pids[@]}") c0=$(cpu_ticks "${pids[@]}")
  local cmd=(python3 "$root/bench/idle_conns.py" 127.0.0.1 "${port[$name]}" "$n_idle" /index.html
    --tls-ca "$cert" --open-timeout 120 --max-hold 60)
  client_cmd[idle]="OPENSSL_CONF=\$TMP/openssl-tls13.cnf taskset -c 1 python3 bench/idle_conns.py 127.0.0.1 PORT $n_idle /index.html --tls-ca \$TMP/cert/cert.pem --open-timeout 120 --max-hold 60"
  OPENSSL_CONF=$ossl_cnf taskset -c 1 "${cmd[@]}" >"$out" 2>&1 &
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
  [ -n "$ready" ] || echo "idle helper did not get ready (round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  kill -TERM "$helper_pid" 2>/dev/null || true
  wait "$helper_pid" 2>/dev/null || true
  helper_pid=
  sleep 1
  rss2=$(rss_kb "${pids[@]}")
  awk -v r="$r" -v n="$name" -v r0="$rss0" -v r1="$rss1" -v r2="$rss2" -v cpu=$((c1 - c0)) '
    /^ready/ || /^done/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { printf "%s\t%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%d\t%d\n", r, n, v["ok"], v["failed"],
            v["non200"], v["open_s"], r0, r1, r2, cpu, v["closed_by_server"] }' "$out" >>"$idle_tsv"
  log "$(tail -n 1 "$idle_tsv" | awk -F'\t' '{printf "idle    r%s %-8s ok %d failed %d non200 %d open %.1fs  rss %d -> %d -> %d KiB (%.0f B/conn)  closed_by_server %d", $1, $2, $3, $4, $5, $6, $7, $8, $9, $3 ? ($8 - $7) * 1024 / $3 : 0, $11}')"
  check_alive "$name" idle "$r"
}

# ---------------------------------------------------------------------------------------------
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"
log "temp dir $tmp; servers: ${servers[*]}; $rounds round(s) of ${dur}s runs; results in $doc"
for s in "${servers[@]}"; do start_server "$s"; done
for s in "${servers[@]}"; do negotiated "$s"; done
for s in "${servers[@]}"; do stop_server "$s"; done
n=${#servers[@]}
for r in $(seq "$rounds"); do
  order=()
  for i in $(seq 0 $((n - 1))); do order+=("${servers[$(((i + r - 1) % n))]}"); done
  log "round $r/$rounds: order ${order[*]}; servers on CPU 0, clients on CPU 1"
  for s in "${order[@]}"; do start_server "$s"; done
  for s in "${order[@]}"; do run_wrk ka "$r" "$s" 50 /index.html; done
  for s in "${order[@]}"; do run_hs full "$r" "$s"; done
  for s in "${order[@]}"; do run_hs resumed "$r" "$s" -r; done
  for s in "${order[@]}"; do run_wrk k100 "$r" "$s" 10 /100k.bin; done
  for s in "${order[@]}"; do run_wrk m10 "$r" "$s" 4 /10m.bin; done
  for s in "${order[@]}"; do stop_server "$s"; done
  # Idle memory on fresh servers: freed buffers of the runs above would hide part of it.
  for s in "${order[@]}"; do
    start_server "$s"
    run_idle "$r" "$s"
    stop_server "$s"
  done
done
t_end=$(date +%s)

# Server-side complaints: anything tinyweb printed besides its banner; h2o's and nginx's error
# logs above notice level.
if [ -s "$tmp/tinyweb.err" ] && grep -qv '^tinyweb: listening on' "$tmp/tinyweb.err"; then
  echo "tinyweb stderr:" >>"$failures"
  grep -v '^tinyweb: listening on' "$tmp/tinyweb.err" | sort | uniq -c | sort -rn | awk 'NR <= 20' |
    sed 's/^/    /' >>"$failures"
fi
if [ -s "$tmp/nginx-error.log" ] && grep -Eq '\[(alert|crit|emerg|error)\]' "$tmp/nginx-error.log"; then
  echo "nginx error log (for comparison):" >>"$failures"
  grep -E '\[(alert|crit|emerg|error)\]' "$tmp/nginx-error.log" | sed 's/^[0-9/: ]*//' |
    sort | uniq -c | sort -rn | awk 'NR <= 10' | sed 's/^/    /' >>"$failures"
fi

# ---------------------------------------------------------------------------------------------
head_md=$tmp/head.md
{
  cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | sed -n 1p)
  mode=$([ $quick -eq 1 ] && echo "--quick: 1 round of ${dur} s runs" || echo "$rounds rounds of ${dur} s runs")
  tw_row="not run: $build_rel/tinyweb has no \`--listen-tls\` yet"
  [ -n "$tinyweb" ] && tw_row="$("$tinyweb" -V 2>&1 | sed -n 1p), commit $commit"
  cat <<EOF
## HTTPS (issue 13)

Produced by \`bench/tls_bench.sh $build_rel$([ $quick -eq 1 ] && echo " --quick")\` ($mode) in
$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s, $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand, re-run it.
Source: [bench/tls_bench.sh](../bench/tls_bench.sh), new connections by
[bench/tls_handshakes.c](../bench/tls_handshakes.c), idle connections by
[bench/idle_conns.py](../bench/idle_conns.py) \`--tls-ca\`, tables by
[bench/tls_report.py](../bench/tls_report.py).

| machine and software | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | ${cpu:-unknown} |
| kernel | $(uname -r) |
| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |
| OpenSSL | $(openssl version) (libssl used by all three servers and the clients) |
| tinyweb | $tw_row |
| h2o | $(h2o --version 2>&1 | sed -n 1p | sed 's/h2o version //') (Debian package $(dpkg-query -W -f='${Version}' h2o 2>/dev/null || echo '?')) |
| nginx | $(nginx -v 2>&1 | sed 's/nginx version: //') (Debian package nginx-light $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null || echo '?'); $(nginx -V 2>&1 | grep -o 'built with OpenSSL [0-9.a-z]*' | sed -n 1p)) |
| wrk | $(wrk -v 2>&1 | sed -n 1p | awk '{print $2}') (links $(ldd "$(command -v wrk)" | grep -o 'libssl[^ ]*' | sed -n 1p)) |
| fd limit | ulimit -n $(ulimit -n) |
| load average at start | $load_start (the host may be shared: see the CPU pressure columns) |

### Setup

- Certificate: \`scripts/tls_cert.sh \$TMP/cert ecdsa\` (self-signed ECDSA P-256), the same files
  for all three servers. TLS 1.3 only, ciphersuite $suite only: tinyweb
  \`--tls-protocols TLSv1.3 --tls-ciphersuites $suite\`, nginx \`ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites
  $suite;\`, h2o \`minimum-version: TLSv1.3\` plus OpenSSL's \`system_default\` section
  (\`OPENSSL_CONF=\$TMP/openssl-tls13.cnf\`: h2o 2.2 has no TLS 1.3 ciphersuite setting). The
  clients offer only TLS 1.3 and $suite as well (wrk and Python through the same
  \`OPENSSL_CONF\`, tls_handshakes with \`-s\`). The table *negotiated* below shows what each
  server picks for an unrestricted \`openssl s_client\`. Session resumption: each server's
  default ticket setup (nginx \`ssl_session_tickets on\` with no session cache, h2o's default
  \`ssl-session-resumption\` (internal ticket keys), tinyweb's defaults).
- Files: the 612 B page (bench/http_bench.sh's bytes) as \`index.html\`, requested by name
  (\`/index.html\`, so no server does an index lookup), \`100k.bin\` and \`10m.bin\`; the same
  docroot for all three.
- One worker each, pinned: tinyweb \`-t 1\`, h2o \`num-threads: 1\`, nginx \`worker_processes 1\`
  (master + worker), all under \`taskset -c 0\`; every client under \`taskset -c 1\`. Access logs off
  (tinyweb \`-c 1\`, nginx \`access_log off\`, h2o without \`access-log\`); keep-alive timeout
  ${keepalive_s} s and connection limit $max_conns in all three.
- Server CPU: utime + stime of the server's processes (nginx: master + worker) from
  /proc/PID/stat just before and after each run; RSS: VmRSS of the same processes.
- Servers start fresh for each round; each round runs every scenario with the servers in turn,
  the order rotating from round to round; the idle-connection memory is measured on servers
  started fresh once more. Medians are over rounds.

Server command lines (\$TMP is the temp dir with the docroot \$TMP/www, certificate, configs):

\`\`\`
$(for s in "${servers[@]}"; do echo "taskset -c 0 $(server_cmd "$s")"; done | show)
\`\`\`

Client command lines (PORT is the server's):

\`\`\`
$(for s in ka full resumed k100 m10 idle; do echo "($s) ${client_cmd[$s]:-}"; done |
    sed -E 's/127\.0\.0\.1([: ])[0-9]+/127.0.0.1\1PORT/' | show)
\`\`\`

<details><summary>h2o and nginx configs, OpenSSL configuration</summary>

\`\`\`yaml
$(show <"$tmp/h2o.conf")
\`\`\`

\`\`\`nginx
$(show <"$tmp/nginx.conf")
\`\`\`

\`\`\`ini
$(show <"$ossl_cnf")
\`\`\`

</details>
EOF
} >"$head_md"

python3 "$root/bench/tls_report.py" --runs "$runs_tsv" --handshakes "$hs_tsv" --idle "$idle_tsv" \
  --negotiated "$neg_tsv" --head "$head_md" --failures "$failures" --doc "$doc" \
  --n-idle "$n_idle" --clk-tck "$clk_tck" --servers "${servers[*]}"
log "wrote the HTTPS section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
