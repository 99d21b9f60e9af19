#!/usr/bin/env python3
"""make install, checked: this build installed into a DESTDIR, and each installed file used as
its reader would use it.

    test_install.py --build-dir BUILD --source-dir SRC

- install: `cmake --install BUILD --prefix /usr/local` with DESTDIR, as `make install` runs it
  once it has built (calling make here would rebuild, or reconfigure, the build under test). The
  build directory's install_manifest.txt and dist/destdir, which `make uninstall` reads, are put
  back afterwards: a test run never loses the record of a real install.
- config: the installed tinyweb.conf is the server's --example-config with root, access-log and
  error-log set for the service, and tinyweb.conf.default is the same.
- man: `man -l --warnings` renders tinyweb(8) without a warning (groff -ww without man-db), and
  its OPTIONS name every option of the installed server's --help, with the same short letter,
  the same default and the same reload mark as --example-config; no option that --help lacks.
- unit: `systemd-analyze verify` passes on the installed unit with its paths moved into DESTDIR
  (and MANPATH there, so Documentation=man:tinyweb(8) is found), and `systemd-analyze security
  --offline` rates its exposure 2.5 or lower. Skipped without systemd-analyze.
- serve: the installed server started as the unit's ExecStart says, on an adjusted copy of the
  installed configuration (a temporary root and logs, 127.0.0.1:0) with a fake NOTIFY_SOCKET:
  READY=1, a page served, the unit's ExecReload lines (-T, then SIGHUP: RELOADING=1, READY=1),
  the installed logrotate snippet run for real on the logs (logrotate -f, its postrotate sends
  SIGUSR1 and the server writes to a new access.log), then KillSignal: STOPPING=1, exit 0, the
  pid file gone. The logrotate part is skipped without logrotate (scripts/deps.sh test has it).
- uninstall: `make uninstall` with that DESTDIR and build removes every installed file; an
  edited tinyweb.conf survives both a second install and the uninstall.

Only loopback traffic; about 2 s. The output ends with "N passed, N failed, N skipped"; the exit
status is 1 when anything failed.
"""

import argparse
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from common import (HOST, NotifySocket, Process, Skip, check, read_text, test_tmp,
                    wait_until)

PREFIX = '/usr/local'
INSTALLED = {  # what make install puts below DESTDIR
    'bin': f'{PREFIX}/bin/tinyweb',
    'man': f'{PREFIX}/share/man/man8/tinyweb.8',
    'conf': f'{PREFIX}/etc/tinyweb/tinyweb.conf',
    'default': f'{PREFIX}/etc/tinyweb/tinyweb.conf.default',
    'unit': f'{PREFIX}/lib/systemd/system/tinyweb.service',
    'logrotate': '/etc/logrotate.d/tinyweb',
}
# The service's settings in the installed configuration.
SERVICE_SETTINGS = {'root': '/var/www/html', 'access-log': '/var/log/tinyweb/access.log',
                    'error-log': '/var/log/tinyweb/error.log'}
PID_FILE = '/run/tinyweb/tinyweb.pid'
LOG_DIR = '/var/log/tinyweb'
MAX_EXPOSURE = 2.5  # systemd-analyze security's scale: 0 (best) to 10
TIMEOUT = 10.0


def run(args, **kw):
    """A command's CompletedProcess, text out and err captured; its own failure is not raised."""
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def no_make_env():
    """This environment without the make variables of a make that may have started ctest (its
    jobserver fds are not ours)."""
    return {k: v for k, v in os.environ.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}


class Context:
    def __init__(self, args):
        self.build = os.path.abspath(args.build_dir)
        self.source = os.path.abspath(args.source_dir)
        self.tmp = tempfile.mkdtemp(prefix='tinyweb-install.', dir=test_tmp())
        self.destdir = os.path.join(self.tmp, 'destdir')
        self.installed = False
        self.servers = []
        # make uninstall's record of a real install in this build directory, put back at the end.
        self.saved = {}
        for rel in ('install_manifest.txt', 'dist/destdir'):
            path = os.path.join(self.build, rel)
            self.saved[path] = open(path, 'rb').read() if os.path.exists(path) else None

    def path(self, key):
        return self.destdir + INSTALLED[key]

    def install(self):
        env = dict(os.environ, DESTDIR=self.destdir)
        r = run(['cmake', '--install', self.build, '--prefix', PREFIX], env=env)
        check(r.returncode == 0, f'cmake --install failed ({r.returncode}):\n{r.stdout}{r.stderr}')
        return r.stdout

    def uninstall(self):
        r = run(['make', '-C', self.source, 'uninstall', f'BUILD={self.build}',
                 f'DESTDIR={self.destdir}'], env=no_make_env())
        check(r.returncode == 0, f'make uninstall failed ({r.returncode}):\n{r.stdout}{r.stderr}')
        return r.stdout

    def close(self):
        for s in self.servers:
            s.close()
        for path, data in self.saved.items():
            if data is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                with open(path, 'wb') as f:
                    f.write(data)
        shutil.rmtree(self.tmp, ignore_errors=True)


