"""What the integration and stress tests share: checks, polling, deterministic data, requests,
the blocking client connection, curl's command line, the server process they start, and the
registry of those processes.

The test programs run as scripts from this directory, so `import common` finds this file.
"""
import argparse
import atexit
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HOST = '127.0.0.1'
SANITIZER_MARKS = ('AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer',
                   'runtime error:', 'ThreadSanitizer')
# The error-log lines a request's own fault causes (a 403 or 404 the tests ask for): the cause,
# then the client. Any other [error] line fails check_stderr.
CLIENT_CAUSED = re.compile(
    r'\[error\] (open\(\) ".*" failed \((2|13|18|20|36|40): .*|directory index of ".*" is '
    r'forbidden|".*" is not a regular file|path refused: .*), client: ')
# tinyweb's line on stderr once it listens.
LISTEN_RE = re.compile(r'tinyweb: listening on http://127\.0\.0\.1:(\d+)/ \(')


class Failure(Exception):
    """A check failed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


class LateFailure(Failure):
    """Something happened later than allowed (never: earlier). A stall of the whole machine
    causes exactly this, so such a test is run again (see run_suite); a server that is really
    late is late every time."""


def check_late(condition, message):
    if not condition:
        raise LateFailure(message)


LATE_ATTEMPTS = 3  # a test that fails only by being late runs up to this many times


def retry_late(attempt, late, attempts=LATE_ATTEMPTS):
    """Returns attempt()'s value, calling it again while it fails only by being late, up to
    `attempts` times in all. Each late attempt's LateFailure is appended to the list `late`, for
    the report of a pass that came after them. When every attempt is late, the last LateFailure
    is raised, with the earlier ones as notes. Any other exception (a close before its time is
    a plain Failure) is raised at once: never retried."""
    while True:
        try:
            return attempt()
        except LateFailure as e:
            if len(late) + 1 >= attempts:
                for n, x in enumerate(late, 1):
                    e.add_note(f'attempt {n} of {attempts} was late too: {x}')
                raise
            late.append(e)


def runqueue_seconds(pid=None):
    """How long a thread has waited, runnable, for a CPU (the second field of schedstat): the
    calling thread's, or the main thread's of process pid. The difference of two readings is
    the scheduling delay between them. None where the kernel does not report it."""
    path = '/proc/thread-self/schedstat' if pid is None else f'/proc/{pid}/schedstat'
    try:
        with open(path) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def wrk_lua(requests):
    """A wrk script that sends requests in turn (each a (path, headers dict) pair) and prints one
    line at the end: 'WRK requests=N bytes=N connect=N read=N write=N status=N timeout=N p50=us
    p99=us max=us' (status counts the non-2xx/3xx responses). wrk_summary() reads it."""
    formats = ',\n    '.join(
        'wrk.format("GET", "%s"%s)' % (path, ', {%s}' % ', '.join(
            f'["{k}"] = "{v}"' for k, v in headers.items()) if headers else '')
        for path, headers in requests)
    return r'''
local reqs, i = {}, 0
init = function(args)
  reqs = {
    %s,
  }
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%%d bytes=%%d connect=%%d read=%%d write=%%d status=%%d " ..
    "timeout=%%d p50=%%d p99=%%d max=%%d\n", summary.requests, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
''' % formats


