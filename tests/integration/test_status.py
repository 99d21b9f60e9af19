#!/usr/bin/env python3
"""Integration tests for tinyweb's status handler (--status, --status-allow, --metrics): the JSON
document, the Prometheus text (checked by promtool), the live page (in headless Chromium through
Selenium, under a short wrk load), access control, methods, headers and logs.

Every test starts its own server on 127.0.0.1, port 0, and stops it by its PID; each server must
exit 0 with nothing alarming on stderr. Only loopback traffic; wrk runs for 2 s at most.

    test_status.py --binary build/tinyweb [--only NAME]... [--list]

A test whose tool is missing (promtool, chromium with chromedriver and python3-selenium, wrk) is
reported as skipped, not passed; scripts/deps.sh test installs them. Selenium comes from Debian's
python3-selenium: run this with /usr/bin/python3 (tests/integration/http.cmake does). The output
ends with "N passed, N failed, N skipped"; the exit status is 1 when anything failed.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import common
from common import HOST, Failure, Process, Skip, check, clean_env, test_tmp, wait_until

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
IO_TIMEOUT = 10.0
TEST_TMP = test_tmp()

JSON_TYPE = 'application/json'
METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
HTML_TYPE = 'text/html; charset=utf-8'

# What every per-loop object ("totals" and each of "loops") holds, with the labels of each
# labelled family.
LOOP_FAMILIES = {
    'responses': ['1xx', '2xx', '3xx', '4xx', '5xx'],
    'connections': ['head', 'body', 'send', 'idle', 'app', 'linger'],
    'timeouts': ['header', 'body', 'send', 'idle', 'app', 'linger', 'shutdown'],
    'connections_closed': ['peer_closed', 'error', 'done', 'idle_timeout', 'header_timeout',
                           'body_timeout', 'send_timeout', 'shutdown'],
}
LOOP_SCALARS = ['requests', 'connections_refused', 'connections_accepted', 'sent_bytes',
                'listener_shed', 'file_cache_hits', 'file_cache_misses', 'file_cache_checks',
                'file_cache_stale', 'file_cache_evictions', 'file_cache_entries',
                'file_cache_bytes']
PROCESS_KEYS = ['log_dropped_lines', 'config_reloads', 'config_generation']
# An error-log line a test causes on purpose (a 403 outside --status-allow).
FORBIDDEN_RE = re.compile(r'\[error\] access forbidden by rule \(--status-allow\), client: ')


class Docroot(common.Docroot):
    def __init__(self):
        super().__init__(TEST_TMP)
        self.add('index.html', b'<!DOCTYPE html>\n<title>status test</title>\n')
        self.add('f612.txt', b'x' * 611 + b'\n')


class Server(Process):
    """A tinyweb process with --status PATH (unless status is None)."""

    def __init__(self, ctx, *args, status='/status', threads=2):
        self.root = Docroot()
        self.access = os.path.join(self.root.base, 'access.log')
        argv = [ctx.binary, '--root', self.root.path, '--listen', f'{HOST}:0', '-t',
                str(threads), '--access-log', self.access]
        if status is not None:
            argv += ['--status', status]
        super().__init__([*argv, *args], tmp=TEST_TMP, env=clean_env())
        self.wait_listening(START_TIMEOUT)

    def get(self, path, method='GET', headers=None, body=None):
        """(status, {lower-case field: value}, body) of one request on a fresh connection."""
        c = http.client.HTTPConnection(HOST, self.port, timeout=IO_TIMEOUT)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def status(self, path='/status'):
        """The JSON document, checked for its content type and cache policy."""
        code, fields, body = self.get(path)
        check(code == 200, f'GET {path}: {code} {body[:200]!r}')
        check(fields.get('content-type') == JSON_TYPE, f'Content-Type {fields}')
        check(fields.get('cache-control') == 'no-store', f'Cache-Control {fields}')
        return json.loads(body)

    def stop_checked(self, allowed=None):
        """SIGTERM, exit 0, no sanitizer report, no error but those of `allowed` (a regex)."""
        self.stop_exit(STOP_TIMEOUT)
        err = self.stderr()
        for mark in common.SANITIZER_MARKS:
            check(mark not in err, f'sanitizer report:\n{err[-4000:]}')
        for line in err.splitlines():
            check('[error]' not in line or common.CLIENT_CAUSED.search(line)
                  or (allowed and allowed.search(line)), f'error logged: {line}')

    def close(self):
        super().close()
        self.root.close()


def family_sum(doc, key, label=None):
    v = doc[key]
    return v[label] if label else v


def check_loop_object(obj, where):
    for key in LOOP_SCALARS:
        check(isinstance(obj.get(key), int) and obj[key] >= 0, f'{where}: {key} = {obj.get(key)}')
    for key, labels in LOOP_FAMILIES.items():
        check(isinstance(obj.get(key), dict) and sorted(obj[key]) == sorted(labels),
              f'{where}: {key} = {obj.get(key)}')
        for label in labels:
            check(isinstance(obj[key][label], int), f'{where}: {key}.{label}')


def check_document(doc, loops):
    """The documented shape (src/handlers/status.h), and totals that are the loops' sums."""
    check(re.fullmatch(r'\d+\.\d+\.\d+', doc.get('version', '')), f'version {doc.get("version")}')
    check(isinstance(doc.get('uptime_seconds'), float) and doc['uptime_seconds'] >= 0,
          f'uptime {doc.get("uptime_seconds")}')
    check(abs(doc['start_time_seconds'] - time.time()) < 600, f'start {doc["start_time_seconds"]}')
    check(doc.get('config_generation') == 1, f'config_generation {doc.get("config_generation")}')
    check(doc.get('loop_count') == loops and len(doc['loops']) == loops, f'loops {doc}')
    check_loop_object(doc['totals'], 'totals')
    for i, obj in enumerate(doc['loops']):
        check(obj.get('loop') == i, f'loop {i}: {obj.get("loop")}')
        check_loop_object(obj, f'loop {i}')
    for key in LOOP_SCALARS:
        check(doc['totals'][key] == sum(o[key] for o in doc['loops']), f'totals.{key}')
    for key, labels in LOOP_FAMILIES.items():
        for label in labels:
            check(doc['totals'][key][label] == sum(o[key][label] for o in doc['loops']),
                  f'totals.{key}.{label}')
    for key in PROCESS_KEYS:
        check(key in doc['process'], f'process: {key} missing: {doc["process"]}')
    check(doc['process']['config_generation'] == doc['config_generation'], 'generation')
    check(sorted(doc['process']['log_dropped_lines']) == ['access', 'error'], 'log drops')