def installed_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
                  for f in files)


def need_install(ctx):
    if not ctx.installed:
        raise Skip('the install failed')


def test_install(ctx):
    out = ctx.install()
    ctx.installed = True
    want = sorted(p.lstrip('/') for p in INSTALLED.values())
    check(installed_files(ctx.destdir) == want,
          f'installed {installed_files(ctx.destdir)}, expected {want}:\n{out}')
    manifest = open(os.path.join(ctx.build, 'install_manifest.txt')).read().split()
    check(sorted(manifest) == sorted(INSTALLED.values()), f'install_manifest.txt: {manifest}')
    check(os.access(ctx.path('bin'), os.X_OK), 'the server is not executable')
    for key in ('man', 'conf', 'default', 'unit', 'logrotate'):
        mode = os.stat(ctx.path(key)).st_mode & 0o777
        check(mode == 0o644, f'{INSTALLED[key]}: mode {mode:o}, expected 644')
    unit = read_text(ctx.path('unit'))
    check(f'ExecStart={INSTALLED["bin"]} -f {INSTALLED["conf"]} ' in unit,
          f'the unit does not start the installed server with the installed file:\n{unit}')


def test_config(ctx):
    need_install(ctx)
    conf = read_text(ctx.path('conf'))
    check(conf == read_text(ctx.path('default')), 'tinyweb.conf differs from tinyweb.conf.default')
    example = run([ctx.path('bin'), '--example-config'])
    check(example.returncode == 0 and example.stdout, f'--example-config: {example}')
    # The installed file = a comment, then the example with the service's settings made live.
    expected = example.stdout
    for name, value in SERVICE_SETTINGS.items():
        expected, n = re.subn(rf'^#{re.escape(name)} .*$', f'{name} {value}', expected,
                              flags=re.M)
        check(n == 1, f'--example-config has no "#{name} ..." line')
    check(conf.endswith(expected), f'the installed configuration is not the example with '
          f'{sorted(SERVICE_SETTINGS)} set:\n{conf}')
    head = conf[:len(conf) - len(expected)]
    check(all(line.startswith('#') for line in head.splitlines()), f'its head: {head!r}')
    live = [line for line in conf.splitlines() if line and not line.startswith('#')]
    check(sorted(live) == sorted(f'{k} {v}' for k, v in SERVICE_SETTINGS.items()),
          f'settings not commented out: {live}')


# ---- The man page ----

def roff_text(lines):
    """Plain text of man(7) source lines: font macros joined as they render, escapes dropped."""
    out = []
    for line in lines:
        if line.startswith('.'):
            name, _, rest = line[1:].partition(' ')
            try:
                args = shlex.split(rest.replace('\\', '\\\\'))
            except ValueError:
                args = rest.split()
            if name in ('B', 'I', 'SM', 'TP', 'PP'):
                line = ' '.join(args)
            elif name in ('BR', 'RB', 'IR', 'RI', 'BI', 'IB'):
                line = ''.join(args)
            else:
                continue
        out.append(line)
    text = ' '.join(out)
    for esc, plain in (('\\-', '-'), ('\\&', ''), ('\\|', ''), ('\\:', ''), ('\\fB', ''),
                       ('\\fI', ''), ('\\fR', ''), ('\\fP', ''), ('\\(aq', "'")):
        text = text.replace(esc, plain)
    return re.sub(r'\s+', ' ', text).strip()


def man_options(page):
    """{long name: (short letter or None, plain text of its entry)} for each .TP entry of the
    OPTIONS section."""
    lines = page.splitlines()
    start = lines.index('.SH OPTIONS')
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith('.SH '))
    options = {}
    i = start
    while i < end:
        if lines[i] == '.TP':
            head = lines[i + 1]
            body = []
            i += 2
            while i < end and lines[i] not in ('.TP',) and not lines[i].startswith(('.SS', '.SH')):
                body.append(lines[i])
                i += 1
            long = re.search(r'\\-\\-((?:[a-z0-9]|\\-)+)', head)
            check(long, f'an OPTIONS entry without a long option: {head}')
            short = re.match(r'\.BR \\-([A-Za-z]) ', head)
            options[long[1].replace('\\-', '-')] = (short[1] if short else None, roff_text(body))
        else:
            i += 1
    return options


