#!/usr/bin/env bash
# Issue 12's benchmark: the logged-in page with MariaDB against SQLite, and HAProxy in front of
# 1 and of 3 instances.
# Usage: bench/app12_bench.sh BUILD_DIR [--quick]
#
# (1) backends: one tinyweb per backend (-t 1, pinned to CPU 0; wrk -t1 -c50 keep-alive pinned to
#     CPU 1; only one server is loaded at a time), --db sqlite:... and --db mysql://... (a
#     throwaway mariadbd from scripts/mariadb.sh in the temp dir). GET /welcome
#       cached:   one session cookie (made by POST /login), so after its first request the
#                 session comes from the in-memory cache (re-checked in the database every 5 s);
#       database: 100,000 sessions written straight into the database (rows the server has never
#                 seen, token hash = BLAKE2b-256 of the token as in src/app/auth.c), wrk cycling
#                 through them, so nearly every request misses the cache (16,384 entries, each
#                 trusted 5 s) and goes to the worker pool and db_session_find. The share that
#                 did go to the database is read from the server's metrics around each run.
#     A wrk Lua script counts answers other than 200 (a 303 to /login would count as success in
#     wrk's own non-2xx/3xx figure).
# (2) haproxy: scripts/cluster.sh start --instances 1 and 3 (SQLite shared, nothing pinned),
#     wrk -t1 -c50 keep-alive on the static 612 B and on /welcome, through HAProxy and straight
#     to instance 1 of the same cluster in the same round. On a 2-core machine HAProxy, wrk and
#     the servers share the cores: this is the cost of the proxy hop, not scaling.
# Rounds alternate the order of the variants; --quick: one round of 5 s runs (else 3 of 10 s).
# Writes the section "## MariaDB and HAProxy (issue 12)" of docs/BENCHMARKS.md (replacing it if
# present, the rest kept byte for byte) and prints it. Needs wrk, taskset, haproxy, mariadbd,
# python3, curl. Environment: APP12_BENCH_PORT (default 18560; uses PORT..PORT+12),
# APP12_BENCH_KEEP=1 keeps the temp dir. Loopback only; every load bounded in time; only
# processes this script started are stopped, by PID.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '4p' "$0" >&2; exit 2; }
build=$1
quick=0
if [ $# -eq 2 ]; then
  [ "$2" = --quick ] || { sed -n '4p' "$0" >&2; exit 2; }
  quick=1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
doc=$root/docs/BENCHMARKS.md
tinyweb=$(cd "$build" && pwd)/tinyweb
[ -x "$tinyweb" ] || { echo "bench/app12_bench.sh: $build/tinyweb not found (make build)" >&2; exit 1; }
log() { echo "app12_bench: $*" >&2; }
for c in wrk taskset python3 curl haproxy mariadbd mariadb; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh (as root) first"; exit 1; }
done

rounds=3 dur=10
[ $quick -eq 1 ] && rounds=1 dur=5
ntokens=100000
password=bench-password-612
port=${APP12_BENCH_PORT:-18560}
p_sqlite=$port p_maria=$((port + 1)) p_cl=$((port + 4))
for p in $p_sqlite $p_maria $p_cl $((p_cl + 1)) $((p_cl + 2)) $((p_cl + 3)); do
  if port_open "$p"; then log "port $p is taken; set APP12_BENCH_PORT"; exit 1; fi
done

tmp=$(mktemp -d /tmp/tinyweb-app12-bench.XXXXXX)
chmod 711 "$tmp" # the throwaway mariadbd runs as the user mysql when we are root
raw=$tmp/raw
mkdir -p "$raw"
rows=$tmp/rows.tsv
failures=$tmp/failures.txt
: >"$rows"
: >"$failures"
pids=()
maria_started=0
cluster_dir=
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [ -z "$cluster_dir" ] || "$root/scripts/cluster.sh" stop "$cluster_dir" >/dev/null 2>&1 || true
  [ $maria_started = 0 ] || "$root/scripts/mariadb.sh" stop "$tmp/maria" || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${APP12_BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

www=$tmp/www
mkdir -p "$www"
cp -r "$root/www/." "$www/"
head -c 612 /dev/zero | tr '\0' 'x' >"$www/612.html"

# GET /welcome cycling through the tokens of TOKENS (one per line); counts the answers not 200.
cat >"$tmp/welcome.lua" <<'EOF'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  toks = {}
  for line in io.lines(os.getenv("TOKENS")) do toks[#toks + 1] = line end
  i = 0; nok = 0; nother = 0
end
function request()
  i = i % #toks + 1
  return wrk.format("GET", "/welcome", { ["Cookie"] = "session=" .. toks[i] })
end
function response(status, headers, body)
  if status == 200 then nok = nok + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("nok"); b = b + t:get("nother") end
  io.write(string.format("status200 %d\nstatus_other %d\n", a, b))
end
EOF

# The sessions the servers have never seen: tokens.txt, and the same as SQL for each backend.
python3 - "$tmp" "$ntokens" <<'EOF'
import hashlib, secrets, sys, time
d, n = sys.argv[1], int(sys.argv[2])
exp = int(time.time()) + 86400
toks = [secrets.token_urlsafe(32) for _ in range(n)]
assert all(len(t) == 43 for t in toks)
hs = [hashlib.blake2b(t.encode(), digest_size=32).hexdigest() for t in toks]
open(f"{d}/tokens.txt", "w").write("\n".join(toks) + "\n")
with open(f"{d}/sessions.tsv", "w") as f:
    for h in hs: f.write(f"{h}\t{exp}\n")
with open(f"{d}/sessions-mariadb.sql", "w") as f:
    f.write("SET @u = (SELECT id FROM users WHERE name = 'bench');\n")
    for i in range(0, n, 1000):
        f.write("INSERT INTO sessions(token_hash, user_id, expires) VALUES "
                + ",".join(f"(UNHEX('{h}'),@u,{exp})" for h in hs[i:i + 1000]) + ";\n")
EOF

# Register "bench" and log in on 127.0.0.1:PORT; the session cookie's token in FILE.
login() { # port file
  local st c
  st=$(curl -s -o /dev/null -w '%{http_code}' -d "user=bench&password=$password" "http://127.0.0.1:$1/register")
  [ "$st" = 303 ] || { log "register on :$1 answered $st"; exit 1; }
  c=$(curl -s -o /dev/null -D - -d "user=bench&password=$password" "http://127.0.0.1:$1/login" |
    sed -n 's/^set-cookie: session=\([^;]*\).*/\1/Ip' | tr -d '\r')
  [ -n "$c" ] || { log "login on :$1 gave no session cookie"; exit 1; }
  echo "$c" >"$2"
  st=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: session=$c" "http://127.0.0.1:$1/welcome")
  [ "$st" = 200 ] || { log "GET /welcome on :$1 with the cookie answered $st"; exit 1; }
}
lookups() { # port -> "memory database"
  curl -s "http://127.0.0.1:$1/status/metrics" | awk '
    /^tinyweb_app_session_lookups_total\{source="memory"\}/ { m = $2 }
    /^tinyweb_app_session_lookups_total\{source="database"\}/ { d = $2 }
    END { printf "%d %d\n", m, d }'
}

# One wrk run; appends: round part variant target path rps p99_us err non2xx other db_share_pct
declare -A cmd_of=()
run_wrk() { # round part variant target port path pin(0|1) [tokens]
  local r=$1 part=$2 v=$3 tg=$4 p=$5 path=$6 pin=$7 toks=${8:-}
  local pre=() out=$raw/$part-$r-$v-$tg-${path//\//_}.txt args=()
  [ "$pin" = 1 ] && pre=(taskset -c 1)
  [ -n "$toks" ] && args=(-s "$tmp/welcome.lua")
  local cmd=(wrk --latency -t1 -c50 -d"${dur}s" "${args[@]}" "http://127.0.0.1:$p$path")
  cmd_of[$part-$v-$tg-$path]="${toks:+TOKENS=$toks }${pre[*]:+${pre[*]} }${cmd[*]}"
  local m0 d0 m1 d1
  read -r m0 d0 <<<"$(lookups "$p")"
  TOKENS=$toks timeout $((dur + 30)) "${pre[@]}" "${cmd[@]}" >"$out" 2>&1 ||
    echo "wrk failed ($part $v $tg $path, round $r): $(tail -n 3 "$out" | tr '\n' ' ')" >>"$failures"
  read -r m1 d1 <<<"$(lookups "$p")"
  local other share=-1
  other=$(awk '/^status_other/ { print $2 }' "$out")
  [ "$path" = /612.html ] || [ $((m1 + d1 - m0 - d0)) -le 0 ] ||
    share=$(((d1 - d0) * 1000 / (m1 + d1 - m0 - d0)))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$part" "$v" "$tg" "$path" \
    "$(wrk_fields <"$out" | cut -f1,5,6,7)" "${other:-0}	$share" >>"$rows"
  log "$(tail -n 1 "$rows" | awk -F'\t' '{printf "r%s %-8s %-8s %-8s %-9s %9.0f req/s p99 %8.0f us err %d non2xx %d not200 %s db share %s permille", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}')"
  if [ "$path" != /612.html ] && [ "${other:-0}" != 0 ]; then
    echo "$other answers not 200 ($part $v $tg $path, round $r)" >>"$failures"
  fi
}

t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Servers of other people on the machine (started before us): named in the document.
others=$(pgrep -x 'tinyweb|mariadbd|haproxy|wrk' | wc -l)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ] && commit="$commit + uncommitted changes in src/"

# ---------------------------------------------------------------------------------------------
# (1) The backends.
log "starting MariaDB in $tmp/maria"
maria_started=1
maria_url=$("$root/scripts/mariadb.sh" start "$tmp/maria" | tail -n 1)
maria_version=$(mariadbd --version | sed 's/^.*Ver //')
start_one() { # port dburl name
  taskset -c 0 "$tinyweb" --root "$www" --listen "127.0.0.1:$1" -t 1 --db "$2" --status /status \
    --access-log off </dev/null >>"$tmp/$3.out" 2>>"$tmp/$3.err" &
  pids+=($!)
  wait_port "$1" "$!" || { log "the $3 server did not start"; tail -n 20 "$tmp/$3.err" >&2; exit 1; }
  login "$1" "$tmp/cookie-$3.txt"
}
start_one "$p_sqlite" "sqlite:$tmp/app.db" sqlite
start_one "$p_maria" "$maria_url" mariadb
python3 - "$tmp/app.db" "$tmp/sessions.tsv" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
u = db.execute("SELECT id FROM users WHERE name = 'bench'").fetchone()[0]
rows = [(bytes.fromhex(h), u, int(e)) for h, e in (l.split() for l in open(sys.argv[2]))]
with db: db.executemany("INSERT INTO sessions(token_hash, user_id, expires) VALUES (?, ?, ?)", rows)
EOF
mariadb --no-defaults --socket="$tmp/maria/mysqld.sock" --user=root tinyweb <"$tmp/sessions-mariadb.sql"
for b in sqlite mariadb; do
  p=$p_sqlite
  [ $b = mariadb ] && p=$p_maria
  st=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: session=$(sed -n 7p "$tmp/tokens.txt")" "http://127.0.0.1:$p/welcome")
  [ "$st" = 200 ] || { log "$b: an inserted session answered $st"; exit 1; }
done
sleep 0.3

for r in $(seq "$rounds"); do
  order=(sqlite mariadb)
  [ $((r % 2)) = 0 ] && order=(mariadb sqlite)
  for kind in cached database; do
    for b in "${order[@]}"; do
      p=$p_sqlite
      [ $b = mariadb ] && p=$p_maria
      toks=$tmp/tokens.txt
      [ $kind = cached ] && toks=$tmp/cookie-$b.txt
      run_wrk "$r" backend "$b" "$kind" "$p" /welcome 1 "$toks"
    done
  done
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
"$root/scripts/mariadb.sh" stop "$tmp/maria"
maria_started=0

# ---------------------------------------------------------------------------------------------
# (2) HAProxy in front of 1 and of 3 instances.
haproxy_version=$(haproxy -v | sed -n 1p)
for r in $(seq "$rounds"); do
  order=(1 3)
  [ $((r % 2)) = 0 ] && order=(3 1)
  for n in "${order[@]}"; do
    cluster_dir=$tmp/cluster-$r-$n
    "$root/scripts/cluster.sh" start "$cluster_dir" --instances "$n" --port "$p_cl" \
      --binary "$tinyweb" --root "$www" -- --status /status >"$raw/cluster-$r-$n.txt" 2>&1 ||
      { log "cluster start failed"; cat "$raw/cluster-$r-$n.txt" >&2; exit 1; }
    login "$p_cl" "$tmp/cookie-cluster.txt"
    # The cookie's session into every instance's cache before the first run.
    for i in $(seq "$n"); do
      curl -s -o /dev/null -H "Cookie: session=$(cat "$tmp/cookie-cluster.txt")" "http://127.0.0.1:$((p_cl + i))/welcome"
    done
    sleep 0.3
    if [ $((r % 2)) = 1 ]; then targets=(direct haproxy); else targets=(haproxy direct); fi
    for path in /612.html /welcome; do
      for tg in "${targets[@]}"; do
        p=$p_cl
        [ $tg = direct ] && p=$((p_cl + 1))
        tk=
        [ $path = /welcome ] && tk=$tmp/cookie-cluster.txt
        run_wrk "$r" haproxy "n$n" "$tg" "$p" "$path" 0 "$tk"
      done
    done
    "$root/scripts/cluster.sh" stop "$cluster_dir" >>"$raw/cluster-$r-$n.txt" 2>&1 ||
      echo "cluster stop ($n instances, round $r) failed: $(tail -n 2 "$raw/cluster-$r-$n.txt")" >>"$failures"
    cluster_dir=
  done
done
t_end=$(date +%s)

for f in "$tmp"/sqlite.err "$tmp"/mariadb.err; do
  if grep -qvE '^tinyweb: (listening on|application on)|running as root| \[info\] ' "$f"; then
    echo "$(basename "$f" .err) server stderr:" >>"$failures"
    grep -vE '^tinyweb: (listening on|application on)|running as root| \[info\] ' "$f" |
      sort | uniq -c | sort -rn | head -n 10 | sed 's/^/    /' >>"$failures"
  fi
done

# ---------------------------------------------------------------------------------------------
show() { sed -e "s|$tmp|\$TMP|g" -e "s|$tinyweb|$build/tinyweb|g" -e "s|$root/||g"; }
{
  echo "scripts/mariadb.sh start \$TMP/maria   # prints the --db URL"
  echo "taskset -c 0 $tinyweb --root $www --listen 127.0.0.1:$p_sqlite -t 1 --db sqlite:$tmp/app.db --status /status --access-log off"
  echo "taskset -c 0 $tinyweb --root $www --listen 127.0.0.1:$p_maria -t 1 --db '$maria_url' --status /status --access-log off"
  echo "# register + login with curl on each; then $ntokens rows inserted into sessions (python3 sqlite3 / mariadb client)"
  echo "${cmd_of[backend-sqlite-cached-/welcome]}   # TOKENS: the one cookie's token"
  echo "${cmd_of[backend-sqlite-database-/welcome]}   # TOKENS: the $ntokens inserted tokens"
  echo "scripts/cluster.sh start \$TMP/cluster --instances N --port $p_cl --binary $tinyweb --root $www -- --status /status   # N = 1, 3"
  echo "${cmd_of[haproxy-n1-haproxy-/612.html]}   # HAProxy; :$((p_cl + 1)) is instance 1 directly"
  echo "${cmd_of[haproxy-n1-haproxy-/welcome]}"
  echo "scripts/cluster.sh stop \$TMP/cluster; scripts/mariadb.sh stop \$TMP/maria"
} | show >"$tmp/commands.txt"
cat >"$tmp/meta.txt" <<EOF
quick	$quick
rounds	$rounds
dur	$dur
minutes	$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s
date	$(date -u '+%Y-%m-%d %H:%M UTC')
commit	$commit
load	$load_start
others	$others
cpus	$(nproc)
cpu	$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | sed -n 1p)
maria	$maria_version
haproxy	$haproxy_version
ntokens	$ntokens
build	$build
EOF
python3 "$root/bench/app12_report.py" --rows "$rows" --meta "$tmp/meta.txt" --commands "$tmp/commands.txt" \
  --failures "$failures" --doc "$doc"
log "wrote the issue 12 section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
