#!/usr/bin/env python3
"""Black-box integration tests for idle_echo (examples/idle_echo.c).

They start the real binary, talk to it over 127.0.0.1 and check what a client can observe: the
echoes, when the server closes an idle connection, what signals do, exit codes, and the fds the
process holds. Python's time.monotonic() reads CLOCK_MONOTONIC, the server's own clock, so the
timing checks compare like with like.

    test_idle_echo.py --binary build/idle_echo --timer fifo --tick epoll --trigger et
    test_idle_echo.py --binary build/idle_echo --args-only

Timing: a close before T (or any other wrong outcome) fails at once. A test that fails only by
being late (a close after T + tick + epsilon, an echo, exit or log line slower than its bound, or
this runner speaking too late to a client it must keep) runs again, up to 3 times in all, as
test_http.py's do: a stall of the shared machine makes a run late, while a server that is really
late is late every time. A late attempt says how long the server and this runner's thread waited,
runnable, for a CPU meanwhile (schedstat), and a pass after one says so.

The output ends with a line "N passed, N failed, N skipped" (skipped: the situation a test
checks did not arise in this run); the exit status is 1 when anything failed.
Every server a test starts is stopped by its PID when the test ends, killed if it fails.
"""

import argparse
import contextlib
import heapq
import itertools
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from common import (Failure, LateFailure, Process, Skip, check, check_late, kill_live_servers, ms,
                    retry_late, runqueue_seconds, test_tmp, wait_until)

HOST = '127.0.0.1'

LISTEN_RE = re.compile(r'listening on 127\.0\.0\.1:(\d+) \(timer (\w+), tick (\w+), '
                       r'trigger (\w+), timeslot (\d+) ms, idle timeout (\d+) ms\)')
CLOSE_RE = re.compile(r'close fd (\d+) \((\w+)\)')

# Generous: an ASan build starts slowly, and ctest -j2 shares two cores with other tests.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
LOG_TIMEOUT = 3.0

# The timing suite's defaults. A 500 ms timeslot makes T = 1.5 s, so a combination runs in
# seconds while a tick still dwarfs scheduling noise.
DEFAULT_TIMESLOT_MS = 500
# The slack allowed beyond the guaranteed T + one tick. On a loaded 2-core machine the server
# can be descheduled for tens of ms (ctest -j2 runs two combinations, each with several servers,
# one of them serving 1,000 clients); an ASan build takes ~10 ms to print and close the 500
# connections one tick expires, and this process notices those 500 EOFs in one pass of its loop.
# Measured with the ASan and the optimised runs of every combination side by side, four at a
# time: at most 11 ms beyond T + tick, and one tick's 500 closes seen over at most 31 ms. 300 ms
# leaves room for a much busier machine, yet stays well under one tick: a server that overshoots
# by a whole tick still fails.
DEFAULT_EPSILON_MS = 300



def spin_until(when):
    """Returns at monotonic time `when`, to a few microseconds: sleeps, then busy-waits."""
    while when - time.monotonic() > 0.002:
        time.sleep(0.001)
    while time.monotonic() < when:
        pass


# ---------------------------------------------------------------------------------------------
# The server process


class Server(Process):
    """One idle_echo process (common.Process): it reports on stdout, one line per event."""

    def __init__(self, binary, args):
        super().__init__([binary, *args], tmp=test_tmp(), prefix='idle_echo.')

    def lines(self):
        """The complete lines written to stdout so far."""
        return self.stdout().split('\n')[:-1]

    def wait_listening(self):
        def first_line():
            check(self.running() or self.lines(),
                  f'server exited {self.proc.returncode} before listening')
            lines = self.lines()
            return lines[0] if lines else None

        line = wait_until(first_line, START_TIMEOUT, 'the "listening on" line', late=True)
        match = LISTEN_RE.fullmatch(line)
        check(match, f'unexpected first line {line!r}')
        self.port = int(match.group(1))
        return match

    def wait_line(self, regex, count=1, timeout=LOG_TIMEOUT):
        """Waits until `count` stdout lines fully match regex; returns their matches."""
        pattern = re.compile(regex)

        def matches():
            found = [m for m in map(pattern.fullmatch, self.lines()) if m]
            return found if len(found) >= count else None

        return wait_until(matches, timeout, f'{count} line(s) matching {regex!r} from the server',
                          late=True)

    def fd_of(self, client):
        """The server's fd for client, from its "accept fd N from IP:PORT" line."""
        return int(self.wait_line(rf'accept fd (\d+) from 127\.0\.0\.1:{client.port}')[0][1])

    def closes(self, reason=None):
        """The fds of the "close fd N (reason)" lines so far, in order."""
        found = [CLOSE_RE.fullmatch(line) for line in self.lines()]
        return [int(m[1]) for m in found if m and reason in (None, m[2])]

    def wait_exit_late(self, timeout):
        """The exit status; still running after timeout is lateness."""
        try:
            return self.wait_exit(timeout)
        except Failure as e:
            raise LateFailure(str(e)) from None

    def stop_checked(self):
        """Stops the server with SIGTERM and checks it ends as it should: exit status 0 (which
        under ASan also means no leak and no error) and nothing on stderr."""
        if self.running():
            self.signal(signal.SIGTERM)
        rc = self.wait_exit_late(STOP_TIMEOUT)
        check(rc == 0, f'exit status {rc} after SIGTERM, expected 0')
        err = self.stderr()
        check(not err.strip(), f'server wrote to stderr:\n{err[-3000:]}')

    def tail(self, n=15):
        out = '\n'.join(self.lines()[-n:])
        return (f'server pid {self.pid}, last stdout lines:\n{out}\n'
                f'stderr:\n{self.stderr()[-2000:]}')


