#!/usr/bin/env python3
"""Turns bench/http_bench.sh's raw results into the "## HTTP: tinyweb vs h2o and nginx" section
of docs/BENCHMARKS.md: replaces that section if present (up to the next "## " heading), else
appends it, and leaves the rest of the file alone. Prints the section too.

runs.tsv: round scen server rps transfer_Bps requests p50_us p99_us sock_errors non2xx cpu_ticks
          psi_pct
idle.tsv: round scen server ok failed non200 open_s rss0_kb rss_idle_kb rss_after_kb
          open_cpu_ticks closed_by_server
"""
import argparse
import os
import statistics
import tempfile

TITLE = "## HTTP: tinyweb vs h2o and nginx"
PEERS = ("h2o", "nginx")
LABEL = {"tinyweb": "tinyweb", "h2o": "h2o", "nginx": "nginx",
         "tinyweb-seed": "tinyweb seed mode", "tinyweb-deferred": "tinyweb `--defer-accept on`"}

WRK_SCENARIOS = [
    ("a", "612 B, keep-alive, wrk -c 50"),
    ("b", "612 B, keep-alive, wrk -c 500"),
    ("c", "612 B, `Connection: close`, wrk -c 50 (one connection per request)"),
    ("d", "100 KiB, keep-alive, wrk -c 50"),
    ("e", "10 MiB, keep-alive, wrk -c 10 (throughput: see MiB/s)"),
    ("g", "612 B, keep-alive, wrk -c 50 while 10,000 idle keep-alive connections are held"),
    ("h", "tinyweb seed mode (`--timer list --tick alarm -t 1`) against its defaults: "
          "612 B, wrk -c 50 while 10,000 idle connections are held"),
    ("i", "both cores: tinyweb `-t 2`, h2o `num-threads: 2`, nginx `worker_processes 2`, "
          "nothing pinned; 612 B, keep-alive, wrk -t2 -c 50"),
]


def read_tsv(path, names, types):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(names):
                continue
            rows.append({n: t(v) for n, t, v in zip(names, types, parts)})
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def num(x, digits=0):
    if x != x:  # nan
        return "n/a"
    return f"{x:,.{digits}f}"


def lat(us):
    if us != us:
        return "n/a"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1e6:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1e6:.2f} s"


def ratio_text(rs):
    if not rs:
        return "n/a"
    if len(rs) == 1:
        return f"{rs[0]:.2f}x"
    return f"{med(rs):.2f}x ({min(rs):.2f}–{max(rs):.2f})"


def servers_in(rs):
    """The servers that have rows in rs, in the tables' order."""
    return [s for s in ("tinyweb", "tinyweb-deferred", "tinyweb-seed", "h2o", "nginx")
            if any(r["server"] == s for r in rs)]


