#!/usr/bin/env python3
"""tinyweb in a cluster on one machine: three instances behind HAProxy on loopback, sharing one
SQLite database (or, with --mysql DIR, one MariaDB database), started and stopped by
scripts/cluster.sh (every process by its PID).

    test_cluster.py --binary build/tinyweb [--mysql DIR] [--only NAME]...
    test_cluster.py --binary build/tinyweb --measure [--rounds N]
    test_cluster.py --list

Tests:
  session       register and log in through HAProxy; the session works whichever instance
                answers: 30 requests for /welcome, each 200 with the user's name, and every
                instance's access log has some of them (round robin, no sticky sessions)
  rolling       scripts/cluster.sh restart-rolling (each instance in turn: SIGTERM, its 3 s
                --drain-delay, exit, start, HAProxy sees it up) under wrk -c 50 on a static
                file through HAProxy, while a logged-in client requests /welcome every 10 ms:
                wrk reports 0 socket errors and 0 non-2xx, the client only ever gets 200
  kill9         kill -9 of one instance under the same load: HAProxy takes it out; the failed
                requests (wrk's socket errors and non-2xx, the client's failures) are printed
                and at most the requests in flight on that instance (50) may fail; the client
                is never sent to /login
  mariadb_restart  (--mysql only) MariaDB stopped for ~3 s and started again (scripts/mariadb.sh
                stop/start DIR) under wrk -c 50 on a static file, while a client requests
                /welcome every 50 ms with 120 sessions in turn, each session used at most once
                in 5.5 s, so no instance's 5 s session cache has it and every request looks its
                session up in the database (checked on the instances' --metrics counters):
                wrk reports 0 socket errors and 0 non-2xx; every /welcome answers within 1 s
                with 200 or 503 + Retry-After (never another 5xx, never /login); while MariaDB
                is down only 503; 200 again within 5 s of MariaDB being back, without restarting
                any tinyweb

With --mysql DIR (a server of scripts/mariadb.sh start DIR) every cluster gets a fresh database on
it (createdb, dropped afterwards); mariadb_restart stops and starts that server, so nothing else
may use it meanwhile (ctest: RUN_SERIAL). Without --mysql, mariadb_restart is skipped.

--measure runs the rolling restart instead in four configurations, --rounds times each, and
prints a table: --drain-delay 0 and 3s, each with HAProxy's retries (retry-on conn-failure
empty-response response-timeout, retries 3, option redispatch) and without them (the issue's
setting, where SIGTERM without a drain lost requests). Nothing is asserted there but that the
cluster ran; the figures go to docs/DEPLOY.md.

The output ends with "N passed, N failed, N skipped"; exit status 1 when anything failed, 77
when haproxy or wrk is missing (skipped).
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
import common  # noqa: E402
from common import HOST, Failure, Skip, check, test_tmp, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_SH = os.path.join(HERE, '..', '..', 'scripts', 'cluster.sh')
MARIADB_SH = os.path.join(HERE, '..', '..', 'scripts', 'mariadb.sh')
INSTANCES = 3
STATIC = '/style.css'
WRK_CONNECTIONS = 50
FAST_HASH = ('--pwhash-ops', '1', '--pwhash-mem', '8k')
IO_TIMEOUT = 10.0

# wrk: counts every response that is not 2xx (its own errors.status counts only >= 400), per
# thread, summed in done() through thread:get. One line, read by common.wrk_summary.
WRK_LUA = r'''
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
init = function(args)
  non2xx = 0
  first = 0
end
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first == 0 then first = status end
  end
end
done = function(summary, latency, requests)
  local n, f = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    if f == 0 then f = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format("WRK requests=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "non2xx=%d first_non2xx=%d p99=%d max=%d\n", summary.requests, e.connect, e.read, e.write,
    e.status, e.timeout, n, f, latency:percentile(99), latency.max))
end
'''


def free_port_block(n):
    """A port P such that P..P+n are free on 127.0.0.1 (checked by binding them; a race with
    another program is possible but unlikely in the range used)."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 60000)
        socks = []
        try:
            for p in range(base, base + n + 1):
                s = socket.socket()
                s.bind((HOST, p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failure('no block of free ports')


class Cluster:
    """scripts/cluster.sh start/stop in a directory of its own."""

    def __init__(self, binary, drain='3s', retry=True, mysql=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix='tinyweb-cluster.', dir=test_tmp())
        self.port = free_port_block(INSTANCES)
        args = ['bash', CLUSTER_SH, 'start', self.dir, '--instances', str(INSTANCES), '--port',
                str(self.port), '--binary', binary, '--drain-delay', drain]
        if not retry:
            args.append('--no-retry')
        self.mysql, self.database = mysql, None
        if mysql:
            self.database = 'cluster_' + os.urandom(6).hex()
            args += ['--db', mariadb_sh('createdb', mysql, self.database)]
        self.started = False
        common.track(self)
        r = subprocess.run(args + ['--', *FAST_HASH, *extra], capture_output=True, text=True,
                           timeout=60)
        self.started = True
        check(r.returncode == 0, f'cluster.sh start: {r.returncode}\n{r.stdout}{r.stderr}'
              + self.logs())

    def sh(self, cmd, timeout=120):
        return subprocess.run(['bash', CLUSTER_SH, cmd, self.dir], capture_output=True,
                              text=True, timeout=timeout)

    def pid(self, i):
        with open(os.path.join(self.dir, f'tw{i}.pid')) as f:
            return int(f.read())

    def access_log(self, i):
        return common.read_text(os.path.join(self.dir, f'tw{i}.access.log'))

    def stats(self):
        """HAProxy's `show stat`, as {svname: {field: value}} for the backend tinyweb."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(os.path.join(self.dir, 'haproxy.sock'))
        s.sendall(b'show stat\n')
        data = b''
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        lines = data.decode().splitlines()
        names = lines[0].lstrip('# ').split(',')
        out = {}
        for line in lines[1:]:
            f = line.split(',')
            if len(f) == len(names) and f[0] == 'tinyweb':
                out[f[1]] = dict(zip(names, f))
        return out

    def logs(self):
        text = ''
        for i in range(1, INSTANCES + 1):
            for kind in ('out', 'error.log'):
                t = common.read_text(os.path.join(self.dir, f'tw{i}.{kind}'))
                text += f'\n--- tw{i}.{kind}:\n{t[-1500:]}'
        return text

    def check_clean(self):
        """No instance crashed or logged an error (the 404s of nothing, 5xx of anything)."""
        for i in range(1, INSTANCES + 1):
            for kind in ('out', 'error.log'):
                t = common.read_text(os.path.join(self.dir, f'tw{i}.{kind}'))
                bad = [ln for ln in t.splitlines() if '[error]' in ln or '[crit]' in ln
                       or any(m in ln for m in common.SANITIZER_MARKS)]
                check(not bad, f'tw{i}.{kind}: {bad[:5]}')

    def close(self):
        if self.started:
            self.started = False
            r = self.sh('stop', timeout=60)
            if r.returncode != 0:
                print(f'cluster.sh stop: {r.returncode} {r.stdout}{r.stderr}', flush=True)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        if self.database:
            try:
                mariadb_sh('dropdb', self.mysql, self.database)
            except subprocess.SubprocessError as e:
                print(f'mariadb.sh dropdb {self.database}: {e}', flush=True)
            self.database = None
        common.untrack(self)


def mariadb_sh(*args):
    """scripts/mariadb.sh's output."""
    r = subprocess.run(['bash', MARIADB_SH, *args], capture_output=True, text=True, timeout=90)
    check(r.returncode == 0, f'mariadb.sh {" ".join(args)}: {r.returncode}\n{r.stdout}{r.stderr}')
    return r.stdout.strip()


def request(port, method, path, body=b'', headers=None, conn=None):
    """(status, headers dict lower-cased, body) over conn or a connection of its own."""
    own = conn is None
    c = conn or http.client.HTTPConnection(HOST, port, timeout=IO_TIMEOUT)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            c.close()


def login(port, user, password):
    """Registers user and logs in through HAProxy; the session token."""
    form = urllib.parse.urlencode({'user': user, 'password': password}).encode()
    ctype = {'Content-Type': 'application/x-www-form-urlencoded'}
    st, h, body = request(port, 'POST', '/register', form, ctype)
    check(st == 303 and h.get('location') == '/login?registered', f'register: {st} {h} {body}')
    st, h, body = request(port, 'POST', '/login', form, ctype)
    check(st == 303 and h.get('location') == '/welcome', f'login: {st} {h} {body}')
    m = re.match(r'session=([^;]+)', h.get('set-cookie', ''))
    check(m, f'login: no session cookie: {h}')
    return m[1]


class LoggedInClient(threading.Thread):
    """Requests /welcome with the session every 10 ms on one keep-alive connection to HAProxy
    (a new one after a failure), until stop(): statuses counted, failures kept."""

    def __init__(self, port, token, user):
        super().__init__(daemon=True)
        self.port, self.token, self.user = port, token, user
        self.statuses = {}
        self.failures = []  # (time, what)
        self.to_login = 0
        self.done = threading.Event()

    def run(self):
        conn = None
        while not self.done.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=IO_TIMEOUT)
                st, h, body = request(self.port, 'GET', '/welcome',
                                      headers={'Cookie': f'session={self.token}'}, conn=conn)
                self.statuses[st] = self.statuses.get(st, 0) + 1
                if st in (302, 303) and h.get('location', '').startswith('/login'):
                    self.to_login += 1
                if st != 200 or f'Welcome, {self.user}'.encode() not in body:
                    self.failures.append((time.monotonic(), f'{st} {body[:100]!r}'))
                if h.get('connection', '').lower() == 'close':
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.failures.append((time.monotonic(), repr(e)))
                if conn:
                    conn.close()
                conn = None
            time.sleep(0.01)
        if conn:
            conn.close()

    def stop(self):
        self.done.set()
        self.join(IO_TIMEOUT + 5)

    def requests(self):
        return sum(self.statuses.values())


class Wrk:
    """wrk -c 50 on a static file through HAProxy, for up to max_seconds; stop() ends it early
    (SIGINT: wrk stops and still prints its summary)."""

    def __init__(self, port, tmpdir, max_seconds):
        script = os.path.join(tmpdir, 'count.lua')
        with open(script, 'w') as f:
            f.write(WRK_LUA)
        self.out = open(os.path.join(tmpdir, 'wrk.out'), 'w+')
        self.proc = subprocess.Popen(
            ['wrk', '-t', '2', '-c', str(WRK_CONNECTIONS), '-d', f'{max_seconds}s', '--timeout',
             '10s', '-s', script, f'http://{HOST}:{port}{STATIC}'],
            stdout=self.out, stderr=subprocess.STDOUT, env=common.clean_env())
        self.start = time.monotonic()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        self.seconds = time.monotonic() - self.start
        self.out.seek(0)
        text = self.out.read()
        self.out.close()
        s = common.wrk_summary(text)
        check(s is not None, f'wrk printed no summary: {text[-2000:]}')
        s['errors'] = s['connect'] + s['read'] + s['write'] + s['timeout']
        return s


def under_load(cluster, action, settle=1.0, after=1.0):
    """Runs action() under wrk and a logged-in client, both started settle seconds before and
    stopped after seconds after it returns. (wrk summary, client, action's seconds, haproxy
    stats)."""
    user = f'u{os.getpid()}x{int(time.monotonic() * 1000) % 100000}'
    token = login(cluster.port, user, 'pw-' + user)
    client = LoggedInClient(cluster.port, token, user)
    client.start()
    wrk = Wrk(cluster.port, cluster.dir, 300)
    try:
        time.sleep(settle)
        t0 = time.monotonic()
        action()
        took = time.monotonic() - t0
        time.sleep(after)
    finally:
        summary = wrk.stop()
        client.stop()
    summary['seconds'] = wrk.seconds
    return summary, client, took, cluster.stats()


def haproxy_figures(stats):
    b = stats['BACKEND']
    return (f"haproxy: retries {b['wretr']}, redispatches {b['wredis']}, connection errors "
            f"{b['econ']}, response errors {b['eresp']}, 5xx {b['hrsp_5xx']}")


def describe(name, s, client, took, stats):
    line = (f'{name}: wrk {s["requests"]} requests in {s["seconds"]:.1f} s, socket errors '
            f'{s["errors"]} (connect {s["connect"]} read {s["read"]} write {s["write"]} '
            f'timeout {s["timeout"]}), non-2xx {s["non2xx"]}'
            + (f' (first {s["first_non2xx"]})' if s['non2xx'] else '')
            + f'; logged-in client {client.requests()} requests, {len(client.failures)} failed'
            f', {client.to_login} sent to /login; action {took:.1f} s; '
            + haproxy_figures(stats))
    print(line, flush=True)
    return line


def rolling_restart(cluster):
    r = cluster.sh('restart-rolling', timeout=120)
    check(r.returncode == 0, f'restart-rolling: {r.returncode}\n{r.stdout}{r.stderr}'
          + cluster.logs())


# --- the tests ---------------------------------------------------------------------------------

def test_session(ctx):
    c = ctx.cluster = Cluster(ctx.binary, mysql=ctx.mysql)
    token = login(c.port, 'alice', 'pw-alice')
    before = [c.access_log(i).count('GET /welcome ') for i in range(1, INSTANCES + 1)]
    conn = http.client.HTTPConnection(HOST, c.port, timeout=IO_TIMEOUT)
    for n in range(30):
        st, h, body = request(c.port, 'GET', '/welcome',
                              headers={'Cookie': f'session={token}'}, conn=conn)
        check(st == 200 and b'Welcome, alice' in body, f'/welcome #{n}: {st} {h} {body[:200]}')
    conn.close()
    st, h, _ = request(c.port, 'GET', '/welcome')
    check(st == 303 and h.get('location') == '/login', f'/welcome without a session: {st} {h}')

    def counts():
        now = [c.access_log(i).count('GET /welcome ') - before[i - 1]
               for i in range(1, INSTANCES + 1)]
        return now if sum(now) >= 31 else None
    per = wait_until(counts, 5, 'the access logs')
    print(f'session: /welcome answered by the instances {per} times', flush=True)
    check(all(n > 0 for n in per), f'not every instance answered: {per}')
    c.check_clean()


def test_rolling(ctx):
    c = ctx.cluster = Cluster(ctx.binary, mysql=ctx.mysql)
    s, client, took, stats = under_load(c, lambda: rolling_restart(c))
    line = describe('rolling (drain 3s)', s, client, took, stats)
    check(s['errors'] == 0 and s['non2xx'] == 0, f'wrk saw failures: {line}')
    check(s['requests'] > 1000, f'wrk did little: {line}')
    check(not client.failures, f'the logged-in client failed: {client.failures[:5]}')
    check(client.requests() > 100, f'the logged-in client did little: {line}')
    c.check_clean()


def test_kill9(ctx):
    c = ctx.cluster = Cluster(ctx.binary, mysql=ctx.mysql)

    def kill():
        os.kill(c.pid(2), signal.SIGKILL)
        wait_until(lambda: c.stats()['tw2']['status'].startswith('DOWN'), 10,
                   'HAProxy to take tw2 out')
    s, client, took, stats = under_load(c, kill, after=2.0)
    line = describe('kill -9', s, client, took, stats)
    failed = s['errors'] + s['non2xx'] + len(client.failures)
    print(f'kill -9: {failed} failed requests', flush=True)
    check(failed <= WRK_CONNECTIONS + 1, f'more failed than were in flight: {line}')
    check(client.to_login == 0, f'the logged-in client was sent to /login: {line}')
    check(s['requests'] > 1000, f'wrk did little: {line}')


# --- MariaDB restarted under load (--mysql) ----------------------------------------------------

SESSIONS = 120          # the logged-in client's sessions, used in turn
SESSION_INTERVAL = 0.05  # s between the client's requests: each session comes back after 6 s
CACHE_AGE = 5.5          # s: a session unused this long is in no instance's cache (5 s)
OUTAGE = 3.0             # s MariaDB stays stopped
MAX_LATENCY = 1.0        # s: the longest a /welcome may take, during the outage too
RECOVERY = 5.0           # s after MariaDB is back by which /welcome must answer 200 again


def app_metrics(c):
    """{source: count} of tinyweb_app_session_lookups_total summed over the instances (their
    /status/metrics, read directly, not through HAProxy)."""
    out = {}
    for i in range(1, INSTANCES + 1):
        st, _, body = request(c.port + i, 'GET', '/status/metrics')
        check(st == 200, f'tw{i} /status/metrics: {st}')
        for m in re.finditer(rb'^tinyweb_app_session_lookups_total\{source="(\w+)"\} (\d+)',
                             body, re.M):
            out[m[1].decode()] = out.get(m[1].decode(), 0) + int(m[2])
    return out


class UncachedClient(threading.Thread):
    """Requests /welcome every SESSION_INTERVAL through HAProxy on one keep-alive connection, each
    time with the session used longest ago, and never one used (or made) in the last CACHE_AGE
    seconds: no instance has it cached, so each request asks the database. Every answer kept as
    (start time, seconds taken, status, Retry-After, Location, body has the name)."""

    def __init__(self, port, sessions, user):
        super().__init__(daemon=True)
        self.port, self.user = port, user
        self.queue = list(sessions)  # (last use, token), oldest first
        self.log = []
        self.errors = []  # (time, exception)
        self.done = threading.Event()

    def run(self):
        conn = None
        next_at = time.monotonic()
        while not self.done.is_set():
            last, token = self.queue.pop(0)
            wait = max(next_at, last + CACHE_AGE) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            t0 = time.monotonic()
            next_at = t0 + SESSION_INTERVAL
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=IO_TIMEOUT)
                st, h, body = request(self.port, 'GET', '/welcome',
                                      headers={'Cookie': f'session={token}'}, conn=conn)
                self.log.append((t0, time.monotonic() - t0, st, h.get('retry-after'),
                                 h.get('location'), f'Welcome, {self.user}'.encode() in body))
                if h.get('connection', '').lower() == 'close':
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append((t0, repr(e)))
                if conn:
                    conn.close()
                conn = None
            self.queue.append((time.monotonic(), token))

    def stop(self):
        self.done.set()
        self.join(IO_TIMEOUT + CACHE_AGE + 5)


