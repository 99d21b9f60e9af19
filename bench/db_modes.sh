#!/usr/bin/env bash
# Issue 12's choice, measured: the logged-in page's database work (db_mariadb.c's session lookup)
# with blocking calls on a worker pool against Connector/C's nonblocking API on the loop's epoll.
# Usage: bench/db_modes.sh BUILD_DIR [--quick]
#
# A throwaway mariadbd (scripts/mariadb.sh, in the temp dir; its buffer pool raised from 16 MB to
# DB_MODES_BUFFER_POOL_MB, default 64, so that the 100,000 sessions stay in memory: see the
# section's text), a fresh database with db_mariadb.c's tables, 1,000 users and 100,000 sessions
# (random 32-byte token hashes), then BUILD_DIR/db_modes run (bench/db_modes.c) pinned to CPU 1,
# 50 lookups in flight, 1 s of warm-up then a measured window, for each variant:
#   pool  N = 2 (tinyweb's default -w on 2 CPUs), 8 (= -s 8), 50 worker threads, one blocking
#         connection each;
#   async N = 8 and 50 nonblocking connections on the one loop thread;
# and each placement of the server: mariadbd (all its threads) on CPU 0, and mariadbd on both
# CPUs (sharing CPU 1 with the client). Rounds alternate the order of the placements and of the
# variants; --quick: one round of 5 s runs (else 3 of 10 s); medians are reported.
# Writes the section "## The database from the loop or from the pool (issue 12)" of
# docs/BENCHMARKS.md (replacing it if present, the rest kept byte for byte) and prints it.
# Needs taskset, mariadbd, mariadb, python3. Environment: DB_MODES_KEEP=1 keeps the temp dir;
# DB_MODES_QUIET_WAIT (default 10): the seconds a run waits at most for a quiet machine;
# DB_MODES_RETRIES (default 1): how many times a run that others disturbed is run again.
# Unix socket only; every run bounded in time; only the mariadbd this script started is stopped,
# by its PID.
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
prog=$(cd "$build" && pwd)/db_modes
log() { echo "db_modes: $*" >&2; }
[ -x "$prog" ] || { log "$build/db_modes not found (cmake --build $build --target db_modes)"; exit 1; }
for c in taskset python3 mariadbd mariadb; do
  command -v $c >/dev/null || { log "$c not found; run scripts/deps.sh test (as root) first"; exit 1; }
done
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { log "needs 2 CPUs (the client on CPU 1)"; exit 1; }

rounds=3 dur=10
[ $quick -eq 1 ] && rounds=1 dur=5
inflight=50
pool_mb=${DB_MODES_BUFFER_POOL_MB:-64}
variants=(pool:2 pool:8 pool:50 async:8 async:50)
placements=(cpu0 shared)

