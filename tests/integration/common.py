"""What the integration and stress tests share: checks, polling, deterministic data, and the
registry of servers they started.

The test programs run as scripts from this directory, so `import common` finds this file.
"""
import atexit
import hashlib
import os
import random
import threading
import time


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


class Skip(Exception):
    """A test or scenario that cannot run here (a tool is missing): reported, not a failure."""


def sha(data):
    return hashlib.sha256(data).hexdigest()


def clean_env():
    """This environment without proxy settings (curl honours them, even for 127.0.0.1 with some
    configurations), and NO_PROXY set to everything to be doubly sure."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'ftp_proxy', 'no_proxy')}
    env['NO_PROXY'] = env['no_proxy'] = '*'
    return env


def det_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def ms(seconds):
    return f'{seconds * 1000:.1f} ms'


def wait_until(predicate, timeout, what, interval=0.005):
    """Polls predicate until it returns something true, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        check(time.monotonic() < deadline, f'timed out after {timeout:.1f} s waiting for {what}')
        time.sleep(interval)


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
