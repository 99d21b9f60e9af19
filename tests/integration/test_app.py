#!/usr/bin/env python3
"""Integration tests for tinyweb's application (--db): register, log in, sessions, the pages
behind them, the worker pool, through the clean routes and TinyWebServer's, over 127.0.0.1
against the real binary.

Every test starts its own server (a copy of the bundled site's pages and templates, a fresh
SQLite file) and stops it by its PID; each server must exit 0 with no sanitizer report and no
[error] line but those the test causes on purpose. Passwords hash with the cheapest Argon2id
setting (--pwhash-ops 1 --pwhash-mem 8k) except where slowness is the point.

    test_app.py --binary build/tinyweb [--group flow,forms,abuse,load,state]... [--only NAME]...
    test_app.py --binary build/tinyweb --mysql DIR [--group ...]...
    test_app.py --binary build/tinyweb --list

With --mysql DIR every server gets a fresh MariaDB database (created, and dropped after the
test, through scripts/mariadb.sh) on the throwaway server that `scripts/mariadb.sh start DIR`
started, instead of a SQLite file; the group outage (MariaDB only) starts servers of its own to
stop and start again under a running tinyweb.

Groups: flow (the whole flow through both route sets, -a 1, HEAD, keep-alive, pipelining,
100-continue, chunked bodies, the application off), forms (duplicates, wrong passwords, hostile
and long names, malformed forms, cross-site POSTs), abuse (concurrent registrations, login
throttling, session expiry), load (clients that leave while their login hashes, a full worker
queue, --app-timeout, a stop while hashing), state (secrets absent from the logs, a restart
keeps users and sessions), outage (--mysql: the database stopped under a running server, then
started again). A test that fails only by being late (never early) runs up to 3
times. The output ends with "N passed, N failed, N skipped"; the exit status is 1 when anything
failed.
"""

import html
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

import common
from common import (HOST, Failure, Process, Skip, build_request, check, check_late,
                    clean_env, retry_late, test_tmp, wait_until)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
IO_TIMEOUT = 10.0
TEST_TMP = test_tmp()
SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'www')
# What the tests copy of the bundled site (its downloads are 4 MiB that no test reads).
SITE_PARTS = ('templates', 'index.html', 'style.css', 'images', 'media', 'favicon.ico')
HTML_TYPE = 'text/html; charset=utf-8'
FAST_HASH = ('--pwhash-ops', '1', '--pwhash-mem', '8k')
# About 100 ms a hash on the 2-core test machine; libsodium is not instrumented, so under ASan
# too. Never faster than ~60 ms: --app-timeout 20ms stays shorter.
SLOW_HASH = ('--pwhash-ops', '3', '--pwhash-mem', '64m')
FORM = 'application/x-www-form-urlencoded'
# The error-log lines of answers the load tests cause on purpose.
BUSY_RE = re.compile(r"\[error\] the worker pool's queue is full \(--worker-queue\), client: ")
APP_TIMEOUT_RE = re.compile(r'\[error\] the application did not answer within --app-timeout, ')
# A database that failed (--mysql outage).
DB_FAILED_RE = re.compile(r'\[error\] .*database')
# The cause a database failure's log line gives (db_error_text): MariaDB's error or connection.
DB_CAUSE_RE = re.compile(r'database error: (mysql error \d+: \S|mysql: cannot connect|'
                         r'not connected \(retrying shortly\): mysql: cannot connect)')
MARIADB_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts',
                          'mariadb.sh')
NOT_FOUND_RE = re.compile(r'\[error\] (open\(\) ".*" failed|.*not found).*, client: ')


def form(user=None, password=None, **extra):
    fields = {}
    if user is not None:
        fields['user'] = user
    if password is not None:
        fields['password'] = password
    fields.update(extra)
    return urllib.parse.urlencode(fields).encode()


class Response:
    def __init__(self, status, reason, fields, body):
        self.status = status
        self.reason = reason
        self.fields = fields  # [(lower-case name, value)] in order
        self.body = body

    def get(self, name, default=None):
        for k, v in self.fields:
            if k == name:
                return v
        return default

    def all(self, name):
        return [v for k, v in self.fields if k == name]

    def text(self):
        return self.body.decode('utf-8', errors='replace')

    def cookie(self):
        """The session token this response sets, '' when it clears it, None when no
        Set-Cookie."""
        c = self.get('set-cookie')
        if c is None:
            return None
        m = re.match(r'session=([^;]*)', c)
        check(m, f'Set-Cookie without the session cookie: {c!r}')
        return m[1]

    def __repr__(self):
        return f'<{self.status} {self.reason} {self.fields} {self.body[:300]!r}>'


