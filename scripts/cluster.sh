#!/usr/bin/env bash
# A tinyweb cluster on one machine: N instances on loopback ports behind HAProxy, sharing one
# database. Everything is started in the background and stopped by the PIDs it recorded in DIR.
#
# Usage: scripts/cluster.sh start DIR [options] [-- TINYWEB_ARGS...]
#        scripts/cluster.sh stop|status|restart-rolling DIR
#
#   start            writes DIR/haproxy.cfg, starts the instances one after the other (each up
#                    before the next, so only one creates the database), then HAProxy, and waits
#                    until HAProxy sees every instance up
#   stop             HAProxy first (it stops sending), then every instance (SIGTERM: each drains
#                    for its --drain-delay, then stops gracefully); SIGKILL after a timeout
#   status           each process (pid, alive) and HAProxy's view of each instance
#   restart-rolling  for each instance in turn: SIGTERM, wait for its exit, start it again on
#                    the same port, wait until HAProxy sees it up, then the next
#
# start's options (kept in DIR/cluster.conf for the other commands):
#   --instances N      tinyweb instances (default 3)
#   --port P           HAProxy's port on 127.0.0.1 (default 18080); instance i (1..N) listens on
#                      127.0.0.1:P+i
#   --db URL           the shared database (default sqlite:DIR/app.db)
#   --drain-delay D    each instance's --drain-delay (default 3s: HAProxy's check interval 1s
#                      times fall 2, and 1s of margin; see docs/DEPLOY.md)
#   --binary PATH      tinyweb (default: $TINYWEB, else build/tinyweb of this checkout)
#   --root DIR         the document root (default: www of this checkout)
#   --no-retry         leave HAProxy's retry-on/redispatch out (to measure tinyweb's drain alone)
#   -- ARGS...         more tinyweb options for every instance (e.g. --pwhash-mem 8k)
#
# Files in DIR: haproxy.cfg, haproxy.pid, haproxy.sock (HAProxy's stats socket: `show stat`),
# twI.pid, twI.access.log, twI.error.log, twI.out (stdout and stderr) for each instance I.
# Needs haproxy (Debian `haproxy`) and python3 (to read the stats socket). The system's own
# haproxy service, if any, is neither used nor touched.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
die() {
  echo "cluster: $*" >&2
  exit 1
}
usage() {
  sed -n '4,5p' "$0" | sed 's/^# //' >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/cluster.conf

# A pid read from FILE, if that process is alive and was started for this DIR (its command line
# names FILE or DIR: a recycled pid is never signalled).
live_pid() {
  local file=$1 pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/" || return 1
  echo "$pid"
}

# HAProxy's view of one server (UP, DOWN, MAINT, "UP 1/2", ...), from its stats socket.
server_state() {
  python3 - "$dir/haproxy.sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect(sys.argv[1])
    s.sendall(b'show stat\n')
    data = b''
    while chunk := s.recv(65536):
        data += chunk
except OSError:
    print('unknown')
    sys.exit(0)
for line in data.decode().splitlines():
    f = line.split(',')
    if len(f) > 17 and f[0] == 'tinyweb' and f[1] == sys.argv[2]:
        print(f[17])
        break
else:
    print('unknown')
EOF
}

wait_state() { # name state timeout_s
  local deadline=$((SECONDS + $3)) s
  while :; do
    s=$(server_state "$1")
    [ "$s" = "$2" ] && return 0
    [ $SECONDS -lt $deadline ] || die "$1: HAProxy says '$s' after $3 s (waited for $2)"
    sleep 0.1
  done
}

# start_instance I: tinyweb on 127.0.0.1:PORT+I, returns once its pid file is written (it has
# bound its port and opened the database).
start_instance() {
  local i=$1 pidf=$dir/tw$1.pid
  rm -f "$pidf"
  setsid "$binary" -t 1 --listen "127.0.0.1:$((port + i))" --root "$root" \
    --health /healthz --drain-delay "$drain" --db "$db" --pid-file "$pidf" \
    --access-log "$dir/tw$i.access.log" --error-log "$dir/tw$i.error.log" \
    "${extra[@]}" </dev/null >>"$dir/tw$i.out" 2>&1 &
  local pid=$! deadline=$((SECONDS + 15))
  until [ -s "$pidf" ]; do
    kill -0 "$pid" 2>/dev/null || die "instance $i exited at start: $(tail -5 "$dir/tw$i.out")"
    [ $SECONDS -lt $deadline ] || die "instance $i: no pid file after 15 s"
    sleep 0.05
  done
}

# stop_pid PID NAME TIMEOUT_S [again]: SIGTERM (with again, a second one 0.1 s later: it ends
# tinyweb's --drain-delay), wait for the exit, SIGKILL after the timeout.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + $3))
  kill -TERM "$pid" 2>/dev/null || return 0
  if [ "${4:-}" = again ]; then
    sleep 0.1
    kill -TERM "$pid" 2>/dev/null || return 0
  fi
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster: $2 (pid $pid) still runs after $3 s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.05
  done
}