tmp=$(mktemp -d /tmp/tinyweb-dbmodes.XXXXXX)
chmod 711 "$tmp" # the throwaway mariadbd runs as the user mysql when we are root
raw=$tmp/raw
mkdir -p "$raw"
rows=$tmp/rows.txt
failures=$tmp/failures.txt
: >"$rows"
: >"$failures"
maria_started=0
cleanup() {
  [ $maria_started = 0 ] || "$root/scripts/mariadb.sh" stop "$tmp/maria" || true
  if [ "${DB_MODES_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
others=$(pgrep -x 'tinyweb|mariadbd|haproxy|wrk' | wc -l)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain -- src/app/db_mariadb.c bench/db_modes.c 2>/dev/null)" ] &&
  commit="$commit + uncommitted changes in src/app/db_mariadb.c or bench/db_modes.c"

log "starting MariaDB in $tmp/maria"
maria_started=1
"$root/scripts/mariadb.sh" start "$tmp/maria" >/dev/null
url=$("$root/scripts/mariadb.sh" createdb "$tmp/maria" dbmodes | tail -n 1)
spid=$(cat "$tmp/maria/mysqld.pid")
tr '\0' ' ' <"/proc/$spid/cmdline" | grep -q -- "--datadir=$tmp/maria/data" ||
  { log "PID $spid is not our mariadbd"; exit 1; }
sql() { mariadb --no-defaults --socket="$tmp/maria/mysqld.sock" --user=root --batch --skip-column-names "$@"; }
sql -e "SET GLOBAL innodb_buffer_pool_size = $pool_mb * 1024 * 1024"
for _ in $(seq 100); do
  [ "$(sql -e 'SELECT @@innodb_buffer_pool_size')" = $((pool_mb * 1048576)) ] && break
  sleep 0.1
done
"$prog" setup "$url" --users 1000 --sessions 100000 2>"$raw/setup.err" ||
  { log "setup failed"; cat "$raw/setup.err" >&2; exit 1; }
# Every page of the two tables into the buffer pool.
sql dbmodes -e "SELECT SUM(user_id + expires) FROM sessions FORCE INDEX (PRIMARY);
  SELECT COUNT(*) FROM users; SELECT COUNT(*) FROM sessions FORCE INDEX (sessions_user)" >/dev/null
# The load leaves the server busy for a while (purge, flushing): wait until it uses under 2 % of
# a CPU over 1 s (at most 60 s), so that its CPU in the runs is theirs.
tck=$(getconf CLK_TCK)
idle_wait=0
for _ in $(seq 60); do
  a=$(cpu_ticks "$spid")
  sleep 1
  b=$(cpu_ticks "$spid")
  [ $((b - a)) -le $((tck / 50)) ] && break
  idle_wait=$((idle_wait + 1))
done
maria_version=$(mariadbd --version | sed 's/^.*Ver //')
connector=$(pkg-config --modversion libmariadb 2>/dev/null || echo unknown)
bp_reads() { sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'" | cut -f2; }

place() { # placement
  local cpus=0
  [ "$1" = shared ] && cpus=0-$((ncpu - 1))
  taskset -a -p -c "$cpus" "$spid" >/dev/null
}

# The machine's busy CPU ticks (all CPUs; /proc/stat: user nice system irq softirq steal).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# Waits until the machine is quiet, up to quiet_max s: under 10 % of a CPU busy over 1 s besides
# our mariadbd (a run is measured alone where others run benchmarks on the same machine too).
# Prints the seconds waited, "busy" when it gave up.
quiet_max=${DB_MODES_QUIET_WAIT:-10}
wait_quiet() {
  local i a b sa sb
  for ((i = 0; i < quiet_max; i++)); do
    a=$(busy_ticks) sa=$(cpu_ticks "$spid")
    sleep 1
    b=$(busy_ticks) sb=$(cpu_ticks "$spid")
    if [ $((b - a - (sb - sa))) -le $((tck / 10)) ]; then echo "$i"; return; fi
  done
  echo busy
}

declare -A cmd_of=()
# One run; appends its result line to rows. A run during which others used more than 0.1 CPU is
# run again, up to retries more times; the last one is kept (and its others figure flagged).
retries=${DB_MODES_RETRIES:-1}
run_one() { # round placement mode conns
  local r=$1 pl=$2 m=$3 n=$4 out=$raw/$1-$2-$3-$4
  local cmd=(taskset -c 1 "$prog" run "$url" --mode "$m" --conns "$n" --inflight "$inflight"
    --seconds "$dur" --warmup 1 --server-pid "$spid")
  cmd_of[$m]="${cmd[*]/"$url"/"'$url'"}"
  local b0 b1 res waited attempt line
  for ((attempt = 0; attempt <= retries; attempt++)); do
    waited=$(wait_quiet)
    b0=$(bp_reads)
    timeout $((dur + 60)) "${cmd[@]}" >"$out.out" 2>"$out.err" ||
      echo "db_modes run failed ($pl $m N=$n, round $r): $(tail -n 3 "$out.err" | tr '\n' ' ')" >>"$failures"
    b1=$(bp_reads)
    res=$(grep '^result' "$out.out" || true)
    [ -n "$res" ] || return 0
    line=$(printf 'round=%s\tplacement=%s\tbp_reads=%s\tquiet_wait=%s\tattempts=%s\t%s' "$r" "$pl" \
      $((b1 - b0)) "$waited" $((attempt + 1)) "${res#result	}")
    log "$(tr '\t' '\n' <<<"$line" | grep -E '^(round|placement|quiet_wait|attempts|mode|conns|rate|loop_ms_per_k|client_ms_per_k|server_ms_per_k|p99_us|other_cpus|errors)=' | tr '\n' ' ')"
    awk -F'\t' '{ for (i = 1; i <= NF; i++) if ($i ~ /^other_cpus=/) { split($i, kv, "="); exit !(kv[2] > 0.1) } }' \
      <<<"$line" || break
  done
  echo "$line" >>"$rows"
}

for r in $(seq "$rounds"); do
  pls=("${placements[@]}") vs=("${variants[@]}")
  if [ $((r % 2)) = 0 ]; then
    pls=(shared cpu0)
    vs=()
    for ((i = ${#variants[@]} - 1; i >= 0; i--)); do vs+=("${variants[i]}"); done
  fi
  for pl in "${pls[@]}"; do
    place "$pl"
    for v in "${vs[@]}"; do
      run_one "$r" "$pl" "${v%%:*}" "${v##*:}"
    done
  done
done
place shared
t_end=$(date +%s)
grep -q '\[ERROR\]' "$tmp/maria/error.log" 2>/dev/null &&
  { echo "mariadbd error log:"; grep '\[ERROR\]' "$tmp/maria/error.log" | tail -n 5; } >>"$failures"

# ---------------------------------------------------------------------------------------------
show() { sed -e "s|$tmp|\$TMP|g" -e "s|$prog|$build/db_modes|g" -e "s|$root/||g" -e "s|--server-pid $spid|--server-pid \$PID|"; }
{
  echo "scripts/mariadb.sh start \$TMP/maria; scripts/mariadb.sh createdb \$TMP/maria dbmodes   # prints the URL"
  echo "mariadb --socket=\$TMP/maria/mysqld.sock -u root -e 'SET GLOBAL innodb_buffer_pool_size = $pool_mb * 1024 * 1024'"
  echo "$prog setup '$url' --users 1000 --sessions 100000"
  echo "PID=\$(cat \$TMP/maria/mysqld.pid); taskset -a -p -c 0 \$PID   # 'on CPU 0'; -c 0-$((ncpu - 1)): 'shared'"
  echo "${cmd_of[pool]}   # --conns 2, 8, 50"
  echo "${cmd_of[async]}   # --conns 8, 50"
  echo "scripts/mariadb.sh stop \$TMP/maria"
} | show >"$tmp/commands.txt"
cat >"$tmp/meta.txt" <<EOF
quick	$quick
rounds	$rounds
dur	$dur
inflight	$inflight
pool_mb	$pool_mb
idle_wait	$idle_wait
minutes	$(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s
date	$(date -u '+%Y-%m-%d %H:%M UTC')
commit	$commit
load	$load_start
load_end	$(cut -d' ' -f1-3 /proc/loadavg)
quiet_max	$quiet_max
retries	$retries
others	$others
cpus	$ncpu
cpu	$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | sed -n 1p)
kernel	$(uname -r)
maria	$maria_version
connector	$connector
build	$build
quickflag	$([ $quick = 1 ] && echo ' --quick')
EOF

python3 - "$rows" "$tmp/meta.txt" "$tmp/commands.txt" "$failures" "$doc" "$root/bench" <<'PYEOF'
import statistics, sys
rows_path, meta_path, cmd_path, fail_path, doc, bench = sys.argv[1:]
sys.path.insert(0, bench)
from http_report import splice  # noqa: E402

TITLE = "## The database from the loop or from the pool (issue 12)"
meta = dict(l.rstrip("\n").split("\t", 1) for l in open(meta_path) if "\t" in l)
rows = [dict(kv.split("=", 1) for kv in l.rstrip("\n").split("\t")) for l in open(rows_path) if l.strip()]
quick = meta["quick"] == "1"


def sel(pl, mode, n):
    return [r for r in rows if r["placement"] == pl and r["mode"] == mode and r["conns"] == str(n)]


def med(rs, k):
    xs = [float(r[k]) for r in rs]
    return statistics.median(xs) if xs else None


def fmt(rs, k, digits=0, scale=1.0):
    xs = [float(r[k]) * scale for r in rs]
    if not xs:
        return "-"
    s = f"{statistics.median(xs):,.{digits}f}"
    if len(xs) > 1:
        s += f" ({min(xs):,.{digits}f}-{max(xs):,.{digits}f})"
    return s


VARIANTS = [("pool", 2), ("pool", 8), ("pool", 50), ("async", 8), ("async", 50)]
PLACES = [("cpu0", "mariadbd on CPU 0"), ("shared", "mariadbd on CPUs 0-1")]
p = [f"""{TITLE}

Produced by `bench/db_modes.sh {meta['build']}{meta['quickflag']}`: {meta['rounds']} round(s) of
{meta['dur']} s runs after 1 s of warm-up each, the rounds alternating the order of the placements
and of the variants, in {meta['minutes']}, {meta['date']}, commit {meta['commit']}; load average
before the run {meta['load']}, after it {meta['load_end']}; {meta['others']} other tinyweb, mariadbd,
haproxy or wrk processes (not this benchmark's) on the machine at its start. Each run waits (up to
{meta['quiet_max']} s) until the machine is quiet, under 10 % of a CPU busy over 1 s; *others* is
the CPU time, in CPUs, that anything but the client and the server used during the window
(`/proc/stat`'s busy time less theirs): a run where it exceeds 0.1 is run again (up to
{meta['retries']} times more), and where it is still not near 0, the run shared the machine. Machine: {meta['cpus']} CPUs ({meta['cpu']}),
kernel {meta['kernel']}; {meta['maria']}; Connector/C (libmariadb) {meta['connector']}.
{'**A --quick run: one round of 5 s runs; the figures are indicative only.**' + chr(10) if quick else ''}
The question: a loop never waits on the database, either because blocking Connector/C calls run
on the worker pool (tinyweb's design: `src/core/pool.c`, `src/app/db_mariadb.c`) or because the
loop drives Connector/C's nonblocking API itself (`mysql_stmt_execute_start`/`_cont`,
`mysql_stmt_fetch_start`/`_cont`, `mysql_stmt_free_result_start`/`_cont`, the `MYSQL_WAIT_*`
status bits as epoll events on `mysql_get_socket()`, `MYSQL_WAIT_TIMEOUT` as a timer per
connection). `bench/db_modes.c` does the logged-in page's database work and nothing else:
`db_mariadb.c`'s session lookup (`SELECT s.user_id, u.name, s.expires FROM sessions AS s JOIN
users AS u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires > ?`, prepared, a 32-byte
`BINARY` hash bound, the row fetched, the result freed; `db_mariadb.c`'s connection options), for a
random one of 100,000 sessions of 1,000 users, with {meta['inflight']} lookups always in flight
(the 50 connections of wrk `-c50` in the page's benchmark above). Every result is checked (the
row is found, its user and the user's name are the expected ones); the errors column counts the
others.

- *pool, N*: the program's main thread is the loop: it submits each lookup to a bounded queue
  (mutex + condition variable) served by N worker threads at nice 10, each with its own blocking
  connection; a worker polls its socket before each statement (`db_mariadb.c`'s check for a
  connection the server closed), runs the lookup and appends it to the loop's completion list
  (mutex + eventfd written when the list was empty); the loop, in `epoll_wait`, takes the list,
  checks each result and submits the next lookup. N = 2 is tinyweb's default worker count on this
  machine (`-w` = CPUs; `-s 8` connections, of which 2 are then in use at once), N = 8 one thread
  per `-s 8` connection.
- *async, N*: one thread, its epoll, N connections opened with `MYSQL_OPT_NONBLOCK`; lookups
  beyond N wait in an in-process queue as they do in the pool's.

The client (`db_modes`, all its threads) runs on CPU 1. *mariadbd on CPU 0*: all the server's
threads pinned to CPU 0, so that client and server each have a core; the server's core is then
the limit and the client's CPU figures are clean. *mariadbd on CPUs 0-1*: the server may also
use CPU 1, which the client leaves idle, as a server and its database sharing a 2-core machine do.
CPU per lookup is measured over the window: the loop thread's own CPU
(`CLOCK_THREAD_CPUTIME_ID`; for async the loop is the whole client), the whole client's
(`getrusage`), mariadbd's (utime + stime of `/proc/PID/stat`, all threads; 10 ms ticks). Latency
is from a lookup's submission to the loop's handling of its completion, queueing included (with
50 in flight, about 50 / throughput by Little's law). The server's buffer pool is
{meta['pool_mb']} MB (`SET GLOBAL innodb_buffer_pool_size`; `scripts/mariadb.sh` starts it at
16 MB, in which the 100,000 sessions do not stay: about one page read per lookup, which raised
mariadbd's CPU per lookup from about 30 to 50-75 µs in a trial), the tables preloaded; page reads
of the buffer pool during the runs are listed under the anomalies when there are any.
Medians over the rounds (with the range when there are several).

| mariadbd | design | N | lookups/s | loop CPU µs / lookup | client CPU µs / lookup | mariadbd CPU µs / lookup | p50 µs | p99 µs | client context switches / lookup | others (CPUs) | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""]
for pl, pln in PLACES:
    for mode, n in VARIANTS:
        rs = sel(pl, mode, n)
        cs = [float(r["vcsw_per_lookup"]) + float(r["ivcsw_per_lookup"]) for r in rs]
        csm = f"{statistics.median(cs):.2f}" if cs else "-"
        errs = sum(int(r["errors"]) for r in rs)
        name = f"**{mode}**" if n == 8 else mode
        p.append(f"| {pln} | {name} | {n} | {fmt(rs, 'rate')} | {fmt(rs, 'loop_ms_per_k', 1)} | "
                 f"{fmt(rs, 'client_ms_per_k', 1)} | {fmt(rs, 'server_ms_per_k', 1)} | "
                 f"{fmt(rs, 'p50_us')} | {fmt(rs, 'p99_us')} | {csm} | {fmt(rs, 'other_cpus', 2)} | "
                 f"{errs} |\n")

# A reading of the figures, from the medians (the pool and async at N = 8 and at their best).
def m(pl, mode, n, k):
    return med(sel(pl, mode, n), k)


reading = []
for pl, pln in PLACES:
    lp, la = m(pl, "pool", 8, "loop_ms_per_k"), m(pl, "async", 8, "loop_ms_per_k")
    cp, ca = m(pl, "pool", 8, "client_ms_per_k"), m(pl, "async", 8, "client_ms_per_k")
    rp = max((m(pl, "pool", n, "rate") or 0, n) for n in (2, 8, 50))
    ra = max((m(pl, "async", n, "rate") or 0, n) for n in (8, 50))
    if None in (lp, la, cp, ca):
        continue
    reading.append(
        f"- {pln}, N = 8: the loop spends {lp:.1f} µs per lookup with the pool and {la:.1f} µs "
        f"with the nonblocking API ({la / lp:.2f}x the pool's); the whole client {cp:.1f} µs "
        f"and {ca:.1f} µs ({ca / cp:.2f}x the pool's). "
        f"Best throughput: pool {rp[0]:,.0f}/s (N = {rp[1]}), async {ra[0]:,.0f}/s (N = {ra[1]}).\n")
if reading:
    p.append("\nFrom the medians:\n\n" + "".join(reading))

p.append("\n### Commands\n\n```\n" + open(cmd_path).read().rstrip("\n") + "\n```\n")
p.append("\n### Failures and anomalies\n\n")
anomalies = []
for r in rows:
    n = float(r["lookups"]) or 1
    if int(r["errors"]):
        anomalies.append(f"- round {r['round']}, {r['placement']} {r['mode']} N={r['conns']}: "
                         f"{r['errors']} lookups failed or returned the wrong row")
    if r["attempts"] != "1":
        anomalies.append(f"- round {r['round']}, {r['placement']} {r['mode']} N={r['conns']}: "
                         f"run {r['attempts']} times, others being busy")
    if r["quiet_wait"] == "busy":
        anomalies.append(f"- round {r['round']}, {r['placement']} {r['mode']} N={r['conns']}: "
                         f"the machine was still busy after {meta['quiet_max']} s of waiting")
    if float(r["other_cpus"]) > 0.1:
        anomalies.append(f"- round {r['round']}, {r['placement']} {r['mode']} N={r['conns']}: "
                         f"others used {float(r['other_cpus']):.2f} CPUs during the window")
    if int(r["bp_reads"]) > 0.01 * n:
        anomalies.append(f"- round {r['round']}, {r['placement']} {r['mode']} N={r['conns']}: "
                         f"{int(r['bp_reads']) / n:.2f} buffer pool page reads per lookup")
if meta["idle_wait"] != "0":
    anomalies.append(f"- mariadbd was still busy {meta['idle_wait']} s after the load (waited)")
fails = open(fail_path).read().strip()
if not anomalies and not fails:
    p.append("None: every lookup found its row with the expected user and name, no run failed, "
             "no page was read from disk during the runs.\n")
else:
    p.append("".join(a + "\n" for a in anomalies))
    if fails:
        p.append("\n```\n" + fails + "\n```\n")
section = "".join(p)
splice(doc, section, TITLE)
print(section)
PYEOF
log "wrote the section of $doc ($(((t_end - t_start) / 60)) min $(((t_end - t_start) % 60)) s)"