# ---------------------------------------------------------------------------------------------
# The tests


def test_off_by_default(ctx):
    s = ctx.server(status=None)
    for path in ('/status', '/status/', '/status/metrics', '/metrics'):
        code, _, _ = s.get(path)
        check(code == 404, f'{path} without --status: {code}')
    s.stop_checked()


def test_json_document(ctx):
    s = ctx.server(threads=3)
    doc = s.status()
    check_document(doc, 3)
    # Requests through several connections, so that more than one loop may take some.
    before = s.status()
    for _ in range(12):
        code, _, _ = s.get('/f612.txt')
        check(code == 200, f'GET /f612.txt: {code}')
    for _ in range(3):
        check(s.get('/missing')[0] == 404, '404')
    after = s.status()
    check_document(after, 3)
    t0, t1 = before['totals'], after['totals']
    # The second /status request is counted before its document is built, its response after.
    check(t1['requests'] - t0['requests'] == 12 + 3 + 1, f'requests {t0} -> {t1}')
    check(t1['responses']['2xx'] - t0['responses']['2xx'] == 12 + 1, f'2xx {t0} -> {t1}')
    check(t1['responses']['4xx'] - t0['responses']['4xx'] == 3, f'4xx {t0} -> {t1}')
    check(t1['connections_accepted'] - t0['connections_accepted'] == 16, 'accepted')
    check(t1['file_cache_hits'] + t1['file_cache_misses']
          - t0['file_cache_hits'] - t0['file_cache_misses'] == 15, 'file cache lookups')
    # One miss per loop at most: each loop has its own cache.
    check(t1['file_cache_hits'] - t0['file_cache_hits'] >= 12 - 3, 'file cache hits')
    check(t1['sent_bytes'] - t0['sent_bytes'] > 12 * 612, 'sent bytes')
    # The status request's own connection: still in the head phase while its answer is built.
    check(t1['connections']['head'] >= 1, f'phases {t1["connections"]}')
    check(after['uptime_seconds'] >= before['uptime_seconds'], 'uptime')
    # HEAD: the same fields, no body.
    code, fields, body = s.get('/status', method='HEAD')
    check(code == 200 and body == b'' and int(fields['content-length']) > 100, f'HEAD {fields}')
    s.stop_checked()
    # The report at exit comes from the same registry.
    m = re.search(r'stopped: (\d+) requests', s.stderr())
    check(m and int(m[1]) == after['totals']['requests'] + 1, f'stopped: {m and m[0]}')


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of the samples, and {name: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ')
            check(name not in types, f'two TYPE lines for {name}')
            types[name] = kind
            continue
        if line.startswith('#') or not line:
            continue
        m = re.fullmatch(r'([a-z_:][a-z0-9_:]*)(?:\{([^}]*)\})? (\S+)', line)
        check(m, f'bad sample line {line!r}')
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m[2] or ''))
        samples[(m[1], labels)] = float(m[3])
    return samples, types


