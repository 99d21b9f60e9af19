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
  compress compressed variants: made once on the pool, decoded byte-exact by curl, Python's
           gzip and the zstd CLI; Vary, per-coding ETags, HEAD, 304 and Range on the chosen
           representation; Accept-Encoding q-values, *, identity;q=0, 406; precompressed siblings
           (a stale one is not served); a changed file drops its variants
  autoindex --autoindex: hostile names escaped in the text and percent-encoded in the links
           (every link works), sorted with directories first, dot-files and links leaving the
           root left out, HEAD, off by default (403), the application's templates neither listed
           nor served
  caching  --cache-control and --expires: exact, family (image/*) and * rules, the first match
           wins, Expires is now + DURATION (checked against the response's Date), 304 carries
           them too, error responses do not; bad values refused

The output ends with "N passed, N failed, N skipped"; exit status 1 when anything failed.
"""
import email.utils
import gzip
import http.client
import os
import shutil
import subprocess
import sys

import common
from common import check

TMP = common.test_tmp()
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
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
    # A page that cannot be served (403's file is missing): the built-in one.
    os.mkdir(root.full('locked'))
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


# ---- compress ---------------------------------------------------------------------------------

AE_ALL = 'gzip, deflate, br, zstd'  # what Chromium and Firefox send


def page_text(n):
    """n bytes of compressible HTML."""
    words = [b'<p class="x">', b'alpha', b'beta', b'gamma', b'</p>', b'tinyweb', b'\n']
    out = bytearray()
    i = 0
    while len(out) < n:
        out += words[(i * 7 + i // 3) % len(words)] + b' '
        i += 1
    return bytes(out[:n])


def wait_variant(s, path, coding):
    """The response once the pool made the variant (the first requests get the identity)."""
    def ready():
        r = s.req('GET', path, {'Accept-Encoding': coding})
        return r if r.getheader('Content-Encoding') == coding else None
    return common.wait_until(ready, 20.0, f'the {coding} variant of {path}', 0.05)


def curl_decoded(s, path, coding):
    """curl --compressed's decoding of the coding's variant (curl links zlib, brotli, zstd)."""
    p = subprocess.run(['curl', '-sS', '--compressed', '-H', f'Accept-Encoding: {coding}',
                        '-D', '-', '-o', '/dev/stdout', f'http://127.0.0.1:{s.port}{path}'],
                       capture_output=True, timeout=20, env=common.clean_env())
    check(p.returncode == 0, f'curl: {p.stderr!r}')
    head, _, body = p.stdout.partition(b'\r\n\r\n')
    check(f'content-encoding: {coding}'.encode() in head.lower(), f'curl saw {head!r}')
    return body


def test_variants_made_and_decoded(ctx):
    root = ctx.root()
    page = page_text(100 * 1024)
    root.add('page.html', page)
    root.add('app.js', page_text(5000).replace(b'<', b'/'))
    root.add('tiny.css', b'p{}\n')
    root.add('photo.jpg', b'\xff\xd8' + bytes(range(256)) * 40)
    s = ctx.server(root)
    first = s.req('GET', '/page.html', {'Accept-Encoding': AE_ALL})
    check(first.status == 200 and first.body == page, 'the first answer')
    check(first.getheader('Vary') == 'Accept-Encoding', f'Vary on the identity: {first.getheaders()}')
    for coding in ('br', 'zstd', 'gzip'):
        r = wait_variant(s, '/page.html', coding)
        check(len(r.body) < len(page) // 3, f'{coding}: {len(r.body)} bytes of {len(page)}')
        check(r.getheader('Vary') == 'Accept-Encoding', f'{coding} Vary')
        check(r.getheader('ETag') not in (None, first.getheader('ETag')),
              f'{coding} ETag {r.getheader("ETag")} vs {first.getheader("ETag")}')
        check(curl_decoded(s, '/page.html', coding) == page, f'curl decodes {coding} byte-exact')
        if coding == 'gzip':
            check(gzip.decompress(r.body) == page, 'Python gzip decodes it')
        if coding == 'zstd' and shutil.which('zstd'):
            out = subprocess.run(['zstd', '-d', '-c'], input=r.body, capture_output=True)
            check(out.returncode == 0 and out.stdout == page, 'the zstd CLI decodes it')
        h = s.req('HEAD', '/page.html', {'Accept-Encoding': coding})
        check(h.body == b'' and h.getheader('Content-Length') == str(len(r.body)) and
              h.getheader('ETag') == r.getheader('ETag') and
              h.getheader('Content-Encoding') == coding, f'HEAD {coding}: {h.getheaders()}')
        c = s.req('GET', '/page.html', {'Accept-Encoding': coding,
                                         'If-None-Match': r.getheader('ETag')})
        check(c.status == 304 and c.getheader('ETag') == r.getheader('ETag') and
              c.getheader('Vary') == 'Accept-Encoding', f'304 {coding}: {c.getheaders()}')
        g = s.req('GET', '/page.html', {'Accept-Encoding': coding, 'Range': 'bytes=10-19'})
        check(g.status == 206 and g.body == r.body[10:20] and
              g.getheader('Content-Range') == f'bytes 10-19/{len(r.body)}',
              f'Range on {coding}: {g.status} {g.getheaders()}')
    # The smallest acceptable one: all three offered.
    best = s.req('GET', '/page.html', {'Accept-Encoding': AE_ALL})
    sizes = {c: len(wait_variant(s, '/page.html', c).body) for c in ('br', 'zstd', 'gzip')}
    check(best.getheader('Content-Encoding') == min(sizes, key=sizes.get),
          f'{best.getheader("Content-Encoding")} chosen among {sizes}')
    wait_variant(s, '/app.js', 'br')
    for path in ('/tiny.css', '/photo.jpg'):
        r = s.req('GET', path, {'Accept-Encoding': AE_ALL})
        check(r.getheader('Content-Encoding') is None and r.getheader('Vary') is None,
              f'{path} is not compressed: {r.getheaders()}')
    s.stop_checked()


def test_negotiation(ctx):
    root = ctx.root()
    page = page_text(20000)
    root.add('p.html', page)
    s = ctx.server(root)
    wait_variant(s, '/p.html', 'br')
    wait_variant(s, '/p.html', 'gzip')
    wait_variant(s, '/p.html', 'zstd')
    cases = [(None, None), ('', None), ('identity', None), ('gzip', 'gzip'),
             ('gzip;q=0.5, br;q=0.8', 'br'), ('br;q=0, gzip', 'gzip'), ('*', 'any'),
             ('*;q=0, identity;q=0.1', None), ('GZIP', 'gzip'), ('x-gzip', 'gzip'),
             ('deflate', None), ('zstd;q=0.001, identity;q=0.002', None)]
    for ae, want in cases:
        r = s.req('GET', '/p.html', {} if ae is None else {'Accept-Encoding': ae})
        got = r.getheader('Content-Encoding')
        ok = got in ('br', 'zstd', 'gzip') if want == 'any' else got == want
        check(r.status == 200 and ok, f'Accept-Encoding {ae!r}: {r.status} {got} (want {want})')
        check(r.getheader('Vary') == 'Accept-Encoding', f'{ae!r}: Vary')
    # RFC 9110 12.5.3: only the codings listed (or *) are acceptable; identity unless excluded.
    for ae in ('identity;q=0', '*;q=0', 'deflate, identity;q=0',
               'br;q=0, zstd;q=0, gzip;q=0, identity;q=0'):
        r = s.req('GET', '/p.html', {'Accept-Encoding': ae})
        check(r.status == 406 and r.getheader('Vary') == 'Accept-Encoding',
              f'{ae!r}: nothing acceptable: {r.status} {r.getheaders()}')
    r = s.req('GET', '/p.html', {'Accept-Encoding': 'identity;q=0, gzip;q=0.1'})
    check(r.status == 200 and r.getheader('Content-Encoding') == 'gzip',
          f'identity excluded, gzip listed: {r.status} {r.getheaders()}')
    s.stop_checked()


def test_variants_follow_the_file(ctx):
    root = ctx.root()
    root.add('doc.html', page_text(30000))
    root.add('pre.html', page_text(30000))
    pre_gz = gzip.compress(b'precompressed ' + page_text(30000), 9)
    root.add('pre.html.gz', pre_gz)
    root.add('old.html', page_text(30000))
    root.add('old.html.gz', gzip.compress(b'stale', 9))
    old = os.stat(root.full('old.html')).st_mtime
    os.utime(root.full('old.html.gz'), (old - 100, old - 100))
    s = ctx.server(root, '--file-cache-valid', '0', '--compress', 'off')
    r = s.req('GET', '/pre.html', {'Accept-Encoding': 'gzip'})
    check(r.getheader('Content-Encoding') == 'gzip' and r.body == pre_gz,
          f'the sibling as it is on disk: {r.getheaders()}')
    r = s.req('GET', '/old.html', {'Accept-Encoding': 'gzip'})
    check(r.getheader('Content-Encoding') is None and r.body == root.files['/old.html'],
          f'an older sibling is not served: {r.getheaders()}')
    r = s.req('GET', '/doc.html', {'Accept-Encoding': 'gzip'})
    check(r.getheader('Content-Encoding') is None, '--compress off: no variant is made')
    s.stop_checked()
    s = ctx.server(root, '--file-cache-valid', '0', '--compress-static', 'off')
    r = wait_variant(s, '/pre.html', 'gzip')
    check(gzip.decompress(r.body) == root.files['/pre.html'],
          '--compress-static off: a variant made from the file, not the sibling')
    before = wait_variant(s, '/doc.html', 'br')
    changed = page_text(31000)
    with open(root.full('doc.html'), 'wb') as f:
        f.write(changed)
    r = s.req('GET', '/doc.html', {'Accept-Encoding': 'br'})
    check(r.getheader('Content-Encoding') is None and r.body == changed,
          f'a changed file drops its variants: {r.getheaders()}')
    after = wait_variant(s, '/doc.html', 'br')
    check(after.getheader('ETag') != before.getheader('ETag'), 'the new variant has its own ETag')
    check(curl_decoded(s, '/doc.html', 'br') == changed, 'the new variant is of the new file')
    s.stop_checked()


# ---- autoindex --------------------------------------------------------------------------------

def test_autoindex(ctx):
    root = ctx.root()
    names = ['plain.txt', '<img src=x onerror=alert(1)>', 'quote"s\'', 'per%2e%2e', 'a b#c?d',
             'caf\u00e9.txt', 'new\nline', 'sub/inner.txt']
    for n in names:
        root.add(n, b'x')
    root.add('.secret', b'hidden')
    root.add('withindex/index.html', b'index\n')
    os.symlink('/etc/passwd', root.full('outside'))
    os.symlink('plain.txt', root.full('inside'))
    s = ctx.server(root, '--autoindex', 'on')
    r = s.req('GET', '/')
    page = r.body.decode()
    check(r.status == 200 and r.getheader('Content-Type') == 'text/html; charset=utf-8',
          f'listing: {r.status} {r.getheaders()}')
    for raw in ('<img', 'onerror=alert(1)>', 'quote"s', '.secret', 'outside', '../'):
        check(raw not in page, f'{raw!r} in the listing:\n{page}')
    for want in ('href="plain.txt"', 'href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"',
                 '&lt;img src=x onerror=alert(1)&gt;', 'href="per%252e%252e"',
                 'href="a%20b%23c%3Fd"', 'href="caf%C3%A9.txt"', 'café.txt', 'href="sub/"',
                 'href="inside"', 'href="withindex/"', 'href="new%0Aline"'):
        check(want in page, f'{want!r} not in the listing:\n{page}')
    hrefs = [line.split('"')[1] for line in page.splitlines() if line.startswith('<a href=')]
    check(hrefs == sorted(h for h in hrefs if h.endswith('/')) +
          sorted(h for h in hrefs if not h.endswith('/')), f'order: {hrefs}')
    # Every link works.
    for h in hrefs:
        check(s.req('GET', '/' + h).status == 200, f'/{h}')
    sub = s.req('GET', '/sub/').body.decode()
    check('href="../"' in sub and 'href="inner.txt"' in sub, f'/sub/: {sub}')
    check(s.req('GET', '/withindex/').body == b'index\n', 'an index is served, not listed')
    h = s.req('HEAD', '/')
    check(h.status == 200 and h.body == b'' and h.getheader('Content-Length') == str(len(r.body)),
          f'HEAD: {h.getheaders()}')
    s.stop_checked()
    off = ctx.server(root)
    check(off.req('GET', '/sub/').status == 403, 'off by default: 403 as before')
    off.stop_checked()


def test_autoindex_hides_templates(ctx):
    root = ctx.root()
    shutil.copytree(os.path.join(REPO, 'www', 'templates'), root.full('templates'))
    root.add('page.txt', b'p')
    db = os.path.join(root.base, 'app.db')
    s = ctx.server(root, '--autoindex', 'on', '--db', f'sqlite:{db}', '--workers', '1',
                   '--pwhash-mem', '8k', '--pwhash-ops', '1')
    # / is the application's page; the templates directory is neither listed nor served.
    for path in ('/templates/', '/templates', '/%74emplates/'):
        r = s.req('GET', path)
        check(r.status == 404 and b'{{' not in r.body, f'{path}: {r.status} {r.body[:200]!r}')
    s.stop_checked()


GROUPS = {
    'index': [test_index_order, test_index_default_and_refused],
    'errors': [test_error_pages, test_error_page_refused],
    'caching': [test_cache_rules],
    'compress': [test_variants_made_and_decoded, test_negotiation, test_variants_follow_the_file],
    'autoindex': [test_autoindex, test_autoindex_hides_templates],
}


def main():
    args, tests = common.test_args(__doc__, GROUPS)
    ctx = Ctx(os.path.abspath(args.binary))
    counts = common.run_tests(tests, ctx, ctx.close,
                              lambda: common.servers_stderr(ctx.servers))
    return 1 if counts['FAIL'] or not tests else 0


if __name__ == '__main__':
    sys.exit(main())
