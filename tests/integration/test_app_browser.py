#!/usr/bin/env python3
"""The application (issue 11: register, log in, sessions, pages from templates) as a person uses
it, in headless Chromium through Selenium: the clean routes (/, /register, /login, /welcome,
/picture, /video, /fans, /logout) and TinyWebServer's (/0 and /1 as GET or POST, /2CGISQL.cgi
and /3CGISQL.cgi, /5 /6 /7).

    test_app_browser.py --binary build/tinyweb [--only NAME]... [--list] [--screenshots DIR]
                        [--site DIR]

Each test starts its own server on 127.0.0.1, port 0, with a copy of www/ (and what
scripts/gen_site.py generates: the picture, the download, the favicon) as its root, an SQLite
database of its own and the cheapest password hash (--pwhash-ops 1 --pwhash-mem 8k, so that an
ASan build is quick too), no login throttle; and its own Chromium, whose window is a phone's
320 CSS px (device metrics emulation). Along the flow it checks what the pages show (the user
name exactly as typed: quotes, an ampersand and <b> shown as text, never markup), that the
picture loads and the video plays, that the session cookie is HttpOnly, that every page fits
320 px (document.documentElement.scrollWidth <= clientWidth, as gen_site.py --check does for
the static pages), that the browser console stays empty (but for Chromium's "Failed to load
resource" line for each of the two refusals the test asks for: a wrong password, 403, and a
taken name, 409; the site has its favicon, so there is no favicon noise to excuse), and that the
server answered nothing else 4xx or 5xx (its access log).
The server must exit 0 on SIGTERM with no error logged and no sanitizer report; the server and
Chromium (with its chromedriver, in a process group of their own) are stopped by their PIDs.

A test is skipped when Chromium, chromedriver or Selenium is missing (scripts/deps.sh test
installs them). Selenium is Debian's python3-selenium: run this with /usr/bin/python3
(tests/integration/app_browser.cmake does). The output ends with "N passed, N failed,
N skipped"; the exit status is 1 when anything failed, 77 (ctest's SKIP_RETURN_CODE) when
every test was skipped, else 0. About 12 s in all (15-17 s beside another run on 2 cores).

test_back_after_logout: Back after the logout must not show the welcome page again (the pages
behind the login load /app.js, which reloads a page restored from the back/forward cache).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import common
from common import HOST, Failure, Process, Skip, check, clean_env, test_tmp, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, '..', '..'))
WWW = os.path.join(SOURCE, 'www')
GEN_SITE = os.path.join(SOURCE, 'scripts', 'gen_site.py')
# What gen_site.py writes into a root (ignored by git, maybe absent from www/).
GENERATED = ('images/grid.png', 'downloads', 'favicon.ico')

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
PAGE_TIMEOUT = 20.0   # a page load (a login on a loaded machine: a hash, a database write)
WAIT_TIMEOUT = 15.0   # an element, a navigation, the video
PHONE_WIDTH = 320     # CSS px: the narrowest phones in use (gen_site.py's WIDTHS)
TEST_TMP = test_tmp()
EXIT_SKIP = 77

# Names with every character HTML gives a meaning to: each must show as typed.
NAME = 'Ann O\'Neil & "Co" <b>bold</b>'
NAME_TWS = '<i>tws</i> & "two" \'q\''
PASSWORD = 'correct horse & battery=staple%20+'


class Server(Process):
    """tinyweb with the application on, over a copy of the bundled site."""

    def __init__(self, binary, www=WWW):
        self.base = tempfile.mkdtemp(prefix='tinyweb-app-browser.', dir=TEST_TMP)
        self.root = os.path.join(self.base, 'www')
        shutil.copytree(www, self.root, ignore=lambda d, names: [
            n for n in names
            if os.path.relpath(os.path.join(d, n), www) in GENERATED])
        p = subprocess.run([sys.executable, GEN_SITE, self.root], capture_output=True,
                           timeout=60)
        check(p.returncode == 0, f'gen_site.py {self.root}: {p.returncode} '
              f'{(p.stdout + p.stderr).decode(errors="replace")}')
        self.access = os.path.join(self.base, 'access.log')
        self.access_seen = 0
        argv = [binary, '--root', self.root, '--listen', f'{HOST}:0', '-t', '2',
                '--workers', '2', '--access-log', self.access,
                '--db', 'sqlite:' + os.path.join(self.base, 'app.db'),
                '--pwhash-ops', '1', '--pwhash-mem', '8k', '--login-throttle', '0']
        super().__init__(argv, tmp=TEST_TMP, env=clean_env())
        self.wait_listening(START_TIMEOUT)
        self.origin = f'http://{HOST}:{self.port}'

    def requests(self):
        """[(method, path, status)] of every request answered so far, in the log's order."""
        found = (re.search(r'"(\S+) (\S+) HTTP/1\.1" (\d{3}) ', line)
                 for line in common.read_text(self.access).splitlines())
        return [(m[1], m[2], int(m[3])) for m in found if m]

    def stop_checked(self):
        """SIGTERM, exit 0, no sanitizer report, no error logged."""
        self.stop_exit(STOP_TIMEOUT)
        self.check_stderr()

    def close(self):
        super().close()
        shutil.rmtree(self.base, ignore_errors=True)