# ---------------------------------------------------------------------------------------------
# Clients


class Client:
    """A nonblocking client socket and what happened to it. Each event has a reading known to
    precede the server's view of it (connect_start, send_start: an early close is measured from
    these, so a runner descheduled just after a send() never makes a close look early) and one
    that follows it (connected_at, last_send: lateness is measured from these)."""

    def __init__(self, sock, name, connect_start):
        self.sock = sock
        self.name = name
        self.port = sock.getsockname()[1]
        self.sent = bytearray()
        self.received = bytearray()
        self.messages = 0
        self.connect_start = connect_start
        self.connected_at = time.monotonic()
        self.send_start = None  # time.monotonic() just before the last send() began
        self.last_send = None  # time.monotonic() just after the last send() returned
        self.eof_at = None  # time.monotonic() when the server's close was seen
        self.error = None
        self.closed = False  # closed by the test

    def echoed(self):
        return self.received == self.sent

    def since_spoke(self, when):
        """Describes `when` relative to the client's last message (or its connect)."""
        if self.last_send is None:
            return f'{ms(when - self.connected_at)} after connecting, before any message'
        return f'{ms(when - self.last_send)} after its last message'


class Fleet:
    """Clients driven by one selector, so one thread can serve thousands: sends scheduled at
    given times, echoes collected, and the moment each client sees the server close. idle is
    the server's idle timeout T."""

    def __init__(self, port, idle):
        self.port = port
        self.idle = idle
        self.selector = selectors.DefaultSelector()
        self.clients = []
        self.timers = []
        self.seq = itertools.count()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for client in self.clients:
            self.close(client)
        self.selector.close()

    def connect(self, n, prefix):
        clients = []
        for i in range(n):
            start = time.monotonic()
            sock = socket.create_connection((HOST, self.port), timeout=5)
            sock.setblocking(False)
            client = Client(sock, f'{prefix}{i}' if n > 1 else prefix, start)
            self.selector.register(sock, selectors.EVENT_READ, client)
            clients.append(client)
        self.clients += clients
        return clients

    def send(self, client, payload=None):
        """Sends one message; the echo arrives later through run()."""
        if client.eof_at is not None:
            self.check_kept([client], 'client')
        if payload is None:
            payload = f'{client.name} message {client.messages}\n'.encode()
        # Blocking for the call, so that a message larger than the socket buffer waits for
        # room rather than being cut; the server reads all the time, except while stopped.
        client.sock.settimeout(LOG_TIMEOUT)
        client.send_start = time.monotonic()
        try:
            client.sock.sendall(payload)
        finally:
            client.sock.setblocking(False)
        client.last_send = time.monotonic()
        client.sent += payload
        client.messages += 1

    def close(self, client):
        if not client.closed:
            if client.eof_at is None:
                self.selector.unregister(client.sock)
            client.sock.close()
            client.closed = True

    def at(self, when, action):
        """Schedules action() at monotonic time `when`."""
        heapq.heappush(self.timers, (when, next(self.seq), action))

    def at_exactly(self, when, action):
        """Schedules action() at `when` to a few microseconds, by spinning for the last ms."""
        self.at(when - 0.002, lambda: (spin_until(when), action()))

    def run(self, until, stop=None):
        """Runs scheduled actions and reads until monotonic time `until`, or until stop()
        is true. Returns whether stop() became true."""
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
                now = time.monotonic()
            if stop is not None and stop():
                return True
            if now >= until:
                return False
            wake = min(until, self.timers[0][0]) if self.timers else until
            events = self.selector.select(wake - now)
            # When select returned, the server had closed every socket reported here: this is
            # the earliest instant known to follow those closes.
            seen = time.monotonic()
            for key, _ in events:
                self._read(key.data, seen)

    def wait(self, stop, timeout, what):
        """Runs until stop() is true; not within timeout is lateness."""
        check_late(self.run(time.monotonic() + timeout, stop),
                   f'timed out after {timeout:.1f} s waiting for {what}')

    def check_kept(self, clients, what, since=None):
        """Checks that the server closed none of clients. A close T or more after a client's
        last message (or after `since`, when the server could read that message only then) was
        the server's right: this runner was late (to speak, or to look), and that is lateness.
        An earlier close is a failure."""
        def silent(c):  # at least this long, as the server saw it
            spoke = c.send_start if c.send_start is not None else c.connect_start
            return c.eof_at - max(spoke, since or spoke)

        closed = [c for c in clients if c.eof_at is not None]
        if not closed:
            return
        early = [c for c in closed if silent(c) < self.idle]
        first = min(early or closed, key=silent)
        message = (f'{len(closed)} of {len(clients)} {what} closed by the server, the first '
                   f'({first.name}) {first.since_spoke(first.eof_at)}'
                   + (f', {ms(first.eof_at - since)} after the server could read it' if since
                      else '')
                   + (f' ({first.error})' if first.error else ''))
        check(not early, f'{message}: {len(early)} of them before T = {ms(self.idle)}')
        raise LateFailure(f'{message}: none before T = {ms(self.idle)}, so this runner was '
                          'late')

    def wait_echoes(self, clients, timeout=LOG_TIMEOUT):
        self.wait(lambda: all(c.echoed() or c.eof_at for c in clients), timeout, 'the echoes')
        for client in clients:
            check(client.echoed(), f'{client.name}: sent {bytes(client.sent)[-80:]!r}, '
                  f'echoed {bytes(client.received)[-80:]!r}')

    def _read(self, client, seen):
        while True:
            try:
                data = client.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as e:
                client.error = e
                data = b''
            if not data:
                client.eof_at = seen
                self.selector.unregister(client.sock)
                return
            client.received += data


