#!/usr/bin/env python3
"""Generates the bundled site's larger files into www/: an image, a download and the favicon;
with --check, checks the site in a real browser.

    gen_site.py [ROOT]              writes the files into ROOT (default: www/)
    gen_site.py --check TINYWEB     serves a copy of www/ with that binary and checks it as
                                    headless Chromium shows it (make test-site)

The files are made here rather than committed: deterministic, so every machine serves the same
bytes (the download's sha256 is written beside it). Run by `make run`; safe to run again.

The check, what a phone and a plain visit see: at 320 and 375 px wide, no page of the site is
wider than the screen (document.documentElement.scrollWidth <= clientWidth, measured by the
browser's own layout); a visit to / asks for nothing the server answers 4xx or 5xx (the browser
asks for /favicon.ico on its own); the favicon is served as image/x-icon and the download's
.sha256 as text/plain, which the browser shows instead of downloading. Exit status 0 when all
holds, 1 otherwise. Everything is served on 127.0.0.1; the server and the browser are started
here and stopped by their PIDs.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "www")


def encode_png(width, height, pixel, alpha=False):
    """A PNG made with zlib alone; pixel(x, y) is (r, g, b), or (r, g, b, a) with alpha."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            row += bytes(pixel(x, y))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png(path, width=640, height=360):
    """A gradient with a grid."""
    def pixel(x, y):
        if x % 40 == 0 or y % 40 == 0:  # grid lines: white
            return (255, 255, 255)
        return (30 + (x * 200) // width, 60 + (y * 160) // height, 160)

    write(path, encode_png(width, height, pixel))


def favicon(path):
    """A white "t" on a rounded square in the grid image's colours, 16 and 32 px: an ICO file
    holding one PNG per size (every current browser reads those), a few hundred bytes."""
    def in_square(x, y):  # the unit square with corners rounded off, radius 0.22
        r = 0.22
        cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    def in_t(x, y):  # stem, crossbar, and a foot curving right
        stem = 0.38 <= x <= 0.56 and 0.14 <= y <= 0.66
        bar = 0.22 <= x <= 0.78 and 0.32 <= y <= 0.45
        foot = 0.47 <= x <= 0.76 and 0.70 <= y <= 0.84
        bend = x <= 0.56 and y >= 0.66 and (x - 0.56) ** 2 + (y - 0.66) ** 2 <= 0.18 ** 2
        return stem or bar or foot or bend

    def image(size, n=4):
        def pixel(px, py):
            # n x n samples a pixel: smooth edges without a drawing library.
            square = glyph = 0
            for i in range(n * n):
                x = (px + (i % n + 0.5) / n) / size
                y = (py + (i // n + 0.5) / n) / size
                if in_square(x, y):
                    square += 1
                    glyph += in_t(x, y)
            if not square:
                return (0, 0, 0, 0)
            k = glyph / square
            bg = (30 + int(200 * px / size), 60 + int(160 * py / size), 160)
            return tuple(round(c + (255 - c) * k) for c in bg) + (255 * square // (n * n),)

        return encode_png(size, size, pixel, alpha=True)

    images = [(size, image(size)) for size in (16, 32)]
    # ICONDIR, then one ICONDIRENTRY per image: width, height, colours, reserved, planes, bits
    # per pixel, bytes, offset.
    head = struct.pack("<HHH", 0, 1, len(images))
    offset = len(head) + 16 * len(images)
    entries, blobs = b"", b""
    for size, data in images:
        entries += struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        blobs += data
    write(path, head + entries + blobs)


def download(path, size=4 * 1024 * 1024):
    """Deterministic pseudo-random bytes (SHA-256 in counter mode): incompressible."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"tinyweb sample %d" % counter).digest()
        counter += 1
    data = bytes(out[:size])
    write(path, data)
    digest = hashlib.sha256(data).hexdigest()
    write(path + ".sha256", ("%s  %s\n" % (digest, os.path.basename(path))).encode())


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def generate(root):
    png(os.path.join(root, "images", "grid.png"))
    download(os.path.join(root, "downloads", "sample-4MiB.bin"))
    favicon(os.path.join(root, "favicon.ico"))


# ---------------------------------------------------------------------------------------------
# The check in a browser

WIDTHS = (320, 375)  # CSS px: the narrowest phones in use, and the most common width
PAGES = ("/", "/media/")
PROBE = "/phone-width-probe.html"
CHROMIUM = ("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--virtual-time-budget=10000")
BROWSER_TIMEOUT = 60


def probe_page():
    """A page that lays out each page of the site in a frame as wide as a phone's screen, tall
    enough to need no scroll bar, and writes what each frame measured into #result as JSON.
    A frame's width is its viewport's, as device-width is a phone's."""
    frames = "".join(
        f'<iframe src="{page}" width="{w}" height="4000" style="border:0;display:block"'
        f' data-page="{page}" data-width="{w}"></iframe>' for page in PAGES for w in WIDTHS)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title></head><body>{frames}
<pre id="result">[]</pre>
<script>
const results = [];
for (const f of document.querySelectorAll('iframe')) {{
  f.addEventListener('load', () => {{
    const e = f.contentDocument.documentElement;
    results.push({{page: f.dataset.page, width: +f.dataset.width,
                  scrollWidth: e.scrollWidth, clientWidth: e.clientWidth}});
    document.getElementById('result').textContent = JSON.stringify(results);
  }});
}}
</script></body></html>
"""


def run_browser(url, out_dir, *args):
    """Runs headless Chromium on url in its own process group, which is killed if it outlives
    BROWSER_TIMEOUT; returns its stdout."""
    profile = tempfile.mkdtemp(prefix="profile.", dir=out_dir)
    cmd = [*CHROMIUM, f"--user-data-dir={profile}", *args, url]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise SystemExit(f"site: chromium still running {BROWSER_TIMEOUT} s after {url}")
    if proc.returncode != 0:
        raise SystemExit(f"site: chromium exited {proc.returncode} on {url}:\n"
                         f"{err.decode(errors='replace')[-2000:]}")
    return out.decode(errors="replace")


def start_server(binary, root, log):
    """tinyweb on 127.0.0.1, a free port; returns (process, port)."""
    err_path = os.path.join(os.path.dirname(log), "stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([binary, "--root", root, "--listen", "127.0.0.1:0", "-t", "1",
                                 "--access-log", log], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(err_path, errors="replace") as f:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", f.read())
        if m:
            return proc, int(m[1])
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    with open(err_path, errors="replace") as f:
        raise SystemExit(f"site: {binary} did not start listening:\n{f.read()[-2000:]}")


def content_type(url):
    """The Content-Type of a HEAD request (no proxy, whatever the environment says)."""
    req = urllib.request.Request(url, method="HEAD")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return f"(status {e.code})"


def check(binary):
    if not shutil.which(CHROMIUM[0]):
        print("site: chromium is not installed (scripts/deps.sh test installs it)")
        return 1
    base = tempfile.mkdtemp(prefix="tinyweb-site.")
    proc = None
    problems = []
    try:
        root = os.path.join(base, "www")
        shutil.copytree(ROOT, root)
        generate(root)
        log = os.path.join(base, "access.log")
        proc, port = start_server(binary, root, log)
        origin = f"http://127.0.0.1:{port}"

        def logged():
            with open(log, errors="replace") as f:
                found = (re.search(r'"GET (\S+) HTTP/1\.1" (\d{3}) ', line) for line in f)
                return [(m[1], int(m[2])) for m in found if m]

        # A plain visit to /, as a person makes it: the page, what it embeds, the favicon.
        # Chromium asks for the favicon on its own after the load, and --dump-dom may quit
        # before it has: a visit that did not ask is made again (up to 3), never excused.
        for _ in range(3):
            run_browser(origin + "/", base, "--window-size=375,800", "--dump-dom")
            # The server logs a request once it has answered it: give the last line a moment.
            deadline = time.monotonic() + 2
            requests = logged()
            while "/favicon.ico" not in dict(requests) and time.monotonic() < deadline:
                time.sleep(0.05)
                requests = logged()
            if "/favicon.ico" in dict(requests):
                break
        print(f"site: a visit to / asked for {', '.join(f'{p} {s}' for p, s in requests)}")
        bad = [f"{p} {s}" for p, s in requests if s >= 400]
        if bad:
            problems.append(f"a visit to / asked for what is not there: {', '.join(bad)}")
        if ("/favicon.ico", 200) not in requests:
            problems.append("the browser did not get /favicon.ico")

        for path, want in (("/favicon.ico", "image/x-icon"),
                           ("/downloads/sample-4MiB.bin.sha256", "text/plain; charset=utf-8")):
            got = content_type(origin + path)
            print(f"site: {path}: Content-Type {got}")
            if got != want:
                problems.append(f"{path} served as {got}, not {want}")

        # Each page at phone widths.
        with open(os.path.join(root, PROBE.lstrip("/")), "w") as f:
            f.write(probe_page())
        dom = run_browser(origin + PROBE, base, "--window-size=800,800", "--dump-dom")
        m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
        results = json.loads(m[1]) if m else []
        for r in results:
            fits = r["scrollWidth"] <= r["clientWidth"]
            print(f"site: {r['page']} at {r['width']} px: document {r['scrollWidth']} px wide, "
                  f"viewport {r['clientWidth']} px: {'fits' if fits else 'SCROLLS SIDEWAYS'}")
            if not fits:
                problems.append(f"{r['page']} scrolls sideways at {r['width']} px: "
                                f"{r['scrollWidth']} px wide")
        if len(results) != len(PAGES) * len(WIDTHS):
            problems.append(f"the probe measured {len(results)} of "
                            f"{len(PAGES) * len(WIDTHS)} frames")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)
    for p in problems:
        print(f"site: FAIL {p}")
    print("site: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check(sys.argv[2])
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    generate(sys.argv[1] if len(sys.argv) > 1 else ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