def test_mariadb_restart(ctx):
    if not ctx.mysql:
        raise Skip('needs --mysql DIR')
    c = ctx.cluster = Cluster(ctx.binary, mysql=ctx.mysql, extra=('--status', '/status'))
    user = 'carol'
    first = login(c.port, user, 'pw-' + user)
    form = urllib.parse.urlencode({'user': user, 'password': 'pw-' + user}).encode()
    sessions = [(time.monotonic(), first)]
    for _ in range(SESSIONS - 1):
        st, h, body = request(c.port, 'POST', '/login', form,
                              {'Content-Type': 'application/x-www-form-urlencoded'})
        m = re.match(r'session=([^;]+)', h.get('set-cookie', ''))
        check(st == 303 and m, f'login: {st} {h} {body[:200]}')
        sessions.append((time.monotonic(), m[1]))
    check(len({t for _, t in sessions}) == SESSIONS, 'the logins gave the same session twice')
    before = app_metrics(c)
    wrk = Wrk(c.port, c.dir, 300)
    client = UncachedClient(c.port, sessions, user)
    client.start()
    stopped = started = back = None
    try:
        # The sessions made by the logins leave the caches, then some 200s before the outage.
        time.sleep(CACHE_AGE + 1.5)
        t_stop = time.monotonic()
        mariadb_sh('stop', ctx.mysql)
        stopped = time.monotonic()
        time.sleep(OUTAGE)
        started = time.monotonic()
        try:
            mariadb_sh('start', ctx.mysql)
        finally:
            back = time.monotonic()
        time.sleep(RECOVERY + 2.0)
    finally:
        if back is None:  # the server must serve again, whatever failed
            mariadb_sh('start', ctx.mysql)
        s = wrk.stop()
        s['seconds'] = wrk.seconds
        client.stop()
    after = app_metrics(c)
    log = client.log
    rel = lambda t: t - stopped  # noqa: E731
    statuses = {}
    for e in log:
        statuses[e[2]] = statuses.get(e[2], 0) + 1
    outage = [e for e in log if stopped <= e[0] and e[0] + e[1] <= started]
    o503 = sum(1 for e in outage if e[2] == 503)
    before_stop = [e for e in log if e[0] < t_stop]
    ok_after = [e for e in log if e[0] >= back and e[2] == 200]
    bad_after = [e for e in log if e[0] >= back and e[2] != 200]
    first_ok = rel(ok_after[0][0]) - rel(back) if ok_after else None
    last_bad = (rel(bad_after[-1][0]) - rel(back)) if bad_after else 0.0
    slowest = max((e[1] for e in log), default=0)
    db_lookups = after.get('database', 0) - before.get('database', 0)
    mem_lookups = after.get('memory', 0) - before.get('memory', 0)
    line = (f'mariadb_restart: wrk {s["requests"]} requests in {s["seconds"]:.1f} s, socket '
            f'errors {s["errors"]}, non-2xx {s["non2xx"]}; /welcome {len(log)} requests '
            f'{dict(sorted(statuses.items()))}, {len(client.errors)} failed, slowest '
            f'{slowest * 1000:.0f} ms; MariaDB stop took {stopped - t_stop:.1f} s, down '
            f'{started - stopped:.1f} s, start took {back - started:.1f} s; during the outage '
            f'{len(outage)} requests, {o503} answered 503; after MariaDB was back: first 200 '
            + (f'{first_ok:.2f} s' if first_ok is not None else 'never')
            + f', last non-200 {last_bad:.2f} s; sessions looked up in the database '
            f'{db_lookups}, in a cache {mem_lookups}; ' + haproxy_figures(c.stats()))
    print(line, flush=True)
    check(s['errors'] == 0 and s['non2xx'] == 0, f'wrk saw failures: {line}')
    check(s['requests'] > 1000, f'wrk did little: {line}')
    check(not client.errors, f'/welcome failed: {client.errors[:5]}')
    check(all(e[2] in (200, 503) for e in log),
          f'/welcome answered other than 200 or 503: {[e for e in log if e[2] not in (200, 503)][:5]}')
    check(all(e[2] != 200 or e[5] for e in log), '/welcome 200 without the name')
    check(all(e[3] and e[3].isdigit() for e in log if e[2] == 503),
          f'a 503 without Retry-After: {[e for e in log if e[2] == 503 and not e[3]][:3]}')
    check(slowest <= MAX_LATENCY, f'a /welcome took {slowest:.2f} s: {line}')
    check(before_stop and all(e[2] == 200 for e in before_stop),
          f'/welcome failed before the outage: {[e for e in before_stop if e[2] != 200][:5]}')
    check(len(outage) >= 20 and o503 == len(outage), f'not only 503 during the outage: {line}')
    check(ok_after and last_bad <= RECOVERY, f'/welcome did not recover: {line}')
    check(rel(log[-1][0]) - rel(back) > RECOVERY and log[-1][2] == 200, f'ends without 200: {line}')
    check(mem_lookups == 0 and db_lookups >= statuses.get(200, 0),
          f'the client\'s sessions did not all go to the database: {line}')
    pids = [c.pid(i) for i in range(1, INSTANCES + 1)]
    check(all(os.path.exists(f'/proc/{p}') for p in pids), 'an instance is gone')