def promtool_check(text):
    promtool = shutil.which('promtool') or ('/usr/local/bin/promtool'
                                            if os.access('/usr/local/bin/promtool', os.X_OK)
                                            else None)
    if not promtool:
        return 'promtool not installed (scripts/deps.sh test installs it): not checked by it'
    p = subprocess.run([promtool, 'check', 'metrics'], input=text.encode(),
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode(errors='replace')
    check(p.returncode == 0 and not out.strip(), f'promtool check metrics: {p.returncode} {out}')
    return None


def test_prometheus_text(ctx):
    s = ctx.server(threads=2)
    for _ in range(5):
        s.get('/f612.txt')
    code, fields, body = s.get('/status/metrics')
    check(code == 200, f'{code}')
    check(fields.get('content-type') == METRICS_TYPE, f'Content-Type {fields}')
    check(fields.get('cache-control') == 'no-store', f'Cache-Control {fields}')
    text = body.decode()
    note = promtool_check(text)
    samples, types = parse_metrics(text)
    for name, kind in types.items():
        check(name.startswith('tinyweb_'), name)
        check(name.endswith('_total') == (kind == 'counter'), f'{name} is a {kind}')
        check(f'# HELP {name} ' in text, f'no HELP for {name}')
    for loop in ('0', '1'):
        for cls in ('1xx', '2xx', '3xx', '4xx', '5xx'):
            check(('tinyweb_responses_total', frozenset({('loop', loop), ('class', cls)}))
                  in samples, f'responses loop {loop} class {cls}')
        for phase in LOOP_FAMILIES['connections']:
            check(('tinyweb_connections', frozenset({('loop', loop), ('phase', phase)}))
                  in samples, f'connections loop {loop} {phase}')
        check(('tinyweb_connections_closed_total',
               frozenset({('loop', loop), ('reason', 'idle_timeout')})) in samples, 'closes')
    requests = sum(v for (n, _), v in samples.items() if n == 'tinyweb_requests_total')
    check(requests == 6, f'tinyweb_requests_total summed over the loops: {requests}')
    check(samples[('tinyweb_build_info', frozenset({('version', s.status()['version'])}))] == 1,
          'build_info')
    check(samples[('tinyweb_config_generation', frozenset())] == 1, 'generation')
    check(samples[('tinyweb_loops', frozenset())] == 2, 'loops')
    s.stop_checked()
    if note:
        raise Skip(note)


def test_metrics_path_of_its_own(ctx):
    s = ctx.server('--metrics', '/metrics')
    code, fields, body = s.get('/metrics')
    check(code == 200 and fields['content-type'] == METRICS_TYPE, f'/metrics: {code} {fields}')
    check(b'# TYPE tinyweb_requests_total counter' in body, 'metrics body')
    check(s.get('/status/metrics')[0] == 404, '/status/metrics still served')
    s.status()
    s.stop_checked()


def test_page(ctx):
    s = ctx.server()
    code, fields, body = s.get('/status/')
    check(code == 200, f'{code}')
    check(fields.get('content-type') == HTML_TYPE, f'Content-Type {fields}')
    check(fields.get('cache-control') == 'no-store', f'Cache-Control {fields}')
    csp = fields.get('content-security-policy', '')
    check("default-src 'none'" in csp and "connect-src 'self'" in csp, f'CSP {csp}')
    page = body.decode()
    check(page.startswith('<!DOCTYPE html>'), page[:100])
    check(not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page), 'an outside asset')
    s.stop_checked()