def help_options(binary):
    """{long name: (short letter or None, default or None)} from --help."""
    out = run([binary, '--help']).stdout
    options = {}
    current = None
    for line in out.splitlines():
        m = re.match(r'  (?:-([A-Za-z]), )?--([a-z0-9-]+)', line)
        if m:
            current = m[2]
            options[current] = [m[1], line]
        elif current and line.startswith(' ' * 20):
            options[current][1] += ' ' + line.strip()
        else:
            current = None
    result = {}
    for name, (short, text) in options.items():
        d = re.search(r'\(default ([^)]+)\)$', text)
        result[name] = (short, d[1] if d else None)
    return result


def reload_marks(binary):
    """{setting: True if --example-config marks it (reload)}."""
    out = run([binary, '--example-config']).stdout
    marks, comment = {}, ''
    for line in out.splitlines():
        if line.startswith('# '):
            comment += line
        elif line.startswith('#') and ' ' in line and not line.startswith('# '):
            marks[line[1:].split()[0]] = '(reload)' in comment
            comment = ''
        else:
            comment = ''
    return marks


def test_man_options(ctx):
    need_install(ctx)
    page = read_text(ctx.path('man'))
    documented = man_options(page)
    helped = help_options(ctx.path('bin'))
    marks = reload_marks(ctx.path('bin'))
    check(len(helped) > 20 and len(marks) > 20, f'--help: {helped}; marks: {marks}')
    problems = []
    for name, (short, default) in helped.items():
        if name not in documented:
            problems.append(f'--{name} is in --help, not in tinyweb(8) OPTIONS')
            continue
        dshort, text = documented[name]
        if dshort != short:
            problems.append(f'--{name}: short option {dshort!r} in the page, {short!r} in --help')
        if default is not None and f'Default: {default}.' not in text:
            problems.append(f'--{name}: the page does not say "Default: {default}.": {text}')
        if name in marks and marks[name] != ('Reload' in text):
            problems.append(f'--{name}: reload {marks[name]} in --example-config, not in the page')
    for name in documented:
        if name not in helped:
            problems.append(f'--{name} is in tinyweb(8), not in --help')
    check(not problems, '\n'.join(problems))
    for section in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'CONFIGURATION FILE', 'SIGNALS',
                    'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO'):
        check(f'\n.SH {section}\n' in page or f'\n.SH "{section}"\n' in page, f'no {section}')
    for word in ('SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'NOTIFY_SOCKET', 'TZ'):
        check(f'.B {word}' in page or f'.BR {word}' in page, f'tinyweb(8) never names {word}')
    for key in INSTALLED:
        check(INSTALLED[key] in page.replace('\\-', '-'), f'FILES lacks {INSTALLED[key]}')
    version = run([ctx.path('bin'), '--version']).stdout.split()[-1]
    th = re.search(r'^\.TH .*$', page, re.M)[0]
    check(f'"tinyweb {version}"' in th, f'tinyweb(8) is not of version {version}: {th}')


def test_man_renders(ctx):
    need_install(ctx)
    page = ctx.path('man')
    if shutil.which('man'):
        for width in ('80', '60', '132'):
            r = run(['man', '-l', '--warnings', page], env=dict(os.environ, MANWIDTH=width,
                                                                 MAN_KEEP_FORMATTING='0'))
            check(r.returncode == 0 and not r.stderr.strip() and 'tinyweb' in r.stdout,
                  f'man -l --warnings (MANWIDTH={width}): status {r.returncode}:\n{r.stderr}')
    elif shutil.which('groff'):
        r = run(['groff', '-man', '-ww', '-z', page])
        check(r.returncode == 0 and not r.stderr.strip(), f'groff -ww: {r.stderr}')
    else:
        raise Skip('neither man nor groff (scripts/deps.sh test installs man-db)')


# ---- The unit ----

def unit_in_destdir(ctx):
    """The installed unit with the paths of installed files moved into DESTDIR, in a directory of
    its own (systemd-analyze wants the unit's own name)."""
    text = read_text(ctx.path('unit'))
    for key in ('bin', 'conf'):
        text = text.replace(f' {INSTALLED[key]}', f' {ctx.path(key)}')
        text = text.replace(f'={INSTALLED[key]}', f'={ctx.path(key)}')
    d = tempfile.mkdtemp(prefix='unit.', dir=ctx.tmp)
    path = os.path.join(d, 'tinyweb.service')
    with open(path, 'w') as f:
        f.write(text)
    return path


def test_unit(ctx):
    need_install(ctx)
    if not shutil.which('systemd-analyze'):
        raise Skip('no systemd-analyze: the unit is not verified here')
    unit = unit_in_destdir(ctx)
    env = dict(os.environ, MANPATH=ctx.destdir + PREFIX + '/share/man')
    r = run(['systemd-analyze', 'verify', unit], env=env)
    check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
          f'systemd-analyze verify: status {r.returncode}:\n{r.stdout}{r.stderr}')
    r = run(['systemd-analyze', 'security', '--offline=true', '--no-pager', unit], env=env)
    m = re.search(r'Overall exposure level for tinyweb\.service: (\d+\.\d+)', r.stdout)
    if r.returncode != 0 and not m:
        raise Skip(f'systemd-analyze security --offline is not supported here: {r.stderr}')
    check(m and float(m[1]) <= MAX_EXPOSURE,
          f'exposure {m and m[1]}, expected at most {MAX_EXPOSURE}:\n{r.stdout}')
    print(f'    systemd-analyze security: exposure {m[1]}', flush=True)


