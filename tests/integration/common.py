"""What the integration tests share: checks, polling, and the registry of servers they started.

The test programs run as scripts from this directory, so `import common` finds this file.
"""
import atexit
import threading
import time


class Failure(Exception):
    """A check failed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


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
