#!/usr/bin/env bash
# Compression benchmark (issue 14): tinyweb's cached variants against nginx and h2o on loopback.
# Usage: bench/compress_bench.sh BUILD_DIR [--quick]
#
# One generated, deterministic 100 KiB HTML page (English-like text from a fixed word list with a
# fixed-seed xorshift generator, marked up as sections, paragraphs, lists and tables; gzip -6
# keeps about a third of it), requested as /index.html with `Accept-Encoding: gzip, br` by
# wrk -t1 -c50 over keep-alive, from four servers, one worker each, all pinned to CPU 0:
#   tinyweb  BUILD_DIR/tinyweb with its defaults (--compress on: br, zstd and gzip variants made
#            once on its worker pool and kept in the file cache), measured once the br variant
#            is served (the first requests get the identity while the variants are made)
#   gzip     nginx `gzip on; gzip_comp_level 6;` (compressing on every request)
#   static   nginx `gzip_static on;` with index.html.gz (gzip -9) beside the page
#   h2o      h2o `compress: ON` (its defaults: br and gzip, compressing on every request)
# The client runs pinned to CPU 1. What each server sends (status, Content-Encoding, framing,
# the bytes of the head and of the body as they go on the wire) is read with curl --raw -D with
# the same request header, and the body is checked to decode to the page. Server CPU is utime +
# stime from /proc/PID/stat around each run (nginx: master + worker). Rounds alternate the server
# order (3 rounds of 10 s runs; --quick: 1 round of 5 s runs); the tables show medians.
# Memory: a separate tinyweb with --status /status, its tinyweb_file_cache_bytes from
# /status/metrics before any request, with the page cached, and once the variants are made,
# against the sizes of the page and of each variant (curl, one coding at a time).
# Writes the section "## Compression (issue 14)" of docs/BENCHMARKS.md (replacing it if present,
# the rest kept byte for byte) and prints it.
#
# Needs wrk, h2o and nginx (scripts/deps.sh bench), curl, python3, taskset, pgrep. Environment:
# COMPRESS_BENCH_PORT (first of 5 consecutive ports, default 18600), COMPRESS_BENCH_KEEP=1 keeps
# the temp dir. All traffic goes to 127.0.0.1; every load is bounded in time; only processes this
# script started are stopped, by PID.
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
log() { echo "compress_bench: $*" >&2; }

for c in wrk nginx h2o; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh bench (as root) first"; exit 1; }
done
for c in curl taskset pgrep python3 cmp; do
  command -v $c >/dev/null || { log "$c not found"; exit 1; }