TESTS = [test_session, test_rolling, test_kill9, test_mariadb_restart]


def measure(ctx, rounds):
    rows = []
    for drain in ('0', '3s'):
        for retry in (False, True):
            for n in range(rounds):
                c = ctx.cluster = Cluster(ctx.binary, drain=drain, retry=retry)
                try:
                    s, client, took, stats = under_load(c, lambda: rolling_restart(c))
                    name = f'drain {drain}, {"retries" if retry else "no retries"}, #{n + 1}'
                    describe(name, s, client, took, stats)
                    rows.append((drain, retry, s, client, stats))
                finally:
                    c.close()
    print('\n| --drain-delay | HAProxy retry-on, redispatch | requests | socket errors | non-2xx | '
          'logged-in client: requests, failed | HAProxy retried, redispatched |')
    print('|---|---|---|---|---|---|---|')
    for drain, retry, s, client, stats in rows:
        b = stats['BACKEND']
        print(f'| {drain} | {"yes" if retry else "no"} | {s["requests"]} | {s["errors"]} | '
              f'{s["non2xx"]} | {client.requests()}, {len(client.failures)} | '
              f'{b["wretr"]}, {b["wredis"]} |', flush=True)


class Ctx:
    cluster = None
    mysql = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--binary', default=os.path.join(HERE, '..', '..', 'build', 'tinyweb'))
    ap.add_argument('--only', action='append', default=[])
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--measure', action='store_true')
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--mysql', metavar='DIR',
                    help='run on databases of the MariaDB of scripts/mariadb.sh start DIR')
    args = ap.parse_args()
    if args.list:
        for t in TESTS:
            print(t.__name__[len('test_'):])
        return 0
    missing = [t for t in ('haproxy', 'wrk') if not shutil.which(t)]
    if missing:
        print(f'SKIP: missing {" and ".join(missing)} (scripts/deps.sh test installs them)')
        return 77
    ctx = Ctx()
    ctx.binary = os.path.abspath(args.binary)
    ctx.mysql = os.path.abspath(args.mysql) if args.mysql else None

    def close():
        if ctx.cluster:
            ctx.cluster.close()
            ctx.cluster = None
    if args.measure:
        try:
            measure(ctx, args.rounds)
        finally:
            close()
        return 0
    tests = [t for t in TESTS if not args.only or t.__name__[len('test_'):] in args.only]
    counts = common.run_tests(tests, ctx, close,
                              lambda: ctx.cluster.logs() if ctx.cluster else '')
    return 1 if counts['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main())