def wrk_table(rows, scen, clk, anomalies):
    rs = [r for r in rows if r["scen"] == scen]
    if not rs:
        return "(not run)\n"
    servers = servers_in(rs)
    for r in rs:
        cpu_s = r["cpu"] / clk
        r["rpc"] = r["reqs"] / cpu_s if cpu_s > 0 else float("nan")
        r["uspr"] = cpu_s * 1e6 / r["reqs"] if r["reqs"] > 0 else float("nan")
        if r["server"].startswith("tinyweb") and (r["err"] or r["non2xx"] or r["reqs"] == 0):
            anomalies.append(f"({scen}) round {r['round']}, {LABEL[r['server']]}: "
                             f"{r['err']} socket errors, {r['non2xx']} non-2xx/3xx, {r['reqs']} requests")
    # Per round: tinyweb / the best peer (or, in (h), seed mode / defaults).
    rounds = sorted({r["round"] for r in rs})
    by = {(r["round"], r["server"]): r for r in rs}
    ratios = {}
    if scen == "h":
        pairs = [("tinyweb-seed", ("tinyweb",))]
    else:
        pairs = [("tinyweb", PEERS), ("tinyweb-deferred", PEERS)]
    for subject, others in pairs:
        rr, rc = [], []
        for rd in rounds:
            if (rd, subject) not in by:
                continue
            ps = [by[(rd, o)] for o in others if (rd, o) in by]
            if not ps:
                continue
            best = max(ps, key=lambda p: p["rps"])
            if best["rps"] > 0:
                rr.append(by[(rd, subject)]["rps"] / best["rps"])
            bestc = max(ps, key=lambda p: p["rpc"] if p["rpc"] == p["rpc"] else 0)
            if bestc["rpc"] > 0:
                rc.append(by[(rd, subject)]["rpc"] / bestc["rpc"])
        ratios[subject] = (ratio_text(rr), ratio_text(rc))
    vs = "vs tinyweb defaults" if scen == "h" else "vs best peer"
    out = [f"| server | req/s min | req/s median | req/s max | MiB/s median | p50 median | "
           f"p99 median | req per server CPU-s (median) | server µs CPU/req | socket errors / "
           f"non-2xx | req/s {vs} | req per CPU-s {vs} | CPU pressure (median) |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for s in servers:
        x = [r for r in rs if r["server"] == s]
        rps = [r["rps"] for r in x]
        ra = ratios.get(s, ("", ""))
        out.append(
            f"| {LABEL[s]} | {num(min(rps))} | {num(med(rps))} | {num(max(rps))} | "
            f"{num(med([r['bps'] / 1048576 for r in x]), 1)} | {lat(med([r['p50'] for r in x]))} | "
            f"{lat(med([r['p99'] for r in x]))} | {num(med([r['rpc'] for r in x]))} | "
            f"{num(med([r['uspr'] for r in x]), 1)} | {sum(r['err'] for r in x)} / "
            f"{sum(r['non2xx'] for r in x)} | {ra[0]} | {ra[1]} | {med([r['psi'] for r in x]):.0f}% |")
    return "\n".join(out) + "\n"


def idle_table(rows, scen, n_idle, clk, anomalies):
    rs = [r for r in rows if r["scen"] == scen]
    if not rs:
        return "(not run)\n"
    servers = servers_in(rs)
    out = [f"| server | base RSS (median) | RSS with {n_idle:,} idle (median) | bytes per idle "
           "connection min / median / max | RSS after they close (median) | set up ok / failed / "
           "non-200 (all rounds) | closed by the server while idle | server µs CPU per connection "
           "set up | set-up time (median) |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for s in servers:
        x = [r for r in rs if r["server"] == s]
        per = [(r["rss1"] - r["rss0"]) * 1024 / r["ok"] for r in x if r["ok"] > 0]
        cpu = [r["cpu"] / clk * 1e6 / r["ok"] for r in x if r["ok"] > 0]
        for r in x:
            if s.startswith("tinyweb") and (r["failed"] or r["non200"] or r["closed"]):
                anomalies.append(f"({scen}) round {r['round']}, {LABEL[s]}: of {n_idle} idle "
                                 f"connections {r['failed']} failed to set up, {r['non200']} got "
                                 f"a non-200, {r['closed']} were closed by the server while held")
        out.append(
            f"| {LABEL[s]} | {num(med([r['rss0'] for r in x]))} KiB | "
            f"{num(med([r['rss1'] for r in x]))} KiB | "
            f"{num(min(per)) if per else 'n/a'} / {num(med(per))} / {num(max(per)) if per else 'n/a'} | "
            f"{num(med([r['rss2'] for r in x]))} KiB | {sum(r['ok'] for r in x):,} / "
            f"{sum(r['failed'] for r in x)} / {sum(r['non200'] for r in x)} | "
            f"{sum(r['closed'] for r in x)} | {num(med(cpu), 1)} | "
            f"{med([r['open_s'] for r in x]):.2f} s |")
    return "\n".join(out) + "\n"


def splice(doc_path, section, title=TITLE):
    """Replaces the "## " section named title in doc_path with section (or appends it)."""
    lines = []
    if os.path.exists(doc_path):
        with open(doc_path) as f:
            lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == title), None)
    new = section.rstrip("\n").splitlines()
    if start is None:
        if not lines:
            lines = ["# Benchmarks"]
        while lines and lines[-1] == "":
            lines.pop()
        lines += [""] + new
    else:
        end, fence = len(lines), False
        for i in range(start + 1, len(lines)):
            if lines[i].startswith("```"):
                fence = not fence
            elif not fence and lines[i].startswith("## "):
                end = i
                break
        tail = lines[end:]
        lines = lines[:start] + new + ([""] + tail if tail else [])
    d = os.path.dirname(doc_path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".BENCHMARKS.md.")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, doc_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--idle", required=True)
    ap.add_argument("--head", required=True)
    ap.add_argument("--failures", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--n-idle", type=int, default=10000)
    ap.add_argument("--clk-tck", type=int, default=os.sysconf("SC_CLK_TCK"))
    a = ap.parse_args()

    runs = read_tsv(a.runs, ["round", "scen", "server", "rps", "bps", "reqs", "p50", "p99", "err",
                             "non2xx", "cpu", "psi"],
                    [int, str, str, float, float, int, float, float, int, int, int, int])
    idle = read_tsv(a.idle, ["round", "scen", "server", "ok", "failed", "non200", "open_s", "rss0",
                             "rss1", "rss2", "cpu", "closed"],
                    [int, str, str, int, int, int, float, int, int, int, int, int])
    anomalies = []
    with open(a.head) as f:
        parts = [f.read().rstrip("\n") + "\n", "\n### Results\n"]
    for scen, title in WRK_SCENARIOS:
        if scen == "g":
            parts.append(f"\n#### (f) {a.n_idle:,} idle keep-alive connections: memory\n\n"
                         f"Each connection sent one GET for the 612 B file and read the response, "
                         f"then stays open and silent. RSS is VmRSS of the serving process(es).\n\n")
            parts.append(idle_table(idle, "f", a.n_idle, a.clk_tck, anomalies))
        parts.append(f"\n#### ({scen}) {title}\n\n")
        parts.append(wrk_table(runs, scen, a.clk_tck, anomalies))
        if scen == "h":
            parts.append("\nThe idle connections of (h):\n\n")
            parts.append(idle_table(idle, "h-idle", a.n_idle, a.clk_tck, anomalies))
    parts.append("\n### Failures and anomalies\n\n")
    with open(a.failures) as f:
        fails = f.read().strip()
    if not anomalies and not fails:
        parts.append("None: every tinyweb run had no socket errors and no non-2xx responses, every "
                     "idle connection was set up and held, and no server died.\n")
    else:
        for x in anomalies:
            parts.append(f"- {x}\n")
        if fails:
            parts.append("\n```\n" + fails + "\n```\n")
    parts.append("""
### How to read it

*req/s* is wrk's Requests/sec (min, median, max over rounds); *p50* and *p99* are wrk's latency
percentiles (`--latency`), medians over rounds. *vs best peer* is, per round, tinyweb's figure
divided by the better of h2o and nginx in that same round, then the median (range in brackets)
over rounds: above 1.00x tinyweb is ahead. In (h) the ratio is seed mode over tinyweb's defaults.
*req per server CPU-s* counts how many requests one second of the server's own CPU time serves
(utime + stime from /proc/PID/stat, 1/CLK_TCK resolution), which does not depend on how fast
wrk is; on loopback with one core per side, wrk's own CPU often caps req/s, so this column is
the fairer comparison of the servers' efficiency. *bytes per idle connection* is the RSS growth
from opening the idle connections divided by their number (RSS counts touched pages, so small
figures are noisy at the page level). Socket errors and non-2xx are wrk's counts, summed over
rounds. *CPU pressure* is the share of the run's wall time in which some runnable task waited
for a CPU (/proc/pressure/cpu, "some"): with the server alone on CPU 0 and wrk alone on CPU 1 it
is near 0%, and a high figure means other jobs on the host competed for the cores during that
run, so its req/s is less trustworthy (in (i) the servers' and wrk's threads share both cores,
so some pressure is expected). The kernel charges the loopback softirq work that delivers a
process's packets as irq time, not to the process, so the server CPU figures are the servers'
own work.
""")
    section = "".join(parts)
    splice(a.doc, section)
    print(section)


if __name__ == "__main__":
    main()