done
[ -x "$build/tinyweb" ] || { log "$build/tinyweb not found; build it first (make build)"; exit 1; }
tinyweb=$(cd "$build" && pwd)/tinyweb
# The help text is read whole first (grep -q would quit early and fail the pipeline).
help_text=$("$tinyweb" --help 2>&1 || true)
grep -q -- '--compress ' <<<"$help_text" || { log "$build/tinyweb has no --compress"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Parameters.
rounds=3 dur=10
[ $quick -eq 1 ] && rounds=1 dur=5
conns=50
accept='gzip, br'
page_bytes=102400
cache_limit=32m # tinyweb's --file-cache-bytes default, given explicitly to the memory instance
clk_tck=$(getconf CLK_TCK)

base_port=${COMPRESS_BENCH_PORT:-18600}
declare -A port=([tinyweb]=$base_port [gzip]=$((base_port + 1)) [static]=$((base_port + 2))
  [h2o]=$((base_port + 3)) [tinyweb-mem]=$((base_port + 4)))
for p in "${port[@]}"; do
  if port_open "$p"; then log "port $p on 127.0.0.1 is taken; set COMPRESS_BENCH_PORT to a free range"; exit 1; fi
done
servers=(tinyweb gzip static h2o)

tmp=$(mktemp -d /tmp/tinyweb-compress-bench.XXXXXX)
chmod 755 "$tmp" # h2o and nginx workers run as nobody
www=$tmp/www www_gz=$tmp/www-gz raw=$tmp/raw
mkdir -p "$www" "$www_gz" "$raw"
runs_tsv=$tmp/runs.tsv probe_tsv=$tmp/probe.tsv mem_tsv=$tmp/memory.tsv heads=$tmp/heads.txt
failures=$tmp/failures.txt
: >"$runs_tsv"; : >"$probe_tsv"; : >"$mem_tsv"; : >"$heads"; : >"$failures"

declare -A pid=()
cleanup() {
  local name
  for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${COMPRESS_BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The page: www/index.html's head and style around generated sections of text. Deterministic
# (its own xorshift32, no library generator), so every run and machine serves the same bytes;
# www-gz holds the same page and its gzip -9 sibling for nginx's gzip_static.
python3 - "$root/www/index.html" "$www" "$www_gz" "$page_bytes" >"$tmp/page.txt" <<'EOF'
import gzip, sys, zlib
src, www, www_gz, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
WORDS = """the of and to in a is that for it as with was on be by this are or from at an
which not have has but were they their one all more can been its would when there will other
about into than some these only what time also new first two after most over such used may
server request response connection client file page cache header body network socket thread
loop event timer kernel memory buffer bytes queue worker process signal reload status error
browser document style script image video link table list section article chapter paragraph
people year way day world life work system program number part place case point group
government company question fact hand week month story example word line form city country
history music river garden morning evening window street house market summer winter light
small large long short early late high low open close quick slow simple clear strong quiet
make take give find tell keep start show hear play run move live believe bring happen write
read send serve compress measure build change follow learn understand speak stand lose pay
meet include continue set leave turn begin seem help talk allow carry grow offer remember
because while where through between under against during without before again around always
often never usually perhaps however therefore although whether another each every both many
much few several enough certain different important possible public local general special
""".split()
state = 0x14C0FFEE
def rnd(n):
    global state
    x = state
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    state = x
    return x % n
def word():  # the smaller of two draws: common words (early in the list) come up more often
    return WORDS[min(rnd(len(WORDS)), rnd(len(WORDS)))]
def sentence():
    n = 6 + rnd(14)
    ws = [word() for _ in range(n)]
    if rnd(4) == 0:
        k = rnd(n); ws[k] = f'<a href="/{word()}/{word()}.html">{ws[k]}</a>'
    if rnd(6) == 0:
        k = rnd(n); ws[k] = f"<em>{ws[k]}</em>"
    if rnd(8) == 0:
        k = rnd(n); ws[k] = f"<code>{ws[k]}_{word()}</code>"
    s = " ".join(ws)
    return s[0].upper() + s[1:] + (".", ".", ".", "?", ";")[rnd(5)]
def para():
    cls = ("text", "text", "note", "lead")[rnd(4)]
    return f'<p class="{cls}">' + " ".join(sentence() for _ in range(2 + rnd(5))) + "</p>\n"
head = open(src).read().split("<main>")[0] + "<main>\n"
tail = "</main>\n</body>\n</html>\n"
out, sec, n = [], 0, len(head) + len(tail)
while n < size - 4000:
    sec += 1
    part = [f'<section id="s{sec}">\n<h2>{sentence()[:-1]}</h2>\n']
    part += [para() for _ in range(2 + rnd(4))]
    if rnd(3) == 0:
        part.append("<ul>\n" + "".join(f"<li>{sentence()}</li>\n" for _ in range(3 + rnd(4))) + "</ul>\n")
    if rnd(4) == 0:
        part.append("<table>\n<tr><th>name</th><th>value</th><th>note</th></tr>\n" + "".join(
            f"<tr><td>{word()}</td><td>{rnd(100000)}</td><td>{word()} {word()}</td></tr>\n"
            for _ in range(4 + rnd(5))) + "</table>\n")
    part.append(f'<p class="meta"><a href="#s{sec}" class="anchor">#</a> '
                f'<a href="#top" class="back">Back to top</a></p>\n</section>\n')
    out += part
    n += len("".join(part).encode())
filler = ""
while n + len(filler) < size:
    filler += sentence() + " "
page = (head + "".join(out) + "<p>" + filler).encode()
page = page[: size - len(tail) - 5] + b"</p>\n" + tail.encode()
assert len(page) == size, len(page)
gz = gzip.compress(page, 9, mtime=0)
for d in (www, www_gz):
    open(f"{d}/index.html", "wb").write(page)
open(f"{www_gz}/index.html.gz", "wb").write(gz)
print(f"{len(page)}\t{len(zlib.compress(page, 6))}\t{len(gz)}\t{sec}")
EOF
chmod -R a+rX "$www" "$www_gz"
read -r page_len gzip6_len gz9_len page_sections <"$tmp/page.txt"
log "page: $page_len bytes, $page_sections sections; zlib -6 $gzip6_len bytes ($((gzip6_len * 100 / page_len)) %), index.html.gz (gzip -9) $gz9_len bytes"

cat >"$tmp/h2o.conf" <<EOF
# h2o $(h2o --version 2>/dev/null | sed -n 1p | sed 's/h2o version //'); access log off (no access-log directive)
num-threads: 1
error-log: $tmp/h2o-error.log
listen:
  host: 127.0.0.1
  port: ${port[h2o]}
hosts:
  default:
    paths:
      /:
        file.dir: $www
        compress: ON
EOF
nginx_conf() { # name port docroot directives
  cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $tmp/nginx-$1.pid;
error_log $tmp/nginx-$1-error.log;
events {
    worker_connections 1024;
}
http {
    access_log off;
    sendfile on;      # as in Debian's /etc/nginx/nginx.conf
    tcp_nopush on;    # as in Debian's /etc/nginx/nginx.conf
    keepalive_requests 1000000;
    types { text/html html; text/css css; application/javascript js; }
    default_type application/octet-stream;
$4
    server {
        listen 127.0.0.1:$2;
        root $3;
    }
}
EOF
}
# text/html is always in gzip_types (naming it again draws a warning); the rest as in Debian's
# commented example. gzip_vary: tinyweb and h2o send Vary: Accept-Encoding as well.
nginx_conf gzip "${port[gzip]}" "$www" "    gzip on;
    gzip_comp_level 6;
    gzip_types text/css application/javascript text/plain application/json;
    gzip_min_length 256;
    gzip_vary on;" >"$tmp/nginx-gzip.conf"
nginx_conf static "${port[static]}" "$www_gz" "    gzip_static on;
    gzip_vary on;" >"$tmp/nginx-static.conf"

server_cmd() { # name
  case $1 in
    tinyweb) echo "$tinyweb --root $www --listen 127.0.0.1:${port[tinyweb]} -t 1 -c 1" ;;
    tinyweb-mem) echo "$tinyweb --root $www --listen 127.0.0.1:${port[tinyweb-mem]} -t 1 -c 1 --status /status --file-cache-bytes $cache_limit" ;;
    gzip | static) echo "nginx -p $tmp/ -e $tmp/nginx-$1-error.log -c $tmp/nginx-$1.conf" ;;
    h2o) echo "h2o -c $tmp/h2o.conf" ;;
  esac
}
show() {
  sed -e "s|$tmp|\$TMP|g" -e "s|$root/||g" -e "s|$tinyweb|$build_rel/tinyweb|g"
}
psi_us() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu 2>/dev/null || echo 0; }
url() { echo "http://127.0.0.1:${port[$1]}/index.html"; }

