#!/usr/bin/env python3
"""Fault and load tests for tinyweb: the real binary, driven over 127.0.0.1 only.

    stress.py --scenario all --scale ctest --binary build/tinyweb
    stress.py --scenario slowloris --scale full --binary build/tinyweb
    stress.py --list

Scenarios (each starts its own server on port 0, with its own document root in /dev/shm):

  slowloris  N clients send one header byte per second while 50 keep-alive clients fetch a small
             file at a steady pace (1,000 requests/s in all, from a child process): the steady
             clients' p99 latency stays within max(2 x, + 5 ms) of the figure measured just
             before without the slow clients (+ 10 ms under ASan; the floor, because 2 x of a
             0.2 ms p99 is within scheduling noise on 2 shared cores), and every slow client is
             closed on time: no earlier than T, no later than T + tick + slack, seen here as an
             EOF or a reset after a 408 or nothing (a reset can discard the 408), with the
             server's header-timeout count equal to N.
  idle       M idle connections, half silent, half idle after one request: all accepted (the
             /status counters), each closed by its timeout (header, idle) no earlier than T and
             no later than T + tick + slack, and the server's RSS back within 5 % of its figure
             before the flood. That figure is taken after a warm-up flood of the same size closed
             by the clients: glibc keeps the arenas a flood grew, so the figure a server returns
             to is its warm one (the cold one is printed too).
  fds        the server under RLIMIT_NOFILE 256 and waves of 1,000 clients: small files,
             then 10 MiB files nobody reads with the file cache off (each response holds its
             socket and its file), edge- then level-triggered, with 2 loops: every client gets
             200 or 503 at once, never more served than the fds allow, accept() never meets
             EMFILE (nothing shed). Then 1 loop whose limit is lowered from 4,096 to 256 while
             it runs (prlimit), so that accept() does meet EMFILE: the listener sheds the excess
             with its reserve fd, no client is left in the backlog once the load is released.
             Throughout: no crash, no spinning (< 20 % of a core over 3 s while the clients hold
             on), the reserve fds (/dev/null) all there at the end, and normal service after.
  resets     clients that reset mid-response (SO_LINGER {1, 0}), half-close right after their
             request (the responses must arrive whole: sha256), close, or stall mid-download of a
             10 MiB file (closed by the send timeout), while steady clients and fresh
             connections keep being served: no error, no fd leak.
  soak       wrk, a Lua mix of a small file, 100 KiB, 1 MiB and Connection: close, against 2
             loops, after a warm-up of the same shape: no socket error, no non-2xx response, the
             fds back to their count and RSS within 5 % + 1 MiB of its figure after the warm-up.
  shutdown   SIGTERM under wrk load with curl downloads of 10 MiB in flight (curl writes into a
             FIFO read here at a fixed pace; see PacedDownload): every download completes intact,
             new connections are refused, exit 0 within --shutdown-timeout and as soon as the
             last download is out, without the shutdown deadline expiring.
  valgrind   a request mix (GET small and large, HEAD, 304, ranges, 404, pipelined, bad requests,
             timeouts, a reset, a half-close, curl) against the release binary under valgrind's
             memcheck: no error, no definite or indirect leak, no 5xx but the 501 asked for (not
             for a sanitizer build). valgrind 3.19 fails openat2 with ENOSYS: the server's
             fallback opens the files, and that warning is the only one allowed.

Scales: ctest (what `make test` runs: each scenario 3 to 15 s) and full (`make stress`, about 3
minutes in all: 2,000 slowloris clients, 15,000 idle connections, 800 resets, a 60 s soak with
1,000 connections).
Every load is bounded in time and count; every process started here is tracked and killed by
its PID at exit. Figures are printed as each scenario runs; a violation ends the scenario with
"FAIL name: why". The output ends with "N passed, N failed, N skipped"; the exit status is 1 when
anything failed, 77 (CTest's skip code) when everything asked for was skipped (wrk or valgrind
missing, valgrind against an ASan binary).

Timing: time.monotonic() reads CLOCK_MONOTONIC, the server's own clock, so closes are checked
like the integration suite checks them: never before T from a reading known to precede the
server's arming (connect() started, the request sent), by T + one tick + slack from a reading
that follows it closely (the connection established, the response received); the slack covers
accept and close batches of thousands of connections and this client noticing them, and is
printed. A scenario that fails only by being late (never early, never wrong) runs again, up to 3
attempts at the ctest scale and 2 at the full one, as a stall of the shared 2-core machine makes
everything late.

A sanitizer build (TINYWEB_STRESS_SANITIZED=1, set by stress.cmake for the ASan build, or
detected in the binary) runs slower and keeps freed memory in quarantine: its latency floor and
timing slack are larger and its RSS is reported, not checked.

Only the Python standard library, plus wrk (soak, shutdown), curl (shutdown, valgrind) and
valgrind are used; a scenario whose tool is missing is skipped with a message.
"""

import argparse
import collections
import ctypes
import errno
import hashlib
import http.client
import json
import math
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import common  # noqa: E402
from common import (HOST, Failure, LateFailure, Process, Skip, build_request,  # noqa: E402
                    check, check_late, clean_env, curl_args, det_bytes, ms, sha, test_tmp, track,
                    untrack, wait_until)
# Client source addresses for mass connections: 8 x 28k ephemeral ports, never short.
SOURCES = [f'127.0.0.{i}' for i in range(2, 10)]
IP_BIND_ADDRESS_NO_PORT = 24  # <linux/in.h>: choose the port at connect(), per 4-tuple
TICK = 0.001  # the server's default --tick-ms (1 ms with the epoll tick)
START_TIMEOUT = 30.0  # valgrind and ASan start slowly
STOP_TIMEOUT = 30.0
IO_TIMEOUT = 15.0
SKIP = 77
CLK_TCK = os.sysconf('SC_CLK_TCK')
KIB, MIB = 1024, 1024 * 1024

# The steady clients of the slowloris scenario: 50 connections, 20 requests/s each.
LAT_CONNS = 50
LAT_RATE = 20.0

SCALES = {
    'ctest': {
        'attempts': 3,
        'slowloris': dict(n=300, header_timeout=3, unloaded_s=3.0),
        'idle': dict(m=3000, header_timeout=3, idle_timeout=4),
        'fds': dict(clients=1000),
        'resets': dict(rst=40, close=40, halfclose=8, stall=8, send_timeout=2),
        'soak': dict(conns=200, seconds=10, warm_seconds=2),
        'shutdown': dict(conns=50, downloads=3, rate=3 * MIB, shutdown_timeout=8),
        'valgrind': dict(rounds=1),
    },
    'full': {
        'attempts': 2,
        'slowloris': dict(n=2000, header_timeout=10, unloaded_s=5.0),
        'idle': dict(m=15000, header_timeout=6, idle_timeout=10),
        'fds': dict(clients=1000),
        'resets': dict(rst=400, close=400, halfclose=40, stall=40, send_timeout=3),
        'soak': dict(conns=1000, seconds=60, warm_seconds=5),
        'shutdown': dict(conns=500, downloads=6, rate=2 * MIB, shutdown_timeout=10),
        'valgrind': dict(rounds=5),
    },
}


def pct(values, p):
    """The p-th percentile, nearest rank."""
    if not values:
        return float('nan')
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def mib(nbytes):
    return f'{nbytes / MIB:.1f} MiB'


def raise_nofile():
    """This process holds thousands of client sockets: soft open-file limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def is_sanitized(binary):
    flag = os.environ.get('TINYWEB_STRESS_SANITIZED')
    if flag is not None:
        return flag == '1'
    try:
        with open(binary, 'rb') as f:
            return b'__asan_init' in f.read()
    except OSError:
        return False


class Context:
    def __init__(self, binary, scale):
        self.binary = os.path.abspath(binary)
        self.scale = scale
        self.sanitized = is_sanitized(self.binary)
        self.tmp = test_tmp()
        self.cfg = None

    def fig(self, text):
        print(f'  {text}', flush=True)


# ---------------------------------------------------------------------------------------------
# Children: every process started here, killed by its PID at exit whatever happens.


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_parent(nofile=None):
    """Runs in a child before exec: SIGKILL it when this process dies, however it dies (a CTest
    timeout kills the runner with SIGKILL, and atexit handlers never run then)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))


