#!/usr/bin/env python3
"""Turns bench/compress_bench.sh's raw results into the "## Compression (issue 14)" section of
docs/BENCHMARKS.md: replaces that section if present (up to the next "## " heading), else
appends it, and leaves the rest of the file alone (http_report.splice). Prints the section too.

runs.tsv:   round scen server rps transfer_Bps requests p50_us p99_us sock_errors non2xx
            cpu_ticks psi_pct                                             (wrk, scen "html")
probe.tsv:  round server status content_encoding head_bytes body_wire_bytes framing decoded_ok
            vary                                                          (curl --raw -D)
memory.tsv: key value (tinyweb's file cache from /status/metrics, variant sizes)
"""
import argparse
import os

from http_report import lat, med, num, ratio_text, read_tsv, splice
from tls_report import fmt_ratio, per_round_ratios

TITLE = "## Compression (issue 14)"
PEERS = ("gzip", "static", "h2o")
LABEL = {"tinyweb": "tinyweb (cached variant)", "gzip": "nginx `gzip on` (level 6)",
         "static": "nginx `gzip_static on` (.gz sibling)", "h2o": "h2o `compress: ON`"}


def main():
    ap = argparse.ArgumentParser()
    for a_ in ("--runs", "--probe", "--memory", "--metrics", "--heads", "--head", "--failures",
               "--doc"):
        ap.add_argument(a_, required=True)
    ap.add_argument("--clk-tck", type=int, default=os.sysconf("SC_CLK_TCK"))
    ap.add_argument("--servers", default="tinyweb gzip static h2o")
    ap.add_argument("--page-bytes", type=int, default=102400)
    a = ap.parse_args()
    clk = a.clk_tck
    servers = a.servers.split()

    runs = read_tsv(a.runs, ["round", "scen", "server", "rps", "bps", "reqs", "p50", "p99", "err",
                             "non2xx", "cpu", "psi"],
                    [int, str, str, float, float, int, float, float, int, int, int, int])
    probes = read_tsv(a.probe, ["round", "server", "status", "enc", "head", "body", "framing", "ok",
                                "vary"], [int, str, str, str, int, int, str, str, str])
    wire = {}
    for p in probes:
        p["wire"] = p["head"] + p["body"]
        wire[(p["round"], p["server"])] = p["wire"]
    for r in runs:
        cpu_s = r["cpu"] / clk
        r["rpc"] = r["reqs"] / cpu_s if cpu_s > 0 else float("nan")
        r["uspr"] = cpu_s * 1e6 / r["reqs"] if r["reqs"] > 0 else float("nan")
        r["wrk_bpr"] = r["bps"] / r["rps"] if r["rps"] > 0 else float("nan")
        r["wire"] = wire.get((r["round"], r["server"]), float("nan"))
    mem = {}
    with open(a.memory) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            mem[k] = v

    anomalies = []
    for r in runs:
        if r["server"] == "tinyweb" and (r["err"] or r["non2xx"] or r["reqs"] == 0):
            anomalies.append(f"round {r['round']}, tinyweb: {r['err']} socket errors, "
                             f"{r['non2xx']} non-2xx/3xx, {r['reqs']} requests")
    for p in probes:
        if p["ok"] != "yes" or p["status"] != "200":
            anomalies.append(f"round {p['round']}, {LABEL[p['server']]}: status {p['status']}, "
                             f"body decoded to the page: {p['ok']}")

    # ---- per server
    t = ["| server | Content-Encoding sent | framing | bytes on the wire per response (head + "
         "body) | share of the page | req/s min / median / max | p50 | p99 | server µs CPU/req | "
         "req per server CPU-s | wrk bytes/response | socket errors / non-2xx | CPU pressure |",
         "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for s in servers:
        x = [r for r in runs if r["server"] == s]
        ps = [p for p in probes if p["server"] == s]
        if not x and not ps:
            continue
        encs = sorted({p["enc"] for p in ps})
        framing = sorted({p["framing"] for p in ps})
        heads = [p["head"] for p in ps]
        bodies = [p["body"] for p in ps]
        w = [p["wire"] for p in ps]
        rps = [r["rps"] for r in x] or [float("nan")]
        t.append(
            f"| {LABEL[s]} | {', '.join(encs) or 'n/a'} | {', '.join(framing) or 'n/a'} | "
            f"{num(med(w))} ({num(med(heads))} + {num(med(bodies))}) | "
            f"{100 * med(w) / a.page_bytes:.1f} % | "
            f"{num(min(rps))} / {num(med(rps))} / {num(max(rps))} | "
            f"{lat(med([r['p50'] for r in x]))} | {lat(med([r['p99'] for r in x]))} | "
            f"{num(med([r['uspr'] for r in x]), 1)} | {num(med([r['rpc'] for r in x]))} | "
            f"{num(med([r['wrk_bpr'] for r in x]))} | {sum(r['err'] for r in x)} / "
            f"{sum(r['non2xx'] for r in x)} | {med([r['psi'] for r in x]):.0f}% |")
    per_server = "\n".join(t) + "\n"

    # ---- issue 14's targets: per round, tinyweb over the best peer
    def best_peer(value, pick):
        by = {}
        for r in runs:
            if r["server"] in PEERS and value(r) == value(r):
                by.setdefault(r["server"], []).append(value(r))
        if not by:
            return "n/a"
        s = pick(by, key=lambda k: med(by[k]))
        return f"{LABEL[s]}: {num(med(by[s]))}"

    targets = [
        ("req/s", lambda r: r["rps"], 1.0, False, max),
        ("bytes on the wire per response (curl; lower is better)", lambda r: r["wire"], 1.0, True,
         min),
        ("req per server CPU-s (no target)", lambda r: r["rpc"], None, False, max),
    ]
    t = ["| measure | tinyweb (median) | best peer (median) | tinyweb vs best peer | target | met |",
         "|---|--:|---|--:|--:|:-:|"]
    for what, value, target, lower, pick in targets:
        rs = per_round_ratios(runs, value, peers=PEERS, best=min if lower else max)
        tw = [value(r) for r in runs if r["server"] == "tinyweb"]
        tw = [v for v in tw if v == v]
        if target is None:
            ratio, tgt, met = (ratio_text(rs) if rs else "n/a"), "—", "—"
        else:
            ratio, met = fmt_ratio(rs, target, lower_is_better=lower)
            tgt = f"≤ {target:.2f}x" if lower else f"≥ {target:.2f}x"
        t.append(f"| {what} | {num(med(tw)) if tw else 'n/a'} | {best_peer(value, pick)} | "
                 f"{ratio} | {tgt} | {met} |")
    targets_md = "\n".join(t) + "\n"

    # ---- memory
    def mi(k):
        try:
            return int(mem.get(k, ""))
        except ValueError:
            return None

    lim_text = mem.get("limit", "?")
    mult = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    try:
        limit = int(lim_text[:-1]) * mult[lim_text[-1].lower()] if lim_text[-1:].isalpha() \
            else int(lim_text)
    except (ValueError, KeyError):
        limit = None
    lens = {c: mi(f"len_{c}") for c in ("identity", "br", "zstd", "gzip")}
    m = ["| tinyweb's file cache (`/status/metrics`) | tinyweb_file_cache_bytes | "
         "tinyweb_file_cache_entries | tinyweb RSS |", "|---|--:|--:|--:|"]
    for k, what in (("start", "at start, no request yet"),
                    ("cached", "after one `Accept-Encoding: identity` request (the page cached)"),
                    ("variants", f"once br, zstd and gzip are all served (about "
                                 f"{mem.get('variants_ms', '?')} ms after that request)")):
        b, e, rss = mi(f"bytes_{k}"), mi(f"entries_{k}"), mi(f"rss_{k}_kb")
        m.append(f"| {what} | {num(b) if b is not None else 'n/a'} | "
                 f"{num(e) if e is not None else 'n/a'} | "
                 f"{num(rss) + ' KiB' if rss is not None else 'n/a'} |")
    memory_md = "\n".join(m) + "\n"
    v = ["| representation | Content-Length (curl, that coding alone) | share of the page |",
         "|---|--:|--:|"]
    for c in ("identity", "br", "zstd", "gzip"):
        n_ = lens[c]
        share = f"{100 * n_ / a.page_bytes:.1f} %" if n_ is not None else "n/a"
        v.append(f"| {c} | {num(n_) if n_ is not None else 'n/a'} | {share} |")
    sizes_md = "\n".join(v) + "\n"
    total = sum(n_ for n_ in lens.values() if n_ is not None) if all(
        n_ is not None for n_ in lens.values()) else None
    got = mi("bytes_variants")
    if total is None or got is None:
        mem_verdict = "The variants' sizes could not all be read: see the failures below."
    else:
        eq = "equal to" if got == total else f"**not** equal to (off by {got - total:+,} bytes)"
        within = (f"within `--file-cache-bytes {lim_text}` ({limit:,} bytes per loop): "
                  f"{'yes' if got <= limit else '**no**'}") if limit else "limit unknown"
        mem_verdict = (f"File + variants: {lens['identity']:,} + {lens['br']:,} + "
                       f"{lens['zstd']:,} + {lens['gzip']:,} = {total:,} bytes, {eq} "
                       f"tinyweb_file_cache_bytes once they are made ({got:,}); {within}. The "
                       f"variants add {total - lens['identity']:,} bytes "
                       f"({100 * (total - lens['identity']) / lens['identity']:.1f} % of the file).")
        if got != total:
            anomalies.append(f"memory: tinyweb_file_cache_bytes {got} is not file + variants {total}")
        if limit and got > limit:
            anomalies.append(f"memory: tinyweb_file_cache_bytes {got} exceeds {lim_text}")

    with open(a.heads) as f:
        heads = f.read().strip()
    with open(a.metrics) as f:
        metrics = f.read().strip()
    with open(a.failures) as f:
        fails = f.read().strip()
    parts = [open(a.head).read().rstrip("\n") + "\n",
             "\n### Results\n\n",
             "Issue 14's targets: tinyweb's cached variant at ≥ 1.0x the best peer's req/s, with "
             "bytes on the wire per response ≤ the best peer's. *tinyweb vs best peer* is, per "
             "round, tinyweb's figure over the best of the three peers in that round (the highest "
             "req/s, the fewest bytes), then the median (range in brackets) over rounds; *best "
             "peer* names the peer with the best median.\n\n", targets_md,
             "\n#### Per server (`wrk -t1 -c50`, `Accept-Encoding: gzip, br`)\n\n", per_server,
             "\n#### Memory: tinyweb's variants in its file cache\n\n"
             "A separate tinyweb, started fresh with `--status /status` (the command line above), "
             "read before any request, with the page cached, and once every variant is "
             "served:\n\n", memory_md, "\n", sizes_md, "\n", mem_verdict + "\n"]
    if metrics:
        parts.append("\n<details><summary>tinyweb's file cache metrics at the end</summary>\n\n"
                     "```\n" + metrics + "\n```\n\n</details>\n")
    if heads:
        parts.append("\n<details><summary>Response heads (round 1)</summary>\n\n```\n" + heads +
                     "\n```\n\n</details>\n")
    parts.append("\n### Failures and anomalies\n\n")
    if not anomalies and not fails:
        parts.append("None: every response decoded to the page, no tinyweb run had socket errors "
                     "or non-2xx responses, and no server died.\n")
    else:
        for x in anomalies:
            parts.append(f"- {x}\n")
        if fails:
            parts.append("\n```\n" + fails + "\n```\n")
    parts.append("""
### How to read it

*req/s* and the latencies are wrk's (medians over rounds). *Bytes on the wire per response* is
the response's head plus its body exactly as sent (with the chunk framing of the servers that
compress per request and so send no Content-Length); *wrk bytes/response* divides wrk's
Transfer/sec by its Requests/sec (rounded by wrk, so within about 1 %) and shows the responses
under load were the ones curl saw. *per server CPU-s* divides the requests a run completed by
the server's own CPU time (utime + stime, 1/CLK_TCK resolution); it does not depend on how fast
wrk is, so it shows what compressing per request costs the servers that do it. tinyweb's
variants are made once per file version on its worker pool (br at its best level for files up
to 256 KiB, zstd 19, gzip 9) and it sends the smallest the client accepts; nginx's gzip_static
sends a file compressed beforehand (here gzip -9), so these two pay no compression per request.
*CPU pressure* is the share of the run's wall time in which some runnable task waited for a CPU
(/proc/pressure/cpu): near 0% when nothing else runs on the host.
""")
    section = "".join(parts)
    splice(a.doc, section, TITLE)
    print(section)


if __name__ == "__main__":
    main()