# ---------------------------------------------------------------------------------------------
# Servers (started with taskset -c 0).
# The Content-Encoding of one response to `Accept-Encoding: $2` (empty: none).
encoding_of() { # name accept
  curl -s -m 5 -o /dev/null -D - -H "Accept-Encoding: $2" "$(url "$1")" 2>/dev/null |
    tr -d '\r' | awk -F': *' 'tolower($1) == "content-encoding" { print $2 }' || true
}
# tinyweb answers with the identity until its variants are made: poll (up to 30 s) until the
# coding it sends to `$accept` is br, the smallest; the others get one request.
warm() { # name
  local name=$1 enc='' i ms
  if [ "${name#tinyweb}" = "$name" ]; then
    curl -s -m 5 -o /dev/null -H "Accept-Encoding: $accept" "$(url "$name")" || true
    return 0
  fi
  for i in $(seq 300); do
    enc=$(encoding_of "$name" "$accept")
    [ "$enc" = br ] && break
    sleep 0.1
  done
  ms=$((i * 100))
  if [ "$enc" != br ]; then
    echo "$name still sent Content-Encoding '${enc:-none}' to '$accept' after 30 s" >>"$failures"
  fi
  log "$name sends ${enc:-identity} to '$accept' after ~$ms ms"
}
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
  if [ "$name" = gzip ] || [ "$name" = static ]; then
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
# nginx: master + worker; h2o and tinyweb: the one process.
server_pids() {
  case $1 in
    gzip | static) echo "${pid[$1]} $(pgrep -P "${pid[$1]}" | tr '\n' ' ')" ;;
    *) echo "${pid[$1]}" ;;
  esac
}
rss_kb() {
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo $sum
}
check_alive() { # name round
  if ! kill -0 "${pid[$1]}" 2>/dev/null; then
    local rc=0
    wait "${pid[$1]}" 2>/dev/null || rc=$?
    {
      echo "$1 died in round $2 (exit status $rc); last stderr:"
      tail -n 20 "$tmp/$1.err" | sed 's/^/    /'
    } >>"$failures"
    log "$1 died in round $2 (status $rc); restarting it"
    unset "pid[$1]"
    start_server "$1"
    warm "$1"
  fi
}

