#!/usr/bin/env python3
"""Turns bench/tick_bench.sh's rows into the "## Timer ticks: close lateness and cost" section of
docs/BENCHMARKS.md (replacing that section if present, keeping the rest) and prints it.

rows: round variant phase rps requests p99_us cpu_ns wakes milliseconds closes_line
"""
import argparse
import re
import statistics

from http_report import splice

TITLE = "## Timer ticks: close lateness and cost"
VARIANTS = ("tinyweb-1ms", "tinyweb-10ms", "tinyweb-100ms", "h2o", "nginx")
LABEL = {"tinyweb-1ms": "tinyweb `--tick-ms 1ms`", "tinyweb-10ms": "tinyweb `--tick-ms 10ms`",
         "tinyweb-100ms": "tinyweb `--tick-ms 100ms`", "h2o": "h2o", "nginx": "nginx"}
CLOSES_RE = re.compile(r"closes n=(\d+) early=(\d+) late_ms min=(\S+) p50=(\S+) p90=(\S+) "
                       r"p99=(\S+) max=(\S+)")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def f(x, digits=0):
    return "n/a" if x != x else f"{x:,.{digits}f}"


def span(xs, digits=0):
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f(xs[0], digits)
    return f"{f(med(xs), digits)} ({f(min(xs), digits)}–{f(max(xs), digits)})"


def ratio(xs):
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f"{xs[0]:.2f}x"
    return f"{med(xs):.2f}x ({min(xs):.2f}–{max(xs):.2f})"


def load(path):
    rows = []
    with open(path) as fh:
        for line in fh:
            p = line.rstrip("\n").split("\t")
            if len(p) != 10:
                continue
            r = {"round": int(p[0]), "v": p[1], "phase": p[2], "rps": float(p[3] or 0),
                 "reqs": int(float(p[4] or 0)), "p99": float(p[5] or 0), "cpu_ns": int(p[6]),
                 "wakes": int(p[7]), "ms": int(p[8])}
            m = CLOSES_RE.search(p[9])
            if m:
                r["n"], r["early"] = int(m[1]), int(m[2])
                r["lmin"], r["l50"], r["l90"], r["l99"], r["lmax"] = map(float, m.groups()[2:])
            r["rpc"] = r["reqs"] / (r["cpu_ns"] / 1e9) if r["cpu_ns"] > 0 else float("nan")
            rows.append(r)
    return rows


def lat(us):
    return "n/a" if us != us else (f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    for a in ("--rows", "--doc", "--build", "--commit", "--load"):
        ap.add_argument(a, required=True)
    for a in ("--quick", "--seconds", "--n-idle", "--idle-s", "--dur"):
        ap.add_argument(a, type=int, required=True)
    a = ap.parse_args()
    rows = load(a.rows)
    by = {}
    for r in rows:
        by.setdefault((r["phase"], r["v"]), []).append(r)
    rounds = sorted({r["round"] for r in rows})
    n = f"{a.n_idle:,}"
    out = [f"""{TITLE}

Produced by `bench/tick_bench.sh {a.build}{' --quick' if a.quick else ''}` ({len(rounds)} round(s))
in {a.seconds // 60} min {a.seconds % 60} s, commit {a.commit}, load average at start {a.load};
do not edit by hand, re-run it. Source: [bench/tick_bench.sh](../bench/tick_bench.sh), closes
timed by [bench/idle_conns.py](../bench/idle_conns.py) `--idle-timeout`, tables by
[bench/tick_report.py](../bench/tick_report.py). One worker each on CPU 0 (tinyweb `-t 1 -c 1`,
h2o `num-threads: 1`, nginx `master_process off`, access logs off), the clients on CPU 1;
rounds alternate the variants. Server CPU is the sum of its threads' run time
(/proc/PID/task/*/schedstat, ns), wake-ups their voluntary context switches.

### {n} idle connections, idle timeout {a.idle_s} s, nothing else running

Each connection sends one GET, reads the response, then stays silent; *late* is when the
helper saw the server's close, minus the kernel's receive time of that response, minus
{a.idle_s} s (never negative for a server that keeps its timeout). Percentiles are medians over
rounds, *max* the largest of all rounds. Server CPU and wake-ups count from the moment every
connection is set up to the last close (about {a.idle_s} s): the cost of waiting and expiring.

| server | closes (all rounds) | early | late p50 | late p90 | late p99 | late max | server CPU ms | wake-ups |
|---|--:|--:|--:|--:|--:|--:|--:|--:|"""]
    for v in VARIANTS:
        x = [r for r in by.get(("late", v), []) if "n" in r]
        if not x:
            continue
        out.append(f"| {LABEL[v]} | {sum(r['n'] for r in x):,} | {sum(r['early'] for r in x)} | "
                   f"{f(med([r['l50'] for r in x]), 1)} ms | {f(med([r['l90'] for r in x]), 1)} ms | "
                   f"{f(med([r['l99'] for r in x]), 1)} ms | {f(max(r['lmax'] for r in x), 1)} ms | "
                   f"{span([r['cpu_ns'] / 1e6 for r in x])} | {span([r['wakes'] for r in x])} |")
    out.append(f"""
### What a finer tick costs under load

*ka*: wrk -t1 -c50 -d{a.dur}s keep-alive on a 612 B file (idle timeout 120 s). *{n} idle + 50*:
the same while {n} idle connections are held (none expires). *flood*: the {n} connections with
the {a.idle_s} s timeout are set up first, then wrk -c50 runs {a.idle_s + 3} s, during which the
server closes all of them. *req per CPU-s* = requests / server CPU seconds; the ratio is per
round against tinyweb with the 100 ms tick, then median (range).

| server | ka req/s | ka req per CPU-s | vs 100 ms | {n} idle + 50: req/s | req per CPU-s | vs 100 ms | flood: req/s | req per CPU-s | vs 100 ms | flood p99 | flood closes late p50 / p99 / max |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|""")
    base = {(r["phase"], r["round"]): r for r in rows if r["v"] == "tinyweb-100ms"}
    for v in VARIANTS:
        cells = [LABEL[v]]
        for ph in ("ka", "idle", "flood"):
            x = by.get((ph, v), [])
            cells.append(span([r["rps"] for r in x]))
            cells.append(span([r["rpc"] for r in x]))
            rs = [r["rpc"] / base[(ph, r["round"])]["rpc"] for r in x
                  if (ph, r["round"]) in base and base[(ph, r["round"])]["rpc"] > 0]
            cells.append(ratio(rs) if v != "tinyweb-100ms" else "1.00x")
        fl = [r for r in by.get(("flood", v), []) if "n" in r]
        cells.append(lat(med([r["p99"] for r in by.get(("flood", v), [])])))
        cells.append(f"{f(med([r['l50'] for r in fl]), 1)} / {f(med([r['l99'] for r in fl]), 1)} / "
                     f"{f(max([r['lmax'] for r in fl]) if fl else float('nan'), 1)} ms"
                     + (f" ({sum(r['early'] for r in fl)} early)" if any(r['early'] for r in fl) else ""))
        out.append("| " + " | ".join(cells) + " |")
    section = "\n".join(out) + "\n"
    splice(a.doc, section, TITLE)
    print(section)


if __name__ == "__main__":
    main()