# ---------------------------------------------------------------------------------------------
# Test context and shared checks


class Context:
    """The binary, the combination under test and its timing."""

    def __init__(self, args):
        self.binary = args.binary
        self.combo = ['--timer', args.timer, '--tick', args.tick, '--trigger', args.trigger]
        self.tick_kind = args.tick
        self.tick = args.timeslot_ms / 1000
        self.idle = 3 * self.tick  # T
        self.epsilon = args.epsilon_ms / 1000
        self.timeslot = f'{args.timeslot_ms}ms'

    @contextlib.contextmanager
    def serve(self, *extra):
        """A server for this combination. Stopped and checked when the block succeeds, killed
        when it fails; the tail of its output is attached to the failure."""
        server = Server(self.binary, [HOST, '0', *self.combo, '--timeslot', self.timeslot,
                                      *extra])
        runner_waited = runqueue_seconds()
        try:
            server.wait_listening()
            yield server
            server.stop_checked()
        except LateFailure as e:
            late = LateFailure(f'{e} [{scheduling_delay(server, runner_waited)}]')
            late.add_note(server.tail())
            raise late from None
        except BaseException as e:
            e.add_note(server.tail())
            raise
        finally:
            server.close()

    def check_idle_closed(self, clients):
        """Each client was closed by the server between T and T + one tick + epsilon after its
        last message. Returns the (shortest, longest) delay for the report. Early closes are
        looked for first: lateness elsewhere must not hide one."""
        closed = [c for c in clients if c.eof_at is not None]
        for c in closed:
            check(c.error is None, f'{c.name}: {c.error} instead of an orderly close')
        # Strict, however small the gap: the server reads CLOCK_MONOTONIC, this clock, after
        # the bytes arrive, so after send_start. (last_send, read after send() returned, can
        # be milliseconds later when this runner is descheduled in between, as on a busy
        # machine: measured from it, a close on time could look early.)
        early = sorted((c.eof_at - c.send_start, c.name) for c in closed
                       if c.eof_at - c.send_start < self.idle)
        check(not early, f'{len(early)} of {len(clients)} client(s) closed before T = '
              f'{ms(self.idle)} after their last message began: ' + describe(early))
        delays = [(c.eof_at - c.last_send, c.name) for c in closed]
        open_ = [c for c in clients if c.eof_at is None]
        check_late(not open_, f'{len(open_)} of {len(clients)} client(s) still open, the first '
                   f'({open_[0].name}) {open_[0].since_spoke(time.monotonic())} (T = '
                   f'{ms(self.idle)})' if open_ else '')
        bound = self.idle + self.tick + self.epsilon
        late = sorted((x for x in delays if x[0] > bound), reverse=True)
        check_late(not late, f'{len(late)} of {len(clients)} client(s) closed later than T + '
                   f'tick + epsilon = {ms(bound)}: ' + describe(late))
        return min(delays)[0], max(delays)[0]


def scheduling_delay(server, runner_waited):
    """How long the server's thread and this runner's, runnable, waited for a CPU since the
    server started (runner_waited: this thread's runqueue_seconds() then)."""
    def figure(waited):
        return ms(waited) if waited is not None else 'unknown'
    runner = runqueue_seconds()
    runner = runner - runner_waited if None not in (runner, runner_waited) else None
    return (f'meanwhile the server waited {figure(runqueue_seconds(server.pid))} for a CPU, '
            f'this runner {figure(runner)}')


def describe(delays, n=5):
    shown = ', '.join(f'{name} after {delay * 1000:.3f} ms' for delay, name in delays[:n])
    return shown + (f' and {len(delays) - n} more' if len(delays) > n else '')


