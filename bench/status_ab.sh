#!/usr/bin/env bash
# What /status costs the request path: make bench's scenario (a), 612 B keep-alive with wrk -t1
# -c50 pinned to CPU 1 against one loop pinned to CPU 0 (logging off), with --status off, and
# with --status on and polled every 100 ms (alternately the JSON and /status/metrics, over one
# keep-alive connection, by a small Python client on CPU 1 beside wrk), alternating the two
# variants round by round, each started fresh. Prints each run, then per variant the median and
# range of req/s and of server CPU per request (utime + stime from /proc/PID/stat: steadier than
# req/s on a shared machine), and the per-round ratios of "on" to "off".
# Usage: bench/status_ab.sh BUILD_DIR [ROUNDS [SECONDS]]   (defaults: 6 rounds of 10 s)
# Environment: AB_PORT (default 18491). Only the processes it starts are stopped, by PID.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tinyweb=$(cd "$1" && pwd)/tinyweb
rounds=${2:-6}
secs=${3:-10}
port=${AB_PORT:-18491}
[ -x "$tinyweb" ] || { echo "bench/status_ab.sh: $tinyweb not found" >&2; exit 1; }
for c in wrk taskset python3; do
  command -v $c >/dev/null || { echo "bench/status_ab.sh: $c not found" >&2; exit 1; }
done
if port_open "$port"; then
  echo "bench/status_ab.sh: port $port on 127.0.0.1 is taken; set AB_PORT to a free one" >&2
  exit 1
fi

pid= poller=
tmp=$(mktemp -d /tmp/tinyweb-status-ab.XXXXXX)
cleanup() {
  [ -z "$poller" ] || kill -TERM "$poller" 2>/dev/null || true
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/www"
# The same 612-byte page as bench/http_bench.sh's scenario (a).
python3 -c 'import sys; sys.stdout.write("<!DOCTYPE html>\n<title>612</title>\n" + "x" * 576 + "\n")' \
  >"$tmp/www/612.html"
[ "$(stat -c %s "$tmp/www/612.html")" = 612 ]

# The poller: GETs /status and /status/metrics in turn every 100 ms on one keep-alive
# connection until SIGTERM, then prints how many 200s it got and how many other answers.
cat >"$tmp/poll.py" <<'EOF_PY'
import http.client, signal, sys, time
port, ok, bad, stop = int(sys.argv[1]), 0, 0, False
def done(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, done)
c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
n = 0
while not stop:
    try:
        c.request('GET', '/status' if n % 2 == 0 else '/status/metrics')
        r = c.getresponse()
        r.read()
        ok, bad = (ok + 1, bad) if r.status == 200 else (ok, bad + 1)
    except (OSError, http.client.HTTPException):
        bad += 1
        c.close()
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    n += 1
    time.sleep(0.1)
print(ok, bad)
EOF_PY

results=$tmp/results.tsv
: >"$results"
for ((r = 1; r <= rounds; r++)); do
  for variant in off on; do
    extra=()
    [ $variant = on ] && extra=(--status /status)
    taskset -c 0 "$tinyweb" --root "$tmp/www" --listen "127.0.0.1:$port" -t 1 -c 1 \
      "${extra[@]}" </dev/null >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" $pid || { echo "bench/status_ab.sh: tinyweb did not start" >&2; exit 1; }
    sleep 0.2
    if [ $variant = on ]; then
      taskset -c 1 python3 "$tmp/poll.py" "$port" >"$tmp/poll.out" &
      poller=$!
    fi
    t0=$(cpu_ticks $pid)
    out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "http://127.0.0.1:$port/612.html")
    t1=$(cpu_ticks $pid)
    polls=-
    if [ -n "$poller" ]; then
      kill -TERM $poller
      wait $poller || true
      poller=
      read -r ok bad <"$tmp/poll.out"
      [ "$bad" = 0 ] && [ "$ok" -gt 0 ] || {
        echo "bench/status_ab.sh: the poller got $ok answers 200 and $bad others" >&2
        exit 1
      }
      polls=$ok
    fi
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    pid=
    while port_open "$port"; do sleep 0.1; done
    read -r rps _ reqs _ _ errs non2xx <<<"$(wrk_fields <<<"$out")"
    if [ "$reqs" -eq 0 ] || [ "$errs" -ne 0 ] || [ "$non2xx" -ne 0 ]; then
      echo "bench/status_ab.sh: wrk failed against '$variant' (round $r):" >&2
      echo "$out" >&2
      exit 1
    fi
    us=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
      'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    printf 'round %d  --status %-3s %10.0f req/s %7s us CPU/req  (status polls answered: %s)\n' \
      "$r" "$variant" "$rps" "$us" "$polls"
    printf '%s\t%s\t%s\t%s\n' "$r" "$variant" "$rps" "$us" >>"$results"
  done
done

python3 - "$results" <<'EOF_PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    r, v, rps, us = line.split('\t')
    by.setdefault(v, {})[r] = (float(rps), float(us))
def fmt(xs, f):
    return f'{f(statistics.median(xs))} ({f(min(xs))} - {f(max(xs))})'
print(f'\n{"variant":30} {"req/s median (range)":>30} {"us CPU/req median (range)":>28}')
for v, label in (('off', '--status off'), ('on', '--status on, polled / 100 ms')):
    rows = list(by[v].values())
    print(f'{label:30} {fmt([x[0] for x in rows], lambda x: f"{x:,.0f}"):>30} '
          f'{fmt([x[1] for x in rows], lambda x: f"{x:.2f}"):>28}')
rounds = [r for r in by['off'] if r in by['on']]
rps = [by['on'][r][0] / by['off'][r][0] for r in rounds]
cpu = [by['on'][r][1] / by['off'][r][1] for r in rounds]
print(f'{"on / off, per round":30} {fmt(rps, lambda x: f"{x:.3f}"):>30} '
      f'{fmt(cpu, lambda x: f"{x:.3f}"):>28}')
EOF_PY
