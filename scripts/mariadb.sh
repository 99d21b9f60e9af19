#!/usr/bin/env bash
# A throwaway MariaDB server for tests, in a directory of its own; never the system's service.
# Usage: scripts/mariadb.sh start DIR | stop DIR | url DIR [DB] | createdb DIR DB | dropdb DIR DB
#   start:    creates DIR/data (mariadb-install-db --no-defaults), starts mariadbd on the socket
#             DIR/mysqld.sock only (--skip-networking), waits until it answers, creates the
#             database tinyweb and the user tinyweb (password in DIR/password, mode 0600), and
#             prints the URL for tinyweb's --db. As root the server runs as the user mysql.
#   stop:     stops the server by the PID in DIR/mysqld.pid (SIGTERM, then SIGKILL after 30 s),
#             and leaves DIR (remove it yourself).
#   url:      prints the --db URL of database DB (default tinyweb) on that server.
#   createdb: creates database DB (letters, digits, _) and gives the user tinyweb all rights on it.
#   dropdb:   drops database DB.
# The server is reached as the OS user running this script through unix_socket authentication
# (root@localhost): only start's caller (root) can administer it.
set -euo pipefail

usage() {
  echo "usage: scripts/mariadb.sh start DIR | stop DIR | url DIR [DB] | createdb DIR DB |" \
    "dropdb DIR DB" >&2
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
sock=$dir/mysqld.sock
pidfile=$dir/mysqld.pid

client() {
  mariadb --no-defaults --socket="$sock" --user=root --batch --skip-column-names "$@"
}

valid_db() {
  [[ $1 =~ ^[A-Za-z0-9_]{1,64}$ ]] || {
    echo "mariadb.sh: bad database name: $1" >&2
    exit 2
  }
}

url() {
  echo "mysql://tinyweb@/$1?socket=$sock&password_file=$dir/password"
}

case $cmd in
start)
  for b in mariadb-install-db mariadbd mariadb; do
    command -v $b >/dev/null || {
      echo "mariadb.sh: $b missing: run scripts/deps.sh test" >&2
      exit 1
    }
  done
  if [ ${#sock} -gt 107 ]; then
    echo "mariadb.sh: $sock is too long for a unix socket (107 bytes): use a shorter DIR" >&2
    exit 1
  fi
  # Ours still running (a test run that was interrupted): it serves again.
  if [ -e "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null &&
    client -e 'SELECT 1' >/dev/null 2>&1; then
    url tinyweb
    exit 0
  fi
  mkdir -p "$dir"
  user_args=()
  if [ "$(id -u)" -eq 0 ]; then
    user_args=(--user=mysql)
    chown mysql: "$dir"
  fi
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/data" "${user_args[@]}" \
      --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 || {
      cat "$dir/install.log" >&2
      exit 1
    }
  fi
  # Small buffers, but a 64 MB buffer pool: the benchmarks' 100,000 sessions do not stay in
  # 16 MB (a page read per lookup; bench/db_modes.sh measured it). setsid: the server outlives
  # this script without its terminal's signals.
  setsid mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --skip-networking \
    --pid-file="$pidfile" --log-error="$dir/error.log" "${user_args[@]}" \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-log-bin \
    --innodb-flush-log-at-trx-commit=2 --max-connections=500 </dev/null >/dev/null 2>&1 &
  for _ in $(seq 300); do
    client -e 'SELECT 1' >/dev/null 2>&1 && break
    if ! kill -0 $! 2>/dev/null; then
      echo "mariadb.sh: mariadbd exited:" >&2
      tail -20 "$dir/error.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  client -e 'SELECT 1' >/dev/null || {
    echo "mariadb.sh: mariadbd does not answer on $sock" >&2
    exit 1
  }
  if [ ! -s "$dir/password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password")
  fi
  pw=$(cat "$dir/password")
  client -e "CREATE DATABASE IF NOT EXISTS tinyweb;
    CREATE USER IF NOT EXISTS 'tinyweb'@'localhost' IDENTIFIED BY '$pw';
    GRANT ALL ON tinyweb.* TO 'tinyweb'@'localhost';"
  url tinyweb
  ;;
stop)
  [ -e "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  # Only our server: the PID must be a mariadbd whose command line names this data directory.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--datadir=$dir/data"; then
    kill -TERM "$pid"
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  ;;
url)
  url "${3:-tinyweb}"
  ;;
createdb)
  [ $# -eq 3 ] || usage
  valid_db "$3"
  client -e "CREATE DATABASE \`$3\`; GRANT ALL ON \`$3\`.* TO 'tinyweb'@'localhost';"
  url "$3"
  ;;
dropdb)
  [ $# -eq 3 ] || usage
  valid_db "$3"
  client -e "DROP DATABASE IF EXISTS \`$3\`"
  ;;
*) usage ;;
esac