def delays_report(shortest, longest):
    return f'closed {ms(shortest)}..{ms(longest)} after the last message'


# ---------------------------------------------------------------------------------------------
# The timing suite, run for one combination of --timer, --tick and --trigger

TIMING_TESTS = []


def timing_test(exclusive=False):
    """Registers a test. Tests run in parallel, each with its own server, except exclusive
    ones, which run alone first because they need this process's full attention."""
    def register(fn):
        TIMING_TESTS.append((fn.__name__.removeprefix('test_'), fn, exclusive))
        return fn
    return register


@timing_test()
def test_idle_client_closed_on_time(ctx):
    """An idle client gets its echo, then EOF between T and T + tick after its message."""
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        client, = fleet.connect(1, 'idle')
        fd = server.fd_of(client)
        fleet.send(client, b'hello, idle_echo\n')
        fleet.wait_echoes([client])
        fleet.wait(lambda: client.eof_at, ctx.idle + ctx.tick + 2, 'the idle close')
        check(client.echoed(), f'echo {bytes(client.received)!r} != sent {bytes(client.sent)!r}')
        delays = ctx.check_idle_closed([client])
        server.wait_line(rf'close fd {fd} \(idle_timeout\)')
        return delays_report(*delays)


@timing_test()
def test_talking_client_never_closed(ctx):
    """A client that sends every T/3 for 3 T is never closed and gets every echo back."""
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        client, = fleet.connect(1, 'talker')
        fd = server.fd_of(client)
        period = ctx.idle / 3
        start = time.monotonic()

        def talk():
            # Each echo must be back before the next message, a third of T later.
            check_late(client.echoed(),
                       f'message {client.messages - 1} not echoed within {ms(period)}')
            fleet.send(client)

        for k in range(10):
            fleet.at(start + k * period, talk)
        fleet.run(start + 9 * period + period / 2)
        fleet.check_kept([client], 'talking client')
        fleet.wait_echoes([client])
        fleet.close(client)
        server.wait_line(rf'close fd {fd} \(peer_closed\)')
        check(not server.closes('idle_timeout'), 'an idle_timeout close was logged')
        return f'{client.messages} messages over {ms(time.monotonic() - start)}'


@timing_test()
def test_thousand_clients_half_idle(ctx):
    """1,000 clients: the half that goes idle is closed on time, the half that talks is not."""
    n = 1000
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        clients = fleet.connect(n, 'c')
        # Interleaved, so idle and talking connections share the server's timer queue.
        idle, active = clients[0::2], clients[1::2]
        period = ctx.idle / 3
        start = time.monotonic()
        end = start + 2.5 * ctx.idle
        for client in idle:
            fleet.send(client)
        # Each talker sends every T/3; their phases are spread over the period, so the server
        # sees a steady stream as well as the initial burst.
        for i, client in enumerate(active):
            first = start + period * i / len(active)
            for when in itertools.takewhile(lambda t: t < end, itertools.count(first, period)):
                fleet.at(when, lambda c=client: fleet.send(c))
        fleet.run(end)
        fleet.check_kept(active, 'talking client(s)')
        delays = ctx.check_idle_closed(idle)
        fleet.wait_echoes(clients)
        for client in active:
            fleet.close(client)
        server.wait_line(r'close fd \d+ \(peer_closed\)', count=len(active))
        check(len(server.closes('idle_timeout')) == len(idle),
              f'{len(server.closes("idle_timeout"))} idle_timeout closes, expected {len(idle)}')
        check(len(server.closes()) == n, f'{len(server.closes())} closes, expected {n}')
        return delays_report(*delays)


@timing_test()
def test_fd_reuse_keeps_new_deadline(ctx):
    """A connection that reuses a closed one's fd is not closed at the old one's deadline."""
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        a, = fleet.connect(1, 'A')
        fd_a = server.fd_of(a)
        fleet.send(a)
        fleet.wait_echoes([a])
        sent_a = a.last_send
        # A leaves T/3 before its deadline; B then arrives while A's timer, had it survived,
        # would still be pending.
        fleet.run(sent_a + ctx.idle - ctx.idle / 3)
        fleet.check_kept([a], 'client')
        fleet.close(a)
        server.wait_line(rf'close fd {fd_a} \(peer_closed\)')
        b, = fleet.connect(1, 'B')
        fd_b = server.fd_of(b)
        fleet.send(b)
        check_late(b.last_send < sent_a + ctx.idle,
                   f'B spoke {ms(b.last_send - sent_a)} after A, past A\'s deadline: nothing '
                   'tested')
        fleet.wait(lambda: b.eof_at, ctx.idle + ctx.tick + 2, 'B\'s idle close')
        # Closed at A's old deadline, B would be closed well under T after its own message.
        delays = ctx.check_idle_closed([b])
        fleet.wait_echoes([b])
        server.wait_line(rf'close fd {fd_b} \(idle_timeout\)')
    # After the block, which stops and checks the server.
    if fd_b != fd_a:
        raise Skip(f'NOT EXERCISED: B got fd {fd_b}, A had {fd_a}, so no fd was reused '
                   f'({delays_report(*delays)})')
    return f'B reused fd {fd_b}; {delays_report(*delays)}'


