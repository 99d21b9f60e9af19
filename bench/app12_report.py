#!/usr/bin/env python3
"""Turns bench/app12_bench.sh's raw results into the "## MariaDB and HAProxy (issue 12)" section
of docs/BENCHMARKS.md: replaces that section if present (up to the next "## " heading), else
appends it; the rest of the file is kept byte for byte. Prints the section."""
import argparse
import statistics

TITLE = "## MariaDB and HAProxy (issue 12)"


def splice(path, section, title):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == title), None)
    if start is None:
        if not text.endswith("\n"):
            text += "\n"
        text += "\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fmt(xs, digits=0):
    if not xs:
        return "-"
    m = statistics.median(xs)
    s = f"{m:,.{digits}f}"
    if len(xs) > 1:
        s += f" ({min(xs):,.{digits}f}-{max(xs):,.{digits}f})"
    return s


def main():
    ap = argparse.ArgumentParser()
    for o in ("rows", "meta", "commands", "failures", "doc"):
        ap.add_argument("--" + o, required=True)
    a = ap.parse_args()
    meta = dict(l.rstrip("\n").split("\t", 1) for l in open(a.meta) if "\t" in l)
    rows = [l.rstrip("\n").split("\t") for l in open(a.rows) if l.strip()]
    # round part variant target path rps p99 err non2xx other share
    def sel(part, v, tg, path):
        return [r for r in rows if r[1] == part and r[2] == v and r[3] == tg and r[4] == path]

    def cell(rs, col, digits=0, scale=1.0):
        return fmt([float(r[col]) * scale for r in rs], digits)

    anomalies = []
    for r in rows:
        if int(r[7]) or int(r[8]) or int(r[9]):
            anomalies.append(f"round {r[0]}, {r[1]} {r[2]} {r[3]} {r[4]}: socket errors {r[7]}, "
                             f"non-2xx/3xx {r[8]}, answers not 200 {r[9]}")
    quick = meta["quick"] == "1"
    p = [f"""{TITLE}

Produced by `bench/app12_bench.sh {meta['build']}{' --quick' if quick else ''}` (run by
`bench/run.sh` after `bench/app_bench.sh`): {meta['rounds']} round(s) of {meta['dur']} s wrk runs,
the rounds alternating the order of the variants, in {meta['minutes']}, {meta['date']}, commit
{meta['commit']}; load average before the run {meta['load']}; {meta['others']} other
tinyweb, mariadbd, haproxy or wrk processes (not this benchmark's) on the machine at its start. Machine: {meta['cpus']} CPUs
({meta['cpu']}); {meta['maria']}; {meta['haproxy']}.
{'**A --quick run: one round of 5 s runs; the figures are indicative only.**' + chr(10) if quick else ''}
Figures are medians over the rounds (with the range when there are several); p99 is wrk's
latency percentile.

### The logged-in page: MariaDB against SQLite

One tinyweb per backend (`-t 1`, on CPU 0), wrk `-t1 -c50` keep-alive on CPU 1, `GET /welcome`.
*Cached*: one session cookie, so the session comes from the process's cache (trusted 5 s, then
checked in the database again): the loop answers without touching the database. *Database*:
{int(meta['ntokens']):,} sessions written straight into the database (rows the server has never
cached; the token hash is BLAKE2b-256 of the token, as `auth_token_hash`), wrk cycling through
them, so each request misses the cache (16,384 entries) and goes through the worker pool to
`db_session_find`. "From the database" is the share of lookups the server counted as
`tinyweb_app_session_lookups_total{{source="database"}}` during the run. Every `/welcome` run
here and below goes through the same wrk Lua script (a `request()` and a `response()` call per
request, to count answers other than 200: wrk itself would count a 303 to /login as a success),
which costs wrk CPU the static runs do not pay.

| backend | session | req/s | p99 (ms) | from the database |
|---|---|---|---|---|
"""]
    for kind in ("cached", "database"):
        for b in ("sqlite", "mariadb"):
            rs = sel("backend", b, kind, "/welcome")
            share = fmt([float(r[10]) / 10 for r in rs if float(r[10]) >= 0], 1)
            p.append(f"| {'SQLite' if b == 'sqlite' else 'MariaDB'} | {kind} | {cell(rs, 5)} | "
                     f"{cell(rs, 6, 2, 1e-3)} | {share} % |\n")
    p.append("""
### Through HAProxy, 1 and 3 instances

`scripts/cluster.sh start --instances N` (SQLite shared, each instance `-t 1` with an access log
file, as deployed), wrk `-t1 -c50` keep-alive, nothing pinned; *direct* is instance 1 of the same
cluster without HAProxy, in the same round. **This machine has 2 cores: HAProxy, wrk and the
instances share them, so these figures show what the proxy hop costs, not how the cluster
scales**; 3 instances cannot be faster than 1 here, they only add processes to the same 2 cores.

| instances | page | target | req/s | p99 (ms) |
|---|---|---|---|---|
""")
    for n in ("n1", "n3"):
        for path, name in (("/612.html", "static 612 B"), ("/welcome", "logged-in")):
            for tg in ("direct", "haproxy"):
                rs = sel("haproxy", n, tg, path)
                p.append(f"| {n[1:]} | {name} | {'HAProxy' if tg == 'haproxy' else 'direct'} | "
                         f"{cell(rs, 5)} | {cell(rs, 6, 2, 1e-3)} |\n")
    p.append("\n### Commands\n\n```\n" + open(a.commands).read().rstrip("\n") + "\n```\n")
    p.append("\n### Failures and anomalies\n\n")
    fails = open(a.failures).read().strip()
    if not anomalies and not fails:
        p.append("None: no socket errors, every logged-in page answered 200, no server died.\n")
    else:
        for x in anomalies:
            p.append(f"- {x}\n")
        if fails:
            p.append("\n```\n" + fails + "\n```\n")
    section = "".join(p)
    splice(a.doc, section, TITLE)
    print(section)


if __name__ == "__main__":
    main()
