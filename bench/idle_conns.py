#!/usr/bin/env python3
"""Opens N keep-alive connections to a loopback HTTP server and holds them idle.

Usage: bench/idle_conns.py HOST PORT N PATH [--concurrency C] [--open-timeout S] [--max-hold S]
                          [--idle-timeout S] [--tls-ca CERT]

Each connection sends one `GET PATH HTTP/1.1` and reads the whole response (Content-Length
framing), then stays open and silent. At most C connections are being set up at once, so the
server's listen backlog never overflows. When every connection is set up (or the open timeout
has passed) it prints one line and flushes it:

    ready ok=N failed=F non200=X open_s=T

then holds the connections until SIGTERM/SIGINT or --max-hold seconds, whichever comes first,
watching them: a connection the server closes (or writes to) while idle is counted. On exit it
prints

    done held=H closed_by_server=K

and closes everything. With --idle-timeout S (the server's keep-alive timeout), it also times
each close by the server against the moment its response had been read, and prints

    closes n=K early=E late_ms min=.. p50=.. p90=.. p99=.. max=..

where late is (close seen) - (response received) - S: never below 0 for a server that closes no
earlier than S, and how late the close came otherwise. The response's time is the kernel's
receive timestamp of its last bytes (SO_TIMESTAMPNS, CLOCK_REALTIME, moved to CLOCK_MONOTONIC
by the offset between the two clocks read at start), so this helper's own delays in reading it
do not count; a close is stamped when the poll that reports it returns, so what counts of this
helper is only how late that poll returns (it does nothing else while holding). The helper
leaves when every connection is closed. Only 127.0.0.0/8 and ::1 are accepted as HOST: this is a load tool.

With --tls-ca CERT every connection speaks TLS (1.2 or 1.3, Python's ssl module; the server's
certificate is verified against CERT and HOST's address): the handshake comes before the GET, and
an idle connection counts as closed by the server only when it reads an end of file, an error or
application data (a TLS 1.3 session ticket arriving late is read and ignored). With TLS the
response's time for --idle-timeout is when the poll that delivered it returned, not the kernel's
timestamp: later by however long the helper was busy with other handshakes, so closes can look
a few milliseconds early.
"""
import argparse
import errno
import ipaddress
import select
import signal
import socket
import ssl
import struct
import sys
import time

CONNECTING, SENDING, READING, IDLE, DEAD, HANDSHAKE = range(6)