class Browser:
    """Headless Chromium through Selenium, as wide as a phone, or Skip. chromedriver runs in a
    process group of its own, with Chromium in it: close() quits the session, then kills what
    is left of that group by its id."""

    def __init__(self):
        try:
            from selenium import webdriver
            from selenium.common.exceptions import WebDriverException
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            raise Skip(f'python3-selenium is not importable by {sys.executable} (Debian\'s: '
                       'run with /usr/bin/python3)') from None
        self.WebDriverException = WebDriverException
        chromium = shutil.which('chromium')
        driver = shutil.which('chromedriver')
        if not chromium or not driver:
            raise Skip('chromium or chromium-driver is not installed')
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for arg in ('--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
                    '--no-proxy-server', '--disable-extensions', '--no-first-run',
                    '--disable-background-networking', '--disable-component-update',
                    '--disable-sync', '--password-store=basic', '--window-size=800,900'):
            opts.add_argument(arg)
        if os.geteuid() == 0:
            opts.add_argument('--no-sandbox')
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.service = Service(driver, popen_kw={'start_new_session': True})
        self.drv = webdriver.Chrome(service=self.service, options=opts)
        self.group = self.service.process.pid
        self.console = []  # (step, entry) of every console message so far
        self.step = 'start'
        try:
            self.drv.set_page_load_timeout(PAGE_TIMEOUT)
            self.drv.set_script_timeout(WAIT_TIMEOUT)
            # A phone's screen: the layout viewport is 320 CSS px wide (the pages' viewport
            # meta asks for device-width). Tall, so that no page needs a vertical scroll bar.
            self.drv.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
                'width': PHONE_WIDTH, 'height': 2000, 'deviceScaleFactor': 1,
                'mobile': True})
        except BaseException:
            self.close()
            raise

    def close(self):
        try:
            self.drv.quit()
        except Exception:
            pass
        try:
            os.killpg(self.group, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # ---- Console

    def collect_console(self):
        for entry in self.drv.get_log('browser'):
            self.console.append((self.step, entry))

    # ---- Navigation

    def js(self, script, *args):
        return self.drv.execute_script(script, *args)

    def path(self):
        u = urllib.parse.urlsplit(self.drv.current_url)
        return u.path + ('?' + u.query if u.query else '')

    def navigate(self, step, action, want_path):
        """Runs action (a click, a get, back), which must lead to a new document, and waits
        until that document has loaded and is at want_path (with its query, if any)."""
        self.collect_console()
        self.step = step
        stamp = self.js('return window.__twStamp = String(Math.random());')
        action()

        def arrived():
            try:
                s, state = self.js('return [window.__twStamp, document.readyState];')
            except self.WebDriverException:
                return False  # between two documents
            return s != stamp and state == 'complete'

        wait_until(arrived, WAIT_TIMEOUT, f'{step}: a new page', 0.02)
        check(self.path() == want_path, f'{step}: at {self.drv.current_url}, not {want_path}')

    def get(self, step, path, want_path=None):
        self.navigate(step, lambda: self.drv.get(self.origin + path), want_path or path)

    def click(self, step, element_id, want_path):
        self.navigate(step, lambda: self.by_id(element_id).click(), want_path)

    def back(self, step, want_path):
        self.navigate(step, self.drv.back, want_path)

    def post_form(self, step, action, fields, want_path):
        """A POST of a form the page did not have: TinyWebServer's landing page has one per
        button, and its pages post to /2CGISQL.cgi and /3CGISQL.cgi."""
        def submit():
            self.js('''
                const f = document.createElement('form');
                f.method = 'post';
                f.action = arguments[0];
                for (const [k, v] of Object.entries(arguments[1])) {
                    const i = document.createElement('input');
                    i.type = 'hidden'; i.name = k; i.value = v;
                    f.appendChild(i);
                }
                document.body.appendChild(f);
                f.submit();''', action, fields)
        self.navigate(step, submit, want_path)

    # ---- The page

    def by_id(self, element_id):
        from selenium.webdriver.common.by import By
        return self.drv.find_element(By.ID, element_id)

    def text(self, selector):
        t = self.js('const e = document.querySelector(arguments[0]); '
                    'return e ? e.textContent : null;', selector)
        check(t is not None, f'{self.step}: no {selector} on {self.path()}')
        return t

    def fill(self, fields):
        for element_id, value in fields.items():
            e = self.by_id(element_id)
            e.clear()
            e.send_keys(value)
            check(e.get_property('value') == value,
                  f'{self.step}: #{element_id} holds {e.get_property("value")!r}')

    def fits(self):
        """The page is no wider than the phone's screen."""
        w = self.js('const e = document.documentElement; '
                    'return [e.scrollWidth, e.clientWidth, window.innerWidth];')
        check(w[1] == PHONE_WIDTH, f'{self.step}: the viewport is {w[1]} px, not {PHONE_WIDTH}'
              ' (device metrics emulation)')
        check(w[0] <= w[1], f'{self.step}: {self.path()} scrolls sideways at {PHONE_WIDTH} px: '
              f'document {w[0]} px wide')

    def screenshot(self, directory, name):
        if directory:
            os.makedirs(directory, exist_ok=True)
            self.drv.save_screenshot(os.path.join(directory, name + '.png'))


# ---------------------------------------------------------------------------------------------
# Checks shared by the tests


def page_is(b, title_h1, message=None):
    """The page's h1 says title_h1; its .message contains message (or is empty); it fits."""
    h1 = b.text('h1')
    check(h1 == title_h1, f'{b.step}: h1 {h1!r}, not {title_h1!r}')
    if message is not None:
        m = b.text('.message')
        check(message in m, f'{b.step}: message {m!r}, not {message!r}')
    b.fits()


def check_width_check(b):
    """fits() sees a page that is too wide (the emulation and the measure really work)."""
    b.js('const d = document.createElement("div"); d.id = "tw-wide"; '
         'd.style.width = "400px"; d.style.height = "1px"; document.body.appendChild(d);')
    try:
        b.fits()
    except Failure:
        pass
    else:
        raise Failure('a 400 px wide element did not make the page scroll sideways at '
                      f'{PHONE_WIDTH} px: the width check measures nothing')
    finally:
        b.js('document.getElementById("tw-wide").remove();')


def check_welcome(b, name):
    """/welcome greets name, as text: no element made of the name's markup."""
    h1 = b.text('h1')
    check(h1 == 'Welcome, ' + name, f'{b.step}: h1 {h1!r}')
    inner = b.js('return document.querySelector("h1").innerHTML')
    check(b.js('return document.querySelectorAll("h1 *").length') == 0,
          f'{b.step}: the h1 holds elements: {inner}')
    check(b.js('return document.querySelectorAll("main b, main i, main script").length') == 0,
          f'{b.step}: the name made markup')
    # The session cookie is HttpOnly: the page's scripts cannot read it.
    check('session=' not in b.js('return document.cookie'), f'{b.step}: document.cookie shows '
          'the session')
    cookie = [c for c in b.drv.get_cookies() if c['name'] == 'session']
    check(len(cookie) == 1 and cookie[0]['httpOnly'] and cookie[0].get('sameSite') == 'Lax'
          and cookie[0]['path'] == '/', f'{b.step}: the session cookie {cookie}')
    b.fits()


def signed_in_as(b, name):
    shown = b.text('.signed-in strong')
    check(shown == name, f'{b.step}: logged in as {shown!r}, not {name!r}')
    check(b.js('return document.querySelectorAll(".signed-in strong *").length') == 0,
          f'{b.step}: the name made markup')


def check_picture(b, name):
    check(b.js('return document.title') == 'A picture · tinyweb', f'{b.step}: title')
    img = wait_until(lambda: b.js(
        'const i = document.querySelector("main img"); '
        'return i && i.complete ? [i.naturalWidth, i.naturalHeight, i.currentSrc] : null;'),
        WAIT_TIMEOUT, f'{b.step}: the image to load', 0.02)
    check(img[0] > 0 and img[1] > 0, f'{b.step}: the image did not decode: {img}')
    check(img[2].endswith('/images/grid.png'), f'{b.step}: image {img[2]}')
    signed_in_as(b, name)
    b.fits()


def check_video(b, name):
    check(b.js('return document.title') == 'A video · tinyweb', f'{b.step}: title')
    played = b.drv.execute_async_script('''
        const done = arguments[arguments.length - 1];
        const v = document.getElementById('clip');
        if (!v) { done('no video#clip'); return; }
        v.muted = true;
        v.play().then(() => done('ok'),
                      e => done('play() refused: ' + e.name + ': ' + e.message));''')
    check(played == 'ok', f'{b.step}: {played}')

    def advanced():
        s = b.js('const v = document.getElementById("clip"); return {t: v.currentTime, '
                 'ready: v.readyState, paused: v.paused, error: v.error && v.error.code, '
                 'w: v.videoWidth, h: v.videoHeight, src: v.currentSrc};')
        check(s['error'] is None, f'{b.step}: the video failed: MediaError {s["error"]}')
        return s if s['t'] > 0.25 and s['ready'] >= 2 else None

    s = wait_until(advanced, WAIT_TIMEOUT, f'{b.step}: the video to play', 0.05)
    check(not s['paused'] and s['w'] > 0 and s['h'] > 0, f'{b.step}: video {s}')
    check(s['src'].endswith('/media/clip.webm'), f'{b.step}: video {s["src"]}')
    signed_in_as(b, name)
    b.fits()


def check_fans(b, name):
    check(b.js('return document.title') == 'Follow me · tinyweb', f'{b.step}: title')
    check(b.text('h1') == 'Follow me', f'{b.step}: h1')
    strong = b.js('return [...document.querySelectorAll("main strong")]'
                  '.map(e => e.textContent);')
    check(strong == [name, name], f'{b.step}: names shown {strong}')
    signed_in_as(b, name)
    b.fits()


def check_logged_out(b, paths):
    """No session cookie, and each page behind the login leads to the login form."""
    check(not [c for c in b.drv.get_cookies() if c['name'] == 'session'],
          f'{b.step}: the session cookie outlived the logout: {b.drv.get_cookies()}')
    for p in paths:
        b.get(f'after the logout: GET {p}', p, '/login')
        page_is(b, 'Log in', '')


# What the console may say: nothing, but Chromium's line for a document the test asked the
# server to refuse (a wrong password: 403, a taken name: 409), in the step that asked for it.
RESOURCE_STATUS_RE = re.compile(r'^(\S+) - Failed to load resource: the server responded with '
                                r'a status of (\d{3}) ')


def check_console(b, expected):
    """expected: {step: (path, status)} of the refusals the test caused on purpose."""
    b.collect_console()
    bad = []
    for step, e in b.console:
        m = RESOURCE_STATUS_RE.match(e.get('message', ''))
        if m and step in expected:
            path, status = expected[step]
            if urllib.parse.urlsplit(m[1]).path == path and int(m[2]) == status:
                continue
        bad.append(f'[{step}] {e.get("level")} {e.get("source")}: {e.get("message")}')
    check(not bad, 'the browser console:\n  ' + '\n  '.join(bad))


def check_requests(s, expected_errors, must_have):
    """Every request the browser made was answered below 400, but for expected_errors (a list
    of (method, path, status), each exactly once); must_have lists (method, path, statuses)
    that happened at least once."""
    # The server logs a request once it has answered it: give the last lines a moment.
    time.sleep(0.2)
    reqs = s.requests()
    errors = sorted(r for r in reqs if r[2] >= 400)
    check(errors == sorted(expected_errors), f'answered 4xx/5xx: {errors}, expected '
          f'{sorted(expected_errors)}; all requests: {reqs}')
    for method, path, statuses in must_have:
        check(any(r[0] == method and r[1] == path and r[2] in statuses for r in reqs),
              f'no {method} {path} answered {statuses}: {reqs}')
    return reqs


# ---------------------------------------------------------------------------------------------
# The tests


def test_clean_routes(ctx):
    """Landing -> New user -> register -> log in -> welcome -> picture, video, fans -> log out;
    a wrong password; a taken name."""
    b = ctx.browser()  # first: a missing browser skips before anything starts
    s = ctx.server()
    b.origin = s.origin

    b.get('landing', '/')
    page_is(b, 'tinyweb', '')
    check_width_check(b)
    check(b.js('return document.title') == 'tinyweb', 'landing: title')
    b.click('New user', 'new-user', '/register')
    page_is(b, 'New user', '')
    check(b.js('return document.querySelector("form").getAttribute("action")') == '/register',
          'the register form posts elsewhere')
    b.fill({'user': NAME, 'password': PASSWORD})
    b.screenshot(ctx.screenshots, 'register')
    b.click('register', 'submit', '/login?registered')
    page_is(b, 'Log in', 'Your account is ready')
    check(b.by_id('user').get_property('value') == '', 'login: the name field is not empty')
    b.fill({'user': NAME, 'password': PASSWORD})
    b.click('log in', 'submit', '/welcome')
    check_welcome(b, NAME)
    b.screenshot(ctx.screenshots, 'welcome')

    b.click('#picture', 'picture', '/picture')
    check_picture(b, NAME)
    b.back('back from the picture', '/welcome')
    check_welcome(b, NAME)
    b.click('#video', 'video', '/video')
    check_video(b, NAME)
    b.screenshot(ctx.screenshots, 'video')
    b.back('back from the video', '/welcome')
    b.click('#fans', 'fans', '/fans')
    check_fans(b, NAME)
    b.back('back from the fans', '/welcome')
    check_welcome(b, NAME)

    b.click('log out', 'logout', '/login')
    page_is(b, 'Log in', '')
    check_logged_out(b, ['/welcome', '/picture', '/video', '/fans'])

    # A wrong password: the login form again, with the error and the name as typed.
    b.fill({'user': NAME, 'password': PASSWORD + 'x'})
    b.click('wrong password', 'submit', '/login')
    page_is(b, 'Log in', 'Wrong user name or password')
    check(b.by_id('user').get_property('value') == NAME,
          f'wrong password: the name field holds {b.by_id("user").get_property("value")!r}')
    check(not [c for c in b.drv.get_cookies() if c['name'] == 'session'],
          'wrong password: a session cookie')
    b.screenshot(ctx.screenshots, 'wrong-password')

    # The name again: taken.
    b.get('register again', '/register')
    b.fill({'user': NAME, 'password': 'another one'})
    b.click('taken name', 'submit', '/register')
    page_is(b, 'New user', 'taken')
    check(b.by_id('user').get_property('value') == NAME, 'taken name: the name field')
    b.screenshot(ctx.screenshots, 'taken')

    # The right password still works after all that.
    b.get('login again', '/login')
    b.fill({'user': NAME, 'password': PASSWORD})
    b.click('log in again', 'submit', '/welcome')
    check_welcome(b, NAME)

    check_console(b, {'wrong password': ('/login', 403), 'taken name': ('/register', 409)})
    b.close()
    check_requests(s, [('POST', '/login', 403), ('POST', '/register', 409)], [
        ('POST', '/register', (303,)), ('POST', '/login', (303,)),
        ('POST', '/logout', (303,)), ('GET', '/images/grid.png', (200, 304)),
        ('GET', '/media/clip.webm', (200, 206)), ('GET', '/style.css', (200, 304)),
        ('GET', '/login?registered', (200,))])
    s.stop_checked()


def test_tinywebserver_routes(ctx):
    """TinyWebServer's routes: /0 (GET), /1 (POST, as its landing page's buttons send it),
    /3CGISQL.cgi and /2CGISQL.cgi (as its own forms post), /5 /6 /7; then log out."""
    b = ctx.browser()  # first: a missing browser skips before anything starts
    s = ctx.server()
    b.origin = s.origin

    b.get('GET /0', '/0')
    page_is(b, 'New user', '')
    check(b.js('return document.querySelector("form").getAttribute("action")') == '/register',
          '/0: the form posts elsewhere')
    b.fill({'user': NAME_TWS, 'password': PASSWORD})
    b.click('register from /0', 'submit', '/login?registered')
    page_is(b, 'Log in', 'Your account is ready')

    # TinyWebServer's landing page: each button is a POST form.
    b.get('landing', '/')
    b.post_form('POST /1', '/1', {}, '/1')
    page_is(b, 'Log in', '')
    check(b.js('return document.querySelector("form").getAttribute("action")') == '/login',
          '/1: the form posts elsewhere')
    b.fill({'user': NAME_TWS, 'password': PASSWORD})
    b.click('log in from /1', 'submit', '/welcome')
    check_welcome(b, NAME_TWS)

    b.get('GET /5', '/5')
    check_picture(b, NAME_TWS)
    b.get('GET /6', '/6')
    check_video(b, NAME_TWS)
    b.get('GET /7', '/7')
    check_fans(b, NAME_TWS)
    # Its pages are reached by POST forms as well.
    b.post_form('POST /5', '/5', {}, '/5')
    check_picture(b, NAME_TWS)

    b.get('welcome', '/welcome')
    b.click('log out', 'logout', '/login')
    check_logged_out(b, ['/5', '/6', '/7'])
    b.post_form('POST /7 after the logout', '/7', {}, '/login')

    # TinyWebServer's own form targets: register, then log in, through them.
    b.get('GET /0 again', '/0')
    b.post_form('POST /3CGISQL.cgi', '/3CGISQL.cgi',
                {'user': NAME_TWS + '3', 'password': PASSWORD}, '/login?registered')
    page_is(b, 'Log in', 'Your account is ready')
    b.post_form('POST /2CGISQL.cgi', '/2CGISQL.cgi',
                {'user': NAME_TWS + '3', 'password': PASSWORD}, '/welcome')
    check_welcome(b, NAME_TWS + '3')
    b.get('GET /6 as the third user', '/6')
    check_video(b, NAME_TWS + '3')

    check_console(b, {})
    b.close()
    check_requests(s, [], [
        ('GET', '/0', (200,)), ('POST', '/1', (200,)), ('POST', '/3CGISQL.cgi', (303,)),
        ('POST', '/2CGISQL.cgi', (303,)), ('GET', '/5', (200,)), ('POST', '/5', (200,)),
        ('GET', '/6', (200,)), ('GET', '/7', (200,)), ('GET', '/5', (303,)),
        ('POST', '/7', (303,)), ('GET', '/media/clip.webm', (200, 206))])
    s.stop_checked()


def test_back_after_logout(ctx):
    """Back, after logging out: the browser must not show the welcome page again from its
    back/forward cache (Cache-Control: no-store does not keep Chromium from restoring it: the
    pages' /app.js reloads a restored page, and the server answers 303 to /login)."""
    b = ctx.browser()  # first: a missing browser skips before anything starts
    s = ctx.server()
    b.origin = s.origin
    b.get('register', '/register')
    b.fill({'user': NAME, 'password': PASSWORD})
    b.click('register', 'submit', '/login?registered')
    b.fill({'user': NAME, 'password': PASSWORD})
    b.click('log in', 'submit', '/welcome')
    check_welcome(b, NAME)
    b.click('log out', 'logout', '/login')
    b.back('back after the logout', '/login')
    page_is(b, 'Log in', '')
    check_console(b, {})
    b.close()
    check_requests(s, [], [('GET', '/welcome', (303,))])
    s.stop_checked()


TESTS = [test_clean_routes, test_tinywebserver_routes, test_back_after_logout]
# Tests that fail for a known reason and run only when named (--only).
KNOWN_FAILING = []


class Context:
    def __init__(self, args):
        self.binary = os.path.abspath(args.binary)
        self.screenshots = args.screenshots
        self.site = os.path.abspath(args.site)
        self.servers = []
        self.browsers = []

    def server(self):
        s = Server(self.binary, self.site)
        self.servers.append(s)
        return s

    def browser(self):
        b = Browser()
        self.browsers.append(b)
        return b

    def close_all(self):
        for b in self.browsers:
            b.close()
        for s in self.servers:
            s.close()
        self.browsers, self.servers = [], []


def describe_failure(ctx):
    """Where each browser was, and each server's stderr and last requests."""
    detail = ''
    for b in ctx.browsers:
        try:
            detail += f'\nbrowser at {b.drv.current_url} ({b.step})'
        except Exception:
            pass
    for s in ctx.servers:
        detail += (f'\nserver {s.pid} {" ".join(s.args)}:\n{s.stderr()[-3000:]}'
                   f'\nrequests: {s.requests()[-30:]}')
    return detail


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--binary', required=True, help='the tinyweb executable')
    parser.add_argument('--only', action='append', metavar='SUBSTRING',
                        help='run only the tests whose name contains this')
    parser.add_argument('--list', action='store_true', help='list the tests and exit')
    parser.add_argument('--site', default=WWW, metavar='DIR',
                        help='the site to copy as the root (default: www/ of this tree)')
    parser.add_argument('--screenshots', metavar='DIR', help='save screenshots of the pages here')
    args = parser.parse_args()
    tests = [t for t in TESTS + KNOWN_FAILING
             if (any(o in t.__name__ for o in args.only) if args.only else t in TESTS)]
    if args.only and not tests:
        parser.error('--only matched no test')
    if args.list:
        print('\n'.join(t.__name__ for t in tests))
        return 0
    ctx = Context(args)
    counts = common.run_tests(tests, ctx, ctx.close_all, lambda: describe_failure(ctx))
    if counts['FAIL']:
        return 1
    return EXIT_SKIP if counts['SKIP'] == len(tests) else 0


if __name__ == '__main__':
    sys.exit(main())