class Child:
    """A helper process (latency client, wrk, curl)."""

    def __init__(self, args, **kw):
        self.args = args
        self.proc = subprocess.Popen(args, preexec_fn=die_with_parent, **kw)
        self.pid = self.proc.pid
        track(self)

    def running(self):
        return self.proc.poll() is None

    def close(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        untrack(self)


# ---------------------------------------------------------------------------------------------
# The document root


class Docroot(common.Docroot):
    def __init__(self, ctx):
        super().__init__(ctx.tmp, 'tinyweb-stress.')
        self.add('small.txt', (b'tinyweb stress test small file\n' * 20)[:612])
        self.add('f100k.bin', det_bytes(100, 100 * KIB))
        self.add('f1m.bin', det_bytes(1, MIB))
        self.add('f10m.bin', det_bytes(10, 10 * MIB))
        self.sums = {k: sha(v) for k, v in self.files.items()}


# ---------------------------------------------------------------------------------------------
# The server process


def parse_report(text, word):
    """The counters of the last report block (word: "stopped", at the end) as one flat dict,
    or None when that block is not complete yet. Server.status() gives the same keys."""
    i = text.rfind(f'] {word}: ')
    if i < 0:
        return None
    text = text[i:]
    m1 = re.search(rf'{word}: (\d+) requests, (\d+) refused; closed: ([^\n]*)', text)
    m2 = re.search(r'responses: 1xx (\d+) 2xx (\d+) 3xx (\d+) 4xx (\d+) 5xx (\d+); connections '
                   r'shed for lack of fds (\d+)', text)
    m3 = re.search(r'connections: (\d+) accepted, open: ([^;]*); (\d+) bytes sent; timeouts: '
                   r'([^\n]*)', text)
    m4 = re.search(r'file cache: ([^\n]*)', text)
    if not (m1 and m2 and m3 and m4):
        return None
    d = {'requests': int(m1[1]), 'refused': int(m1[2])}
    for k, v in re.findall(r'(\w+) (\d+)', m1[3]):
        d['closed.' + k] = int(v)
    for k, v in zip(('1xx', '2xx', '3xx', '4xx', '5xx', 'shed'), m2.groups()):
        d[k] = int(v)
    d['accepted'] = int(m3[1])
    for k, v in re.findall(r'(\w+) (\d+)', m3[2]):
        d['open.' + k] = int(v)
    d['bytes_sent'] = int(m3[3])
    for k, v in re.findall(r'(\w+) (\d+)', m3[4]):
        d['timeouts.' + k] = int(v)
    return d


def brief(stats, keys):
    """'key N key N ...' for the space-separated keys."""
    return ' '.join(f'{k} {stats[k]}' for k in keys.split() if k in stats)


class Server(Process):
    """One tinyweb process (common.Process) serving root. `wrapper` runs it under another
    program (valgrind), which then owns the PID."""

    def __init__(self, ctx, root, args, nofile=None, wrapper=(), env=None):
        self.root = root
        self.status_reads = 0
        super().__init__([*wrapper, ctx.binary, '--root', root.path, '--listen', f'{HOST}:0',
                          '--status', '/status', *args], tmp=ctx.tmp,
                         prefix='tinyweb-stress-run.', env=env or clean_env(),
                         preexec_fn=lambda: die_with_parent(nofile))
        self.wait_listening(START_TIMEOUT)

    def rss_kib(self):
        with open(f'/proc/{self.pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        return self.cpu_ticks() / CLK_TCK

    def fds(self):
        """Open fds by kind: sockets, files beneath the document root (the file cache keeps
        some open), and the rest (epoll, eventfds, timerfds, logs, the root itself)."""
        kinds = {'socket': 0, 'file': 0, 'other': 0}
        for target in self.fd_targets().values():
            if target.startswith('socket:'):
                kinds['socket'] += 1
            elif target.startswith(self.root.path + '/'):
                kinds['file'] += 1
            else:
                kinds['other'] += 1
        return kinds

    def settled_fds(self):
        """The fd counts once they stayed the same for 200 ms."""
        return self.settled(self.fds, 5, 0.05)

    def wait_sockets(self, expected, timeout, what):
        """Polls until the server holds `expected` sockets (no leak); returns its fds by kind."""
        return self.wait_fd_state(
            self.fds, lambda kinds: kinds['socket'] <= expected, timeout, 0.05,
            lambda kinds: f'{what}: the server still holds {kinds["socket"]} sockets '
                          f'{timeout:.0f} s later, {expected} before (a leak?); fds {kinds}')

    def devnull_fds(self):
        """fds open on /dev/null: stdin, and the listeners' reserve fds (one per loop), given
        up to accept and shed a connection when the fds run out, then taken back."""
        return sum(1 for target in self.fd_targets().values() if target == '/dev/null')

    def status(self):
        """The counters /status reports now, keyed as parse_report() keys the "stopped:" lines,
        without this observer's own traffic: each read is a connection of its own, which the
        server closes (done) once answered, so the reads so far are taken out of accepted,
        requests, 2xx and closed.done, and the one being answered out of open.head."""
        try:
            d = common.status_counters(common.read_status(self.port, timeout=10))
        except (OSError, http.client.HTTPException) as e:
            raise LateFailure(f'/status unanswered within 10 s: {e!r}') from None
        self.status_reads += 1
        n = self.status_reads
        for key, mine in (('accepted', n), ('requests', n), ('2xx', n - 1),
                          ('closed.done', n - 1), ('open.head', 1)):
            d[key] -= mine
        return d

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; exit status 0, no sanitizer report; returns the final counters."""
        self.stop_exit(timeout)
        self.check_stderr()
        stats = parse_report(self.stderr(), 'stopped')
        check(stats, f'no "stopped:" report on stderr:\n{self.stderr()[-2000:]}')
        return stats


# ---------------------------------------------------------------------------------------------
# HTTP on blocking sockets


def parse_head(buf):
    """(status, Content-Length, head length with its CRLFCRLF) once the head is complete."""
    end = buf.find(b'\r\n\r\n')
    if end < 0:
        return None
    head = bytes(buf[:end])
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', head)
    check(m, f'bad status line: {head[:200]!r}')
    cl = re.search(rb'\r\nContent-Length: (\d+)', head)
    return int(m[1]), int(cl[1]) if cl else 0, end + 4


class Client(common.Client):
    """A blocking keep-alive connection (common.Client) reading from its own buffer."""

    def __init__(self, port, timeout=IO_TIMEOUT, rcvbuf=None):
        super().__init__(port, timeout, rcvbuf)

    def fill(self):
        data = self.sock.recv(262144)
        check(data, f'connection closed; got {bytes(self.buf[:200])!r}')
        self.buf += data

    def response(self, head_only=False):
        """(status, head bytes, body) of the next response."""
        while True:
            h = parse_head(self.buf)
            if h:
                break
            self.fill()
        status, cl, hlen = h
        head = bytes(self.buf[:hlen])
        del self.buf[:hlen]
        if head_only or status == 304:
            return status, head, b''
        while len(self.buf) < cl:
            self.fill()
        body = bytes(self.buf[:cl])
        del self.buf[:cl]
        return status, head, body

    def get(self, path, method='GET', headers=()):
        self.send(build_request(method, path, headers))
        return self.response(head_only=method == 'HEAD')


def get_checked(port, root, path, what):
    with Client(port) as c:
        status, head, body = c.get(path)
    check(status == 200 and sha(body) == root.sums[path],
          f'{what}: GET {path} got {status}, {len(body)} bytes '
          f'({"right" if sha(body) == root.sums[path] else "wrong"} content)')


# ---------------------------------------------------------------------------------------------
# Many nonblocking client connections on one epoll


class Peer:
    __slots__ = ('sock', 'fd', 'idx', 'connect_start', 'connected_at', 'sent_at', 'resp_at',
                 'closed_at', 'how', 'buf', 'nbytes', 'status', 'held', 'pos', 'next_at')

    def __init__(self, sock, idx):
        self.sock = sock
        self.fd = sock.fileno()
        self.idx = idx
        self.connect_start = self.connected_at = self.sent_at = self.resp_at = None
        self.closed_at = self.how = self.status = self.next_at = None
        self.buf = bytearray()
        self.nbytes = 0
        self.held = False
        self.pos = 0


class Flock:
    """Client connections driven by one level-triggered epoll. Connects in bounded batches from
    the SOURCES addresses; sends `request` (if any) once connected; records when each peer
    connected, received a whole response, and saw the server close (EOF or reset); keeps the
    first KEEP bytes received. With hold_after_head, a peer stops reading once it has a 200
    head: the server's writes to it stall (a client that never reads)."""

    KEEP = 4096

    def __init__(self, port, request=None, rcvbuf=None, hold_after_head=False):
        self.addr = (HOST, port)
        self.request = request
        self.rcvbuf = rcvbuf
        self.hold_after_head = hold_after_head
        self.ep = select.epoll()
        self.peers = []
        self.by_fd = {}
        self.open = 0
        self.pending = 0  # connects in progress
        self.connect_errors = []

    def connect(self, n, timeout=60.0, batch=256):
        """Opens n more connections, at most `batch` of them in progress at a time; returns
        them once every one is established."""
        start = len(self.peers)
        deadline = time.monotonic() + timeout
        while len(self.peers) - start < n or self.pending:
            while len(self.peers) - start < n and self.pending < batch:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                if self.rcvbuf:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                s.bind((SOURCES[len(self.peers) % len(SOURCES)], 0))
                p = Peer(s, len(self.peers))
                self.peers.append(p)
                self.by_fd[p.fd] = p
                self.open += 1
                p.connect_start = time.monotonic()
                err = s.connect_ex(self.addr)
                if err == 0:
                    self._connected(p, time.monotonic(), register=True)
                elif err == errno.EINPROGRESS:
                    self.ep.register(p.fd, select.EPOLLOUT)
                    self.pending += 1
                else:
                    raise Failure(f'connect #{p.idx}: {os.strerror(err)}')
            self.poll(0.01)
            check_late(time.monotonic() < deadline,
                       f'{self.pending} connections still not established after {timeout:.0f} s')
        check(not self.connect_errors, f'{len(self.connect_errors)} connects failed: '
              f'{self.connect_errors[:5]}')
        return self.peers[start:]

    def _connected(self, p, now, register):
        p.connected_at = now
        if register:
            self.ep.register(p.fd, select.EPOLLIN)
        else:
            self.ep.modify(p.fd, select.EPOLLIN)
        if self.request:
            self.send(p, self.request, now)

    def send(self, p, data, now=None):
        if p.closed_at is not None:
            return False
        try:
            p.sock.send(data)
        except BlockingIOError:
            return False
        except OSError as e:
            self.close_peer(p, f'send: {e.strerror}', now or time.monotonic())
            return False
        if p.sent_at is None:
            p.sent_at = now or time.monotonic()
        return True

    def close_peer(self, p, how, now):
        if p.closed_at is not None:
            return
        if not p.held:
            try:
                self.ep.unregister(p.fd)
            except (OSError, ValueError):
                pass
        p.closed_at = now
        p.how = how
        p.sock.close()
        self.open -= 1

    def poll(self, timeout):
        events = self.ep.poll(timeout, 4096)
        now = time.monotonic()
        for fd, ev in events:
            p = self.by_fd[fd]
            if p.closed_at is not None:
                continue
            if p.connected_at is None:
                self.pending -= 1
                err = p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.connect_errors.append(os.strerror(err))
                    self.close_peer(p, f'connect: {os.strerror(err)}', now)
                else:
                    self._connected(p, now, register=False)
                continue
            self._read(p, now)
        return len(events)

    def _read(self, p, now):
        while True:
            try:
                data = p.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                self.close_peer(p, 'rst', now)
                return
            except OSError as e:
                self.close_peer(p, f'recv: {e.strerror}', now)
                return
            if not data:
                self.close_peer(p, 'eof', now)
                return
            p.nbytes += len(data)
            if len(p.buf) < self.KEEP:
                p.buf += data[:self.KEEP - len(p.buf)]
            if p.resp_at is None:
                h = parse_head(p.buf)
                if h:
                    p.status = h[0]
                    if p.nbytes >= h[2] + h[1]:
                        p.resp_at = now
                    elif self.hold_after_head and p.status == 200:
                        p.held = True
                        self.ep.unregister(p.fd)
                        return

    def drive(self, done, deadline):
        """Polls until done() or the deadline; returns done()'s last value."""
        while True:
            result = done()
            if result or time.monotonic() >= deadline:
                return result
            self.poll(min(0.05, max(0.0, deadline - time.monotonic())))

    def close_all(self):
        now = time.monotonic()
        for p in self.peers:
            self.close_peer(p, 'closed here', now)
        self.ep.close()


# ---------------------------------------------------------------------------------------------
# The steady latency client (a child process, so that this one's work never delays it)


def latency_client_main(port, conns, rate, path, expect_sha, max_seconds):
    """Runs as a child: `conns` keep-alive connections, each sending GET path every 1/rate s
    (staggered; never more than one in flight), until a line arrives on stdin or max_seconds
    pass. Prints "ready" once connected, and at the end one JSON line: the samples
    [monotonic send time, latency] and the errors."""
    raise_nofile()
    req = build_request('GET', path)
    ep = select.epoll()
    ep.register(0, select.EPOLLIN)
    clients = {}

    def connect():
        s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
        c = {'sock': s, 'buf': bytearray(), 'sent': None, 'next': 0.0}
        clients[s.fileno()] = c
        return c

    for _ in range(conns):
        connect()
    print('ready', flush=True)
    interval = 1.0 / rate
    start = time.monotonic() + 0.05
    for i, c in enumerate(clients.values()):
        c['next'] = start + i * interval / conns
    samples, errors = [], []
    stop_at = time.monotonic() + max_seconds
    running = True
    while running and time.monotonic() < stop_at:
        now = time.monotonic()
        wait = 0.005
        for c in list(clients.values()):
            if c['sent'] is None:
                if now >= c['next']:
                    try:
                        c['sock'].send(req)
                        c['sent'] = now
                    except OSError as e:
                        errors.append(f'send: {e}')
                else:
                    wait = min(wait, c['next'] - now)
        for fd, _ in ep.poll(max(0.0, wait)):
            if fd == 0:
                running = False
                continue
            c = clients[fd]
            now = time.monotonic()
            try:
                data = c['sock'].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                data = b''
                errors.append(f'recv: {e}')
            if not data:
                errors.append(f'connection closed with {len(c["buf"])} bytes pending')
                ep.unregister(fd)
                c['sock'].close()
                del clients[fd]
                connect()['next'] = now
                continue
            c['buf'] += data
            h = parse_head(c['buf'])
            if not h or len(c['buf']) < h[2] + h[1]:
                continue
            status, cl, hlen = h
            body = bytes(c['buf'][hlen:hlen + cl])
            del c['buf'][:hlen + cl]
            if c['sent'] is None:
                errors.append('a response nobody asked for')
                continue
            samples.append((c['sent'], now - c['sent']))
            if status != 200 or sha(body) != expect_sha:
                errors.append(f'status {status}, {len(body)} bytes')
            c['sent'] = None
            c['next'] = max(c['next'] + interval, now)
    print(json.dumps({'samples': samples, 'errors': errors[:20], 'nerrors': len(errors)}),
          flush=True)


class LatencyClient:
    def __init__(self, port, root, path='/small.txt', max_seconds=300):
        args = [sys.executable, os.path.abspath(__file__), '--latency-client', str(port),
                str(LAT_CONNS), str(LAT_RATE), path, root.sums[path], str(max_seconds)]
        self.child = Child(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.child.proc.stdout.readline()
        check(line.strip() == b'ready', f'the latency client did not start: {line!r}')

    def close(self):
        self.child.close()

    def stop(self):
        """Its samples [(send time, latency)]; fails on any error it saw."""
        try:
            out, _ = self.child.proc.communicate(b'stop\n', timeout=30)
        except subprocess.TimeoutExpired:
            raise LateFailure('the latency client did not stop within 30 s') from None
        finally:
            self.child.close()
        lines = out.decode().strip().splitlines()
        check(lines, 'the latency client printed nothing')
        result = json.loads(lines[-1])
        check(result['nerrors'] == 0, f'the steady clients saw {result["nerrors"]} errors: '
              f'{result["errors"]}')
        return result['samples']


def measure_latency(port, root, seconds):
    lc = LatencyClient(port, root)
    time.sleep(seconds)
    samples = lc.stop()
    check_late(len(samples) > seconds * LAT_CONNS * LAT_RATE * 0.5,
               f'only {len(samples)} requests in {seconds} s: the steady clients were starved')
    return [lat for _, lat in samples]


# ---------------------------------------------------------------------------------------------
# 1. Slowloris


def timing_slack(ctx, count):
    """How late past T + tick a timeout close may be seen: accept and close batches take time
    with thousands of connections (the server closes them all within one tick, this client
    notices them one epoll batch at a time), and a sanitizer build is slower."""
    slack = 0.5 + count * 50e-6
    return slack * (2 if ctx.sanitized else 1)


def scenario_slowloris(ctx, root):
    n, t = ctx.cfg['n'], ctx.cfg['header_timeout']
    floor = 0.010 if ctx.sanitized else 0.005
    s = Server(ctx, root, ['-t', '2', '--header-timeout', f'{t}s', '--access-log', 'off'])
    lc = flock = None
    try:
        unloaded = measure_latency(s.port, root, ctx.cfg['unloaded_s'])
        p99_0 = pct(unloaded, 99)
        bound = max(2 * p99_0, p99_0 + floor)
        ctx.fig(f'unloaded: {len(unloaded)} requests of /small.txt by {LAT_CONNS} keep-alive '
                f'clients at {LAT_CONNS * LAT_RATE:.0f}/s: p50 {ms(pct(unloaded, 50))}, p99 '
                f'{ms(p99_0)}, max {ms(max(unloaded))}')

        lc = LatencyClient(s.port, root)
        time.sleep(0.3)
        flock = Flock(s.port)
        t_start = time.monotonic()
        slow = flock.connect(n)
        t_connected = time.monotonic()
        # One byte per second each, spread evenly over the second; the head never ends.
        payload = b'GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + b'x' * 4096
        due = collections.deque(slow)
        for i, p in enumerate(slow):
            p.next_at = t_connected + i / n
        slack = timing_slack(ctx, n)
        deadline = t_connected + t + TICK + slack + 2
        while flock.open and time.monotonic() < deadline:
            now = time.monotonic()
            while due and due[0].next_at <= now:
                p = due.popleft()
                if p.closed_at is None:
                    if flock.send(p, payload[p.pos:p.pos + 1], now):
                        p.pos += 1
                    p.next_at += 1.0
                    due.append(p)
            wait = due[0].next_at - now if due else 0.05
            flock.poll(min(0.05, max(0.0, wait)))
        t_end = time.monotonic()
        samples = lc.stop()
        still_open = flock.open
        flock.close_all()

        loaded = [lat for sent, lat in samples if t_start <= sent <= t_end]
        check_late(len(loaded) > (t_end - t_start) * LAT_CONNS * LAT_RATE * 0.5,
                   f'only {len(loaded)} steady requests in {t_end - t_start:.1f} s: starved')
        p99_1 = pct(loaded, 99)
        ctx.fig(f'with {n} slow clients (--header-timeout {t}s), {t_end - t_start:.1f} s from '
                f'the first connect to the last close: {len(loaded)} requests, p50 '
                f'{ms(pct(loaded, 50))}, p99 {ms(p99_1)}, max {ms(max(loaded))}; bound '
                f'max(2 x p99, p99 + {floor * 1000:.0f} ms) = {ms(bound)}')
        # None closed (a server that never times out): the check below says so.
        first_close = min((p.closed_at for p in slow if p.closed_at), default=t_end)
        phases = (('connecting', t_start, t_connected), ('dripping', t_connected, first_close),
                  ('expiring', first_close, t_end))
        ctx.fig(f'{n} slow connections established in {ms(t_connected - t_start)}; steady p99 '
                'by phase: ' + ', '.join(
                    f'{name} {ms(pct([lat for sent, lat in samples if a <= sent <= b], 99))}'
                    for name, a, b in phases))

        check_late(still_open == 0, f'{still_open} of {n} slow clients still open '
                   f'{deadline - t_connected:.1f} s after connecting (--header-timeout {t}s)')
        lives = [p.closed_at - p.connect_start for p in slow]
        early = [p for p in slow if p.closed_at - p.connect_start < t]
        check(not early, f'{len(early)} slow clients closed before the header timeout: the '
              f'earliest {ms(min(lives))} after connect() began (T = {t} s)')
        late = [p.closed_at - p.connected_at for p in slow]
        check_late(max(late) <= t + TICK + slack,
                   f'a slow client closed {ms(max(late))} after connecting: later than T + tick '
                   f'+ slack = {ms(t + TICK + slack)}')
        hows = collections.Counter(p.how for p in slow)
        statuses = collections.Counter(p.status for p in slow)
        sent = [p.pos for p in slow]
        ctx.fig(f'slow clients closed {ms(min(lives))} .. {ms(max(late))} after connecting '
                f'(allowed {t * 1000:.0f} .. {ms(t + TICK + slack)}, slack {ms(slack)}); each '
                f'sent {min(sent)}..{max(sent)} bytes; seen as {dict(hows)}; responses '
                f'{dict(statuses)}')
        check(set(hows) <= {'eof', 'rst'}, f'slow clients closed as {dict(hows)}')
        check(set(statuses) <= {408, None}, f'slow clients got statuses {dict(statuses)}')
        check_late(p99_1 <= bound, f'the steady clients\' p99 rose from {ms(p99_0)} to '
                   f'{ms(p99_1)} with {n} slow clients (bound {ms(bound)})')
        stats = s.stop()
        counters = brief(stats, 'timeouts.header closed.header_timeout closed.done '
                                'closed.peer_closed 4xx requests')
        ctx.fig(f'server: {counters}')
        check(stats['timeouts.header'] == n, f'the server counted {stats["timeouts.header"]} '
              f'header timeouts, expected {n}')
    finally:
        if lc:
            lc.close()
        if flock:
            flock.close_all()
        s.close()


# ---------------------------------------------------------------------------------------------
# 2. Idle flood


def rss_back(server, baseline_kib, within, timeout):
    """Polls VmRSS until it is within `within` of the baseline; returns the last figure."""
    last = server.rss_kib()
    deadline = time.monotonic() + timeout
    while last > baseline_kib * (1 + within) and time.monotonic() < deadline:
        time.sleep(0.2)
        last = server.rss_kib()
    return last


def open_idle_flood(port, m):
    """m connections on one flock: the first half silent, the second after one request each
    (answered). Returns (flock, silent peers, the others)."""
    flock = Flock(port)
    silent = flock.connect(m // 2)
    flock.request = build_request('GET', '/small.txt')
    busy = flock.connect(m - m // 2)
    flock.drive(lambda: all(p.resp_at or p.closed_at for p in busy), time.monotonic() + 30)
    # Answered otherwise than 200, or closed unanswered: wrong. Still waiting: late.
    bad = [p for p in busy if p.status != 200 and (p.resp_at is not None or p.closed_at)]
    check(not bad, f'{len(bad)} of the requests before idling failed: {bad[0].status} '
          f'{bad[0].how} {bytes(bad[0].buf[:100])!r}' if bad else '')
    unanswered = sum(1 for p in busy if p.resp_at is None)
    check_late(not unanswered, f'{unanswered} of the requests before idling not answered '
               'within 30 s')
    return flock, silent, busy


def scenario_idle(ctx, root):
    m, th, ti = ctx.cfg['m'], ctx.cfg['header_timeout'], ctx.cfg['idle_timeout']
    half = m // 2
    s = Server(ctx, root, ['-t', '2', '--header-timeout', f'{th}s', '--idle-timeout', f'{ti}s',
                           '--max-connections', str(m + 2000), '--access-log', 'off'])
    try:
        get_checked(s.port, root, '/small.txt', 'before the flood')
        idle_fds = s.settled_fds()
        rss_cold = s.rss_kib()
        # A warm-up flood of the same shape, closed at once by this side: the server's bounded
        # pools and the allocator's arenas reach their working size. The figure after it is
        # the baseline: a server that keeps memory per connection it once had grows past it.
        # /status is read while it is open, as below: what the allocator places while
        # thousands of connections are held (a status document, buffers for its connection)
        # can keep up to ~250 KiB (10 %) from going back after them, once.
        warm = open_idle_flood(s.port, m)[0]
        for _ in range(20):
            s.status()
            time.sleep(0.05)
        warm.close_all()
        s.wait_sockets(idle_fds['socket'], 10, 'after the warm-up flood')
        base_fds = s.settled_fds()
        rss0 = s.rss_kib()
        t0 = time.monotonic()
        flock, silent, busy = open_idle_flood(s.port, m)
        t_open = time.monotonic()
        # The server counts a connection idle once its response is written out, which may be
        # a moment after the client has it.
        st = wait_until(lambda: (lambda st: st if st['open.idle'] >= m - half else None)(
            s.status()), 5, 'the server to count every answered connection idle', 0.05, late=True)
        rss_peak = s.rss_kib()
        counters = brief(st, 'accepted open.head open.idle')
        ctx.fig(f'{m} connections ({half} silent, {m - half} idle after one request) open in '
                f'{ms(t_open - t0)}; server: {counters}; '
                f'RSS {rss_cold} KiB cold, {rss0} KiB after a warm-up flood of {m} closed by '
                f'the clients, {rss_peak} KiB with them ({(rss_peak - rss_cold) * 1024 / m:.0f} B '
                f'per connection)')
        check(st['accepted'] == 2 * m + 1, f'the server accepted {st["accepted"] - m - 1} '
              f'connections, expected {m}')
        check(st['open.head'] == half and st['open.idle'] == m - half,
              f'open connections by phase: {st}; expected head {half} idle {m - half}')

        slack = timing_slack(ctx, m)
        deadline = time.monotonic() + max(th, ti) + TICK + slack + 2
        flock.drive(lambda: not flock.open, deadline)
        if flock.open:
            st = s.status()
            left = [(name, sum(1 for p in peers if p.closed_at is None))
                    for name, peers in (('silent', silent), ('idle', busy))]
            check_late(False, f'connections still open {ms(time.monotonic() - t_open)} after '
                       f'they were all open (timeouts {th} s, {ti} s): {left}; the server '
                       f'counts {brief(st, "open.head open.idle open.send accepted")} '
                       f'{brief(st, "timeouts.header timeouts.idle")}')
        figures = []
        for name, peers, t, begin, end in (
                ('silent', silent, th, 'connect_start', 'connected_at'),
                ('idle', busy, ti, 'sent_at', 'resp_at')):
            lo = [p.closed_at - getattr(p, begin) for p in peers]
            hi = [p.closed_at - getattr(p, end) for p in peers]
            check(min(lo) >= t, f'a {name} connection closed {ms(min(lo))} after it began, '
                  f'before its timeout {t} s')
            check_late(max(hi) <= t + TICK + slack, f'a {name} connection closed {ms(max(hi))} '
                       f'after it began, later than T + tick + slack = {ms(t + TICK + slack)}')
            hows = collections.Counter(p.how for p in peers)
            check(set(hows) == {'eof'}, f'{name} connections closed as {dict(hows)}')
            figures.append(f'{name} (T = {t} s) closed {ms(min(lo))} .. {ms(max(hi))}')

        def one_response(p):
            """The bytes of the one response p asked for: head and body."""
            _, length, head = parse_head(p.buf)
            return head + length

        extra = [p for p in silent if p.nbytes] + [p for p in busy if p.nbytes != one_response(p)]
        check(not extra, f'bytes sent besides the one response: {extra[0].nbytes} in all, '
              f'{bytes(extra[0].buf[-100:])!r}' if extra else '')
        ctx.fig(', '.join(figures) + f' (allowed up to T + {ms(TICK + slack)}); all by EOF')
        flock.close_all()

        fds = s.wait_sockets(base_fds['socket'], 10, 'after the flood')
        within = 0.05
        rss1 = rss_back(s, rss0, within, 5)
        ctx.fig(f'after: RSS {rss1} KiB ({(rss1 - rss0) / rss0 * 100:+.1f} % of {rss0} KiB, '
                f'{(rss1 - rss_cold) / rss_cold * 100:+.1f} % of the cold figure); fds {fds} '
                f'(before {base_fds})')
        if ctx.sanitized:
            ctx.fig('RSS not checked: a sanitizer build keeps freed memory in quarantine')
        else:
            check(rss1 <= rss0 * (1 + within), f'RSS {rss1} KiB after the flood, more than 5 % '
                  f'above {rss0} KiB before it (peak {rss_peak} KiB)')
        stats = s.stop()
        counters = brief(stats, 'closed.header_timeout closed.idle_timeout timeouts.header '
                                'timeouts.idle closed.peer_closed requests')
        ctx.fig(f'server: {counters}')
        check(stats['closed.header_timeout'] == half and stats['closed.idle_timeout'] == m - half,
              f'close reasons {stats}: expected header_timeout {half}, idle_timeout {m - half}')
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# 3. fd exhaustion


def describe(p):
    """What a client got: '200', '200 streaming', '503 then eof', 'rst', 'no answer yet'..."""
    if p.status:
        what = f'{p.status}' + (' streaming' if p.held else '')
        return what if p.closed_at is None else f'{what} then {p.how}'
    return p.how if p.closed_at is not None else 'no answer yet'


FDS_PHASES = (
    # name, path, extra server options, open-file limit at start, the limit it is lowered to
    # while the server runs (None: kept), waves of clients, what it exercises
    ('small', '/small.txt', ['-t', '2'], 256, None, 1,
     'sockets fill the loops\' share of the fds: the excess gets 503 at once'),
    ('large', '/f10m.bin', ['-t', '2', '--file-cache', '0'], 256, None, 3,
     'each response also holds its file\'s fd: past the share, 503 at once, and accept() never '
     'meets EMFILE'),
    ('large-lt', '/f10m.bin', ['-t', '2', '--file-cache', '0', '-m', '0'], 256, None, 3,
     'the same with a level-triggered listener (-m 0)'),
    ('emfile', '/f10m.bin', ['-t', '1', '--file-cache', '0'], 4096, 256, 3,
     'the limit lowered under the running server (prlimit), so its share no longer fits: '
     'accept() meets EMFILE, and the listener sheds the excess with its reserve fd'),
    ('emfile-lt', '/f10m.bin', ['-t', '1', '--file-cache', '0', '-m', '0'], 4096, 256, 3,
     'the same with a level-triggered listener (-m 0), where a stuck backlog means a busy loop'),
)


def fds_wave(ctx, s, phase, path, wave, most, emfile, reserve0):
    """One wave: the clients connect and ask, the answered ones hold on (a large body is never
    read), then leave. Within its share the server answers every client at once (200 or 503);
    past the limit (emfile) those left in the backlog must get an answer or a close once the
    load is released."""
    large = path == '/f10m.bin'
    flock = Flock(s.port, request=build_request('GET', path), rcvbuf=4096 if large else None,
                  hold_after_head=large)
    t0 = time.monotonic()
    peers = flock.connect(ctx.cfg['clients'])

    def settled(p):
        return p.closed_at or p.resp_at or p.held

    flock.drive(lambda: all(settled(p) for p in peers), time.monotonic() + 10)
    t1 = time.monotonic()
    cpu0 = s.cpu_seconds()
    flock.drive(lambda: False, time.monotonic() + 3)
    cpu = (s.cpu_seconds() - cpu0) / (time.monotonic() - t1)
    kinds = collections.Counter(describe(p) for p in peers)
    ctx.fig(f'{phase} wave {wave + 1}: after {ms(t1 - t0)}: {dict(kinds)}; server fds '
            f'{s.fds()}, /dev/null fds {s.devnull_fds()} (before {reserve0}); CPU '
            f'{cpu * 100:.1f} % of a core over 3 s while they hold on')
    check(s.running(), f'the server died: {s.stderr()[-2000:]}')
    check(cpu < 0.20, f'the server burns {cpu * 100:.0f} % of a core with its fds exhausted and '
          f'nothing to do')
    wrong = [p for p in peers if p.status not in (None, 200, 503)]
    check(not wrong, f'statuses other than 200/503: {wrong[0].status}' if wrong else '')
    held = [p for p in peers if p.closed_at is None and (p.resp_at or p.held)]
    streaming = sum(1 for p in held if p.status == 200)
    check(streaming <= most, f'{streaming} responses streaming, over the {most} the fds allow')
    # The loops keep an eighth of their share for files (http_conn.c): some responses stream.
    check(emfile or streaming >= most // 10, f'only {streaming} responses streaming: the loops '
          f'left no fds for their files')
    waiting = [p for p in peers if not settled(p)]
    check_late(emfile or not waiting, f'{len(waiting)} clients got neither an answer nor a '
               f'close within 10 s, though the server stayed within its share of the fds '
               f'(accept() failed?)')

    # Release: the served ones leave; those still waiting must now get an answer.
    now = time.monotonic()
    for p in held:
        flock.close_peer(p, 'released', now)
    flock.drive(lambda: all(settled(p) for p in waiting), time.monotonic() + 10)
    stuck = [p for p in waiting if not settled(p)]
    if waiting:
        ctx.fig(f'{phase} wave {wave + 1}: released the {len(held)} served; the {len(waiting)} '
                f'with no answer yet got '
                f'{dict(collections.Counter(describe(p) for p in waiting))} 10 s later')
    check_late(not stuck, f'{len(stuck)} clients got neither an answer nor a close 10 s after '
               f'the load was released, with the fds free again (stranded in the listen backlog; '
               f'/dev/null fds {s.devnull_fds()}, {reserve0} before: a reserve fd lost?)')
    flock.close_all()


def fds_phase(ctx, root, phase, path, extra, nofile, lowered, waves, what):
    s = Server(ctx, root, ['--header-timeout', '60s', '--idle-timeout', '60s',
                           '--send-timeout', '60s', '--access-log', 'off', *extra], nofile=nofile)
    try:
        m = re.search(r'--max-connections \d+ lowered to (\d+): the open-file limit (\d+) '
                      r'leaves (\d+) fds for connections and the files they send', s.stderr())
        check(m and int(m[2]) == nofile, f'no "--max-connections ... lowered to N: the '
              f'open-file limit {nofile} leaves F fds ..." warning: {s.stderr()[-1000:]!r}')
        cap = int(m[1])  # the connections all loops together accept
        room = int(m[3])  # the fds the loops share: sockets and the files they send
        check(nofile - 64 <= room < nofile - 16, f'the server shares {room} of {nofile} fds')
        check(cap < room, f'up to {cap} connections with {room} fds: none kept for files')
        get_checked(s.port, root, path, 'before the load')
        base = s.settled_fds()
        reserve0 = s.devnull_fds()
        if lowered:
            resource.prlimit(s.pid, resource.RLIMIT_NOFILE, (lowered, nofile))
        # A small response holds a socket, so as many stream as connections are allowed; a
        # large one holds two fds, its socket and its file.
        most = (lowered or room) // 2 if path == '/f10m.bin' else cap
        # One wave per phase keeps the CTest run short; the full scale repeats them.
        waves = waves if ctx.scale == 'full' else 1
        ctx.fig(f'{phase} ({what}): {waves} x {ctx.cfg["clients"]} clients GET {path}, '
                f'RLIMIT_NOFILE {nofile}' + (f' lowered to {lowered} after the start'
                                             if lowered else '') + f', a share of {room} fds '
                f'for at most {cap} connections')
        for wave in range(waves):
            fds_wave(ctx, s, phase, path, wave, most, bool(lowered), reserve0)
            s.wait_sockets(base['socket'], 10, 'after the clients left')

        def served():
            try:
                get_checked(s.port, root, path, 'after the release')
                return True
            except (Failure, OSError):
                return False

        wait_until(served, 10, f'GET {path} to be served right after the release', 0.2,
                   late=True)
        get_checked(s.port, root, '/small.txt', 'after the release')
        fds = s.wait_sockets(base['socket'], 10, 'after the release')
        reserve1 = s.devnull_fds()
        stats = s.stop()
        counters = brief(stats, 'accepted refused shed 2xx 5xx closed.error closed.peer_closed')
        ctx.fig(f'{phase}: server: {counters}; fds after {fds}, before {base}')
        check(reserve1 == reserve0, f'the server holds {reserve1} fds on /dev/null after the '
              f'load, {reserve0} before: a listener lost its reserve fd, and with it the means '
              f'to shed connections when the fds run out again')
        if lowered:
            check(stats['shed'] > 0, 'no connection was shed: accept() never met EMFILE, so '
                  'the phase did not test the reserve fd')
        else:
            check(stats['shed'] == 0, f'{stats["shed"]} connections shed: accept() met EMFILE '
                  f'though the loops kept within their share of the fds')
    finally:
        s.close()


def scenario_fds(ctx, root):
    problems = []
    for phase in FDS_PHASES:
        try:
            fds_phase(ctx, root, *phase)
        except Failure as e:
            print(f'  {phase[0]}: FAILED: {e}', flush=True)
            problems.append(f'{phase[0]}: {e}')
    check(not problems, '; '.join(problems))


# ---------------------------------------------------------------------------------------------
# 4. Resets and half-closes


def read_some(sock, at_least):
    got = 0
    while got < at_least:
        data = sock.recv(65536)
        if not data:
            break
        got += len(data)
    return got


def client_reset(port, rng):
    """GET 10 MiB, read part of it, then close with SO_LINGER {1, 0}: a reset."""
    s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    try:
        s.sendall(build_request('GET', '/f10m.bin'))
        read_some(s, rng.randrange(16 * KIB, 4 * MIB))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    finally:
        s.close()


def client_close(port, rng):
    """GET 10 MiB, read part of it, then vanish: a plain close with bytes unread."""
    s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    try:
        s.sendall(build_request('GET', '/f10m.bin'))
        read_some(s, rng.randrange(16 * KIB, 4 * MIB))
    finally:
        s.close()


def client_halfclose(port, rng, root):
    """Requests, then shutdown(SHUT_WR) at once: every response must still arrive whole."""
    paths = ['/f10m.bin'] if rng.random() < 0.5 else ['/f100k.bin', '/f10m.bin']
    s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    try:
        s.sendall(b''.join(build_request('GET', p) for p in paths))
        s.shutdown(socket.SHUT_WR)
        buf = bytearray()
        while True:
            data = s.recv(262144)
            if not data:
                break
            buf += data
    finally:
        s.close()
    for path in paths:
        h = parse_head(buf)
        check(h, f'half-closed client: no response head for {path}; got {len(buf)} bytes')
        status, cl, hlen = h
        body = bytes(buf[hlen:hlen + cl])
        check(status == 200 and len(body) == cl and sha(body) == root.sums[path],
              f'half-closed client: GET {path} got {status}, {len(body)} of {cl} bytes, '
              f'{"right" if sha(body) == root.sums[path] else "wrong"} content')
        del buf[:hlen + cl]
    check(not buf, f'half-closed client: {len(buf)} bytes after the responses')


def client_stall(port, send_timeout, slack):
    """GET 10 MiB with a small receive buffer, read the head, then stop reading: the send
    timeout must close it (what remains of the server's buffered bytes, then EOF)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(IO_TIMEOUT)
    try:
        s.connect((HOST, port))
        s.sendall(build_request('GET', '/f10m.bin'))
        got = read_some(s, 1)
        time.sleep(send_timeout + TICK + slack)
        s.settimeout(5)
        while True:
            try:
                data = s.recv(262144)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise Failure(f'a stalled reader still open {send_timeout + TICK + slack + 5:.1f} '
                              f's after it stopped reading (--send-timeout {send_timeout}s)')
            if not data:
                break
            got += len(data)
        check(got < 10 * MIB, 'the stalled reader got the whole file')
    finally:
        s.close()


class Probe(threading.Thread):
    """Keeps fetching /f100k.bin on fresh connections while the faults go on (accepts keep
    working); errors are recorded. Its latency is not measured here, in a process busy with the
    fault clients: LatencyClient does that."""

    def __init__(self, port, root):
        super().__init__(daemon=True)
        self.port, self.root = port, root
        self.stop_event = threading.Event()
        self.errors, self.count = [], 0

    def run(self):
        while not self.stop_event.is_set():
            try:
                get_checked(self.port, self.root, '/f100k.bin', 'probe')
                self.count += 1
            except (Failure, OSError) as e:
                self.errors.append(f'probe: {e}')
            self.stop_event.wait(0.05)

    def finish(self):
        self.stop_event.set()
        self.join(30)
        return self.count, self.errors


def scenario_resets(ctx, root):
    cfg = ctx.cfg
    st = cfg['send_timeout']
    s = Server(ctx, root, ['-t', '2', '--send-timeout', f'{st}s', '--access-log', 'off'])
    stop_helpers = []
    try:
        get_checked(s.port, root, '/f10m.bin', 'before')
        base = s.settled_fds()
        steady = LatencyClient(s.port, root)
        probe = Probe(s.port, root)
        probe.start()
        stop_helpers = [steady.close, probe.finish]
        slack = timing_slack(ctx, cfg['stall'])
        rng = random.Random(5)
        jobs = ([('rst', client_reset, (rng,))] * cfg['rst'] +
                [('close', client_close, (rng,))] * cfg['close'] +
                [('halfclose', client_halfclose, (rng, root))] * cfg['halfclose'])
        rng.shuffle(jobs)
        errors = []
        lock = threading.Lock()
        queue = collections.deque(jobs)

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    kind, fn, args = queue.popleft()
                try:
                    fn(s.port, *args)
                except (Failure, OSError) as e:
                    with lock:
                        errors.append(f'{kind}: {e}')

        def staller():
            try:
                client_stall(s.port, st, slack)
            except (Failure, OSError) as e:
                with lock:
                    errors.append(f'stall: {e}')

        t0 = time.monotonic()
        threads = [threading.Thread(target=staller, daemon=True) for _ in range(cfg['stall'])]
        threads += [threading.Thread(target=worker, daemon=True) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        took = time.monotonic() - t0
        fresh, probe_errors = probe.finish()
        latencies = [lat for _, lat in steady.stop()]
        check(not any(t.is_alive() for t in threads), 'a fault client hung for 300 s')
        ctx.fig(f'{cfg["rst"]} resets, {cfg["close"]} closes mid-download of 10 MiB, '
                f'{cfg["halfclose"]} half-closed requests (sha256 checked), {cfg["stall"]} '
                f'stalled readers (--send-timeout {st}s) in {took:.1f} s; meanwhile {fresh} '
                f'fresh connections got /f100k.bin, and {len(latencies)} steady keep-alive '
                f'requests of /small.txt took p50 {ms(pct(latencies, 50))}, p99 '
                f'{ms(pct(latencies, 99))}, max {ms(max(latencies))}')
        check(not errors, f'{len(errors)} fault clients failed: {errors[:5]}')
        check(not probe_errors, f'the probe was not served throughout: {probe_errors[:5]}')
        limit = 3.0 if ctx.sanitized else 1.0
        check_late(max(latencies) <= limit, f'a steady request took {ms(max(latencies))} while '
                   f'the faults went on (limit {limit:.0f} s)')
        fds = s.wait_sockets(base['socket'], 10, 'after the faults')
        check(fds['other'] == base['other'] and fds['file'] <= max(base['file'], 2 * 4),
              f'fds after the faults {fds}, before {base}')
        get_checked(s.port, root, '/f10m.bin', 'after the faults')
        stats = s.stop()
        counters = brief(stats, 'closed.error closed.peer_closed closed.done '
                                'closed.send_timeout requests')
        ctx.fig(f'fds before {base}, after {fds}; server: {counters}')
        check(stats['closed.send_timeout'] == cfg['stall'],
              f'{stats["closed.send_timeout"]} send timeouts, expected {cfg["stall"]}')
    finally:
        for stop in stop_helpers:
            stop()
        s.close()


# ---------------------------------------------------------------------------------------------
# wrk

# Small files, 100 KiB, 1 MiB, and a quarter of the requests with Connection: close.
WRK_SCRIPT = common.wrk_lua([('/small.txt', None), ('/f100k.bin', None),
                             ('/small.txt', {'Connection': 'close'}), ('/f1m.bin', None),
                             ('/small.txt', None), ('/f100k.bin', {'Connection': 'close'}),
                             ('/small.txt', None), ('/f100k.bin', None)])


def need_wrk():
    path = shutil.which('wrk')
    if not path:
        raise Skip('wrk is not installed (scripts/deps.sh test installs it)')
    return path


def wrk_script(root):
    path = os.path.join(root.base, 'mix.lua')
    with open(path, 'w') as f:
        f.write(WRK_SCRIPT)
    return path


def start_wrk(root, port, threads, conns, seconds):
    args = [need_wrk(), f'-t{threads}', f'-c{conns}', f'-d{seconds}s', '--timeout', '10s',
            '-s', wrk_script(root), f'http://{HOST}:{port}/']
    return Child(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env())


def wrk_result(child, timeout):
    try:
        out, _ = child.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.close()
        raise LateFailure(f'wrk still running {timeout:.0f} s later') from None
    rc = child.proc.returncode
    child.close()
    text = out.decode(errors='replace')
    summary = common.wrk_summary(text)
    check(rc == 0 and summary, f'wrk exited {rc}: {text[-2000:]}')
    return summary, text


# ---------------------------------------------------------------------------------------------
# 5. Soak


def scenario_soak(ctx, root):
    need_wrk()
    cfg = ctx.cfg
    conns, seconds = cfg['conns'], cfg['seconds']
    s = Server(ctx, root, ['-t', '2', '--access-log', 'off'])
    try:
        # A warm-up of the same shape first: pools, caches and the allocator reach their
        # working size, which is the baseline growth is measured from.
        warm, _ = wrk_result(start_wrk(root, s.port, 2, conns, cfg['warm_seconds']),
                             cfg['warm_seconds'] + 60)
        wait_until(lambda: sum(v for k, v in s.status().items() if k.startswith('open.')) == 0,
                   15, 'the warm-up connections to close', 0.2, late=True)
        base = s.settled_fds()
        rss0 = s.rss_kib()
        ctx.fig(f'warm-up: {warm["requests"]} requests in {cfg["warm_seconds"]} s; fds {base}, '
                f'RSS {rss0} KiB')
        t0 = time.monotonic()
        cpu0 = s.cpu_seconds()
        res, text = wrk_result(start_wrk(root, s.port, 2, conns, seconds), seconds + 60)
        took = time.monotonic() - t0
        cpu = s.cpu_seconds() - cpu0
        rss_load = s.rss_kib()
        ctx.fig(f'wrk -t2 -c{conns} -d{seconds}s (small, 100 KiB, 1 MiB, 1 in 4 with Connection: '
                f'close): {res["requests"]} requests ({res["requests"] / took:.0f}/s), '
                f'{mib(res["bytes"])}; latency p50 {res["p50"] / 1000:.1f} ms, p99 '
                f'{res["p99"] / 1000:.1f} ms, max {res["max"] / 1000:.1f} ms; errors connect '
                f'{res["connect"]} read {res["read"]} write {res["write"]} timeout '
                f'{res["timeout"]}, non-2xx/3xx {res["status"]}; server CPU {cpu:.1f} s')
        errors = {k: res[k] for k in ('connect', 'read', 'write', 'timeout', 'status') if res[k]}
        # A request unanswered for wrk's --timeout (10 s) alone is lateness.
        (check_late if set(errors) == {'timeout'} else check)(
            not errors, f'wrk reported errors {errors}:\n{text}')
        check(res['requests'] > 0, 'wrk made no request')
        wait_until(lambda: sum(v for k, v in s.status().items() if k.startswith('open.')) == 0,
                   15, 'the load\'s connections to close', 0.2, late=True)
        fds = s.wait_sockets(base['socket'], 10, 'after the soak')
        time.sleep(1)
        rss1 = s.rss_kib()
        bound = rss0 * 1.05 + 1024
        ctx.fig(f'after: fds {fds} (before {base}); RSS {rss1} KiB (before {rss0}, under load '
                f'{rss_load}; bound +5 % + 1 MiB = {bound:.0f} KiB)')
        check(fds['other'] == base['other'] and fds['file'] <= base['file'] + 6,
              f'fds grew: {fds}, before {base}')
        if ctx.sanitized:
            ctx.fig('RSS not checked: a sanitizer build keeps freed memory in quarantine')
        else:
            check(rss1 <= bound, f'RSS grew from {rss0} to {rss1} KiB over the soak')
        get_checked(s.port, root, '/f1m.bin', 'after the soak')
        stats = s.stop()
        counters = brief(stats, 'requests 2xx 3xx 4xx 5xx closed.done closed.peer_closed '
                                'closed.error')
        ctx.fig(f'server: {counters}')
        check(stats['3xx'] + stats['4xx'] + stats['5xx'] == 0, f'non-2xx responses: {stats}')
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# 6. Graceful shutdown under load


def new_connection_refused(port):
    """What a new connection gets: 'refused', 'closed' (EOF/reset, no response), '503', or
    'served' (a failure after SIGTERM)."""
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except ConnectionRefusedError:
        return 'refused'
    except OSError as e:
        return f'connect: {e}'
    try:
        s.settimeout(3)
        s.sendall(build_request('GET', '/small.txt'))
        data = s.recv(100)
    except ConnectionResetError:
        return 'closed'
    except socket.timeout:
        return 'hang'
    except OSError:
        return 'closed'
    finally:
        s.close()
    if not data:
        return 'closed'
    return '503' if data.startswith(b'HTTP/1.1 503') else 'served'


class PacedDownload:
    """curl downloading into a FIFO that a thread here reads at a fixed pace (hashing what it
    reads), so that the transfer really is in flight for size / rate seconds: curl 7.88's
    --limit-rate (also given) averages over seconds and lets a 10 MiB loopback download
    through in a burst, then merely waits before it exits."""

    def __init__(self, curl, url, fifo, rate):
        os.mkfifo(fifo)
        self.rate = rate
        self.got = 0
        self.hash = hashlib.sha256()
        self.done_at = None
        self.child = Child(curl_args('--limit-rate', f'{rate // KIB}K', '--max-time', '60',
                                     '-o', fifo, url, curl=curl),
                           stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env())
        self.thread = threading.Thread(target=self._read, args=(fifo,), daemon=True)
        self.thread.start()

    def _read(self, fifo):
        with open(fifo, 'rb', buffering=0) as f:  # blocks until curl opens it
            start = time.monotonic()
            while True:
                chunk = f.read(32 * KIB)
                if not chunk:
                    break
                self.got += len(chunk)
                self.hash.update(chunk)
                ahead = start + self.got / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        self.done_at = time.monotonic()

    def result(self, timeout):
        """(curl's exit status, bytes, sha256, curl's stderr)."""
        self.thread.join(timeout)
        try:
            _, err = self.child.proc.communicate(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            err = b'(still running)'
        self.child.close()
        return (self.child.proc.returncode, self.got, self.hash.hexdigest(),
                err.decode(errors='replace').strip())

    def close(self):
        self.child.close()


def scenario_shutdown(ctx, root):
    need_wrk()
    curl = shutil.which('curl')
    if not curl:
        raise Skip('curl is not installed')
    cfg = ctx.cfg
    sd, rate, size = cfg['shutdown_timeout'], cfg['rate'], 10 * MIB
    s = Server(ctx, root, ['-t', '2', '--shutdown-timeout', f'{sd}s', '--access-log', 'off'])
    wrk = None
    downloads = []
    try:
        wrk = start_wrk(root, s.port, 1, cfg['conns'], 120)
        time.sleep(1.0)
        for i in range(cfg['downloads']):
            downloads.append(PacedDownload(curl, f'http://{HOST}:{s.port}/f10m.bin',
                                           os.path.join(root.base, f'download{i}.fifo'), rate))
        wait_until(lambda: all(d.got >= 256 * KIB for d in downloads), 15,
                   'the downloads to start', 0.02, late=True)
        st = s.status()
        sizes = [d.got for d in downloads]
        t_sig = time.monotonic()
        os.kill(s.pid, signal.SIGTERM)
        attempts = collections.Counter()
        exit_at = None
        next_try = t_sig + 0.2
        while time.monotonic() - t_sig < sd + 15:
            now = time.monotonic()
            if exit_at is None and not s.running():
                exit_at = now
            if exit_at is not None and all(d.done_at for d in downloads):
                break
            if exit_at is None and now >= next_try:
                attempts[new_connection_refused(s.port)] += 1
                next_try = time.monotonic() + 0.25
            time.sleep(0.01)
        check_late(exit_at is not None, f'the server still runs {sd + 15} s after SIGTERM')
        rc = s.proc.returncode
        took = exit_at - t_sig
        wrk.proc.send_signal(signal.SIGINT)
        try:
            wrk.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        wrk.close()
        results = [d.result(30) for d in downloads]
        ended = [d.done_at - t_sig for d in downloads if d.done_at]
        ctx.fig(f'SIGTERM with wrk -c{cfg["conns"]} running ({st["open.send"]} responses being '
                f'sent) and {len(downloads)} curl downloads of 10 MiB read at {mib(rate)}/s '
                f'in flight ({", ".join(mib(x) for x in sizes)} read then); the downloads ended '
                f'{", ".join(ms(x) for x in ended)} after it; exit status {rc} {ms(took)} after '
                f'it (--shutdown-timeout {sd}s); new connections meanwhile: {dict(attempts)}')
        check(rc == 0, f'exit status {rc}: {s.stderr()[-3000:]}')
        s.check_stderr()
        check(max(sizes) < size // 2, f'the downloads were not in flight at SIGTERM: {sizes}')
        for i, (crc, n, digest, err) in enumerate(results):
            check(crc == 0 and n == size and digest == root.sums['/f10m.bin'],
                  f'download {i}: curl exit {crc}, {n} bytes, '
                  f'{"right" if digest == root.sums["/f10m.bin"] else "wrong"} content: {err}')
        slack = 3.0 if ctx.sanitized else 1.0
        check_late(took <= sd + slack, f'exited {ms(took)} after SIGTERM: over --shutdown-timeout '
                   f'{sd}s + {slack:.0f} s')
        # The server is done once the last bytes are in the socket buffers, a little before
        # the reader here gets them: it should exit about when the last download ends.
        check_late(took <= max(ended) + slack, f'exited {ms(took - max(ended))} after the last '
                   f'download ended')
        bad = {k: v for k, v in attempts.items() if k not in ('refused', 'closed', '503')}
        check(not bad, f'new connections after SIGTERM were not refused: {bad}')
        check(attempts, 'no new connection was tried while the server drained')
        stats = parse_report(s.stderr(), 'stopped')
        check(stats, 'no "stopped:" report')
        counters = brief(stats, 'requests closed.shutdown closed.done closed.peer_closed 2xx '
                                '5xx timeouts.shutdown')
        ctx.fig(f'server: {counters}')
        check(stats['timeouts.shutdown'] == 0, 'the shutdown deadline expired')
    finally:
        for d in downloads:
            d.close()
        if wrk:
            wrk.close()
        s.close()


# ---------------------------------------------------------------------------------------------
# 7. valgrind


def request_mix(port, root):
    """Every kind of request once or twice; returns how many were made."""
    n = 0
    small = root.files['/small.txt']
    with Client(port, timeout=60) as c:
        status, head, body = c.get('/small.txt')
        check(status == 200 and body == small, f'GET /small.txt: {status}')
        etag = re.search(rb'\r\nETag: ("[^"]*")', head)
        check(etag, f'no ETag: {head!r}')
        status, _, body = c.get('/f1m.bin')
        check(status == 200 and sha(body) == root.sums['/f1m.bin'], f'GET /f1m.bin: {status}')
        status, head, body = c.get('/f100k.bin', 'HEAD')
        check(status == 200 and body == b'', f'HEAD: {status}')
        status, _, _ = c.get('/small.txt', headers=[('If-None-Match', etag[1].decode())])
        check(status == 304, f'If-None-Match: {status}')
        status, _, body = c.get('/f100k.bin', headers=[('Range', 'bytes=100-199')])
        check(status == 206 and body == root.files['/f100k.bin'][100:200], f'Range: {status}')
        status, _, body = c.get('/f100k.bin', headers=[('Range', 'bytes=999999-')])
        check(status == 416, f'unsatisfiable Range: {status}')
        status, _, _ = c.get('/missing.txt')
        check(status == 404, f'404: {status}')
        # Pipelined: ten requests in one send, ten responses in order.
        c.sock.sendall(b''.join(build_request('GET', p) for p in ['/small.txt', '/f100k.bin'] * 5))
        for p in ['/small.txt', '/f100k.bin'] * 5:
            status, _, body = c.response()
            check(status == 200 and sha(body) == root.sums[p], f'pipelined {p}: {status}')
        n += 17
    big = Client(port, timeout=60)
    big.sock.sendall(build_request('GET', '/f10m.bin'))
    _, _, body = big.response()
    check(sha(body) == root.sums['/f10m.bin'], 'GET /f10m.bin')
    big.close()
    n += 1
    bad = [
        (b'GARBAGE\r\n\r\n', 400),
        (b'GET / HTTP/1.1\r\n\r\n', 400),  # no Host
        (b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\nHost: x\r\n\r\n', 414),
        (b'GET / HTTP/1.1\r\nHost: x\r\n' + b'X-A: b\r\n' * 120 + b'\r\n', 431),
        (b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'b' * 20000 + b'\r\n\r\n', 431),
        (b'POST /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello', 405),
        (b'POST /small.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
         b'5\r\nhello\r\n0\r\n\r\n', 405),
        (b'POST /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n', 413),
        (b'FOO /small.txt HTTP/1.1\r\nHost: x\r\n\r\n', 501),
        (b'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', None),
        (b'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400),
    ]
    for raw, want in bad:
        with Client(port, timeout=60) as c:
            c.sock.sendall(raw)
            status, _, _ = c.response()
            check((want is None and status in (400, 403, 404)) or status == want,
                  f'{raw[:40]!r}: {status}, expected {want}')
        n += 1
    # Faults: a reset mid-response, a half-close, a partial head left to the header timeout,
    # an idle keep-alive connection left to the idle timeout.
    client_reset(port, random.Random(1))
    client_halfclose(port, random.Random(2), root)
    partial = Client(port, timeout=60)
    partial.sock.sendall(b'GET /small.txt HTTP/1.1\r\nHost:')
    idle = Client(port, timeout=60)
    idle.get('/small.txt')
    n += 4
    for c in (partial, idle):
        c.sock.settimeout(30)
        while c.sock.recv(65536):
            pass
        c.close()
    # Fifty connections at once, one request each.
    flock = Flock(port, request=build_request('GET', '/small.txt'))
    peers = flock.connect(50)
    flock.drive(lambda: all(p.resp_at or p.closed_at for p in peers), time.monotonic() + 60)
    flock.close_all()
    check(all(p.status == 200 for p in peers), 'fifty connections at once')
    n += 50
    # And curl, keep-alive over two URLs.
    curl = shutil.which('curl')
    if curl:
        r = subprocess.run(curl_args('-o', '/dev/null', '-o', '/dev/null',
                                     f'http://{HOST}:{port}/small.txt',
                                     f'http://{HOST}:{port}/f1m.bin', curl=curl),
                           env=clean_env(), capture_output=True, timeout=120)
        check(r.returncode == 0, f'curl: {r.stderr!r}')
        n += 2
    return n


def scenario_valgrind(ctx, root):
    vg = shutil.which('valgrind')
    if not vg:
        raise Skip('valgrind is not installed (Debian 12: apt-get install valgrind)')
    if ctx.sanitized:
        raise Skip('valgrind cannot run a sanitizer build; give it the release binary')
    log = os.path.join(root.base, 'valgrind.log')
    wrapper = [vg, '--error-exitcode=99', '--leak-check=full',
               '--errors-for-leak-kinds=definite,indirect', '--show-leak-kinds=definite,indirect',
               '--num-callers=30', f'--log-file={log}']
    s = Server(ctx, root, ['-t', '2', '--header-timeout', '2s', '--idle-timeout', '2s',
                           '--access-log', os.path.join(root.base, 'access.log')],
               wrapper=wrapper)
    try:
        t0 = time.monotonic()
        n = sum(request_mix(s.port, root) for _ in range(ctx.cfg['rounds']))
        s.status()  # the status handler too
        took = time.monotonic() - t0
        stats = s.stop(timeout=120)
        with open(log, errors='replace') as f:
            text = f.read()
        summary = re.search(r'ERROR SUMMARY: (\d+) errors', text)
        lost = {k: int(v.replace(',', '')) for k, v in
                re.findall(r'(definitely|indirectly|possibly) lost: ([\d,]+) bytes', text)}
        # "WARNING: unhandled amd64-linux syscall: 437" (the platform: arm64-linux...).
        unhandled = re.findall(r'unhandled \S+ syscall: (\S+)', text)
        counters = brief(stats, 'requests 2xx 3xx 4xx 5xx timeouts.header timeouts.idle')
        ctx.fig(f'{n} requests of every kind ({ctx.cfg["rounds"]} rounds) under memcheck in '
                f'{took:.1f} s; valgrind: {summary[0] if summary else "no summary"}; lost bytes '
                f'{lost or "none (all heap blocks freed)"}; server: {counters}')
        check(summary and summary[1] == '0', f'valgrind found errors:\n{text[-6000:]}')
        check(not lost.get('definitely') and not lost.get('indirectly'),
              f'valgrind found leaks:\n{text[-6000:]}')
        if '437' in unhandled:
            ctx.fig('valgrind does not know openat2 (system call 437) and fails it with ENOSYS: '
                    'the files were opened by the server\'s fallback (O_NOFOLLOW walk)')
        if '441' in unhandled:
            ctx.fig('valgrind does not know epoll_pwait2 (system call 441) and fails it with '
                    'ENOSYS: the loops waited with epoll_wait, their fallback')
        other = sorted(set(unhandled) - {'437', '441'})
        check(not other, f'system calls valgrind does not know: {other}')
        with open(os.path.join(root.base, 'access.log'), errors='replace') as f:
            errs = [line for line in f if re.search(r'" 5\d\d ', line) and '" 501 ' not in line]
        check(not errs and stats['5xx'] == ctx.cfg['rounds'], f'5xx responses other than the '
              f'501s asked for: {errs[:5]}')
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# The runner

SCENARIOS = {
    'slowloris': scenario_slowloris,
    'idle': scenario_idle,
    'fds': scenario_fds,
    'resets': scenario_resets,
    'soak': scenario_soak,
    'shutdown': scenario_shutdown,
    'valgrind': scenario_valgrind,
}


def run_scenario(ctx, name):
    """'pass', 'fail' or 'skip'."""
    scale = SCALES[ctx.scale]
    attempts = scale['attempts']
    ctx.cfg = scale[name]
    for attempt in range(1, attempts + 1):
        again = f' (attempt {attempt} of {attempts})' if attempt > 1 else ''
        print(f'== {name} ({ctx.scale} scale{", sanitizer build" if ctx.sanitized else ""})'
              f'{again}', flush=True)
        root = Docroot(ctx)
        t0 = time.monotonic()
        try:
            SCENARIOS[name](ctx, root)
            print(f'PASS {name} ({time.monotonic() - t0:.1f} s)', flush=True)
            return 'pass'
        except Skip as e:
            print(f'SKIP {name}: {e}', flush=True)
            return 'skip'
        except LateFailure as e:
            print(f'LATE {name}: {e}', flush=True)
            if attempt == attempts:
                print(f'FAIL {name}: late on every one of {attempts} attempts', flush=True)
                return 'fail'
        except Failure as e:
            print(f'FAIL {name}: {e}', flush=True)
            return 'fail'
        except Exception:
            print(f'FAIL {name}: unexpected exception\n{traceback.format_exc()}', flush=True)
            return 'fail'
        finally:
            root.close()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--latency-client':
        port, conns, rate, path, expect, max_s = sys.argv[2:8]
        latency_client_main(int(port), int(conns), float(rate), path, expect, float(max_s))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--binary', default='build/tinyweb')
    ap.add_argument('--scenario', default='all',
                    help='all, or a comma-separated list of: ' + ', '.join(SCENARIOS))
    ap.add_argument('--scale', choices=sorted(SCALES), default='ctest')
    ap.add_argument('--valgrind', action='store_true', help='the same as --scenario valgrind')
    ap.add_argument('--list', action='store_true', help='list the scenarios')
    args = ap.parse_args()
    if args.valgrind:
        args.scenario = 'valgrind'
    if args.list:
        print('\n'.join(SCENARIOS))
        return 0
    names = list(SCENARIOS) if args.scenario == 'all' else args.scenario.split(',')
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f'unknown scenario {", ".join(unknown)}')
    check_binary = os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)
    if not check_binary:
        ap.error(f'no executable {args.binary} (make build)')
    hard = raise_nofile()
    # SIGTERM (a CTest timeout, Ctrl-C's cousin) ends the run through atexit, which kills the
    # servers and helpers started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = Context(args.binary, args.scale)
    print(f'stress: {ctx.binary}, {args.scale} scale, open-file limit {hard}'
          f'{", sanitizer build" if ctx.sanitized else ""}', flush=True)
    results = collections.Counter()
    for name in names:
        results[run_scenario(ctx, name)] += 1
    print(f'{results["pass"]} passed, {results["fail"]} failed, {results["skip"]} skipped',
          flush=True)
    if results['fail']:
        return 1
    if results['skip'] and not results['pass']:
        return SKIP
    return 0


if __name__ == '__main__':
    sys.exit(main())