def tls_idle_closed(s):
    """With TLS: True when an idle connection's readable event is an end of file, an error or
    application data; False when it only carried TLS records such as a session ticket."""
    try:
        return s.recv(65536) is not None
    except ssl.SSLWantReadError:
        return False
    except (ssl.SSLError, OSError):
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("path")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--open-timeout", type=float, default=120.0)
    ap.add_argument("--max-hold", type=float, default=300.0)
    ap.add_argument("--idle-timeout", type=float, default=None)
    ap.add_argument("--tls-ca", default=None)
    a = ap.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        sys.exit("idle_conns.py: only loopback addresses are allowed")

    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    tls = None
    if a.tls_ca is not None:
        tls = ssl.create_default_context(cafile=a.tls_ca)
    req = f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\nUser-Agent: idle_conns\r\n\r\n".encode()
    ep = select.epoll(sizehint=a.n + 16)
    conns = {}  # fd -> [sock, state, buffer, sent]
    # SO_TIMESTAMPNS (linux/asm-generic/socket.h) stamps each received skb with CLOCK_REALTIME.
    so_timestampns = getattr(socket, "SO_TIMESTAMPNS", 35)
    real_to_mono = time.monotonic_ns() - time.time_ns()
    ready_at = {}  # fd -> when its response was read (--idle-timeout)
    late = []  # seconds past the idle timeout, per close by the server (--idle-timeout)
    started = ok = failed = non200 = inflight = closed = 0
    t0 = time.monotonic()
    deadline = t0 + a.open_timeout

    def fail(fd):
        nonlocal failed, inflight
        s = conns.pop(fd)[0]
        try:
            ep.unregister(fd)
        except OSError:
            pass
        s.close()
        failed += 1
        inflight -= 1

    def response_complete(buf):
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = buf[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if len(buf) < end + 4 + length:
            return None
        parts = head[0].split(" ")
        return parts[1] if len(parts) > 1 else "?"

    while (ok + failed < a.n) and not stop and time.monotonic() < deadline:
        while started < a.n and inflight < a.concurrency:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            if a.idle_timeout is not None:
                s.setsockopt(socket.SOL_SOCKET, so_timestampns, 1)
            rc = s.connect_ex((a.host, a.port))
            started += 1
            inflight += 1
            conns[s.fileno()] = [s, CONNECTING, b"", 0]
            if rc not in (0, errno.EINPROGRESS):
                fail(s.fileno())
                continue
            ep.register(s.fileno(), select.EPOLLOUT)
        events = ep.poll(0.5)
        now = time.monotonic()
        for fd, ev in events:
            c = conns.get(fd)
            if c is None:
                continue
            s = c[0]
            if c[1] == IDLE:  # the server closed (or wrote to) a connection already set up
                if tls is not None and not tls_idle_closed(s):
                    continue
                c[1] = DEAD
                ep.unregister(fd)
                closed += 1
                if fd in ready_at:
                    late.append(now - ready_at[fd] - a.idle_timeout)
                continue
            if c[1] == CONNECTING:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    fail(fd)
                    continue
                c[1] = SENDING
                if tls is not None:  # same fd, now an SSLSocket
                    s = c[0] = tls.wrap_socket(s, server_hostname=a.host,
                                               do_handshake_on_connect=False)
                    c[1] = HANDSHAKE
            if c[1] == HANDSHAKE:
                try:
                    s.do_handshake()
                except ssl.SSLWantReadError:
                    ep.modify(fd, select.EPOLLIN)
                    continue
                except ssl.SSLWantWriteError:
                    ep.modify(fd, select.EPOLLOUT)
                    continue
                except (ssl.SSLError, OSError):
                    fail(fd)
                    continue
                c[1] = SENDING
                ep.modify(fd, select.EPOLLOUT)
            if c[1] == SENDING:
                try:
                    c[3] += s.send(req[c[3]:])
                except (BlockingIOError, ssl.SSLWantWriteError):
                    continue
                except ssl.SSLWantReadError:
                    ep.modify(fd, select.EPOLLIN)
                    continue
                except OSError:
                    fail(fd)
                    continue
                if c[3] == len(req):
                    c[1] = READING
                    ep.modify(fd, select.EPOLLIN)
                continue
            if c[1] == READING:
                anc = []
                try:
                    if tls is None:
                        data, anc, _flags, _addr = s.recvmsg(65536, 64)
                    else:  # what the TLS layer has decrypted, up to what the socket holds
                        data = s.recv(65536)
                        while data and s.pending():
                            data += s.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    fail(fd)
                    continue
                if not data:
                    fail(fd)
                    continue
                c[2] += data
                status = response_complete(c[2])
                if status is None:
                    continue
                if status != "200":
                    non200 += 1
                c[1], c[2] = IDLE, b""
                ok += 1
                if a.idle_timeout is not None:
                    ready_at[fd] = now
                    for level, kind, val in anc:
                        if level == socket.SOL_SOCKET and kind == so_timestampns:
                            sec, nsec = struct.unpack("qq", val[:16])
                            ready_at[fd] = (sec * 10**9 + nsec + real_to_mono) / 1e9
                inflight -= 1
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
    failed = a.n - ok  # those that failed, and those not set up in time
    print(f"ready ok={ok} failed={failed} non200={non200} open_s={time.monotonic() - t0:.2f}",
          flush=True)

    hold_end = time.monotonic() + a.max_hold
    while not stop and time.monotonic() < hold_end:
        if a.idle_timeout is not None and closed >= ok:
            break
        events = ep.poll(0.2)
        now = time.monotonic()
        for fd, _ev in events:
            c = conns.get(fd)
            if c is None or c[1] != IDLE:
                continue
            if tls is not None and not tls_idle_closed(c[0]):
                continue
            c[1] = DEAD
            ep.unregister(fd)
            closed += 1
            if fd in ready_at:
                late.append(now - ready_at[fd] - a.idle_timeout)
    held = sum(1 for c in conns.values() if c[1] == IDLE)
    print(f"done held={held} closed_by_server={closed}", flush=True)
    if a.idle_timeout is not None:
        late.sort()

        def q(f):
            return late[min(len(late) - 1, int(f * len(late)))] * 1000 if late else 0.0

        early = sum(1 for x in late if x < 0)
        print(f"closes n={len(late)} early={early} late_ms min={q(0):.1f} p50={q(0.5):.1f} "
              f"p90={q(0.9):.1f} p99={q(0.99):.1f} max={q(1):.1f}", flush=True)
    for c in conns.values():
        c[0].close()


if __name__ == "__main__":
    main()