def wrk_summary(text):
    """wrk_lua()'s closing line as a dict of ints, or None when wrk printed none."""
    m = re.search(r'WRK (.*)', text)
    return {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', m[1])} if m else None


class NotifySocket:
    """A fake systemd NOTIFY_SOCKET in directory base: the datagrams the server sends, in
    order. Pass .path as NOTIFY_SOCKET in the server's environment."""

    def __init__(self, base):
        self.path = os.path.join(base, f'notify-{os.getpid()}-{random.randrange(1 << 30)}')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait_for(self, text, timeout=5.0):
        """The first message (from the ones not yet returned) that contains text."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.messages):
                if text in m:
                    del self.messages[:i + 1]
                    return m
            left = deadline - time.monotonic()
            check(left > 0, f'no {text!r} on NOTIFY_SOCKET; got {self.messages}')
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Skip(Exception):
    """A test or scenario that cannot run here (a tool is missing): reported, not a failure."""


def test_args(doc, groups, default=None, extra=None):
    """The command line of a test program whose tests come in groups (a dict: name -> tests):
    --binary, --group NAME (repeat or use commas; default: the names default returns for the
    parsed arguments, else every group), --only SUBSTRING (each must match a test of the chosen
    groups), --list, and what extra(parser) adds. Returns (args, tests): the chosen groups'
    tests in order, filtered by --only. With --list, prints their names and exits 0."""
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('--binary', required=True, help='the tinyweb executable')
    parser.add_argument('--group', action='append', metavar='NAME',
                        help=f'run only these groups ({", ".join(groups)}); repeat or use commas')
    parser.add_argument('--only', action='append', metavar='SUBSTRING',
                        help='run only the tests whose name contains this')
    parser.add_argument('--list', action='store_true', help='list the tests and exit')
    if extra:
        extra(parser)
    args = parser.parse_args()
    chosen = []
    for g in args.group or (default(args) if default else list(groups)):
        chosen += [x for x in g.split(',') if x]
    unknown = set(chosen) - set(groups)
    if unknown:
        parser.error(f'unknown group(s): {", ".join(sorted(unknown))}')
    tests = [t for g in groups if g in chosen for t in groups[g]
             if not args.only or any(o in t.__name__ for o in args.only)]
    for only in args.only or ():
        if not any(only in t.__name__ for g in chosen for t in groups[g]):
            parser.error(f'--only {only} matched no test')
    if args.list:
        print('\n'.join(t.__name__ for t in tests))
        sys.exit(0)
    return args, tests


def run_tests(tests, ctx, close, describe=None):
    """Runs each test(ctx) in turn: PASS, FAIL (with the traceback and what describe() adds: the
    servers' stderr, ...) or SKIP; close() after each. Prints a line per test and the counts;
    returns the counts."""
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    start_all = time.monotonic()
    for t in tests:
        start = time.monotonic()
        outcome, detail = 'PASS', ''
        try:
            t(ctx)
        except Skip as e:
            outcome, detail = 'SKIP', str(e)
        except Exception as e:
            outcome = 'FAIL'
            detail = ''.join(traceback.format_exception(e)) + (describe() if describe else '')
        finally:
            close()
        counts[outcome] += 1
        print(f'{outcome} {t.__name__} ({time.monotonic() - start:.2f} s)'
              + (': ' + detail.replace('\n', '\n    ') if detail else ''), flush=True)
    print(f'({time.monotonic() - start_all:.1f} s)')
    print(f'{counts["PASS"]} passed, {counts["FAIL"]} failed, {counts["SKIP"]} skipped',
          flush=True)
    return counts


def servers_stderr(servers):
    """The stderr of each server, for a failure's detail."""
    return ''.join(f'\nserver {s.pid} {" ".join(s.args)}:\n{s.stderr()[-3000:]}'
                   for s in servers)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def clean_env():
    """This environment without proxy settings (curl honours them, even for 127.0.0.1 with some
    configurations), and NO_PROXY set to everything to be doubly sure."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'ftp_proxy', 'no_proxy')}
    env['NO_PROXY'] = env['no_proxy'] = '*'
    return env


def curl_args(*args, curl='curl'):
    """A curl command line with the options every test uses: no proxy for any host (run it with
    env=clean_env() as well), and no progress meter but the errors. args follow them."""
    return [curl, '--noproxy', '*', '-sS', *args]


def build_request(method='GET', path='/', headers=(), version='HTTP/1.1', body=b'',
                  host=HOST):
    """A request's bytes: the request line, Host (unless host is None), the headers (name,
    value) in order, the empty line and the body."""
    lines = [f'{method} {path} {version}'.encode('utf-8')]
    if host is not None:
        lines.append(b'Host: ' + host.encode())
    for name, value in headers:
        lines.append(f'{name}: {value}'.encode('utf-8'))
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def det_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def ms(seconds):
    return f'{seconds * 1000:.1f} ms'


def wait_until(predicate, timeout, what, interval=0.005, late=False):
    """Polls predicate until it returns something true, which is returned. With late, running
    out of time is a LateFailure (retried), not a Failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        (check_late if late else check)(time.monotonic() < deadline,
                                        f'timed out after {timeout:.1f} s waiting for {what}')
        time.sleep(interval)


def read_status(port, path='/status', timeout=10.0):
    """tinyweb's status document (the server runs with --status PATH), read over a connection of
    its own that the server closes (Connection: close), so that no observer's connection is left
    to count in the phases or to time out."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request('GET', path, headers={'Connection': 'close'})
        r = c.getresponse()
        body = r.read()
        check(r.status == 200, f'GET {path}: {r.status} {body[:200]!r}')
        return json.loads(body)
    finally:
        c.close()


def status_counters(doc):
    """A status document's totals as one flat dict, keyed as the "stopped:" lines name them:
    requests, refused, 1xx..5xx, shed, accepted, bytes_sent, closed.REASON, open.PHASE,
    timeouts.CLASS, and the file cache's (cache.hits, ...). The request that read it is counted
    in requests and accepted, and its connection in open.head."""
    t = doc['totals']
    d = {'requests': t['requests'], 'refused': t['connections_refused'],
         'shed': t['listener_shed'], 'accepted': t['connections_accepted'],
         'bytes_sent': t['sent_bytes']}
    d.update(t['responses'])
    for prefix, family in (('closed.', 'connections_closed'), ('open.', 'connections'),
                           ('timeouts.', 'timeouts')):
        d.update({prefix + k: v for k, v in t[family].items()})
    d.update({'cache.' + k[len('file_cache_'):]: v for k, v in t.items()
              if k.startswith('file_cache_')})
    return d


# Servers the tests started, by PID: killed at exit even if the runner is interrupted. A server
# object calls track() once started and untrack() from its close(), which must kill it.
_live_lock = threading.Lock()
_live_servers = set()


def track(server):
    with _live_lock:
        _live_servers.add(server)


def untrack(server):
    with _live_lock:
        _live_servers.discard(server)


@atexit.register
def kill_live_servers():
    with _live_lock:
        servers = list(_live_servers)
    for server in servers:
        server.close()


def test_tmp():
    """Where document roots and server output go: $TINYWEB_TEST_TMP, else /dev/shm when it is a
    writable directory, else the default temporary directory. Memory, because the server does its
    file I/O in the event loop (pread of the file it sends; the access log, synchronous by
    default): when several suites write their 10 MiB files to a slow virtual disk at once, such
    a call can block for a second or more, stalling every connection of that loop, and timing
    checks fail at random (seen with the docroots on disk: a send timeout firing 1.3 s late, a
    request answered after 850 ms, a steady reader cut off)."""
    path = os.environ.get('TINYWEB_TEST_TMP')
    if path:
        return path
    if os.path.isdir('/dev/shm') and os.access('/dev/shm', os.W_OK | os.X_OK):
        return '/dev/shm'
    return None


def read_text(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode(errors='replace')
    except FileNotFoundError:
        return ''


class Process:
    """A server process a test started. Its stdout and stderr go to files in its own directory:
    unlike a pipe, a file never fills up and stalls the server, and it can be re-read. It is
    killed by its PID when the run ends (track), or by close()."""

    def __init__(self, args, tmp=None, prefix='tinyweb-run.', env=None, preexec_fn=None):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=tmp)
        self.out_path = os.path.join(self.dir, 'stdout')
        self.err_path = os.path.join(self.dir, 'stderr')
        self.args = args
        with open(self.out_path, 'wb') as out, open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        track(self)
        self.port = None

    def stdout(self):
        return read_text(self.out_path)

    def stderr(self):
        return read_text(self.err_path)

    def running(self):
        return self.proc.poll() is None

    def signal(self, signo):
        os.kill(self.pid, signo)

    def wait_listening(self, timeout):
        """The port from tinyweb's "listening on" line."""
        def found():
            m = LISTEN_RE.search(self.stderr())
            if m:
                return m
            check(self.running(), f'server exited {self.proc.returncode} before listening; '
                  f'stderr: {self.stderr()[-2000:]}')
            return None

        self.port = int(wait_until(found, timeout, 'the "listening on" line', 0.01)[1])
        return self.port

    def fd_targets(self):
        """{fd: what it refers to} from /proc/PID/fd ('socket:[N]', a path, 'anon_inode:...');
        an fd closed while it is read is left out."""
        base = f'/proc/{self.pid}/fd'
        targets = {}
        for fd in os.listdir(base):
            try:
                targets[int(fd)] = os.readlink(f'{base}/{fd}')
            except OSError:
                pass
        return targets

    def open_fds(self):
        return len(self.fd_targets())

    def wait_fd_state(self, sample, done, timeout, interval, failure):
        """Polls sample() (the server's fds, in some form) until done(value), and returns that
        value: the server closes sockets asynchronously. When that does not happen within
        timeout, fails with failure(last value), which says what is still held (a leak?)."""
        last = [None]

        def reached():
            last[0] = sample()
            return done(last[0])

        try:
            wait_until(reached, timeout, 'the fds', interval)
        except Failure:
            raise Failure(failure(last[0])) from None
        return last[0]

    def settled(self, sample, repeats, interval):
        """sample() once it returned the same value `repeats` times in a row (at most 5 s): the
        loops open their own fds (a timerfd, for one) after the "listening" line."""
        samples = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            samples.append(sample())
            if len(samples) >= repeats and all(x == samples[-1] for x in samples[-repeats:]):
                break
            time.sleep(interval)
        return samples[-1]

    def cpu_ticks(self):
        """User + system CPU time so far, in clock ticks (usually 10 ms)."""
        with open(f'/proc/{self.pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f'server still running {timeout:.1f} s after the signal') from None

    def check_stderr(self):
        """No sanitizer report and no error logged."""
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            check(mark not in err, f'sanitizer report on stderr:\n{err[-4000:]}')
        for line in err.splitlines():
            check('[error]' not in line or CLIENT_CAUSED.search(line),
                  f'error logged: {line}')

    def stop_exit(self, timeout):
        """SIGTERM, then exit status 0."""
        if self.running():
            self.signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        check(rc == 0, f'server exited with status {rc} (expected 0); stderr:\n'
              f'{self.stderr()[-4000:]}')

    def kill(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        untrack(self)


class Client:
    """A blocking TCP connection to HOST:port, closed by close() or at the end of a with block.
    TCP_NODELAY sends each request at once; rcvbuf, if given, sets SO_RCVBUF before the connect
    (a small window from the start: a client that reads slowly or never). connect_start is read
    before the connect, as the server may accept (and arm its header timer) before connect()
    has returned here; connected_at just after it. buf holds the bytes received and not yet
    parsed, for the subclass's own reading."""

    def __init__(self, port, timeout, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout)
            self.connect_start = time.monotonic()
            self.sock.connect((HOST, port))
            self.connected_at = time.monotonic()
        except BaseException:
            self.sock.close()
            raise
        self.timeout = timeout
        self.buf = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)


class Docroot:
    """A fresh document root: <base>/www is the root; files maps URL paths to their bytes."""

    def __init__(self, tmp=None, prefix='tinyweb-root.'):
        self.base = tempfile.mkdtemp(prefix=prefix, dir=tmp)
        self.path = os.path.join(self.base, 'www')
        os.mkdir(self.path)
        self.files = {}  # URL path (decoded) -> content

    def add(self, rel, data):
        full = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)
        self.files['/' + rel] = data

    def full(self, rel):
        return os.path.join(self.path, rel.lstrip('/'))

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)


# ---- Several listeners (issue 13: --listen-tls) ----------------------------------------------
# The banner names every listener, in the order given: "tinyweb: listening on
# http://127.0.0.1:P1/, https://127.0.0.1:P2/ (root ...". LISTEN_RE above reads a lone plain one.
LISTEN_URLS_RE = re.compile(r'tinyweb: listening on ((?:https?://[^/\s]+/(?:, )?)+) \(')
LISTEN_URL_RE = re.compile(r'(https?)://(\[[^\]]+\]|[^:/]+):(\d+)/')


def listen_urls(text):
    """[(scheme, host, port)] of the first "listening on" line in text, or None."""
    m = LISTEN_URLS_RE.search(text)
    if not m:
        return None
    return [(u[1], u[2].strip('[]'), int(u[3])) for u in LISTEN_URL_RE.finditer(m[1])]


def wait_listen_urls(process, timeout):
    """listen_urls() of a Process's stderr once the banner is there; fails if it exits first."""
    def found():
        urls = listen_urls(process.stderr())
        if urls:
            return urls
        check(process.running(), f'server exited {process.proc.returncode} before listening; '
              f'stderr: {process.stderr()[-2000:]}')
        return None

    return wait_until(found, timeout, 'the "listening on" line', 0.01)