class Conn(common.Client):
    """A blocking connection that reads HTTP/1.1 responses itself: 1xx, HEAD, pipelining.
    source: the local address to bind (any of 127.0.0.0/8 reaches the server)."""

    def __init__(self, port, timeout=IO_TIMEOUT, source=None):
        if source is None:
            super().__init__(port, timeout)
            return
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect((HOST, port))
        self.timeout = timeout
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Failure(f'connection closed by the server; unparsed: {bytes(self.buf)!r}')
        self.buf += data

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        i = self.buf.index(b'\r\n')
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def response(self, head=False, interim=False):
        """The next response; a 1xx is skipped unless interim."""
        while True:
            line = self._line().decode('latin-1')
            m = re.fullmatch(r'HTTP/1\.1 (\d{3}) ?(.*)', line)
            check(m, f'bad status line {line!r}')
            fields = []
            while True:
                h = self._line()
                if not h:
                    break
                name, _, value = h.decode('latin-1').partition(':')
                fields.append((name.strip().lower(), value.strip()))
            r = Response(int(m[1]), m[2], fields, b'')
            if 100 <= r.status < 200:
                if interim:
                    return r
                continue
            if head or r.status in (204, 304):
                return r
            if r.get('transfer-encoding', '').lower() == 'chunked':
                body = bytearray()
                while True:
                    size = int(self._line().split(b';')[0], 16)
                    if size == 0:
                        while self._line():
                            pass
                        break
                    body += self._take(size)
                    self._take(2)
                r.body = bytes(body)
            else:
                r.body = self._take(int(r.get('content-length', '0')))
            return r

    def request(self, method, path, headers=(), body=b'', cookie=None, host=None):
        h = list(headers)
        if cookie is not None:
            h.append(('Cookie', f'session={cookie}'))
        if (body or method == 'POST') and not any(
                k.lower() in ('content-length', 'transfer-encoding') for k, _ in h):
            h.append(('Content-Length', str(len(body))))
        self.send(build_request(method, path, h, body=body, host=host or f'{HOST}:{self.port}'))

    def exchange(self, method, path, headers=(), body=b'', cookie=None):
        self.request(method, path, headers, body, cookie)
        return self.response(head=method == 'HEAD')

    def silent(self, seconds):
        """Nothing more arrives within seconds (and the connection is still open)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
            check(False, f'unexpected bytes after the last response: {data[:300]!r}')
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(self.timeout)


class Server(Process):
    """tinyweb with the application on (unless db is None): a fresh root with the bundled
    templates, a SQLite file beside it. args come after the defaults, which they override."""

    def __init__(self, ctx, *args, db='new', threads=2, workers=2, hashing=FAST_HASH,
                 root=None, throttle=0):
        self.ctx = ctx
        self.root = root or make_root()
        if db == 'new':
            db = ctx.new_database() if ctx.mysql else os.path.join(self.root, '..', 'app.sqlite')
        self.db = db
        argv = [ctx.binary, '--root', self.root, '--listen', f'{HOST}:0', '-t', str(threads),
                '--access-log', os.path.join(self.root, '..', 'access.log')]
        if self.db is not None:
            url = self.db if self.db.startswith('mysql://') else f'sqlite:{self.db}'
            argv += ['--db', url, '--workers', str(workers), *hashing,
                     '--login-throttle', str(throttle)]
        super().__init__([*argv, *args], tmp=TEST_TMP, env=clean_env())
        self.wait_listening(START_TIMEOUT)

    def conn(self, **kw):
        c = Conn(self.port, **kw)
        c.port = self.port
        return c

    def req(self, method, path, body=b'', headers=(), cookie=None, ctype=FORM, source=None):
        """One exchange on a connection of its own. A body goes with Content-Type ctype."""
        h = list(headers)
        if (body or method == 'POST') and ctype is not None:
            h.append(('Content-Type', ctype))
        with self.conn(source=source) as c:
            return c.exchange(method, path, h, body, cookie)

    def post(self, path, body, **kw):
        return self.req('POST', path, body, **kw)

    def register(self, user, password, path='/register'):
        r = self.post(path, form(user, password))
        check(r.status == 303 and r.get('location') == '/login?registered',
              f'register {user!r} through {path}: {r}')
        return r

    def login(self, user, password, path='/login', **kw):
        """The session token of a successful login."""
        r = self.post(path, form(user, password), **kw)
        check(r.status == 303 and r.get('location') == '/welcome', f'login {user!r}: {r}')
        token = check_session_cookie(r)
        return token

    def stop_checked(self, allowed=None):
        """SIGTERM, exit 0, no sanitizer report, no [error] line but the client-caused ones and
        those of allowed (a regex)."""
        self.stop_exit(STOP_TIMEOUT)
        check_output_clean(self, allowed)

    def close(self):
        super().close()


def check_output_clean(proc, allowed=None):
    err = proc.stderr()
    for mark in common.SANITIZER_MARKS:
        check(mark not in err, f'sanitizer report:\n{err[-6000:]}')
    for line in err.splitlines():
        check('[error]' not in line or common.CLIENT_CAUSED.search(line)
              or (allowed and allowed.search(line)), f'error logged: {line}')


def make_root():
    base = common.tempfile.mkdtemp(prefix='tinyweb-app.', dir=TEST_TMP)
    root = os.path.join(base, 'www')
    os.mkdir(root)
    for part in SITE_PARTS:
        src = os.path.join(SITE, part)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(root, part))
        elif os.path.exists(src):
            shutil.copy(src, root)
    return root


def check_session_cookie(r):
    c = r.get('set-cookie', '')
    token = r.cookie()
    check(re.fullmatch(r'[A-Za-z0-9_-]{43}', token or ''), f'session token {token!r}')
    attrs = {a.strip().split('=')[0].lower() for a in c.split(';')[1:]}
    for a in ('httponly', 'path', 'max-age'):
        check(a in attrs, f'Set-Cookie without {a}: {c!r}')
    check(re.search(r';\s*SameSite=Lax\b', c, re.I), f'Set-Cookie without SameSite=Lax: {c!r}')
    check(re.search(r';\s*Path=/(;|$)', c), f'Set-Cookie path: {c!r}')
    check(r.get('cache-control') == 'no-store', f'no Cache-Control: no-store: {r}')
    return token


def check_page(r, status, *needles, what=''):
    check(r.status == status, f'{what}: expected {status}, got {r}')
    check(r.get('content-type') == HTML_TYPE, f'{what}: Content-Type {r.get("content-type")}')
    check(r.get('cache-control') == 'no-store', f'{what}: Cache-Control {r.get("cache-control")}')
    text = r.text()
    for n in needles:
        check(n in text, f'{what}: {n!r} not in the page: {text[:1500]}')
    return text


def check_redirect(r, location, what=''):
    check(r.status == 303 and r.get('location') == location,
          f'{what}: expected 303 to {location}, got {r}')
    check(r.get('cache-control') == 'no-store', f'{what}: Cache-Control {r.get("cache-control")}')


# Route sets: the clean ones and TinyWebServer's, which answer the same way.
CLEAN = {'register_form': '/register', 'login_form': '/login', 'register': '/register',
         'login': '/login', 'picture': '/picture', 'video': '/video', 'fans': '/fans'}
TWS = {'register_form': '/0', 'login_form': '/1', 'register': '/3CGISQL.cgi',
       'login': '/2CGISQL.cgi', 'picture': '/5', 'video': '/6', 'fans': '/7'}


def whole_flow(s, routes, user, password, form_method='GET'):
    """Register, log in, see every page, log out; the pages guarded before and after."""
    esc = html.escape(user)
    check_page(s.req(form_method, routes['register_form']), 200, 'action="/register"',
               'name="user"', 'name="password"', what=f'{form_method} {routes["register_form"]}')
    check_page(s.req(form_method, routes['login_form']), 200, 'action="/login"',
               what=f'{form_method} {routes["login_form"]}')
    pages = [('/welcome', 'Welcome, ' + esc), (routes['picture'], '<img '),
             (routes['video'], '<video '), (routes['fans'], '<strong>' + esc + '</strong>')]
    for path, _ in pages:
        check_redirect(s.req('GET', path), '/login', f'{path} before any login')
    s.register(user, password, routes['register'])
    check_page(s.req('GET', '/login?registered'), 200, 'Your account is ready',
               what='the login form after registering')
    token = s.login(user, password, routes['login'])
    for path, needle in pages:
        for method in ('GET', 'POST'):
            check_page(s.req(method, path, cookie=token), 200, needle, what=f'{method} {path}')
        check_redirect(s.req('GET', path), '/login', f'{path} without the cookie')
        check_redirect(s.req('GET', path, cookie='A' * 43), '/login', f'{path}, a made-up token')
    r = s.post('/logout', b'', cookie=token)
    check_redirect(r, '/login', 'logout')
    check(r.cookie() == '' and re.search(r'Max-Age=0', r.get('set-cookie')),
          f'logout does not clear the cookie: {r}')
    # Logged out at once, on every loop: fresh connections land on either.
    for _ in range(6):
        for path, _ in pages:
            check_redirect(s.req('GET', path, cookie=token), '/login', f'{path} after logout')
    # A new login gets a new token; the old one stays dead.
    token2 = s.login(user, password, routes['login'])
    check(token2 != token, 'the same token at a second login')
    check_page(s.req('GET', '/welcome', cookie=token2), 200, 'Welcome, ' + esc, what='relogin')
    check_redirect(s.req('GET', '/welcome', cookie=token), '/login', 'the first token')
    return token2


# ---------------------------------------------------------------------------------------------
# flow


def test_flow_clean_routes(ctx):
    s = ctx.server()
    check_page(s.req('GET', '/'), 200, 'id="new-user"', 'href="/register"', what='landing')
    whole_flow(s, CLEAN, 'alice', 'correct horse')
    s.stop_checked()


def test_flow_tinywebserver_routes(ctx):
    s = ctx.server()
    # Its buttons are POST forms: the form pages answer POST too (with no body at all).
    whole_flow(s, TWS, 'bob', 'battery staple', form_method='POST')
    check_page(s.req('GET', '/2CGISQL.cgi'), 200, 'action="/login"', what='GET /2CGISQL.cgi')
    check_page(s.req('GET', '/3CGISQL.cgi'), 200, 'action="/register"', what='GET /3CGISQL.cgi')
    # A user of one route set is a user of the other.
    s.register('carol', 'pw-c', '/3CGISQL.cgi')
    check(s.post('/register', form('carol', 'x')).status == 409, 'carol again via /register')
    token = s.login('carol', 'pw-c', '/login')
    check_page(s.req('POST', '/5', cookie=token), 200, '<img ', 'carol', what='/5')
    s.stop_checked()


def test_flow_actor_model_1(ctx):
    s = ctx.server('-a', '1')
    check('-a 1' in s.stderr(), f'the start line does not say -a 1: {s.stderr()}')
    check_page(s.req('GET', '/'), 200, 'id="new-user"', what='landing, -a 1')
    whole_flow(s, CLEAN, 'dave', 'pw-d')
    whole_flow(s, TWS, 'erin', 'pw-e', form_method='POST')
    check(s.post('/register', form('dave', 'x')).status == 409, 'duplicate, -a 1')
    check(s.post('/login', form('dave', 'x')).status == 403, 'wrong password, -a 1')
    check(s.post('/login', form('dave', 'x'), ctype='text/plain').status == 415, '415, -a 1')
    s.stop_checked()


def test_head_and_keepalive(ctx):
    s = ctx.server()
    s.register('frank', 'pw-f')
    token = s.login('frank', 'pw-f')
    with s.conn() as c:
        for path in ('/welcome', '/picture', '/video', '/fans', '/5'):
            g = c.exchange('GET', path, cookie=token)
            h = c.exchange('HEAD', path, cookie=token)
            check(g.status == h.status == 200, f'GET/HEAD {path}: {g} {h}')
            check(h.body == b'', 'HEAD with a body')
            for name in ('content-type', 'content-length', 'cache-control'):
                check(g.get(name) == h.get(name), f'HEAD {path} {name}: {h.get(name)} vs GET '
                      f'{g.get(name)}')
            check(int(h.get('content-length')) == len(g.body), f'HEAD {path} length')
        h = c.exchange('HEAD', '/welcome')
        check_redirect(h, '/login', 'HEAD /welcome without a session')
        # Every step of the flow on this one connection.
        check(c.exchange('GET', '/register').status == 200, 'form')
        r = c.exchange('POST', '/register', [('Content-Type', FORM)], form('gina', 'pw-g'))
        check_redirect(r, '/login?registered', 'register, keep-alive')
        r = c.exchange('POST', '/login', [('Content-Type', FORM)], form('gina', 'wrong'))
        check(r.status == 403, f'wrong password, keep-alive: {r}')
        r = c.exchange('POST', '/login', [('Content-Type', FORM)], form('gina', 'pw-g'))
        tok = check_session_cookie(r)
        check_page(c.exchange('GET', '/welcome', cookie=tok), 200, 'Welcome, gina', what='ka')
        check_redirect(c.exchange('POST', '/logout', cookie=tok), '/login', 'logout, keep-alive')
        check_redirect(c.exchange('GET', '/welcome', cookie=tok), '/login', 'after logout')
        check(c.exchange('GET', '/style.css').status == 200, 'a static file after them')
    # Pipelined: requests the loop answers and requests that wait for a worker, in one write;
    # the answers come in order.
    plan = [('GET', '/welcome', token, b'', 200, 'Welcome, frank'),
            ('HEAD', '/welcome', token, b'', 200, None),
            ('POST', '/login', None, form('frank', 'nope'), 403, 'Wrong user name'),
            ('GET', '/picture', token, b'', 200, '<img '),
            ('POST', '/register', None, form('hank', 'pw-h'), 303, None),
            ('GET', '/style.css', None, b'', 200, None),
            ('POST', '/register', None, form('hank', 'pw-h'), 409, 'taken'),
            ('POST', '/2CGISQL.cgi', None, form('hank', 'pw-h'), 303, None),
            ('GET', '/fans', token, b'', 200, 'frank'),
            ('POST', '/login', None, b'user=%zz&password=x', 400, None),
            ('GET', '/welcome', None, b'', 303, None)]
    with s.conn() as c:
        data = b''
        for method, path, cookie, body, _, _ in plan:
            h = [('Content-Type', FORM)] if body else []
            if cookie:
                h.append(('Cookie', f'session={cookie}'))
            if body:
                h.append(('Content-Length', str(len(body))))
            data += build_request(method, path, h, body=body, host=f'{HOST}:{s.port}')
        c.send(data)
        for method, path, _, body, status, needle in plan:
            r = c.response(head=method == 'HEAD')
            check(r.status == status, f'pipelined {method} {path}: expected {status}, got {r}')
            if needle:
                check(needle in r.text(), f'pipelined {method} {path}: {needle!r} not in {r}')
        c.silent(0.2)
    s.stop_checked()


def test_expect_continue_and_chunked(ctx):
    s = ctx.server()
    with s.conn() as c:
        body = form('ivan', 'pw-i')
        c.request('POST', '/register', [('Content-Type', FORM), ('Expect', '100-continue'),
                                        ('Content-Length', str(len(body)))])
        r = c.response(interim=True)
        check(r.status == 100, f'expected 100 Continue first, got {r}')
        c.send(body)
        check_redirect(c.response(), '/login?registered', 'register after 100 Continue')
        c.request('POST', '/login', [('Content-Type', FORM), ('Expect', '100-continue'),
                                     ('Content-Length', str(len(body)))])
        check(c.response(interim=True).status == 100, '100 Continue for /login')
        c.send(body)
        tok = check_session_cookie(c.response())
        check_page(c.exchange('GET', '/welcome', cookie=tok), 200, 'Welcome, ivan', what='100')
        # Chunked bodies, split inside a field and inside a percent escape.
        raw = form('jane doe+', 'pw j%')
        cut = raw.index(b'%') + 1
        chunks = [raw[:5], raw[5:cut], raw[cut:]]
        chunked = b''.join(b'%x\r\n%s\r\n' % (len(x), x) for x in chunks) + b'0\r\n\r\n'
        for path, status in (('/register', 303), ('/login', 303), ('/register', 409)):
            c.request('POST', path, [('Content-Type', FORM), ('Transfer-Encoding', 'chunked')],
                      chunked)
            r = c.response()
            check(r.status == status, f'chunked POST {path}: expected {status}, got {r}')
            if path == '/login':
                tok = check_session_cookie(r)
        check_page(c.exchange('GET', '/welcome', cookie=tok), 200,
                   'Welcome, ' + html.escape('jane doe+'), what='chunked')
        check(c.exchange('GET', '/welcome', cookie=tok).status == 200, 'still usable')
    s.stop_checked()


def test_application_off(ctx):
    root = make_root()
    s = ctx.server(db=None, root=root)
    r = s.req('GET', '/')
    with open(os.path.join(root, 'index.html'), 'rb') as f:
        check(r.status == 200 and r.body == f.read(), f'/ is not the static index.html: {r}')
    for path in ('/login', '/welcome', '/register', '/0', '/1', '/5', '/picture'):
        for method in ('GET', 'HEAD'):
            r = s.req(method, path)
            check(r.status == 404, f'{method} {path} without --db: {r}')
            check(r.get('set-cookie') is None and r.get('location') is None, f'{path}: {r}')
    for path in ('/login', '/register', '/2CGISQL.cgi'):
        r = s.post(path, form('x', 'y'))
        check(r.status in (404, 405) and r.get('set-cookie') is None
              and r.get('location') is None, f'POST {path} without --db: {r}')
    check(not os.path.exists(os.path.join(root, '..', 'app.sqlite')), 'a database file')
    s.stop_checked(NOT_FOUND_RE)


def test_check_config(ctx):
    """-T with --db checks the templates and the password costs, without opening (or creating)
    the database: a broken template is an error naming its file and line, exit 1."""
    root = make_root()
    base = os.path.dirname(root)
    db = os.path.join(base, 'never.sqlite')

    def run(*args):
        return subprocess.run([ctx.binary, '--root', root, '--db', f'sqlite:{db}', '-T', *args],
                              capture_output=True, text=True, timeout=30, env=clean_env())

    r = run()
    check(r.returncode == 0 and 'configuration ok' in r.stderr, f'-T: {r.returncode} {r.stderr}')
    r = run('--templates', os.path.join(base, 'missing'))
    check(r.returncode == 1 and 'missing' in r.stderr, f'missing templates: {r.stderr}')
    with open(os.path.join(root, 'templates', 'fans.html'), 'a') as f:
        f.write('\n<p>{{nobody}}</p>\n')
    r = run()
    check(r.returncode == 1 and 'fans.html' in r.stderr and 'nobody' in r.stderr,
          f'a broken template: {r.returncode} {r.stderr}')
    check(not os.path.exists(db), '-T created the database')
    shutil.rmtree(base, ignore_errors=True)


def test_templates_hidden(ctx):
    """With the application on, the templates' raw text is no page, however the path is
    spelled."""
    s = ctx.server()
    for path in ('/templates/welcome.html', '/templates/', '/templates/login.html',
                 '/templates', '/templates/../templates/error.html', '/./templates/fans.html',
                 '/templates//fans.html', '/%74emplates/fans.html', '/templates%2Ffans.html'):
        for method in ('GET', 'HEAD', 'POST'):
            r = s.req(method, path)
            check((r.status in (404, 405) or r.status == 301 and r.get('location') == '/templates/')
                  and b'{{' not in r.body, f'{method} {path}: {r}')
    s.stop_checked(NOT_FOUND_RE)


# ---------------------------------------------------------------------------------------------
# forms


def test_duplicate_and_wrong_password(ctx):
    s = ctx.server()
    s.register('kim', 'pw-k')
    r = s.post('/register', form('kim', 'another'))
    check_page(r, 409, 'taken', what='duplicate')
    check(r.get('set-cookie') is None, 'a cookie with a 409')
    # The first password is still the one.
    s.login('kim', 'pw-k')
    wrong = s.post('/login', form('kim', 'pw-K'))
    unknown = s.post('/login', form('nobody', 'pw-k'))
    check_page(wrong, 403, 'Wrong user name or password', what='wrong password')
    check_page(unknown, 403, 'Wrong user name or password', what='unknown user')
    check(wrong.get('set-cookie') is None and unknown.get('set-cookie') is None, 'cookies')
    # The same page for both (the name typed back in is the only difference).
    check(wrong.body.replace(b'kim', b'nobody') == unknown.body,
          f'wrong password and unknown user differ:\n{wrong.body!r}\n{unknown.body!r}')
    # Names are exact: no case folding, no trimming (a blank at either end is refused outright).
    check(s.post('/login', form('KIM', 'pw-k')).status == 403, 'KIM logged in as kim')
    check(s.post('/login', form('kim ', 'pw-k')).status == 400, '"kim " not refused as a name')
    s.register('KIM', 'pw-K2')
    s.stop_checked()


HOSTILE = ["' OR 1=1 --", '<script>alert(1)</script>', '中文名', "x'); DROP TABLE users; --",
           'a&b "c" <d>', 'Ünïcödé 😀', '%41+plus']


def test_hostile_names(ctx):
    s = ctx.server()
    s.register('victim', 'pw-v')
    for i, name in enumerate(HOSTILE):
        password = f'pw-{i}'
        s.register(name, password)
        check(s.post('/register', form(name, 'x')).status == 409, f'{name!r} twice')
        check(s.post('/login', form(name, 'x')).status == 403, f'{name!r}, wrong password')
        token = s.login(name, password)
        for path in ('/welcome', '/picture', '/video', '/fans'):
            text = check_page(s.req('GET', path, cookie=token), 200, html.escape(name, quote=True)
                              .replace('&#x27;', '&#39;'), what=f'{path} for {name!r}')
            if set(name) & set('<>&"\''):
                check(name not in text, f'{path}: {name!r} unescaped in the page')
        # The login form shows the name typed back, escaped too.
        text = s.post('/login', form(name, 'bad')).text()
        check('<script>alert' not in text, f'the login form echoes {name!r} raw')
    # Nothing above touched the other users.
    s.login('victim', 'pw-v')
    check(s.post('/login', form("victim' --", 'x')).status == 403, 'comment injection')
    check(s.post('/login', form("' OR '1'='1", "' OR '1'='1")).status == 403, 'OR injection')
    check(s.post('/register', form('victim', 'x')).status == 409, 'victim still there')
    s.stop_checked()


# Names that would pass for another, or show as nothing: controls (C1 too), bidirectional and
# zero-width format characters, a byte order mark, tags, blanks at either end or only blanks.
UNUSABLE_NAMES = ['alice\u0085', '\u202eecila', 'alice\u200b', '\ufeffalice', '\U000e0001',
                  '   ', 'alice ', ' alice', '\u00a0alice', 'ali\u2028ce', 'ali\ufdd0ce']


def test_unusable_names(ctx):
    s = ctx.server()
    for name in UNUSABLE_NAMES:
        check_page(s.post('/register', form(name, 'pw')), 400, 'printable characters',
                   what=f'register {name!r}')
    # Inner blanks and any script are names like others.
    for name in ('al ice', '中文 名', 'Zoë', 'ﾃｽﾄ'):
        s.register(name, 'pw')
    s.stop_checked()


def test_session_cookie_lines(ctx):
    """The session cookie is found in any Cookie line; two session cookies are no session (a
    cookie tossed in by a sibling domain could come first)."""
    s = ctx.server()
    s.register('cora', 'pw-c')
    token = s.login('cora', 'pw-c')
    two_lines = [('Cookie', 'theme=dark'), ('Cookie', f'session={token}')]
    check_page(s.req('GET', '/welcome', headers=two_lines), 200, 'cora', what='second line')
    one_line = [('Cookie', f'theme=dark; session={token}; lang=en')]
    check_page(s.req('GET', '/welcome', headers=one_line), 200, 'cora', what='among others')
    other = s.login('cora', 'pw-c')
    for h in ([('Cookie', f'session={other}; session={token}')],
              [('Cookie', f'session={token}'), ('Cookie', f'session={token}')]):
        check_redirect(s.req('GET', '/welcome', headers=h), '/login', f'two session cookies {h}')
    s.stop_checked()


def test_name_and_password_lengths(ctx):
    s = ctx.server()
    for name in ('a' * 50, '名' * 50, 'é' * 50, '😀' * 50):
        s.register(name, 'pw')
        token = s.login(name, 'pw')
        check_page(s.req('GET', '/welcome', cookie=token), 200, name, what=f'{len(name)} chars')
    for name in ('b' * 51, '名' * 51, 'b' * 300):
        r = s.post('/register', form(name, 'pw'))
        check_page(r, 400, what=f'register {len(name)}-character name')
        check(s.post('/login', form(name, 'pw')).status == 400, f'login {len(name)} chars')
    check(s.post('/register', form('b' * 50, 'pw')).status == 303, '50 b')
    long_pw = 'p' * 1024
    s.register('longpw', long_pw)
    s.login('longpw', long_pw)
    check(s.post('/login', form('longpw', long_pw[:-1])).status == 403, 'a prefix of it')
    check(s.post('/register', form('longerpw', 'p' * 1025)).status == 400, '1025-byte password')
    s.stop_checked()


BAD_FORMS = [
    b'user=a%zz&password=x', b'user=a%4&password=x', b'user=a&password=%',
    b'user=%C0%80&password=x',
    b'user=%FF&password=x', b'user=%ED%A0%80&password=x', b'user=a%00b&password=x',
    b'user=a', b'password=x', b'', b'user=&password=x', b'user=a&password=',
    b'user=a&user=b&password=x', b'user=a&password=x&password=y', b'garbage',
]


def test_malformed_forms(ctx):
    s = ctx.server()
    for path in ('/register', '/login', '/3CGISQL.cgi', '/2CGISQL.cgi'):
        for body in BAD_FORMS:
            r = s.post(path, body, ctype=FORM)
            check(r.status == 400, f'POST {path} {body!r}: expected 400, got {r}')
            check(r.get('cache-control') == 'no-store' and r.get('set-cookie') is None, f'{r}')
        for ctype in ('text/plain', 'multipart/form-data; boundary=x', 'application/json',
                      'application/x-www-form-urlencodedx', None):
            r = s.post(path, form('lee', 'pw'), ctype=ctype)
            check(r.status == 415, f'POST {path} Content-Type {ctype}: expected 415, got {r}')
    # Nothing was registered by any of them; parameters and case are fine.
    s.register('a', 'x')
    r = s.post('/register', form('lee', 'pw'), ctype='Application/X-WWW-Form-Urlencoded; '
               'charset=UTF-8')
    check_redirect(r, '/login?registered', 'a Content-Type with a parameter')
    r = s.post('/login', b'password=pw&user=lee&')
    check(r.status in (303, 400), f'fields in another order: {r}')
    r = s.post('/login', b'user=l%65e&password=p%77')
    check_redirect(r, '/welcome', 'percent-encoded fields')
    s.stop_checked()


def test_cross_site_post(ctx):
    s = ctx.server()
    me = f'http://{HOST}:{s.port}'
    evil = [('Origin', 'http://evil.example'), ('Origin', 'null'),
            ('Origin', f'http://{HOST}:{s.port}.evil.example'),
            ('Origin', f'http://{HOST}:{s.port + 1 if s.port < 65535 else 1}'),
            ('Referer', 'http://evil.example/form.html'),
            ('Referer', f'http://evil.example/{HOST}:{s.port}/')]
    for header in evil:
        for path in ('/register', '/3CGISQL.cgi'):
            r = s.post(path, form('mia', 'pw-m'), headers=[header])
            check_page(r, 403, what=f'POST {path} with {header}')
    # None of them registered mia.
    s.register('mia', 'pw-m')
    token = s.login('mia', 'pw-m')
    for header in evil:
        r = s.post('/login', form('mia', 'pw-m'), headers=[header])
        check(r.status == 403 and r.get('set-cookie') is None, f'login with {header}: {r}')
        r = s.post('/logout', b'', headers=[header], cookie=token)
        check(r.status == 403, f'logout with {header}: {r}')
    # The forged logout did not end the session.
    check_page(s.req('GET', '/welcome', cookie=token), 200, 'mia', what='after forged logouts')
    # A cross-site GET is a link: fine.
    check(s.req('GET', '/welcome', headers=[('Origin', 'http://evil.example')],
                cookie=token).status == 200, 'GET with a foreign Origin')
    # Same origin, by Origin or by Referer, and neither: accepted.
    s.login('mia', 'pw-m', headers=[('Origin', me)])
    s.login('mia', 'pw-m', headers=[('Origin', me.upper().replace('HTTP', 'http'))])
    s.login('mia', 'pw-m', headers=[('Referer', me + '/login')])
    s.login('mia', 'pw-m')
    check_redirect(s.post('/logout', b'', headers=[('Origin', me)], cookie=token), '/login',
                   'logout same-origin')
    check_redirect(s.req('GET', '/welcome', cookie=token), '/login', 'after the real logout')
    s.stop_checked()


# ---------------------------------------------------------------------------------------------
# abuse


def test_concurrent_registration(ctx):
    s = ctx.server('-s', '4', threads=2, workers=4)
    n = 20
    for rnd in range(4):
        name = f'race{rnd}'
        barrier = threading.Barrier(n)
        statuses = [None] * n

        def worker(i):
            try:
                c = s.conn()
                barrier.wait(10)
                c.request('POST', '/register' if i % 2 else '/3CGISQL.cgi',
                          [('Content-Type', FORM)], form(name, f'pw-{rnd}-{i}'))
                statuses[i] = c.response().status
                c.close()
            except Exception as e:
                statuses[i] = e

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        check(sorted(map(str, statuses)) == ['303'] + ['409'] * (n - 1),
              f'round {rnd}: {statuses}')
        winner = statuses.index(303)
        # The stored password is the winner's, and only it.
        s.login(name, f'pw-{rnd}-{winner}')
        for i in (winner - 1) % n, (winner + 1) % n:
            check(s.post('/login', form(name, f'pw-{rnd}-{i}')).status == 403,
                  f'round {rnd}: a loser\'s password {i} logs in')
    s.stop_checked()


def test_throttle_burst(ctx):
    """Wrong passwords sent all at once are counted as they are checked: with --login-throttle 3
    and 2 workers, at most 3 + 1 of 40 reach a password check (each worker checks the throttle
    again before it hashes); the rest get 429."""
    s = ctx.server(throttle=3, workers=2)
    s.register('burst', 'pw-b')
    codes, lock = [], threading.Lock()
    barrier = threading.Barrier(40)

    def attempt():
        with s.conn() as c:
            barrier.wait()
            r = c.exchange('POST', '/login', [('Content-Type', FORM)], form('burst', 'wrong'))
        with lock:
            codes.append(r.status)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(len(codes) == 40 and set(codes) <= {403, 429}, f'answers: {sorted(codes)}')
    check(3 <= codes.count(403) <= 4, f'{codes.count(403)} password checks of 40: {sorted(codes)}')
    s.stop_checked()


def test_throttle(ctx):
    late = []
    retry_late(lambda: throttle_attempt(ctx), late)


def throttle_attempt(ctx):
    s = ctx.server(throttle=3)
    problems = []
    try:
        s.register('nick', 'pw-n')
        s.register('olga', 'pw-o')
        codes = []
        t0 = time.monotonic()
        for _ in range(5):
            r = s.post('/login', form('nick', 'wrong'))
            codes.append(r.status)
            if r.status == 429:
                break
        check(codes[:3] == [403] * 3, f'the free failures: {codes}')
        if r.status != 429:
            check_late(time.monotonic() - t0 < 1, 'the block ended within a second')
        # --help: "failed logins ... before each further one is refused (429)": the 4th. The rest
        # is checked even when it is the 5th; the test fails at its end then.
        if codes != [403, 403, 403, 429]:
            problems.append(f'with --login-throttle 3, the attempt after 3 failures is not '
                            f'refused: {codes}')
        check_page(r, 429, 'Too many', what='throttled')
        blocked_at = time.monotonic()
        ra = r.get('retry-after')
        check(ra and ra.isdigit() and 1 <= int(ra) <= 2, f'Retry-After {ra!r}')

        def still_blocked(r, what):
            if r.status != 429:
                check_late(time.monotonic() - blocked_at < 1, f'{what}: the 1 s block is over')
            check(r.status == 429 and r.get('set-cookie') is None, f'{what}: {r}')

        # Refused even with the right password, and without hashing it.
        still_blocked(s.post('/login', form('nick', 'pw-n')), 'right password, blocked')
        # The address is blocked too: another user from 127.0.0.1 ...
        still_blocked(s.post('/login', form('olga', 'pw-o')), 'another user, blocked address')
        # ... but not from 127.0.0.2, where only nick's name is blocked.
        s.login('olga', 'pw-o', source='127.0.0.2')
        still_blocked(s.post('/login', form('nick', 'pw-n'), source='127.0.0.2'),
                      'the blocked name from another address')
        # Registering is not throttled.
        s.register('pete', 'pw-p')
        # After Retry-After, allowed again: the right password logs in.
        time.sleep(int(ra) + 0.1)
        r = s.post('/login', form('nick', 'pw-n'))
        check_late(r.status != 429, f'still refused {int(ra) + 0.1:.1f} s later: {r}')
        check_session_cookie(r)
        # The address's count stays: its next block doubles (2 s), after one more failure at
        # most.
        codes = []
        for _ in range(2):
            r = s.post('/login', form('pete', 'wrong'))
            codes.append(r.status)
            if r.status == 429:
                break
        check(r.status == 429 and r.get('retry-after') == '2',
              f'the second block of 127.0.0.1: {codes} {r}')
        s.stop_checked()
        check(not problems, '; '.join(problems))
    finally:
        s.close()


def test_session_expiry(ctx):
    late = []
    retry_late(lambda: expiry_attempt(ctx), late)


def expiry_attempt(ctx):
    ttl = 2.0
    s = ctx.server('--session-ttl', '2s')
    problems = []
    try:
        s.register('quinn', 'pw-q')
        # Log in near the end of a wall-clock second: a lifetime counted in whole seconds from a
        # truncated time() is short by up to one second.
        wait_until(lambda: time.time() % 1 >= 0.85, 2, 'the end of a second')
        t0 = time.monotonic()
        r = s.post('/login', form('quinn', 'pw-q'))
        token = check_session_cookie(r)
        check(re.search(r'Max-Age=2(;|$)', r.get('set-cookie')), f'Max-Age: {r}')
        for at in (0.0, 0.8, 1.6):
            while time.monotonic() - t0 < at:
                time.sleep(0.01)
            r = s.req('GET', '/welcome', cookie=token)
            age = time.monotonic() - t0
            if r.status == 303:
                # The session may be older than it looks here only if this process stalled.
                check_late(age < ttl, f'/welcome at {age:.2f} s: the session outlived nothing')
                # The rest is checked too; the test fails at its end.
                problems.append(f'the session expired early: --session-ttl 2s, /welcome '
                                f'refused {age:.2f} s after the login request was sent: {r}')
                break
            check_page(r, 200, 'quinn', what=f'/welcome at {age:.2f} s')
        # Expired: by the TTL plus a second (whole seconds) and some slack.
        deadline = ttl + 1.5
        while True:
            r = s.req('GET', '/welcome', cookie=token)
            if r.status == 303:
                check_redirect(r, '/login', 'expired')
                age = time.monotonic() - t0
                if age < ttl and not problems:
                    problems.append(f'expired at {age:.2f} s, before the TTL')
                break
            check_late(time.monotonic() - t0 < deadline,
                       f'the session still works {time.monotonic() - t0:.2f} s after login')
            time.sleep(0.05)
        for path in ('/picture', '/5', '/fans'):
            check_redirect(s.req('GET', path, cookie=token), '/login', f'{path} expired')
        # A new login works.
        token = s.login('quinn', 'pw-q')
        check(s.req('GET', '/welcome', cookie=token).status == 200, 'new login')
        s.stop_checked()
        check(not problems, '; '.join(problems))
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# load


def slow_server(ctx, *args):
    return ctx.server('-s', '2', *args, threads=1, workers=1, hashing=SLOW_HASH)


def loop_ticks(pid):
    """CPU ticks (user + system) of the process's threads but the worker pool's."""
    total = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index('(') + 1:stat.rindex(')')]
        if name != 'tinyweb-work':
            fields = stat[stat.rindex(')') + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total


def test_reset_while_hashing_level_triggered(ctx):
    """A client that resets its connection while its login hashes, in level-triggered mode
    (-m 0, TinyWebServer's README example): epoll reports the hang-up whatever it was asked
    for; the loop must close the connection, not wake on it every turn until the job ends."""
    s = slow_server(ctx, '-m', '0')
    s.register('lena', 'pw-l')
    for _ in range(12):  # 12 hashes queued on 1 worker: more than the second measured
        c = s.conn()
        c.request('POST', '/login', [('Content-Type', FORM)], form('lena', 'pw-l'))
        time.sleep(0.01)  # the request is read and its job queued
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.sock.close()  # a reset
    before = loop_ticks(s.pid)
    time.sleep(1.0)
    spent = loop_ticks(s.pid) - before
    # A spinning loop burns what it gets of the second (up to 100 ticks); an idle one nothing.
    check(spent < 10, f'the loop used {spent} ticks in 1 s after the resets')
    print(f'    loop ticks in the second after the resets: {spent}')
    check(s.req('GET', '/').status == 200, 'the loop still answers')
    s.stop_checked()


def test_disconnect_while_hashing(ctx):
    s = slow_server(ctx)
    s.register('rita', 'pw-r')
    check(s.req('GET', '/').status == 200, 'warm-up')
    before = s.settled(s.open_fds, 5, 0.05)
    body = form('rita', 'pw-r')
    for i in range(16):
        c = s.conn()
        c.request('POST', '/login' if i % 3 else '/register', [('Content-Type', FORM)],
                  body if i % 3 else form(f'gone{i}', 'pw'))
        if i % 4 == 0:  # a reset instead of a FIN
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\0\0\0\0\0\0\0')
        elif i % 4 == 1:  # gone a little later, mid-hash
            time.sleep(0.03)
        c.close()
    # The loop does not wait for the workers: a static page and a form now.
    t = time.monotonic()
    check(s.req('GET', '/style.css').status == 200, 'static file during the hashing')
    check(s.req('GET', '/login').status == 200, 'login form during the hashing')
    elapsed = time.monotonic() - t
    check_late(elapsed < 1.0, f'the loop took {elapsed:.2f} s for two quick requests')
    # Once the queue drained: a login works, and every fd of those clients is closed.
    token = s.login('rita', 'pw-r')
    check(s.req('GET', '/welcome', cookie=token).status == 200, 'welcome after it')
    s.wait_fd_state(s.open_fds, lambda n: n <= before, 10, 0.05,
                    lambda n: f'{n} fds open, {before} before: {s.fd_targets()}')
    s.stop_checked()


def test_stop_while_hashing(ctx):
    s = slow_server(ctx)
    s.register('sam', 'pw-s')
    conns = []
    for i in range(6):
        c = s.conn()
        c.request('POST', '/login', [('Content-Type', FORM)], form('sam', 'pw-s'))
        conns.append(c)
    time.sleep(0.05)
    s.signal(signal.SIGTERM)
    for c in conns:
        try:
            r = c.response()
            check(r.status in (303, 503), f'an answer during the stop: {r}')
        except (Failure, OSError):
            pass  # closed by the stop: fine
        c.close()
    s.stop_checked(re.compile(r'\[error\] the worker pool stopped before the request ran'))


def test_queue_full(ctx):
    s = slow_server(ctx, '--worker-queue', '1')
    s.register('tom', 'pw-t')
    n = 6
    conns = [s.conn() for _ in range(n)]
    for c in conns:
        c.request('POST', '/login', [('Content-Type', FORM)], form('tom', 'pw-t'))
    results = []
    t = time.monotonic()
    for c in conns:
        results.append(c.response())
        c.close()
    elapsed = time.monotonic() - t
    codes = [r.status for r in results]
    check(set(codes) <= {303, 503}, f'answers: {codes}')
    check(codes.count(503) >= 1, f'no 503 with a queue of 1 and {n} logins at once: {codes}')
    check(codes.count(303) >= 1, f'no login got through: {codes}')
    check(codes.count(303) <= 2 + 1, f'more logins than one worker and one queued: {codes}')
    for r in results:
        if r.status == 503:
            check_page(r, 503, what='503')
            check(r.get('retry-after', '').isdigit(), f'503 without Retry-After: {r}')
            check(r.get('set-cookie') is None, '503 with a cookie')
    check(elapsed < 10, f'the answers took {elapsed:.1f} s')
    # Once drained, a login works again.
    s.login('tom', 'pw-t')
    s.stop_checked(BUSY_RE)


def test_app_timeout(ctx):
    s = slow_server(ctx, '--app-timeout', '20ms')
    problems = []

    def check_504(r, what):
        check(r.status == 504, f'{what}: expected 504, got {r}')
        check(r.get('set-cookie') is None, f'{what}: 504 with a cookie: {r}')
        if r.get('cache-control') != 'no-store' and not problems:
            problems.append(f'{what}: an application response without Cache-Control: no-store: '
                            f'{r}')

    # Registering hashes too: it times out as well, but its work completes.
    with s.conn() as c:
        r = c.exchange('POST', '/register', [('Content-Type', FORM)], form('uma', 'pw-u'))
        check_504(r, 'register past --app-timeout')
        time.sleep(0.4)
        c.silent(0.1)
    with s.conn() as c:
        r = c.exchange('POST', '/login', [('Content-Type', FORM)], form('uma', 'pw-u'))
        check_504(r, 'login past --app-timeout')
        # The connection stays usable at once ...
        check_page(c.exchange('GET', '/login'), 200, 'action="/login"', what='after the 504')
        # ... and the late job, when it finishes, writes nothing onto it.
        time.sleep(0.4)
        c.silent(0.1)
        check_page(c.exchange('GET', '/register'), 200, 'action="/register"', what='later')
        check(c.exchange('GET', '/welcome').status == 303, 'a page that needs no worker')
        # Many at once, with clients that leave.
        for i in range(5):
            c2 = s.conn()
            c2.request('POST', '/login', [('Content-Type', FORM)], form('uma', 'pw-u'))
            if i % 2:
                c2.close()
            else:
                check_504(c2.response(), 'one of many')
                c2.close()
        time.sleep(0.8)
        check(c.exchange('GET', '/').status == 200, 'after the late jobs')
    # The registration that timed out did complete.
    check(s.post('/register', form('uma', 'x')).status in (409, 504), 'uma was not registered')
    s.stop_checked(APP_TIMEOUT_RE)
    check(not problems, '; '.join(problems))


# ---------------------------------------------------------------------------------------------
# state


def test_no_secrets_in_logs(ctx):
    for async_log in ('0', '1'):
        root = make_root()
        access = os.path.join(root, '..', 'access-file.log')
        error = os.path.join(root, '..', 'error-file.log')
        s = ctx.server('-l', async_log, '--access-log', access, '--error-log', error,
                       '--app-timeout', '5s', root=root)
        secret = 'Sekr3t-Pa55w0rd-7f3a9c'
        wrong = 'Wr0ng-Pa55w0rd-b81d2e'
        s.register('vera', secret)
        token = s.login('vera', secret)
        s.login('vera', secret, '/2CGISQL.cgi')
        s.post('/login', form('vera', wrong))
        s.post('/register', form('vera', secret))
        s.post('/login', form('vera', secret), headers=[('Origin', 'http://evil.example')])
        s.post('/login', form('vera', secret), ctype='text/plain')
        s.post('/login', b'user=vera&password=' + secret.encode() + b'%zz')
        s.post('/login', form('vera', secret), headers=[('Referer', 'http://evil.example/')])
        s.req('GET', '/welcome', cookie=token)
        s.req('GET', '/missing-page', cookie=token)
        s.post('/logout', b'', cookie=token, headers=[('Origin', 'http://evil.example')])
        s.post('/logout', b'', cookie=token)
        s.stop_checked(NOT_FOUND_RE)
        logs = {'access log': common.read_text(access), 'error log': common.read_text(error),
                'stderr': s.stderr(), 'stdout': s.stdout()}
        check(logs['access log'].count('POST /login') >= 5, f'access log: {logs["access log"]}')
        check('cross-site' in logs['error log'], f'error log: {logs["error log"]}')
        for where, text in logs.items():
            for what, value in (('password', secret), ('wrong password', wrong),
                                ('session token', token), ('token prefix', token[:16])):
                check(value not in text and urllib.parse.quote(value) not in text,
                      f'-l {async_log}: the {what} is in the {where}:\n{text[-3000:]}')
        s.close()


def mariadb_sh(*args):
    """scripts/mariadb.sh's output."""
    return subprocess.run([MARIADB_SH, *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def mysql_query(url, sql):
    """The rows of sql, run as the server's root on the database of url (the throwaway server
    of scripts/mariadb.sh: its socket in the URL), tab-separated."""
    q = urllib.parse.urlsplit(url)
    sock = urllib.parse.parse_qs(q.query)['socket'][0]
    r = subprocess.run(['mariadb', '--no-defaults', f'--socket={sock}', '--user=root', '--batch',
                        '--skip-column-names', q.path.lstrip('/'), '-e', sql], check=True,
                       capture_output=True, timeout=30)
    return r.stdout.decode()


def stored_hash(db, name):
    if db.startswith('mysql://'):
        return mysql_query(db, "SELECT hash FROM users WHERE name = '" + name + "'").strip()
    import sqlite3
    con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
    try:
        return con.execute('SELECT hash FROM users WHERE name = ?', (name,)).fetchone()[0]
    finally:
        con.close()


def test_rehash_at_login(ctx):
    """A password hashed with older costs is hashed again at the current ones by its next
    login, so that every account's check comes to cost what an unknown name's does."""
    s = ctx.server()
    root, db = s.root, s.db
    s.register('xena', 'pw-x')
    s.stop_checked()
    old = stored_hash(db, 'xena')
    check(old.startswith('$argon2id$') and 'm=8,t=1' in old, f'first hash: {old}')
    s2 = ctx.server(db=db, root=root, hashing=('--pwhash-ops', '2', '--pwhash-mem', '16k'))
    check(s2.post('/login', form('xena', 'wrong')).status == 403, 'a wrong password')
    check(stored_hash(db, 'xena') == old, 'a failed login changed the hash')
    s2.login('xena', 'pw-x')
    new = stored_hash(db, 'xena')
    check(new != old and 'm=16,t=2' in new, f're-hashed: {new}')
    s2.login('xena', 'pw-x')
    check(stored_hash(db, 'xena') == new, 'hashed again at the same costs')
    s2.stop_checked()


def test_restart_keeps_users(ctx):
    s = ctx.server()
    root, db = s.root, s.db
    s.register('walt', 'pw-w')
    s.register('中文名', 'pw-z')
    token = s.login('walt', 'pw-w')
    gone = s.login('中文名', 'pw-z')
    check_redirect(s.post('/logout', b'', cookie=gone), '/login', 'logout')
    s.stop_checked()
    if not ctx.mysql:
        mode = os.stat(db).st_mode & 0o777
        check(mode == 0o600, f'the database file is {oct(mode)}, not 0600')
    s2 = ctx.server(db=db, root=root, threads=1)
    # The session survives the restart (it is in the database); the ended one stays ended.
    check_page(s2.req('GET', '/welcome', cookie=token), 200, 'Welcome, walt', what='old session')
    check_redirect(s2.req('GET', '/welcome', cookie=gone), '/login', 'the ended session')
    check(s2.post('/register', form('walt', 'x')).status == 409, 'walt is still taken')
    check(s2.post('/login', form('walt', 'x')).status == 403, 'wrong password after restart')
    s2.login('walt', 'pw-w')
    t = s2.login('中文名', 'pw-z')
    check_page(s2.req('GET', '/welcome', cookie=t), 200, '中文名', what='restart, UTF-8 name')
    check_redirect(s2.post('/logout', b'', cookie=token), '/login', 'logout after restart')
    check_redirect(s2.req('GET', '/welcome', cookie=token), '/login', 'after that logout')
    s2.stop_checked()


def test_database_outage(ctx):
    """MariaDB stopped under a running tinyweb: the application's routes answer 503 with
    Retry-After at once, static files 200; started again, logins work again without a restart
    of tinyweb. A server of its own (the shared one stays up)."""
    if not ctx.mysql:
        raise Skip('MariaDB only (--mysql)')
    mdir = common.tempfile.mkdtemp(prefix='tinyweb-mariadb.', dir=TEST_TMP)
    ctx.cleanups.append(lambda: (mariadb_sh('stop', mdir), shutil.rmtree(mdir, True)))
    url = mariadb_sh('start', mdir)
    s = ctx.server(db=url, threads=1)
    s.register('olga', 'pw-o')
    token = s.login('olga', 'pw-o')
    check_page(s.req('GET', '/welcome', cookie=token), 200, 'Welcome, olga', what='before')
    # A session that s has not seen (its session cache would answer for one it has).
    other = ctx.server(db=url, threads=1)
    unseen = other.login('olga', 'pw-o')
    other.stop_checked()

    mariadb_sh('stop', mdir)
    slowest = 0.0
    for what, method, path, body, cookie in (
            ('a logged-in page', 'GET', '/welcome', b'', unseen),
            ('a login', 'POST', '/login', form('olga', 'pw-o'), None),
            ('a registration', 'POST', '/register', form('petra', 'pw-p'), None),
            ('a logged-in page again', 'GET', '/welcome', b'', unseen)):
        start = time.monotonic()
        r = s.req(method, path, body, cookie=cookie)
        took = time.monotonic() - start
        check(r.status == 503 and r.get('retry-after') is not None,
              f'{what} with the database down: {r}')
        check(took < 3.0, f'{what} with the database down took {took:.2f} s')
        slowest = max(slowest, took)
    r = s.req('GET', '/style.css')
    check(r.status == 200, f'a static file with the database down: {r}')

    start = time.monotonic()
    mariadb_sh('start', mdir)
    restarted = time.monotonic()
    wait_until(lambda: s.post('/login', form('olga', 'pw-o')).status == 303, 10.0,
               'a login once the database is back')
    back = time.monotonic() - restarted
    token2 = s.login('olga', 'pw-o')
    check_page(s.req('GET', '/welcome', cookie=token2), 200, 'Welcome, olga', what='after')
    check_page(s.req('GET', '/welcome', cookie=unseen), 200, 'Welcome, olga', what='old session')
    s.register('petra', 'pw-p')
    print(f'    503s in {slowest * 1000:.1f} ms at most; database restart {restarted - start:.2f} s,'
          f' logins back {back:.2f} s after it', flush=True)
    s.stop_checked(DB_FAILED_RE)
    # Each failure's error-log line says why: the client library's error or the refused
    # connection, never a bare "database error".
    failed = [line for line in s.stderr().splitlines() if DB_FAILED_RE.search(line)]
    check(len(failed) >= 4, f'{len(failed)} database failures logged for 4 requests: {failed}')
    for line in failed:
        check(DB_CAUSE_RE.search(line), f'a database failure logged without its cause: {line}')


# ---------------------------------------------------------------------------------------------
# Runner

GROUPS = {
    'flow': [test_flow_clean_routes, test_flow_tinywebserver_routes, test_flow_actor_model_1,
             test_head_and_keepalive, test_expect_continue_and_chunked, test_application_off,
             test_templates_hidden, test_check_config],
    'forms': [test_duplicate_and_wrong_password, test_hostile_names, test_unusable_names,
              test_name_and_password_lengths, test_malformed_forms, test_cross_site_post,
              test_session_cookie_lines],
    'abuse': [test_concurrent_registration, test_throttle, test_throttle_burst,
              test_session_expiry],
    'load': [test_disconnect_while_hashing, test_reset_while_hashing_level_triggered,
             test_stop_while_hashing, test_queue_full, test_app_timeout],
    'state': [test_no_secrets_in_logs, test_restart_keeps_users, test_rehash_at_login],
    'outage': [test_database_outage],
}


class Context:
    def __init__(self, args):
        self.binary = os.path.abspath(args.binary)
        self.servers = []
        self.mysql = os.path.abspath(args.mysql) if args.mysql else None
        self.databases = []
        self.cleanups = []

    def new_database(self):
        """The URL of a fresh database on the --mysql server, dropped after the test."""
        name = 'app_' + os.urandom(6).hex()
        url = mariadb_sh('createdb', self.mysql, name)
        self.databases.append(name)
        return url

    def server(self, *args, **kw):
        s = Server(self, *args, **kw)
        self.servers.append(s)
        return s

    def close_servers(self):
        for s in self.servers:
            s.close()
            shutil.rmtree(os.path.dirname(s.root), ignore_errors=True)
        self.servers = []
        for name in self.databases:
            mariadb_sh('dropdb', self.mysql, name)
        self.databases = []
        for c in self.cleanups:
            c()
        self.cleanups = []


def main():
    def mysql(parser):
        parser.add_argument('--mysql', metavar='DIR',
                            help='run against the MariaDB of scripts/mariadb.sh start DIR')
    args, tests = common.test_args(
        __doc__, GROUPS, extra=mysql,
        default=lambda args: [g for g in GROUPS if g != 'outage' or args.mysql])
    ctx = Context(args)
    counts = common.run_tests(tests, ctx, ctx.close_servers,
                              lambda: common.servers_stderr(ctx.servers))
    return 1 if counts['FAIL'] or not tests else 0


if __name__ == '__main__':
    sys.exit(main())