write_haproxy_cfg() {
  local retry='' i
  if [ "$retry_on" = 1 ]; then
    # A request that found no connection (refused, reset) or an empty answer (a pooled
    # connection the server closed as it was reused) goes again, up to 3 times, to another
    # instance once the first failed (redispatch).
    retry='    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout'
  fi
  {
    cat <<EOF
# Written by scripts/cluster.sh start; see docs/DEPLOY.md.
global
    maxconn 4096
    # show stat: cluster.sh status and restart-rolling read each instance's state here.
    stats socket $dir/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A client's keep-alive connection to HAProxy, idle between requests.
    timeout http-keep-alive 10s
$retry

frontend web
    bind 127.0.0.1:$port
    default_backend tinyweb

backend tinyweb
    # Any instance can answer any request: sessions live in the shared database.
    balance roundrobin
    # tinyweb --health /healthz: 200 while serving, 503 from SIGTERM on (--drain-delay).
    option httpchk GET /healthz
    http-check expect status 200
    # Keep-alive to the instances: idle connections are shared between clients when safe.
    http-reuse safe
    # Down after 2 failed checks 1 s apart (so --drain-delay 3s), up after 2 good ones.
    default-server inter 1s fall 2 rise 2
EOF
    for ((i = 1; i <= instances; i++)); do
      echo "    server tw$i 127.0.0.1:$((port + i)) check"
    done
  } >"$dir/haproxy.cfg"
}

load_conf() {
  [ -f "$conf" ] || die "$dir: no cluster.conf (run: scripts/cluster.sh start $dir)"
  # shellcheck source=/dev/null
  . "$conf"
}

case "$cmd" in
start)
  instances=3 port=18080 db="sqlite:$dir/app.db" drain=3s retry_on=1
  binary=${TINYWEB:-$here/build/tinyweb} root=$here/www
  extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
    --instances) instances=$2; shift ;;
    --port) port=$2; shift ;;
    --db) db=$2; shift ;;
    --drain-delay) drain=$2; shift ;;
    --binary) binary=$2; shift ;;
    --root) root=$2; shift ;;
    --no-retry) retry_on=0 ;;
    --)
      shift
      extra=("$@")
      break
      ;;
    *) usage ;;
    esac
    shift
  done
  [[ $instances =~ ^[1-9][0-9]*$ ]] || die "--instances: a number from 1"
  [ -x "$binary" ] || die "$binary: no tinyweb binary (build it, or give --binary)"
  command -v haproxy >/dev/null || die "haproxy is missing (Debian: apt-get install haproxy)"
  binary=$(realpath "$binary") root=$(realpath "$root")
  [ -f "$conf" ] && live_pid "$dir/haproxy.pid" >/dev/null && die "$dir: already running"
  # declare -g: load_conf sources it inside a function.
  declare -p instances port db drain binary root retry_on extra | sed "s/^declare /declare -g /" >"$conf"
  write_haproxy_cfg
  haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy.cfg does not check"
  for ((i = 1; i <= instances; i++)); do
    start_instance "$i"
  done
  rm -f "$dir/haproxy.pid"
  haproxy -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" -D
  for ((i = 1; i <= instances; i++)); do
    wait_state "tw$i" UP 10
  done
  echo "cluster: http://127.0.0.1:$port/ -> $instances instances on 127.0.0.1:$((port + 1))..$((port + instances))"
  ;;
stop)
  load_conf
  if pid=$(live_pid "$dir/haproxy.pid"); then
    stop_pid "$pid" haproxy 5
  fi
  rm -f "$dir/haproxy.pid" "$dir/haproxy.sock"
  # All at once. HAProxy is gone, so nothing new comes: a second SIGTERM skips --drain-delay,
  # and the graceful stop lets the responses in flight finish (--shutdown-timeout, 10 s).
  pids=()
  for ((i = 1; i <= instances; i++)); do
    if pid=$(live_pid "$dir/tw$i.pid"); then
      stop_pid "$pid" "tw$i" 20 again &
      pids+=($!)
    fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  echo "cluster: stopped"
  ;;
status)
  load_conf
  rc=0
  if pid=$(live_pid "$dir/haproxy.pid"); then
    echo "haproxy  pid $pid  http://127.0.0.1:$port/"
  else
    echo "haproxy  not running"
    rc=1
  fi
  for ((i = 1; i <= instances; i++)); do
    if pid=$(live_pid "$dir/tw$i.pid"); then
      echo "tw$i      pid $pid  127.0.0.1:$((port + i))  haproxy: $(server_state "tw$i")"
    else
      echo "tw$i      not running  haproxy: $(server_state "tw$i")"
      rc=1
    fi
  done
  exit $rc
  ;;
restart-rolling)
  load_conf
  live_pid "$dir/haproxy.pid" >/dev/null || die "haproxy is not running"
  for ((i = 1; i <= instances; i++)); do
    wait_state "tw$i" UP 10
    t0=$SECONDS
    if pid=$(live_pid "$dir/tw$i.pid"); then
      # The instance answers 503 on /healthz for --drain-delay, HAProxy takes it out, then it
      # stops gracefully (its in-flight responses finish within --shutdown-timeout).
      stop_pid "$pid" "tw$i" 30
    fi
    start_instance "$i"
    wait_state "tw$i" UP 15
    echo "cluster: tw$i restarted (pid $(cat "$dir/tw$i.pid"), $((SECONDS - t0)) s)"
  done
  ;;
*) usage ;;
esac