def test_methods(ctx):
    s = ctx.server()
    for path in ('/status', '/status/', '/status/metrics'):
        for method in ('POST', 'PUT', 'DELETE', 'OPTIONS'):
            code, fields, _ = s.get(path, method=method, body=b'x' if method != 'OPTIONS'
                                    else None)
            check(code == 405 and fields.get('allow') == 'GET, HEAD',
                  f'{method} {path}: {code} {fields}')
    # A path near the status paths is a file like any other.
    check(s.get('/statusx')[0] == 404 and s.get('/status/x')[0] == 404, 'near paths')
    # The query does not change the route.
    check(s.get('/status?x=1')[0] == 200, 'query')
    s.stop_checked()


def test_allow(ctx):
    # 127.0.0.1 outside the list: 403, with the cause in the error log, and logged as usual.
    s = ctx.server('--status-allow', '10.0.0.0/8, ::1')
    for path in ('/status', '/status/', '/status/metrics'):
        code, fields, body = s.get(path)
        check(code == 403 and b'tinyweb_' not in body, f'{path}: {code} {body[:100]!r}')
        check(fields.get('content-type') == HTML_TYPE, f'{fields}')
    check(s.get('/f612.txt')[0] == 200, 'files are still served')
    wait_until(lambda: len(common.read_text(s.access).splitlines()) >= 4, 5, 'access lines')
    lines = common.read_text(s.access).splitlines()
    check(any('"GET /status/metrics HTTP/1.1" 403 ' in x for x in lines), f'{lines}')
    s.stop_checked(allowed=FORBIDDEN_RE)
    check(len(FORBIDDEN_RE.findall(s.stderr())) == 3, s.stderr()[-2000:])
    # Allowed: the default (loopback), and lists that name the peer.
    for allow in (None, '127.0.0.1', '127.0.0.0/8', '0.0.0.0/0', '::/0', '::ffff:127.0.0.0/104'):
        s = ctx.server(*(['--status-allow', allow] if allow else []))
        check(s.get('/status')[0] == 200, f'--status-allow {allow}: refused')
        s.stop_checked()


def test_access_log(ctx):
    s = ctx.server()
    s.status()
    s.get('/status/metrics', headers={'User-Agent': 'prom-test'})
    wait_until(lambda: len(common.read_text(s.access).splitlines()) >= 2, 5, 'access lines')
    # A line is written when its response ends: on several loops, in either order.
    lines = sorted(common.read_text(s.access).splitlines(), key=lambda l: 'metrics' in l)
    check(re.search(r'"GET /status HTTP/1\.1" 200 \d+ "-" "', lines[0]), lines[0])
    check('"GET /status/metrics HTTP/1.1" 200 ' in lines[1] and '"prom-test"' in lines[1],
          lines[1])
    s.stop_checked()