# ---- The installed server, run as the unit runs it ----

def unit_commands(unit_text, key):
    """The command lines of ExecStart= or ExecReload= (in order), split into words."""
    return [shlex.split(line.split('=', 1)[1]) for line in unit_text.splitlines()
            if line.startswith(key + '=')]


def get(port, path):
    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_serve(ctx):
    need_install(ctx)
    base = tempfile.mkdtemp(prefix='serve.', dir=ctx.tmp)
    root, logs, run_dir = (os.path.join(base, d) for d in ('www', 'log', 'run'))
    for d in (root, logs, run_dir):
        os.mkdir(d)
    page = b'<!DOCTYPE html>\n<title>installed</title>\n'
    with open(os.path.join(root, 'index.html'), 'wb') as f:
        f.write(page)
    # The installed configuration, its paths moved here, on loopback.
    conf = read_text(ctx.path('conf'))
    for name, value in SERVICE_SETTINGS.items():
        moved = value.replace(LOG_DIR, logs).replace('/var/www/html', root)
        conf = re.sub(rf'^{re.escape(name)} .*$', f'{name} {moved}', conf, flags=re.M)
    conf, n = re.subn(r'^#listen .*$', f'listen {HOST}:0', conf, flags=re.M)
    check(n == 1, 'no "#listen" line in the installed configuration')
    conf += 'threads 2\n'
    conf_path = os.path.join(base, 'tinyweb.conf')
    with open(conf_path, 'w') as f:
        f.write(conf)
    pid_file = os.path.join(run_dir, 'tinyweb.pid')
    access = os.path.join(logs, 'access.log')

    def adjust(words):
        moved = {INSTALLED['bin']: ctx.path('bin'), INSTALLED['conf']: conf_path,
                 PID_FILE: pid_file}
        return [moved.get(w, w) for w in words]

    unit = read_text(ctx.path('unit'))
    (start,) = unit_commands(unit, 'ExecStart')
    check(start[0] == INSTALLED['bin'] and PID_FILE in start, f'ExecStart: {start}')
    reloads = unit_commands(unit, 'ExecReload')
    check(reloads and any('-HUP' in c for c in reloads), f'ExecReload: {reloads}')
    check('KillSignal=SIGTERM' in unit and 'Type=notify' in unit, 'KillSignal, Type')
    notify = NotifySocket(base)
    try:
        env = dict(os.environ, NOTIFY_SOCKET=notify.path)
        s = Process(adjust(start), tmp=base, env=env)
        ctx.servers.append(s)
        port = s.wait_listening(TIMEOUT)
        ready = notify.wait_for('READY=1', TIMEOUT)
        check(f'MAINPID={s.pid}' in ready, f'READY=1 without MAINPID={s.pid}: {ready!r}')
        check(read_text(pid_file) == f'{s.pid}\n', f'pid file: {read_text(pid_file)!r}')
        status, body = get(port, '/')
        check(status == 200 and body == page, f'GET /: {status} {body[:200]!r}')
        wait_until(lambda: 'GET / ' in read_text(access), TIMEOUT, 'the access log line')

        # systemctl reload: each ExecReload line in turn, $MAINPID as systemd sets it.
        for cmd in reloads:
            cmd = [w.replace('$MAINPID', str(s.pid)) for w in adjust(cmd)]
            r = run(cmd)
            check(r.returncode == 0, f'ExecReload {cmd}: status {r.returncode}: {r.stderr}')
        notify.wait_for('RELOADING=1', TIMEOUT)
        notify.wait_for('READY=1', TIMEOUT)
        wait_until(lambda: 'configuration reloaded' in read_text(os.path.join(logs, 'error.log')),
                   TIMEOUT, '"configuration reloaded" in the error log')

        # The installed logrotate snippet, on these logs and this pid file, for real.
        if shutil.which('logrotate'):
            snippet = read_text(ctx.path('logrotate'))
            check(LOG_DIR + '/*.log' in snippet and PID_FILE in snippet, snippet)
            lr_conf = os.path.join(base, 'logrotate.conf')
            with open(lr_conf, 'w') as f:
                f.write(snippet.replace(LOG_DIR, logs).replace(PID_FILE, pid_file))
            state = os.path.join(base, 'logrotate.state')
            r = run(['logrotate', '-d', '-s', state, ctx.path('logrotate')])
            check(r.returncode == 0 and 'error' not in r.stdout + r.stderr,
                  f'logrotate -d on the installed snippet: {r.returncode}\n{r.stdout}{r.stderr}')
            r = run(['logrotate', '-f', '-s', state, lr_conf])
            check(r.returncode == 0, f'logrotate -f: {r.returncode}\n{r.stdout}{r.stderr}')
            check('GET / ' in read_text(access + '.1'), 'access.log was not rotated')
            wait_until(lambda: 'log files reopened' in read_text(os.path.join(logs, 'error.log')),
                       TIMEOUT, 'the logs reopened on postrotate\'s SIGUSR1')
            get(port, '/index.html')
            wait_until(lambda: 'GET /index.html ' in read_text(access), TIMEOUT,
                       'the next request in the new access.log')
            check('/index.html' not in read_text(access + '.1'), 'written to the rotated log')
            ran_logrotate = True
        else:
            ran_logrotate = False

        # KillSignal=, once (stop_exit would send a second one, which may find the default
        # action restored as the server finishes).
        s.signal(signal.SIGTERM)
        notify.wait_for('STOPPING=1', TIMEOUT)
        rc = s.wait_exit(TIMEOUT)
        check(rc == 0, f'exit status {rc} after SIGTERM (expected 0):\n{s.stderr()[-3000:]}')
        check(not os.path.exists(pid_file), 'the pid file is still there after exit')
    finally:
        notify.close()
    if not ran_logrotate:
        raise Skip('served and reloaded; no logrotate here, so the snippet was not run '
                   '(scripts/deps.sh test installs it)')


