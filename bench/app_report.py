#!/usr/bin/env python3
"""Turns bench/app_bench.sh's raw results into the "## The application" section of
docs/BENCHMARKS.md: replaces that section if present (up to the next "## " heading), else
appends it, and leaves the rest of the file alone. Prints the section too.

rows.tsv: round meas variant mode phase rps bps reqs p50_us p99_us sock_errors non2xx logins_s
          n303 nother worker_ticks other_ticks psi_pct loop_wait_us
meta.txt: key<TAB>value lines.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_report import lat, med, num, ratio_text, read_tsv, splice  # noqa: E402

TITLE = "## The application"
VARIANT = {"tree": "the tree as is", "nice0": "nice 0", "nice10": "nice 10", "nice19": "nice 19",
           "idle": "`SCHED_IDLE`", "batch": "`SCHED_BATCH` (nice 0)"}
MODE = {"pinned": "server on CPU 0, both wrk on CPU 1", "unpinned": "nothing pinned"}


def per_round(rs, key, fn):
    """fn(row_a, row_b) per round for the pair of phases key = (phase_a, phase_b)."""
    by = {}
    for r in rs:
        by.setdefault(r["round"], {})[r["phase"]] = r
    out = []
    for rd in sorted(by):
        a, b = by[rd].get(key[0]), by[rd].get(key[1])
        if a and b:
            v = fn(a, b)
            if v is not None:
                out.append(v)
    return out


def rng(xs, digits=0, unit=""):
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f"{num(xs[0], digits)}{unit}"
    return f"{num(med(xs), digits)}{unit} ({num(min(xs), digits)}–{num(max(xs), digits)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--commands", required=True)
    ap.add_argument("--failures", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--patch")
    a = ap.parse_args()

    rows = read_tsv(a.rows, ["round", "meas", "variant", "mode", "phase", "rps", "bps", "reqs",
                             "p50", "p99", "err", "non2xx", "logins", "n303", "nother", "wt",
                             "ot", "psi", "qwait"],
                    [int, str, str, str, str, float, float, int, float, float, int, int, float,
                     int, int, int, int, int, int])
    meta = {}
    with open(a.meta) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    with open(a.commands) as f:
        commands = f.read().rstrip("\n")
    clk = int(meta["clk_tck"])
    dur = int(meta["dur"])
    cpus = int(meta["cpus"])
    workers = int(meta["workers"])
    hash_ms = float(meta["hash_ms"])
    ideal = workers * 1000 / hash_ms
    anomalies = []

    p = []
    mode_text = (f"--quick: 1 round of {dur} s runs, no pool variants" if meta["quick"] == "1"
                 else f"{meta['rounds']} rounds of {dur} s runs")
    p.append(f"""{TITLE}

Produced by `bench/app_bench.sh {meta['build']}{' --quick' if meta['quick'] == '1' else ''}` ({mode_text}) in
{meta['minutes']}, {meta['date']}, commit {meta['commit']}, load average at start
{meta['load']}; do not edit by hand, re-run it. Source:
[bench/app_bench.sh](../bench/app_bench.sh), the hash time by
[bench/pwhash_time.c](../bench/pwhash_time.c), tables by [bench/app_report.py](../bench/app_report.py).

tinyweb `-t 1` (one loop) with the application on over SQLite: the default `--workers`
({workers} here: the online CPUs), `--pwhash-ops 2`, `--pwhash-mem 64M`, access log off, a fresh
database for every server start, one user registered and logged in with curl before the loads.
**This machine has {cpus} cores**: with the server on CPU 0 and the clients on CPU 1 (as in the
HTTP section), the {workers} hashing workers compete with the loop for one core, and can never
reach {workers} ÷ hash time logins per second; with nothing pinned they compete with the loop and
both wrk processes for both cores. How much they get is the pool's priority (below). Medians are
over rounds, with the range in brackets; *CPU pressure* as in the HTTP section.

```
{commands}
```