@timing_test()
def test_signals(ctx):
    """SIGHUP does not stop the server; SIGTERM closes every client and exits 0 promptly."""
    n = 20
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        clients = fleet.connect(n, 'c')
        fds = {server.fd_of(c) for c in clients}
        for client in clients:
            fleet.send(client)
        fleet.wait_echoes(clients)

        server.signal(signal.SIGHUP)
        server.wait_line(r'SIGHUP: nothing to reopen')
        # Still serving, and the messages re-arm every timer so nothing is idle at SIGTERM.
        for client in clients:
            fleet.send(client)
        fleet.wait_echoes(clients)
        check(server.running(), 'the server exited after SIGHUP')

        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        rc = server.wait_exit_late(2.0)
        took = time.monotonic() - signalled
        check(rc == 0, f'exit status {rc} after SIGTERM')
        fleet.wait(lambda: all(c.eof_at for c in clients), 1.0, 'EOF on every client')
        lines = server.lines()
        check('SIGTERM: stopping' in lines, 'no "SIGTERM: stopping" line')
        after = lines[lines.index('SIGTERM: stopping'):]
        shut = [int(m[1]) for m in map(CLOSE_RE.fullmatch, after) if m and m[2] == 'shutdown']
        check(sorted(shut) == sorted(fds), f'shutdown closes for fds {sorted(shut)}, the clients '
              f'had {sorted(fds)}')
        check(after[-1] == f'stopped: {n} accepted, shutdown {n}',
              f'last line {after[-1]!r}, expected "stopped: {n} accepted, shutdown {n}"')
        return f'exited {ms(took)} after SIGTERM'


@timing_test()
def test_no_fd_leak(ctx):
    """After 100 clients come and go, some closed by the server, it holds its baseline fds."""
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        # One round trip first: the loop is then running and its tick source (a timerfd, for
        # instance) is open, so the baseline is that of a serving process.
        warm, = fleet.connect(1, 'warm-up')
        fleet.send(warm)
        fleet.wait_echoes([warm])
        fleet.close(warm)
        server.wait_line(r'close fd \d+ \(peer_closed\)')
        baseline = server.open_fds()

        clients = fleet.connect(100, 'c')
        for client in clients:
            fleet.send(client)
        fleet.wait_echoes(clients)
        check(server.open_fds() == baseline + 100,
              f'{server.open_fds()} fds with 100 clients, baseline {baseline}')
        leavers, idlers = clients[:60], clients[60:]
        for client in leavers:
            fleet.close(client)
        fleet.wait(lambda: all(c.eof_at for c in idlers), ctx.idle + ctx.tick + 2,
                   'the idle closes')
        for client in idlers:
            fleet.close(client)
        server.wait_line(r'close fd \d+ \(\w+\)', count=101)
        check(len(server.closes('idle_timeout')) == 40,
              f'{len(server.closes("idle_timeout"))} idle_timeout closes, expected 40')
        # A close is logged just before close(2), so give the count a moment to settle.
        with contextlib.suppress(Failure):
            wait_until(lambda: server.open_fds() == baseline, 1.0, 'the baseline fd count')
        check_late(server.open_fds() == baseline,
                   f'{server.open_fds()} fds 1 s after every client left, baseline {baseline}')
        return f'{baseline} fds before and after'


@timing_test()
def test_message_waiting_after_stall_not_expired(ctx):
    """A client whose message waits unread while the server is stalled is not closed as idle.

    A server can stall past its clients' deadlines (descheduled, or blocked writing its log) while
    they keep talking; when it resumes, their messages are waiting, and each arrived less than
    T ago. The server takes at most 256 events per wake-up, so with 300 such clients it must
    not expire timers before it has read them all. The stall is a SIGSTOP.
    """
    n = 300
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        clients = fleet.connect(n, 'c')
        for client in clients:
            fleet.send(client)
        fleet.wait_echoes(clients)
        # Every deadline armed by now falls by start + T + tick.
        start = time.monotonic()
        server.signal(signal.SIGSTOP)
        try:
            fleet.run(start + ctx.idle - ctx.tick)
            for client in clients:
                fleet.send(client)
            fleet.run(start + ctx.idle + ctx.tick + 0.1)
        finally:
            resumed = time.monotonic()  # before the server can run again
            server.signal(signal.SIGCONT)
        # The messages are T - tick old; closing any of them within the next tick is early.
        fleet.run(time.monotonic() + ctx.tick / 2)
        fleet.check_kept(clients, 'clients whose message waited through the stall',
                         since=resumed)
        fleet.wait_echoes(clients)
        return f'{n} clients kept after a {ms(ctx.idle + ctx.tick + 0.1)} stall'


