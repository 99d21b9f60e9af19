#!/usr/bin/env python3
"""Generates the bundled site's larger files into www/: an image and a download.

They are made here rather than committed: deterministic, so every machine serves the same bytes
(the download's sha256 is written beside it). Run by `make run`; safe to run again.
"""
import hashlib
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "www")


def png(path, width=640, height=360):
    """A gradient with a grid: a real PNG made with zlib alone."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            if x % 40 == 0 or y % 40 == 0:  # grid lines: white
                row += b"\xff\xff\xff"
            else:
                row += bytes((30 + (x * 200) // width, 60 + (y * 160) // height, 160))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    write(path, data)


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


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else ROOT
    png(os.path.join(root, "images", "grid.png"))
    download(os.path.join(root, "downloads", "sample-4MiB.bin"))


if __name__ == "__main__":
    main()
