# shellcheck shell=bash
# Helpers shared by bench/ab.sh and bench/http_bench.sh; sourced, not run. The scripts that
# source it set -euo pipefail.

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to 10 s for PID to accept connections on 127.0.0.1:PORT. Fails at once if PID
# exits, and after 10 s if the port is still closed.
wait_port() { # port pid
  local _
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    port_open "$1" && return 0
    sleep 0.1
  done
  return 1
}

# utime + stime of the processes (all threads), in clock ticks; a PID that is gone counts 0.
# Fields are counted after the last ')': the command name in "pid (comm) state ..." may hold
# spaces and parentheses. utime and stime are fields 14 and 15, so the 12th and 13th after it.
cpu_ticks() { # pid...
  local p sum=0 rest f
  for p in "$@"; do
    rest=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    read -ra f <<<"$rest"
    sum=$((sum + f[11] + f[12]))
  done
  echo $sum
}

# wrk's output on stdin to one tab-separated line: req/s, transfer bytes/s, requests,
# p50 and p99 latency in µs (0 without --latency), socket errors, non-2xx/3xx responses.
# A failed run, with no such lines, gives zeros.
wrk_fields() {
  awk '
    function us(v,  u) { match(v, /[a-z]+$/); u = substr(v, RSTART); v = substr(v, 1, RSTART - 1)
      return v * (u == "us" ? 1 : u == "ms" ? 1e3 : u == "s" ? 1e6 : u == "m" ? 6e7 : 3.6e9) }
    function bytes(v,  u) { match(v, /[A-Z]*B$/); u = substr(v, RSTART); v = substr(v, 1, RSTART - 1)
      return v * (u == "B" ? 1 : u == "KB" ? 1024 : u == "MB" ? 1048576 : u == "GB" ? 1073741824 : 1099511627776) }
    /^ +50% / { p50 = us($2) } /^ +99% / { p99 = us($2) }
    / requests in / { reqs = $1 }
    /^ +Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /^Requests\/sec:/ { rps = $2 } /^Transfer\/sec:/ { bps = bytes($2) }
    END { printf "%.2f\t%.0f\t%d\t%.1f\t%.1f\t%d\t%d\n", rps, bps, reqs, p50, p99, err, non2xx }'
}
