#!/usr/bin/env python3
"""The static-server features of issue 14 against the real tinyweb binary over 127.0.0.1:
directory index lists, custom error pages, Cache-Control and Expires per media type.

    test_static.py --binary build/tinyweb [--group NAME]... [--only SUBSTRING]... [--list]

Groups:
  index    --index: the first existing name of the list is served, the order matters, a
           directory with none is 403, a removed index falls back to the next name, bad lists
           are refused at start with one line and exit 2
  errors   --error-page: 404 and 405 from the root's file with the original status, its type,
           HEAD without a body, the built-in page when the file is missing, no validators, 304
           and 200 untouched; bad values refused
  caching  --cache-control and --expires: exact, family (image/*) and * rules, the first match
           wins, Expires is now + DURATION (checked against the response's Date), 304 carries
           them too, error responses do not; bad values refused

The output ends with "N passed, N failed, N skipped"; exit status 1 when anything failed.
"""
import argparse
import email.utils
import http.client
import os
import subprocess
import sys

import common
from common import check

TMP = common.test_tmp()
STOP_TIMEOUT = 10.0


class Server(common.Process):
    def __init__(self, binary, root, *args):
        super().__init__([binary, '--root', root, '--listen', '127.0.0.1:0', '-t', '1',
                          '--access-log', 'off', *args], tmp=TMP, prefix='tinyweb-static.')
        self.wait_listening(10.0)

    def req(self, method, path, headers=None):
        c = http.client.HTTPConnection(common.HOST, self.port, timeout=10)
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            r.body = r.read()
            return r
        finally:
            c.close()

    def stop_checked(self):
        self.stop_exit(STOP_TIMEOUT)
        err = self.stderr()
        for mark in common.SANITIZER_MARKS:
            check(mark not in err, f'sanitizer report:\n{err[-6000:]}')
        for line in err.splitlines():
            check('[error]' not in line or common.CLIENT_CAUSED.search(line),
                  f'error logged: {line}')


class Ctx:
    def __init__(self, binary):
        self.binary = binary
        self.servers = []
        self.roots = []

    def root(self):
        r = common.Docroot(TMP, 'tinyweb-static-root.')
        self.roots.append(r)
        return r

    def server(self, root, *args):
        s = Server(self.binary, root.path, *args)
        self.servers.append(s)
        return s

    def close(self):
        for s in self.servers:
            s.close()
        for r in self.roots:
            r.close()
        self.servers, self.roots = [], []


def refused(ctx, *args, says):
    """The binary exits 2 at once with one line naming the option for these arguments."""
    p = subprocess.run([ctx.binary, '--root', TMP or '/tmp', '--listen', '127.0.0.1:0', *args],
                       capture_output=True, text=True, timeout=10)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and says in lines[0],
          f'{args}: exit {p.returncode}, stderr {p.stderr!r} (expected 2 and one line with '
          f'{says!r})')


# ---- index ------------------------------------------------------------------------------------

def test_index_order(ctx):
    root = ctx.root()
    root.add('a/index.htm', b'htm\n')
    root.add('a/default.html', b'default\n')
    root.add('b/index.html', b'html\n')
    root.add('b/index.htm', b'htm of b\n')
    root.add('c/other.txt', b'no index here\n')
    s = ctx.server(root, '--index', 'index.html,index.htm,default.html',
                   '--file-cache-valid', '0')
    r = s.req('GET', '/a/')
    check(r.status == 200 and r.body == b'htm\n', f'/a/: {r.status} {r.body!r}')
    r = s.req('GET', '/b/')
    check(r.status == 200 and r.body == b'html\n', f'/b/ (the first name wins): {r.body!r}')
    r = s.req('GET', '/c/')
    check(r.status == 403, f'/c/ without any index: {r.status}')
    r = s.req('GET', '/a')
    check(r.status == 301 and r.getheader('Location') == '/a/', f'/a: {r.status}')
    # The first name removed: the next one, once the cache checks again.
    os.unlink(root.full('b/index.html'))
    r = s.req('GET', '/b/')
    check(r.status == 200 and r.body == b'htm of b\n', f'/b/ after its index.html went: {r.body!r}')
    s.stop_checked()


def test_index_default_and_refused(ctx):
    root = ctx.root()
    root.add('index.html', b'root index\n')
    root.add('d/index.htm', b'not by default\n')
    s = ctx.server(root)
    check(s.req('GET', '/').body == b'root index\n', 'the default index.html at /')
    check(s.req('GET', '/d/').status == 403, 'index.htm is not an index by default')
    s.stop_checked()
    for bad in ('a/b', 'a,,b', ',a', 'a,', '..', '.', ','.join(f'i{n}' for n in range(17))):
        refused(ctx, '--index', bad, says='--index')


# ---- errors -----------------------------------------------------------------------------------