def next_tick(ctx, fleet):
    """An instant, a tick or two ahead, at which the server's tick source fires."""
    if ctx.tick_kind != 'alarm':
        # timerfd ticks fire at multiples of the timeslot on CLOCK_MONOTONIC, and the epoll
        # source rounds deadlines up to those multiples.
        return (time.monotonic() // ctx.tick + 2) * ctx.tick
    # SIGALRM is re-armed for one period as a tick is handled, just before the expired
    # connections are closed, so an idle close marks the phase to a fraction of a ms.
    ticker, = fleet.connect(1, 'ticker')
    fleet.wait(lambda: ticker.eof_at, ctx.idle + ctx.tick + 2, 'the ticker\'s idle close')
    return ticker.eof_at + ctx.tick


@timing_test(exclusive=True)
def test_not_closed_early_at_ms_boundary(ctx):
    """Messages that arrive a fraction of a ms after a tick are not closed early.

    The server's clock has ms resolution. A deadline armed from a truncated reading is short by
    the truncated fraction: a message that arrived at K + 0.6 ms gets the deadline K + T and is
    closed early whenever the loop expires timers between K + T and K + T + 0.6 ms. This test
    makes that happen. Probes send a fraction of a ms after instants K at which the tick fires
    (so it fires again at K + T), and a poker sends just after each K + T, which also wakes an
    epoll loop right then. The server needs tens to hundreds of microseconds to wake up and read
    its clock, and as long again to close, so several fractions and three ticks are tried: three,
    because a fourth round would send while the first is being closed and delay seeing it.
    Exclusive, because the sends must be timed to the microsecond.
    """
    fractions_ms = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    rounds = 3
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        first = next_tick(ctx, fleet)
        probes = []

        def start_round(r, tick):
            # Connected half a tick before, so that no earlier timer of theirs gets in the way.
            clients = fleet.connect(len(fractions_ms), f'round{r}.probe')
            probes.extend(clients)
            for probe, fraction in zip(clients, fractions_ms):
                fleet.at_exactly(tick + fraction / 1000, lambda c=probe: fleet.send(c))

        poker, = fleet.connect(1, 'poker')
        fleet.at(first + 0.01, lambda: fleet.send(poker))
        for r in range(rounds):
            tick = first + r * ctx.tick
            fleet.at(tick - ctx.tick / 2, lambda r=r, tick=tick: start_round(r, tick))
            fleet.at_exactly(tick + ctx.idle + 0.00005, lambda: fleet.send(poker))
        total = rounds * len(fractions_ms)
        fleet.wait(lambda: len(probes) == total and all(c.eof_at for c in probes),
                   (rounds + 5) * ctx.tick + 2, 'the idle closes')
        fleet.wait_echoes(probes + [poker])
        delays = ctx.check_idle_closed(probes)
        return delays_report(*delays)


@contextlib.contextmanager
def on_separate_cpus(server):
    """Runs the server and this thread on different CPUs, where there are two. Otherwise a
    server woken by this thread may be scheduled on this thread's CPU and preempt it, and a send
    timed to the microsecond goes out after the server's whole turn instead of during it."""
    mine = os.sched_getaffinity(0)
    if len(mine) < 2:
        yield
        return
    first, second = sorted(mine)[:2]
    os.sched_setaffinity(0, {first})
    try:
        os.sched_setaffinity(server.pid, {second})
        yield
    finally:
        os.sched_setaffinity(0, mine)


@timing_test(exclusive=True)
def test_not_closed_early_after_busy_turn(ctx):
    """A message that arrives during a long turn and is read in it is not closed early.

    The server reads its clock once per wake-up. A message that arrives while a turn is being
    processed, but is read in that same turn, gets a deadline from that earlier reading: short
    by how long the turn had already run. This test builds such a turn. It stops the server
    (SIGSTOP), queues big messages from 250 fillers and then the probe's first message, and
    resumes the server a few ms before an instant K at which the tick fires. While the server
    echoes the fillers, the probe sends its second message at K + 1 ms; the probe's turn comes
    after that, and both its messages are read at once. Its deadline must count from the second.
    The fillers speak again soon, so only the probe is due at K + T, and a poker sends just
    after K + T to wake an epoll loop then. An alarm tick is re-armed only after the long turn,
    which moves every later tick past the probe's due time, so for it this is a plain check.
    """
    fillers, filler_bytes = 250, 32000
    with ctx.serve() as server, Fleet(server.port, ctx.idle) as fleet:
        if ctx.tick_kind == 'alarm':
            tick = time.monotonic() + 0.3
        else:
            tick = next_tick(ctx, fleet)
        crowd = fleet.connect(fillers, 'filler')
        probe, = fleet.connect(1, 'probe')
        poker, = fleet.connect(1, 'poker')
        fleet.run(tick - 0.1)
        with on_separate_cpus(server):
            server.signal(signal.SIGSTOP)
            try:
                for client in crowd:
                    fleet.send(client, b'f' * filler_bytes)
                fleet.send(probe)
                spin_until(tick - 0.004)
            finally:
                server.signal(signal.SIGCONT)
            spin_until(tick + 0.001)
            fleet.send(probe)
        fleet.at(tick + 0.1, lambda: [fleet.send(c) for c in crowd + [poker]])
        fleet.at_exactly(tick + ctx.idle + 0.00005, lambda: fleet.send(poker))
        fleet.wait(lambda: probe.eof_at, ctx.idle + ctx.tick + 2, 'the probe\'s idle close')
        fleet.wait_echoes(crowd + [probe, poker])
        delays = ctx.check_idle_closed([probe])
        together = f'get {len(probe.sent)} bytes of client data probe message 0.probe message 1.'
        exercised = any(line.startswith(together) for line in server.lines())
    # After the block, which stops and checks the server.
    if not exercised:
        raise Skip('NOT EXERCISED: the server read the probe\'s messages in separate turns '
                   f'({delays_report(*delays)})')
    return delays_report(*delays)


# ---------------------------------------------------------------------------------------------
# The argument suite: independent of the combination

ARG_TESTS = []

USAGE = 'usage: idle_echo IP PORT'

# (arguments after the program name, what the first stderr line must name)
INVALID_ARGS = [
    ([HOST, '0', '--bogus'], '--bogus'),
    ([HOST, '0', '--timer', 'heap'], '--timer'),
    ([HOST, '0', '--timer'], '--timer'),
    ([HOST, '0', '--tick', 'poll'], '--tick'),
    ([HOST, '0', '--trigger', 'edge'], '--trigger'),
    ([HOST, '0', '--timeslot', 'soon'], '--timeslot'),
    ([HOST, '0', '--timeslot', '5x'], '--timeslot'),
    ([HOST, '0', '--timeslot', '0'], '--timeslot'),
    ([HOST, '0', '--timeslot', '0ms'], '--timeslot'),
    ([HOST, '0', '--timeslot', '-1'], '--timeslot'),
    ([HOST, '0', '--timeslot=-500ms'], '--timeslot'),
    ([HOST, '70000'], '70000'),
    ([HOST, '-1'], '-1'),
    ([HOST, 'http'], 'http'),
    (['localhost', '0'], 'localhost'),
    (['127.0.0.256', '0'], '127.0.0.256'),
    ([], 'IP'),
    ([HOST], 'IP'),
    ([HOST, '0', 'extra'], 'IP'),
]

# (--timeslot value, the timeslot in ms it means)
VALID_TIMESLOTS = [('500ms', 500), ('1s', 1000), ('2', 2000)]


def arg_test(name):
    def register(fn):
        ARG_TESTS.append((name, fn))
        return fn
    return register


def run_binary(binary, args, timeout=10):
    # subprocess.run kills the child by PID if it outlives the timeout.
    return subprocess.run([binary, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def make_invalid_test(args, named):
    def test(ctx):
        result = run_binary(ctx.binary, args)
        check(result.returncode == 2, f'exit status {result.returncode}, expected 2')
        lines = result.stderr.splitlines()
        check(lines and named in lines[0] and 'idle_echo' in lines[0],
              f'first stderr line {lines[:1]} does not name {named!r}')
        check(any(line.startswith(USAGE) for line in lines), 'no usage on stderr')
        check(not result.stdout, f'stdout: {result.stdout!r}')
    return test


for _args, _named in INVALID_ARGS:
    arg_test(f'invalid: {" ".join(_args) or "(no arguments)"}')(make_invalid_test(_args, _named))


@arg_test('--help')
def test_help(ctx):
    result = run_binary(ctx.binary, ['--help'])
    check(result.returncode == 0, f'exit status {result.returncode}')
    check(result.stdout.startswith(USAGE), f'stdout {result.stdout[:80]!r}')
    check(not result.stderr, f'stderr {result.stderr!r}')


@arg_test('port in use')
def test_port_in_use(ctx):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_binary(ctx.binary, [HOST, str(port)])
    check(result.returncode == 1, f'exit status {result.returncode}, expected 1')
    lines = result.stderr.splitlines()
    check(len(lines) == 1, f'{len(lines)} stderr lines, expected 1: {result.stderr!r}')
    check(str(port) in lines[0] and 'in use' in lines[0].lower(),
          f'{lines[0]!r} does not say port {port} is in use')


def make_timeslot_test(value, timeslot_ms):
    def test(ctx):
        server = Server(ctx.binary, [HOST, '0', '--timeslot', value])
        try:
            match = server.wait_listening()
            check(match.group(2, 3, 4) == ('fifo', 'epoll', 'et'), f'defaults {match.group(0)}')
            check(int(match.group(5)) == timeslot_ms and int(match.group(6)) == 3 * timeslot_ms,
                  f'--timeslot {value}: {match.group(0)!r}')
            server.stop_checked()
        finally:
            server.close()
    return test


for _value, _timeslot_ms in VALID_TIMESLOTS:
    arg_test(f'--timeslot {_value}')(make_timeslot_test(_value, _timeslot_ms))


@arg_test('SIGINT stops it')
def test_sigint(ctx):
    server = Server(ctx.binary, [HOST, '0'])
    try:
        server.wait_listening()
        server.signal(signal.SIGINT)
        check(server.wait_exit(STOP_TIMEOUT) == 0, f'exit status {server.proc.returncode}')
        check(server.lines()[1:] == ['SIGINT: stopping', 'stopped: 0 accepted'],
              f'output {server.lines()[1:]}')
    finally:
        server.close()


# ---------------------------------------------------------------------------------------------
# Runner


PASS, FAIL, SKIP = 'PASS', 'FAIL', 'SKIP'  # a test's outcome, as reported


def run_one(name, fn, ctx):
    """Runs a test, again after an attempt that was only late (retry_late); returns (name,
    outcome, seconds, detail, late attempts). A test that raises Skip (it ran, but the situation
    it checks did not arise) is reported as such, not as passed."""
    start = time.monotonic()
    late = []  # the attempts that failed only by being late
    try:
        detail = retry_late(lambda: fn(ctx), late)
        outcome = PASS
    except Skip as e:
        outcome = SKIP
        detail = str(e)
    except Failure as e:
        outcome = FAIL
        detail = '\n'.join([str(e), *getattr(e, '__notes__', [])])
    except Exception:  # a bug in a test, or an OS error: a failure too, with its trace
        outcome = FAIL
        detail = traceback.format_exc()
    if late and outcome != FAIL:
        detail = (f'{detail or ""}; on attempt {len(late) + 1}, after late ones: '
                  + ' | '.join(map(str, late)))
    return name, outcome, time.monotonic() - start, detail, len(late)


def run_all(tests, ctx, parallel):
    """Runs exclusive tests one by one, then the others in parallel (or all one by one)."""
    results = []
    alone = [(name, fn) for name, fn, exclusive in tests if exclusive or not parallel]
    together = [(name, fn) for name, fn, exclusive in tests if not exclusive and parallel]
    for name, fn in alone:
        results.append(run_one(name, fn, ctx))
        report(results[-1])
    if together:
        with ThreadPoolExecutor(max_workers=len(together)) as pool:
            for result in pool.map(lambda t: run_one(*t, ctx), together):
                results.append(result)
                report(result)
    return results


def report(result):
    name, outcome, seconds, detail, _ = result
    line = f'{outcome} {name} ({seconds:.2f} s)'
    if outcome != FAIL:
        print(f'{line}{": " + detail if detail else ""}', flush=True)
    else:
        print(f'{line}\n    ' + '\n    '.join(str(detail).splitlines()), flush=True)


def raise_fd_limit(need):
    """1,000 clients need more than the common soft limit of 1,024 fds; the server inherits the
    raised limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def exit_on_sigterm(signo, frame):
    """ctest or a user stops the runner: kill the servers and exit at once, without waiting
    for the tests running in other threads."""
    kill_live_servers()
    sys.stdout.flush()
    os._exit(128 + signo)


def main():
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--binary', required=True, help='the idle_echo executable')
    parser.add_argument('--timer', default='fifo', choices=['fifo', 'list'])
    parser.add_argument('--tick', default='epoll', choices=['epoll', 'timerfd', 'alarm'])
    parser.add_argument('--trigger', default='et', choices=['et', 'lt'])
    parser.add_argument('--args-only', action='store_true',
                        help='run only the argument checks, which no combination affects')
    parser.add_argument('--timeslot-ms', type=int, default=DEFAULT_TIMESLOT_MS)
    parser.add_argument('--epsilon-ms', type=int, default=DEFAULT_EPSILON_MS,
                        help='slack allowed beyond T + one tick')
    parser.add_argument('--serial', action='store_true', help='run the timing tests one by one')
    parser.add_argument('--only', action='append', metavar='NAME',
                        help='run only this test (repeatable)')
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        parser.error(f'{args.binary} is not executable')
    raise_fd_limit(4096)
    ctx = Context(args)

    if args.args_only:
        tests = [(name, fn, True) for name, fn in ARG_TESTS]
        print(f'idle_echo arguments: {args.binary}', flush=True)
    else:
        tests = TIMING_TESTS
        print(f'idle_echo timer {args.timer}, tick {args.tick}, trigger {args.trigger}, '
              f'timeslot {args.timeslot_ms} ms: {args.binary}', flush=True)
    if args.only:
        tests = [t for t in tests if t[0] in args.only]
        if not tests:
            parser.error(f'no test named {args.only}')

    start = time.monotonic()
    results = run_all(tests, ctx, parallel=not args.serial)
    counts = {x: sum(1 for _, outcome, *_ in results if outcome == x) for x in (PASS, FAIL, SKIP)}
    print(f'({time.monotonic() - start:.1f} s)')
    retried = [f'{name} ({late} late)' for name, _, _, _, late in results if late]
    if retried:
        print(f'retried after late attempts: {", ".join(retried)}')
    print(f'{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped')
    return 1 if counts[FAIL] else 0


if __name__ == '__main__':
    sys.exit(main())