def test_uninstall(ctx):
    need_install(ctx)
    # An edited configuration survives a second install and the uninstall.
    with open(ctx.path('conf'), 'a') as f:
        f.write('# edited\n')
    out = ctx.install()
    check('Kept: ' in out and read_text(ctx.path('conf')).endswith('# edited\n'),
          f'a second install replaced an edited tinyweb.conf:\n{out}')
    out = ctx.uninstall()
    left = installed_files(ctx.destdir)
    check(left == [INSTALLED['conf'].lstrip('/')], f'left after uninstall: {left}\n{out}')
    # Unchanged, it goes with the rest, and so does its directory.
    os.unlink(ctx.path('conf'))
    ctx.install()
    out = ctx.uninstall()
    left = installed_files(ctx.destdir)
    check(not left, f'left after uninstall: {left}\n{out}')
    check(not os.path.exists(os.path.dirname(ctx.path('conf'))), 'etc/tinyweb is still there')


TESTS = [test_install, test_config, test_man_options, test_man_renders, test_unit, test_serve,
         test_uninstall]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build-dir', required=True, help='the CMake build directory')
    parser.add_argument('--source-dir', required=True, help='the source tree (its Makefile)')
    args = parser.parse_args()
    ctx = Context(args)
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    try:
        for t in TESTS:
            started = time.monotonic()
            outcome, detail = 'PASS', ''
            try:
                t(ctx)
            except Skip as e:
                outcome, detail = 'SKIP', str(e)
            except Exception as e:  # noqa: BLE001 -- every failure is reported the same way
                outcome = 'FAIL'
                detail = ''.join(traceback.format_exception(e))
                for s in ctx.servers:
                    detail += f'\nserver {s.pid} {" ".join(s.args)}:\n{s.stderr()[-3000:]}'
            finally:
                for s in ctx.servers:
                    s.close()
                ctx.servers = []
            counts[outcome] += 1
            print(f'{outcome} {t.__name__} ({time.monotonic() - started:.2f} s)'
                  + (': ' + detail.replace('\n', '\n    ') if detail else ''), flush=True)
    finally:
        ctx.close()
    print(f'{counts["PASS"]} passed, {counts["FAIL"]} failed, {counts["SKIP"]} skipped',
          flush=True)
    return 1 if counts['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main())