One Argon2id hash on one thread (`{meta['pw_cmd']}`, libsodium's `crypto_pwhash`, Argon2id 1.3,
2 passes, 64 MiB, as `crypto_pwhash_str_verify` does at login): **{hash_ms:.1f} ms** (runs:
{meta['hash_runs']} ms). {workers} workers ÷ {hash_ms:.1f} ms = **{ideal:.1f} logins/s**; one core's
worth, 1 ÷ {hash_ms:.1f} ms = {1000 / hash_ms:.1f} logins/s.
""")

    # ---- The logged-in page.
    pr = [r for r in rows if r["meas"] == "page"]
    p.append("\n### A logged-in page against a static file\n\n"
             "`GET /welcome` with the session cookie (723 B, rendered from its template with the "
             "name, the session found in the loop's session cache) and the 612 B static file, "
             "keep-alive, `wrk -t1 -c50`, the same server in the same round (the order alternates "
             "by round); server on CPU 0, wrk on CPU 1.\n\n")
    p.append("| page | req/s min | req/s median | req/s max | p50 median | p99 median | socket "
             "errors / non-2xx | req/s vs the static file | CPU pressure (median) |\n"
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
    ratios = per_round(pr, ("welcome", "static"),
                       lambda w, s: w["rps"] / s["rps"] if s["rps"] > 0 else None)
    for ph, label in (("static", "612 B static file"), ("welcome", "`GET /welcome`, logged in")):
        x = [r for r in pr if r["phase"] == ph]
        if not x:
            continue
        for r in x:
            if r["err"] or r["non2xx"] or r["reqs"] == 0:
                anomalies.append(f"page round {r['round']}, {label}: {r['err']} socket errors, "
                                 f"{r['non2xx']} non-2xx/3xx, {r['reqs']} requests")
        rps = [r["rps"] for r in x]
        p.append(f"| {label} | {num(min(rps))} | {num(med(rps))} | {num(max(rps))} | "
                 f"{lat(med([r['p50'] for r in x]))} | {lat(med([r['p99'] for r in x]))} | "
                 f"{sum(r['err'] for r in x)} / {sum(r['non2xx'] for r in x)} | "
                 f"{ratio_text(ratios) if ph == 'welcome' else ''} | "
                 f"{med([r['psi'] for r in x]):.0f}% |\n")
    if ratios:
        p.append(f"\nTarget (issue 11): ≥ 0.5× the static requests/s. Measured "
                 f"{ratio_text(ratios)}: **{'met' if med(ratios) >= 0.5 else 'missed'}**.\n")

    # ---- The flood, and the variants.
    def flood_table(meas, variants):
        out = ["| pool | placement | static req/s alone | static req/s with the flood | static "
               "p99 alone | static p99 with the flood | p99 with / alone | logins/s | logins/s vs "
               f"{workers} ÷ hash time | logins/s vs 1 core ÷ hash time | CPU of the workers, "
               "cores | the loop waited for a CPU, ms per s, alone / with the flood | answers 303 / "
               "other | CPU pressure alone / with the flood |",
               "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for v in variants:
            for mode in ("pinned", "unpinned"):
                rs = [r for r in rows if r["meas"] == meas and r["variant"] == v and r["mode"] == mode]
                if not rs:
                    continue
                al = [r for r in rs if r["phase"] == "alone"]
                fl = [r for r in rs if r["phase"] == "flood"]
                for r in rs:
                    if r["err"] or r["non2xx"] or r["reqs"] == 0 or r["nother"]:
                        anomalies.append(
                            f"{meas} round {r['round']}, {VARIANT[v]}, {mode}, {r['phase']}: "
                            f"static {r['err']} socket errors, {r['non2xx']} non-2xx/3xx, "
                            f"{r['reqs']} requests; logins not 303: {r['nother']}")
                p99r = per_round(rs, ("flood", "alone"),
                                 lambda f, s: f["p99"] / s["p99"] if s["p99"] > 0 else None)
                lg = [r["logins"] for r in fl]
                cores = [r["wt"] / clk / dur for r in fl]
                out.append(
                    f"| {VARIANT[v]} | {MODE[mode]} | {rng([r['rps'] for r in al])} | "
                    f"{rng([r['rps'] for r in fl])} | {lat(med([r['p99'] for r in al]))} | "
                    f"{lat(med([r['p99'] for r in fl]))} | {ratio_text(p99r)} | {rng(lg, 1)} | "
                    f"{ratio_text([x / ideal for x in lg])} | "
                    f"{ratio_text([x * hash_ms / 1000 for x in lg])} | {rng(cores, 2)} | "
                    f"{num(med([r['qwait'] / 1000 / dur for r in al]), 1)} / "
                    f"{num(med([r['qwait'] / 1000 / dur for r in fl]), 1)} | "
                    f"{sum(r['n303'] for r in fl):,} / {sum(r['nother'] for r in fl)} | "
                    f"{med([r['psi'] for r in al]):.0f}% / {med([r['psi'] for r in fl]):.0f}% |")
        return "\n".join(out) + "\n"

    p.append(f"""
### A login flood beside a static load

Per round and placement: `wrk -t1 -c10` on the 612 B file alone for {dur} s; then 64 clients
log in repeatedly (`wrk -t1 -c64 --timeout 30s -s login.lua`: `POST /login` with the form, every
answer counted by status: each must be 303 with a new session), started together with the same
static load, both for {dur} s. *logins/s* are the flood's 303s over its run; *CPU of the
workers* is the CPU time of the threads named tinyweb-work during the static run with the flood
(/proc/PID/task/*/stat) over its length: 1.00 is one core; *the loop waited for a CPU* is the
time the threads other than the workers (with `-t 1` the main thread, which is the loop) spent
runnable on a run queue (/proc/PID/task/*/schedstat), per second of the run. The pool as the tree has it (`POOL_NICE`
{meta['pool_nice']} in src/server.c).

""")
    p.append(flood_table("flood", ["tree"]))
    p.append(f"""
Targets (issue 11): the static p99 with the flood within 2× the p99 without; logins/s within
20 % of workers ÷ hash time ({ideal:.1f}/s). On this machine the second cannot be met with the
server pinned to one core (the ceiling is {1000 / hash_ms:.1f}/s, one core's worth, and only if the loop
takes nothing), and with nothing pinned the two cores are also wrk's; the pool's priority decides
which of the two targets gives way (next table, and
[PERFORMANCE.md](PERFORMANCE.md#the-worker-pool-yields-to-the-loops)).
""")
    if meta["quick"] != "1":
        p.append(f"""
### The pool's priority

The same flood with the pool's threads at other priorities, each a build of a private copy of
the tree: `POOL_NICE` in src/server.c set to 0, 10 or 19 (each worker lowers its own priority by
it with `setpriority`), or `POOL_NICE` 0 and one line added at the top of `worker_main` in
src/core/pool.c for `SCHED_IDLE` and `SCHED_BATCH`. The rounds alternate the variants.

""")
        if a.patch and os.path.exists(a.patch):
            with open(a.patch) as f:
                p.append("```diff\n" + f.read().rstrip("\n") + "\n```\n\n")
        p.append(flood_table("pool", ["nice0", "nice10", "nice19", "idle", "batch"]))

    p.append("\n### Failures and anomalies\n\n")
    with open(a.failures) as f:
        fails = f.read().strip()
    if not anomalies and not fails:
        p.append("None: no socket errors, no non-2xx responses, every login answered 303, and no "
                 "server died.\n")
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