def test_error_pages(ctx):
    root = ctx.root()
    root.add('errors/404.html', b'<h1>not here</h1>\n')
    root.add('errors/generic.txt', b'something went wrong\n')
    root.add('style.css', b'body { color: black }\n')
    s = ctx.server(root, '--error-page', '404=/errors/404.html',
                   '--error-page', '405,501=/errors/generic.txt',
                   '--error-page', '403=/errors/missing.html')
    r = s.req('GET', '/nope.html')
    check(r.status == 404 and r.body == b'<h1>not here</h1>\n', f'404: {r.status} {r.body!r}')
    check(r.getheader('Content-Type', '').startswith('text/html'), '404 page type')
    check(r.getheader('ETag') is None and r.getheader('Last-Modified') is None,
          f'an error page has no validators: {r.getheaders()}')
    r = s.req('HEAD', '/nope.html')
    check(r.status == 404 and r.body == b'' and r.getheader('Content-Length') == '18',
          f'HEAD 404: {r.status} {r.getheaders()}')
    r = s.req('DELETE', '/style.css')
    check(r.status == 405 and r.body == b'something went wrong\n' and
          r.getheader('Allow') == 'GET, HEAD', f'405: {r.status} {r.getheaders()} {r.body!r}')
    check(r.getheader('Content-Type', '').startswith('text/plain'), '405 page type')
    r = s.req('BREW', '/style.css')
    check(r.status == 501 and r.body == b'something went wrong\n', f'501: {r.status}')
    # A page that cannot be served: the built-in one.
    os.mkdir(root.full('locked'))
    os.chmod(root.full('locked'), 0)
    r = s.req('GET', '/locked/')
    check(r.status == 403 and b'403' in r.body, f'403 with a missing page: {r.status} {r.body!r}')
    # The other responses are untouched.
    r = s.req('GET', '/style.css')
    check(r.status == 200 and r.body == b'body { color: black }\n', 'a file')
    r = s.req('GET', '/style.css', {'If-None-Match': r.getheader('ETag')})
    check(r.status == 304 and r.body == b'', f'304: {r.status}')
    # The error page itself asked directly: 200.
    check(s.req('GET', '/errors/404.html').status == 200, 'the page itself')
    s.stop_checked()
    os.chmod(root.full('locked'), 0o755)


def test_error_page_refused(ctx):
    for bad in ('404', '404=', '404=errors.html', '399=/e.html', '600=/e.html', 'x=/e.html',
                '404=/a/../b.html', '404=/a%2e.html', '404=/dir/', '404,=/e.html'):
        refused(ctx, '--error-page', bad, says='--error-page')


# ---- caching ----------------------------------------------------------------------------------

def test_cache_rules(ctx):
    root = ctx.root()
    root.add('a.css', b'p{}\n')
    root.add('b.png', b'\x89PNG\r\n\x1a\n')
    root.add('c.txt', b'text\n')
    root.add('d.json', b'{"x": 1}\n')
    s = ctx.server(root, '--cache-control', 'text/css=max-age=31536000, immutable',
                   '--expires', 'image/*=30d', '--expires', 'text/css=1h',
                   '--cache-control', 'text/*=no-cache', '--expires', '*=10m')
    r = s.req('GET', '/a.css')
    check(r.getheader('Cache-Control') == 'max-age=31536000, immutable',
          f'css Cache-Control: {r.getheaders()}')
    check_expires(r, 3600)
    r = s.req('GET', '/b.png')
    check(r.getheader('Cache-Control') == f'max-age={30 * 86400}', f'png: {r.getheaders()}')
    check_expires(r, 30 * 86400)
    r = s.req('GET', '/c.txt')
    check(r.getheader('Cache-Control') == 'no-cache' and r.getheader('Expires') is None,
          f'text/* rule: {r.getheaders()}')
    r = s.req('GET', '/d.json')
    check(r.getheader('Cache-Control') == 'max-age=600', f'* rule: {r.getheaders()}')
    check_expires(r, 600)
    r304 = s.req('GET', '/b.png', {'If-None-Match': s.req('GET', '/b.png').getheader('ETag')})
    check(r304.status == 304 and r304.getheader('Cache-Control') == f'max-age={30 * 86400}',
          f'304: {r304.status} {r304.getheaders()}')
    r = s.req('GET', '/missing.css')
    check(r.status == 404 and r.getheader('Cache-Control') is None and
          r.getheader('Expires') is None, f'404: {r.getheaders()}')
    s.stop_checked()
    for opt, bad in (('--cache-control', 'text=1'), ('--cache-control', 'text/css='),
                     ('--cache-control', 'text/css=a\tb'), ('--cache-control', '*/css=x'),
                     ('--expires', 'text/css=forever'), ('--expires', 'text/css')):
        refused(ctx, opt, bad, says=opt)


def check_expires(r, seconds):
    """Expires is the response's Date plus seconds (both to the second)."""
    date = email.utils.parsedate_to_datetime(r.getheader('Date'))
    exp = r.getheader('Expires')
    check(exp is not None, f'no Expires: {r.getheaders()}')
    delta = (email.utils.parsedate_to_datetime(exp) - date).total_seconds()
    check(seconds - 1 <= delta <= seconds + 1, f'Expires {exp} is {delta} s after Date')


GROUPS = {
    'index': [test_index_order, test_index_default_and_refused],
    'errors': [test_error_pages, test_error_page_refused],
    'caching': [test_cache_rules],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--binary', required=True)
    ap.add_argument('--group', action='append', metavar='NAME')
    ap.add_argument('--only', action='append', metavar='SUBSTRING')
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()
    groups = []
    for g in args.group or GROUPS:
        groups += [x for x in g.split(',') if x]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        ap.error(f'unknown group(s): {", ".join(sorted(unknown))}')
    tests = [t for g in GROUPS if g in groups for t in GROUPS[g]
             if not args.only or any(o in t.__name__ for o in args.only)]
    if args.list:
        print('\n'.join(t.__name__ for t in tests))
        return 0
    ctx = Ctx(os.path.abspath(args.binary))
    counts = common.run_tests(tests, ctx, ctx.close,
                              lambda: common.servers_stderr(ctx.servers))
    return 1 if counts['FAIL'] or not tests else 0


if __name__ == '__main__':
    sys.exit(main())