def test_reload(ctx):
    """--status, --status-allow and --metrics change on SIGHUP; uptime and counters go on."""
    tmp = tempfile.mkdtemp(prefix='tinyweb-status-conf.', dir=TEST_TMP)
    try:
        reload_checks(ctx, os.path.join(tmp, 'tw.conf'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def reload_checks(ctx, conf):

    def write(text):
        with open(conf + '.new', 'w') as f:
            f.write(text)
        os.replace(conf + '.new', conf)

    def reload(gen_before):
        s.signal(signal.SIGHUP)
        wait_until(lambda: s.stderr().count('configuration reloaded') > gen_before - 1
                   or s.stderr().count('reload failed') > 0, 10, 'the reload')

    write('status /status\n')
    s = ctx.server('-f', conf, status=None)
    first = s.status()
    check(first['config_generation'] == 1, f'{first["config_generation"]}')
    write('status /st2\nstatus-allow 10.0.0.0/8\nmetrics /m\n')
    reload(1)
    wait_until(lambda: s.get('/st2')[0] == 403, 10, 'the new path, refused to 127.0.0.1')
    check(s.get('/m')[0] == 403 and s.get('/status')[0] == 404, 'the old path is a file again')
    write('status /status\nstatus-allow 127.0.0.1\n')
    reload(2)
    doc = wait_until(lambda: s.get('/status')[0] == 200 and s.status(), 10, 'the status back')
    check(doc['config_generation'] == 3, f'generation {doc["config_generation"]}')
    check(doc['process']['config_reloads'] == {'ok': 2, 'failed': 0}, f'{doc["process"]}')
    check(doc['uptime_seconds'] >= first['uptime_seconds'], 'uptime restarted with the reload')
    check(doc['start_time_seconds'] == first['start_time_seconds'], 'start time moved')
    check(doc['totals']['requests'] > first['totals']['requests'], 'counters restarted')
    # A bad value changes nothing, and is counted.
    write('status /status\nstatus-allow nowhere\n')
    s.signal(signal.SIGHUP)
    wait_until(lambda: 'reload failed' in s.stderr(), 10, 'the failed reload')
    doc = s.status()
    check(doc['config_generation'] == 3, f'generation {doc["config_generation"]}')
    check(doc['process']['config_reloads'] == {'ok': 2, 'failed': 1}, f'{doc["process"]}')
    s.stop_checked(allowed=re.compile(r'\[error\] (access forbidden by rule|reload failed)'))


def test_bad_options(ctx):
    for args in (['--status', 'status'], ['--status', '/'], ['--status', '/status/'],
                 ['--status', '/s', '--status-allow', 'nowhere'],
                 ['--status', '/s', '--status-allow', '10.0.0.0/33'],
                 ['--status', '/s', '--status-allow', ''],
                 ['--status', '/s', '--metrics', 'metrics']):
        p = subprocess.run([ctx.binary, '--listen', f'{HOST}:0', *args], capture_output=True,
                           timeout=10, env=clean_env())
        err = p.stderr.decode(errors='replace')
        check(p.returncode == 2, f'{args}: exit {p.returncode}: {err}')
        check(len(err.strip().splitlines()) >= 1 and '--' in err, f'{args}: {err}')


def browser():
    """A headless Chromium through Selenium, or Skip."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise Skip(f'python3-selenium is not importable by {sys.executable} (Debian\'s: run '
                   'with /usr/bin/python3)') from None
    chromium = shutil.which('chromium')
    driver = shutil.which('chromedriver')
    if not chromium or not driver:
        raise Skip('chromium or chromium-driver is not installed')
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ('--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
                '--no-proxy-server', '--disable-extensions', '--window-size=1200,900'):
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument('--no-sandbox')
    return webdriver.Chrome(service=Service(driver), options=opts)


def page_numbers(drv):
    """The page's total column, and the document it last rendered."""
    return drv.execute_script('''
        const cells = {};
        for (const td of document.querySelectorAll("td[id^='v-']")) cells[td.id] = td.textContent;
        return {updates: Number(document.body.dataset.updates || 0), cells: cells,
                doc: window.tinywebStatus || null, rps: document.getElementById("rps-total")
                .textContent, state: document.getElementById("state").textContent};''')


def num(text):
    return int(text.replace(',', ''))


def test_live_page(ctx):
    wrk = shutil.which('wrk')
    if not wrk:
        raise Skip('wrk is not installed')
    s = ctx.server(threads=2)
    drv = browser()
    try:
        drv.set_page_load_timeout(30)
        drv.get(f'http://{HOST}:{s.port}/status/')
        first = wait_until(lambda: (lambda p: p if p['updates'] >= 2 else None)(
            page_numbers(drv)), 15, 'two updates of the page', 0.1)
        check('cannot read' not in first['state'], first['state'])
        # The page shows what its last document says, per loop and in total.
        def shown_matches(p):
            d = p['doc']
            cols = [('total', d['totals'])] + [(f'loop{o["loop"]}', o) for o in d['loops']]
            for col, obj in cols:
                check(num(p['cells'][f'v-{col}-requests']) == obj['requests'],
                      f'{col} requests: {p["cells"][f"v-{col}-requests"]} vs {obj["requests"]}')
                for fam in ('responses', 'connections', 'timeouts'):
                    for k, v in obj[fam].items():
                        check(num(p['cells'][f'v-{col}-{fam}-{k}']) == v, f'{col} {fam} {k}')
                check(num(p['cells'][f'v-{col}-cache-hits']) == obj['file_cache_hits'], 'hits')
        shown_matches(first)
        # A short load: the numbers move, requests/s shows it, and the shown values stay the
        # document's.
        load = subprocess.Popen([wrk, '-t1', '-c8', '-d2s', f'http://{HOST}:{s.port}/f612.txt'],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        during = page_numbers(drv)
        out, _ = load.communicate(timeout=30)
        check(load.returncode == 0, f'wrk: {out.decode(errors="replace")}')
        m = re.search(rb'(\d+) requests in', out)
        done = int(m[1]) if m else 0
        check(done > 100, f'wrk made {done} requests')
        shown_matches(during)
        check(num(during['cells']['v-total-requests']) > num(first['cells']['v-total-requests']),
              'the request count did not move under load')
        rates = [float(during['rps'])] if during['rps'] not in ('–', '') else []
        check(rates and rates[0] > 0, f'requests/s shown under load: {during["rps"]!r}')
        spark = drv.execute_script(
            'return document.querySelector("#spark-total polyline").getAttribute("points")')
        check(spark and len(spark.split()) >= 2, f'sparkline {spark!r}')
        # After the load: two more updates, then the page and /status agree. The page's own
        # polls (and the reads here) add requests, so those may differ by the few in between;
        # counters only the load touched are equal.
        n = page_numbers(drv)['updates']
        after = wait_until(lambda: (lambda p: p if p['updates'] >= n + 2 else None)(
            page_numbers(drv)), 10, 'updates after the load', 0.1)
        shown_matches(after)
        fresh = s.status()
        shown = after['doc']['totals']
        check(0 <= fresh['totals']['requests'] - shown['requests'] <= 3,
              f'/status says {fresh["totals"]["requests"]} requests, the page '
              f'{shown["requests"]}')
        check(fresh['totals']['requests'] >= done, 'the load is in the counts')
        for key in ('file_cache_hits', 'file_cache_misses'):
            check(fresh['totals'][key] == shown[key], f'{key}: {fresh["totals"][key]} vs '
                  f'{shown[key]}')
        check(fresh['totals']['timeouts'] == shown['timeouts'], 'timeouts')
        rate = after['cells']['v-total-cache-rate-all']
        check(rate.endswith('%') and float(rate.split()[0]) > 90, f'hit rate {rate}')
        if ctx.screenshot:
            drv.save_screenshot(ctx.screenshot)
    finally:
        drv.quit()
    s.stop_checked()


TESTS = [test_off_by_default, test_json_document, test_prometheus_text,
         test_metrics_path_of_its_own, test_page, test_methods, test_allow, test_access_log,
         test_reload, test_bad_options, test_live_page]


class Context:
    def __init__(self, args):
        self.binary = os.path.abspath(args.binary)
        self.screenshot = args.screenshot
        self.servers = []

    def server(self, *args, **kw):
        s = Server(self, *args, **kw)
        self.servers.append(s)
        return s

    def close_servers(self):
        for s in self.servers:
            s.close()
        self.servers = []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--binary', required=True, help='the tinyweb executable')
    parser.add_argument('--only', action='append', metavar='SUBSTRING',
                        help='run only the tests whose name contains this')
    parser.add_argument('--list', action='store_true', help='list the tests and exit')
    parser.add_argument('--screenshot', metavar='PNG', help='save the live page under load here')
    args = parser.parse_args()
    tests = [t for t in TESTS if not args.only or any(o in t.__name__ for o in args.only)]
    if args.only and not tests:
        parser.error('--only matched no test')
    if args.list:
        print('\n'.join(t.__name__ for t in tests))
        return 0
    ctx = Context(args)
    counts = common.run_tests(tests, ctx, ctx.close_servers,
                              lambda: common.servers_stderr(ctx.servers))
    return 1 if counts['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main())