# What a server sends to `Accept-Encoding: $accept`: curl --raw keeps the body as it came
# (chunk framing included), -D the head as it came, so their sizes are the response's bytes on
# the wire; a second request without --raw decodes the body, which must be the page.
# probe.tsv: round server status content_encoding head_bytes body_wire_bytes framing decoded_ok
#            vary
probe() { # round name
  local r=$1 name=$2 h=$raw/probe-$1-$2.head b=$raw/probe-$1-$2.body d=$raw/probe-$1-$2.decoded
  local status enc framing ok vary
  curl -s -m 10 --raw -D "$h" -o "$b" -H "Accept-Encoding: $accept" "$(url "$name")" || true
  curl -s -m 10 --compressed -o "$d" -H "Accept-Encoding: $accept" "$(url "$name")" || true
  status=$(tr -d '\r' <"$h" | awk 'NR == 1 { print $2 }')
  enc=$(tr -d '\r' <"$h" | awk -F': *' 'tolower($1) == "content-encoding" { print $2 }')
  vary=$(tr -d '\r' <"$h" | awk -F': *' 'tolower($1) == "vary" { print $2 }')
  framing=$(tr -d '\r' <"$h" | awk -F': *' '
    tolower($1) == "content-length" { cl = "Content-Length " $2 }
    tolower($1) == "transfer-encoding" { te = "Transfer-Encoding " $2 }
    END { print te != "" ? te : cl != "" ? cl : "close-delimited" }')
  ok=no
  cmp -s "$d" "$www/index.html" && ok=yes
  printf '%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n' "$r" "$name" "${status:-none}" "${enc:-identity}" \
    "$(stat -c %s "$h")" "$(stat -c %s "$b")" "$framing" "$ok" "${vary:-none}" >>"$probe_tsv"
  if [ "$r" = 1 ]; then
    { echo "== $name: curl -s --raw -D - -H 'Accept-Encoding: $accept' $(url "$name" | sed -E 's/:[0-9]+\//:PORT\//')"
      tr -d '\r' <"$h"; } >>"$heads"
  fi
  [ "$ok" = yes ] || echo "$name (round $r): the decoded body is not the page (status ${status:-none}, coding ${enc:-identity})" >>"$failures"
  log "$(tail -n 1 "$probe_tsv" | awk -F'\t' '{printf "%-7s r%s status %s %-8s head %d + body %d B (%s), decodes to the page: %s", $2, $1, $3, $4, $5, $6, $7, $8}')"
}

# runs.tsv: round scen server rps transfer_Bps requests p50_us p99_us sock_errors non2xx
# cpu_ticks psi_pct (bench/tls_bench.sh's layout)
client_cmd=
run_wrk() { # round server
  local r=$1 name=$2 out pids c0 c1 psi0 psi1 t0 t1
  out=$raw/html-$r-$name.txt
  local cmd=(wrk --latency -t1 -c"$conns" -d"${dur}s" -H "Accept-Encoding: $accept" "$(url "$name")")
  client_cmd="taskset -c 1 wrk --latency -t1 -c$conns -d${dur}s -H 'Accept-Encoding: $accept' http://127.0.0.1:PORT/index.html"
  read -ra pids <<<"$(server_pids "$name")"
  c0=$(cpu_ticks "${pids[@]}") psi0=$(psi_us) t0=$(date +%s%N)
  if ! timeout $((dur + 30)) taskset -c 1 "${cmd[@]}" >"$out" 2>&1; then
    echo "wrk failed (round $r, $name): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  fi
  c1=$(cpu_ticks "${pids[@]}") psi1=$(psi_us) t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\t%d\t%d\n' "$r" html "$name" "$(wrk_fields <"$out")" $((c1 - c0)) \
    $(((psi1 - psi0) * 1000 * 100 / (t1 - t0 + 1))) >>"$runs_tsv"
  log "$(tail -n 1 "$runs_tsv" | awk -F'\t' '{printf "r%s %-7s %9.0f req/s %7.1f MiB/s %6.0f B/resp  p99 %7.0f us  err %d non2xx %d  cpu %d ticks  psi %d%%", $1, $3, $4, $5/1048576, ($4 > 0 ? $5/$4 : 0), $8, $9, $10, $11, $12}')"
  check_alive "$name" "$r"
}

# tinyweb's file cache from /status/metrics (the sum over its loops).
metric() { # name
  curl -s -m 5 "http://127.0.0.1:${port[tinyweb-mem]}/status/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s }'
}
# The Content-Length tinyweb sends for one coding.
clen() { # coding
  curl -s -m 5 -o /dev/null -D - -H "Accept-Encoding: $1" "$(url tinyweb-mem)" | tr -d '\r' |
    awk -F': *' 'tolower($1) == "content-length" { print $2 }'
}
# memory.tsv: key value
memory() {
  local name=tinyweb-mem b0 e0 b1 e1 b2 e2 rss0 rss1 rss2 c enc i ms=0 all
  start_server $name
  rss0=$(rss_kb "${pid[$name]}") b0=$(metric tinyweb_file_cache_bytes) e0=$(metric tinyweb_file_cache_entries)
  # One request that accepts only the identity caches the file; its variants are queued then.
  curl -s -m 5 -o /dev/null -H 'Accept-Encoding: identity' "$(url $name)" || true
  b1=$(metric tinyweb_file_cache_bytes) e1=$(metric tinyweb_file_cache_entries) rss1=$(rss_kb "${pid[$name]}")
  for i in $(seq 300); do
    all=1
    for c in br zstd gzip; do
      enc=$(encoding_of $name "$c")
      [ "$enc" = "$c" ] || all=0
    done
    [ $all = 1 ] && break
    sleep 0.1
  done
  ms=$((i * 100))
  [ $all = 1 ] || echo "tinyweb-mem: not all of br, zstd, gzip were served after 30 s" >>"$failures"
  b2=$(metric tinyweb_file_cache_bytes) e2=$(metric tinyweb_file_cache_entries) rss2=$(rss_kb "${pid[$name]}")
  {
    printf 'bytes_start\t%s\nentries_start\t%s\nrss_start_kb\t%s\n' "$b0" "$e0" "$rss0"
    printf 'bytes_cached\t%s\nentries_cached\t%s\nrss_cached_kb\t%s\n' "$b1" "$e1" "$rss1"
    printf 'bytes_variants\t%s\nentries_variants\t%s\nrss_variants_kb\t%s\n' "$b2" "$e2" "$rss2"
    printf 'variants_ms\t%s\n' "$ms"
    for c in identity br zstd gzip; do printf 'len_%s\t%s\n' "$c" "$(clen "$c")"; done
    printf 'limit\t%s\n' "$cache_limit"
  } >>"$mem_tsv"
  curl -s -m 5 "http://127.0.0.1:${port[$name]}/status" >"$tmp/status.json" || true
  curl -s -m 5 "http://127.0.0.1:${port[$name]}/status/metrics" | grep '^tinyweb_file_cache_' >"$tmp/metrics.txt" || true
  log "memory: file cache $b0 -> $b1 -> $b2 bytes (entries $e0 -> $e1 -> $e2), variants served after ~$ms ms; $(awk -F'\t' '/^len_/ {printf "%s %s  ", $1, $2}' "$mem_tsv")"
  stop_server $name
}

# ---------------------------------------------------------------------------------------------
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"
log "temp dir $tmp; servers: ${servers[*]}; $rounds round(s) of ${dur}s runs; results in $doc"
memory
n=${#servers[@]}
for r in $(seq "$rounds"); do
  order=()
  for i in $(seq 0 $((n - 1))); do order+=("${servers[$(((i + r - 1) % n))]}"); done
  log "round $r/$rounds: order ${order[*]}; servers on CPU 0, wrk on CPU 1"
  for s in "${order[@]}"; do start_server "$s"; done
  for s in "${order[@]}"; do warm "$s"; done
  for s in "${order[@]}"; do probe "$r" "$s"; done
  for s in "${order[@]}"; do run_wrk "$r" "$s"; done
  for s in "${order[@]}"; do stop_server "$s"; done
done
t_end=$(date +%s)

# Server-side complaints: anything tinyweb printed; h2o's and nginx's error logs above notice.
for s in tinyweb tinyweb-mem; do
  if [ -s "$tmp/$s.err" ] && grep -qv '^tinyweb: listening on' "$tmp/$s.err"; then
    echo "$s stderr:" >>"$failures"
    grep -v '^tinyweb: listening on' "$tmp/$s.err" | sort | uniq -c | sort -rn | awk 'NR <= 20' |
      sed 's/^/    /' >>"$failures"
  fi
done
for f in "$tmp"/nginx-gzip-error.log "$tmp"/nginx-static-error.log "$tmp"/h2o-error.log; do
  if [ -s "$f" ] && grep -Eq '\[(alert|crit|emerg|error)\]' "$f"; then
    echo "$(basename "$f") (for comparison):" >>"$failures"
    grep -E '\[(alert|crit|emerg|error)\]' "$f" | sed 's/^[0-9/: ]*//' |
      sort | uniq -c | sort -rn | awk 'NR <= 10' | sed 's/^/    /' >>"$failures"
  fi
done

# ---------------------------------------------------------------------------------------------
head_md=$tmp/head.md
{
  cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | sed -n 1p)
  mode=$([ $quick -eq 1 ] && echo "--quick: 1 round of ${dur} s runs" || echo "$rounds rounds of ${dur} s runs")
  cat <<EOF
## Compression (issue 14)

Produced by \`bench/compress_bench.sh $build_rel$([ $quick -eq 1 ] && echo " --quick")\` ($mode) in
$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s, $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand, re-run it.
Source: [bench/compress_bench.sh](../bench/compress_bench.sh), tables by
[bench/compress_report.py](../bench/compress_report.py).

| machine and software | |
|---|---|
| CPUs (nproc) | $(nproc) |
| CPU model | ${cpu:-unknown} |
| kernel | $(uname -r) |
| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |
| tinyweb | $("$tinyweb" -V 2>&1 | sed -n 1p), commit $commit (zlib $(dpkg-query -W -f='${Version}' zlib1g 2>/dev/null || echo '?'), libbrotli $(dpkg-query -W -f='${Version}' libbrotli1 2>/dev/null || echo '?'), libzstd $(dpkg-query -W -f='${Version}' libzstd1 2>/dev/null || echo '?')) |
| h2o | $(h2o --version 2>&1 | sed -n 1p | sed 's/h2o version //') (Debian package $(dpkg-query -W -f='${Version}' h2o 2>/dev/null || echo '?'), its own brotli) |
| nginx | $(nginx -v 2>&1 | sed 's/nginx version: //') (Debian package nginx-light $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null || echo '?'), zlib $(dpkg-query -W -f='${Version}' zlib1g 2>/dev/null || echo '?')) |
| wrk | $(wrk -v 2>&1 | sed -n 1p | awk '{print $2}') |
| curl | $(curl -V | sed -n 1p | awk '{print $2}') |
| load average at start | $load_start (the host may be shared: see the CPU pressure column) |

### Setup

- The page: \`/index.html\`, $page_len bytes of generated HTML (www/index.html's head, then
  $page_sections sections of English-like text from a fixed word list and a fixed-seed generator:
  headings, paragraphs, links, lists, tables; the same bytes on every run). zlib level 6 makes
  $gzip6_len bytes of it ($(awk -v a="$gzip6_len" -v b="$page_len" 'BEGIN { printf "%.1f", 100 * a / b }') %); \`index.html.gz\` beside it (gzip -9, for nginx's
  gzip_static only, in a docroot of its own) is $gz9_len bytes.
- Every request: \`GET /index.html\` with \`Accept-Encoding: $accept\`, keep-alive.
- Servers: *tinyweb* with its defaults (\`--compress on\`: br, zstd and gzip variants made once on
  its worker pool and kept with the file in its cache; it sends the smallest one the client
  accepts), measured only once it sends br (it polls with curl until then; the first requests get
  the identity while the variants are made); *nginx gzip on* compresses every response at level 6;
  *nginx gzip_static* sends the .gz sibling; *h2o compress: ON* compresses every response with its
  default qualities. One worker each, pinned: tinyweb \`-t 1\` (its worker pool shares the pinning),
  h2o \`num-threads: 1\`, nginx \`worker_processes 1\` (master + worker), all under \`taskset -c 0\`;
  wrk under \`taskset -c 1\`. Access logs off (tinyweb \`-c 1\`, nginx \`access_log off\`, h2o without
  \`access-log\`).
- *Bytes on the wire* per response: the head plus the body as sent (chunk framing included), from
  \`curl --raw -D\` with the same request header; the body decoded (curl \`--compressed\`) is checked
  to be the page. wrk's transfer over its requests is shown beside it as a check of what the
  responses under load were.
- Server CPU: utime + stime of the server's processes (nginx: master + worker) from /proc/PID/stat
  just before and after each run.
- Servers start fresh for each round; each round runs the servers in turn, the order rotating from
  round to round. Medians are over rounds.

Server command lines (\$TMP is the temp dir: the page in \$TMP/www, the page and its .gz in
\$TMP/www-gz, the configs):

\`\`\`
$(for s in "${servers[@]}" tinyweb-mem; do echo "($s) taskset -c 0 $(server_cmd "$s")"; done | show)
\`\`\`

Client command line (PORT is the server's):

\`\`\`
$client_cmd
\`\`\`

<details><summary>h2o and nginx configs</summary>

\`\`\`yaml
$(show <"$tmp/h2o.conf")
\`\`\`

\`\`\`nginx
# nginx gzip on
$(show <"$tmp/nginx-gzip.conf")
\`\`\`

\`\`\`nginx
# nginx gzip_static
$(show <"$tmp/nginx-static.conf")
\`\`\`

</details>
EOF
} >"$head_md"
show <"$heads" >"$heads.shown"
show <"$tmp/metrics.txt" >"$tmp/metrics.shown" 2>/dev/null || : >"$tmp/metrics.shown"

python3 "$root/bench/compress_report.py" --runs "$runs_tsv" --probe "$probe_tsv" --memory "$mem_tsv" \
  --metrics "$tmp/metrics.shown" --heads "$heads.shown" --head "$head_md" --failures "$failures" \
  --doc "$doc" --clk-tck "$clk_tck" --servers "${servers[*]}" --page-bytes "$page_len"
log "wrote the compression section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
