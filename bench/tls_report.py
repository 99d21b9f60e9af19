#!/usr/bin/env python3
"""Turns bench/tls_bench.sh's raw results into the "## HTTPS (issue 13)" section of
docs/BENCHMARKS.md: replaces that section if present (up to the next "## " heading), else
appends it, and leaves the rest of the file alone (http_report.splice). Prints the section too.

runs.tsv:       round scen server rps transfer_Bps requests p50_us p99_us sock_errors non2xx
                cpu_ticks psi_pct                                   (wrk: ka, k100, m10)
handshakes.tsv: round scen server cpu_ticks psi_pct done_line       (tls_handshakes: full, resumed)
idle.tsv:       round server ok failed non200 open_s rss0_kb rss_idle_kb rss_after_kb
                open_cpu_ticks closed_by_server
negotiated.tsv: server version ciphersuite key_exchange verification refuses_tls12
"""
import argparse
import os

from http_report import lat, med, num, ratio_text, read_tsv, splice

TITLE = "## HTTPS (issue 13)"
PEERS = ("h2o", "nginx")
WRK = {"ka": "612 B keep-alive over TLS, wrk -t1 -c50",
       "k100": "100 KiB keep-alive over TLS, wrk -t1 -c10",
       "m10": "10 MiB keep-alive over TLS, wrk -t1 -c4"}
HS = {"full": "a new TLS connection per request, full handshake (tls_handshakes -c 50)",
      "resumed": "a new TLS connection per request, resumed with a session ticket "
                 "(tls_handshakes -c 50 -r)"}


def per_round_ratios(rows, value, subject="tinyweb", peers=PEERS, best=max):
    """subject's value over the best peer's (best=max: higher is better; min: lower), per round."""
    by = {(r["round"], r["server"]): r for r in rows}
    out = []
    for rd in sorted({r["round"] for r in rows}):
        if (rd, subject) not in by:
            continue
        vals = [value(by[(rd, p)]) for p in peers if (rd, p) in by]
        vals = [v for v in vals if v == v and v > 0]
        s = value(by[(rd, subject)])
        if vals and s == s:
            out.append(s / best(vals))
    return out


def read_hs(path, clk):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            kv = dict(x.split("=", 1) for x in parts[5].split()[1:] if "=" in x)
            cpu_s = int(parts[3]) / clk
            ok = int(kv.get("ok", 0))
            rows.append({
                "round": int(parts[0]), "scen": parts[1], "server": parts[2], "cpu_s": cpu_s,
                "psi": int(parts[4]), "ok": ok, "rate": float(kv.get("rate", 0)),
                "errors": int(kv.get("errors", 0)), "resumed": int(kv.get("resumed", 0)),
                "reoffered": int(kv.get("reoffered", 0)), "tickets": int(kv.get("tickets", 0)),
                "p50": float(kv.get("p50_ms", 0)), "p99": float(kv.get("p99_ms", 0)),
                "suite": f"{kv.get('version', '?')} {kv.get('cipher', '?')} {kv.get('group', '?')}",
                "other": int(kv.get("other_cipher", 0)),
                "cps": ok / cpu_s if cpu_s > 0 else float("nan"),
            })
    return rows


def fmt_ratio(rs, target, lower_is_better=False):
    if not rs:
        return "n/a", "n/a"
    m = med(rs)
    ok = m <= target if lower_is_better else m >= target
    return ratio_text(rs), "yes" if ok else "**no**"


def main():
    ap = argparse.ArgumentParser()
    for a_ in ("--runs", "--handshakes", "--idle", "--negotiated", "--head", "--failures", "--doc"):
        ap.add_argument(a_, required=True)
    ap.add_argument("--n-idle", type=int, default=10000)
    ap.add_argument("--clk-tck", type=int, default=os.sysconf("SC_CLK_TCK"))
    ap.add_argument("--servers", default="tinyweb h2o nginx")
    a = ap.parse_args()
    clk = a.clk_tck
    servers = a.servers.split()
    has_tw = "tinyweb" in servers
    cols = ["tinyweb"] + list(PEERS)

    runs = read_tsv(a.runs, ["round", "scen", "server", "rps", "bps", "reqs", "p50", "p99", "err",
                             "non2xx", "cpu", "psi"],
                    [int, str, str, float, float, int, float, float, int, int, int, int])
    for r in runs:
        cpu_s = r["cpu"] / clk
        r["rpc"] = r["reqs"] / cpu_s if cpu_s > 0 else float("nan")
    hs = read_hs(a.handshakes, clk)
    idle = read_tsv(a.idle, ["round", "server", "ok", "failed", "non200", "open_s", "rss0", "rss1",
                             "rss2", "cpu", "closed"],
                    [int, str, int, int, int, float, int, int, int, int, int])
    for r in idle:
        r["per"] = (r["rss1"] - r["rss0"]) * 1024 / r["ok"] if r["ok"] > 0 else float("nan")
    neg = {}
    with open(a.negotiated) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 6:
                neg[p[0]] = p[1:]

    def cell(rows, server, value, digits=0, suffix=""):
        xs = [value(r) for r in rows if r["server"] == server]
        xs = [x for x in xs if x == x]
        if not xs:
            return "not run" if server == "tinyweb" and not has_tw else "n/a"
        return num(med(xs), digits) + suffix

    # ---- summary: issue 13's table
    summary = [
        ("612 B keep-alive, `wrk -c 50`", "req/s", [r for r in runs if r["scen"] == "ka"],
         lambda r: r["rps"], 0, "", 1.0, False),
        ("", "req per server CPU-s", [r for r in runs if r["scen"] == "ka"],
         lambda r: r["rpc"], 0, "", 1.1, False),
        ("new TLS connection per request, full handshake", "handshakes per server CPU-s",
         [r for r in hs if r["scen"] == "full"], lambda r: r["cps"], 0, "", 1.0, False),
        ("", "handshakes/s (client-bound, no target)", [r for r in hs if r["scen"] == "full"],
         lambda r: r["rate"], 0, "", None, False),
        ("new TLS connection per request, resumed", "resumed connections per server CPU-s",
         [r for r in hs if r["scen"] == "resumed"], lambda r: r["cps"], 0, "", 1.0, False),
        ("100 KiB over TLS, `wrk -c 10`", "MiB/s", [r for r in runs if r["scen"] == "k100"],
         lambda r: r["bps"] / 1048576, 1, "", 1.0, False),
        ("10 MiB over TLS, `wrk -c 4`", "MiB/s", [r for r in runs if r["scen"] == "m10"],
         lambda r: r["bps"] / 1048576, 1, "", 1.0, False),
        (f"{a.n_idle:,} idle TLS keep-alive connections", "server RSS bytes per connection",
         idle, lambda r: r["per"], 0, "", 1.0, True),
    ]
    out = ["| scenario | measure (median over rounds) | " + " | ".join(cols) +
           " | tinyweb vs best peer | target | met |",
           "|---|---|" + "--:|" * len(cols) + "--:|--:|:-:|"]
    for scen, what, rows, value, digits, suffix, target, lower in summary:
        cells = [cell(rows, s, value, digits, suffix) for s in cols]
        if target is None:
            rs = per_round_ratios(rows, value)
            ratio, tgt, met = (ratio_text(rs) if rs else "n/a"), "—", "—"
        elif lower:  # memory: against nginx, lower is better
            rs = per_round_ratios(rows, value, peers=("nginx",), best=min)
            ratio, met = fmt_ratio(rs, target, lower_is_better=True)
            ratio = ratio + " (vs nginx)" if rs else ratio
            tgt = "≤ 1.00x nginx"
        else:
            rs = per_round_ratios(rows, value)
            ratio, met = fmt_ratio(rs, target)
            tgt = f"≥ {target:.2f}x"
        if not has_tw:
            met = "not run"
        out.append(f"| {scen} | {what} | " + " | ".join(cells) + f" | {ratio} | {tgt} | {met} |")
    summary_md = "\n".join(out) + "\n"

    anomalies = []

    # ---- wrk details
    def wrk_table(scen):
        rs = [r for r in runs if r["scen"] == scen]
        if not rs:
            return "(not run)\n"
        t = ["| server | req/s min / median / max | MiB/s median | p50 | p99 | req per server "
             "CPU-s | server µs CPU/req | MiB per server CPU-s | socket errors / non-2xx | "
             "CPU pressure |", "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for s in servers:
            x = [r for r in rs if r["server"] == s]
            if not x:
                continue
            rps = [r["rps"] for r in x]
            for r in x:
                if s == "tinyweb" and (r["err"] or r["non2xx"] or r["reqs"] == 0):
                    anomalies.append(f"({scen}) round {r['round']}, tinyweb: {r['err']} socket "
                                     f"errors, {r['non2xx']} non-2xx/3xx, {r['reqs']} requests")
            uspr = [r["cpu"] / clk * 1e6 / r["reqs"] for r in x if r["reqs"] > 0]
            # bytes per CPU-s: wrk's Transfer/sec times the run's length over the CPU time.
            mbc = [r["bps"] * (r["reqs"] / r["rps"]) / (r["cpu"] / clk) / 1048576
                   for r in x if r["cpu"] > 0 and r["rps"] > 0]
            t.append(f"| {s} | {num(min(rps))} / {num(med(rps))} / {num(max(rps))} | "
                     f"{num(med([r['bps'] / 1048576 for r in x]), 1)} | "
                     f"{lat(med([r['p50'] for r in x]))} | {lat(med([r['p99'] for r in x]))} | "
                     f"{num(med([r['rpc'] for r in x]))} | {num(med(uspr), 1)} | "
                     f"{num(med(mbc), 1)} | {sum(r['err'] for r in x)} / "
                     f"{sum(r['non2xx'] for r in x)} | {med([r['psi'] for r in x]):.0f}% |")
        return "\n".join(t) + "\n"

    def hs_table(scen):
        rs = [r for r in hs if r["scen"] == scen]
        if not rs:
            return "(not run)\n"
        t = ["| server | connections/s min / median / max | per server CPU-s | server µs CPU per "
             "connection | resumed | ticket offered again | tickets per connection | p50 / p99 "
             "(connect to close) | errors | negotiated | CPU pressure |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"]
        for s in servers:
            x = [r for r in rs if r["server"] == s]
            if not x:
                continue
            rate = [r["rate"] for r in x]
            ok = sum(r["ok"] for r in x)
            for r in x:
                if s == "tinyweb" and (r["errors"] or r["ok"] == 0):
                    anomalies.append(f"({scen}) round {r['round']}, tinyweb: {r['errors']} errors, "
                                     f"{r['ok']} connections")
                if s == "tinyweb" and scen == "resumed" and r["ok"] and r["resumed"] < r["ok"]:
                    anomalies.append(f"(resumed) round {r['round']}, tinyweb: only {r['resumed']} of "
                                     f"{r['ok']} connections resumed")
            uspc = [r["cpu_s"] * 1e6 / r["ok"] for r in x if r["ok"] > 0]
            suites = sorted({r["suite"] for r in x}) + (
                [f"{sum(r['other'] for r in x)} other"] if any(r["other"] for r in x) else [])
            t.append(f"| {s} | {num(min(rate))} / {num(med(rate))} / {num(max(rate))} | "
                     f"{num(med([r['cps'] for r in x]))} | {num(med(uspc), 1)} | "
                     f"{100 * sum(r['resumed'] for r in x) / ok if ok else 0:.1f}% | "
                     f"{100 * sum(r['reoffered'] for r in x) / ok if ok else 0:.1f}% | "
                     f"{sum(r['tickets'] for r in x) / ok if ok else 0:.2f} | "
                     f"{med([r['p50'] for r in x]):.2f} / {med([r['p99'] for r in x]):.2f} ms | "
                     f"{sum(r['errors'] for r in x)} | {', '.join(suites)} | "
                     f"{med([r['psi'] for r in x]):.0f}% |")
        return "\n".join(t) + "\n"

    def idle_table():
        if not idle:
            return "(not run)\n"
        t = [f"| server | base RSS | RSS with {a.n_idle:,} idle | bytes per connection min / "
             "median / max | RSS after they close | set up ok / failed / non-200 (all rounds) | "
             "closed by the server while idle | server µs CPU per connection set up | set-up "
             "time |", "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for s in servers:
            x = [r for r in idle if r["server"] == s]
            if not x:
                continue
            per = [r["per"] for r in x if r["ok"] > 0]
            cpu = [r["cpu"] / clk * 1e6 / r["ok"] for r in x if r["ok"] > 0]
            for r in x:
                if s == "tinyweb" and (r["failed"] or r["non200"] or r["closed"]):
                    anomalies.append(f"(idle) round {r['round']}, tinyweb: of {a.n_idle} idle "
                                     f"connections {r['failed']} failed to set up, {r['non200']} "
                                     f"got a non-200, {r['closed']} were closed while held")
            t.append(f"| {s} | {num(med([r['rss0'] for r in x]))} KiB | "
                     f"{num(med([r['rss1'] for r in x]))} KiB | "
                     f"{num(min(per)) if per else 'n/a'} / {num(med(per))} / "
                     f"{num(max(per)) if per else 'n/a'} | {num(med([r['rss2'] for r in x]))} KiB | "
                     f"{sum(r['ok'] for r in x):,} / {sum(r['failed'] for r in x)} / "
                     f"{sum(r['non200'] for r in x)} | {sum(r['closed'] for r in x)} | "
                     f"{num(med(cpu), 1)} | {med([r['open_s'] for r in x]):.2f} s |")
        return "\n".join(t) + "\n"

    neg_md = ["| server | protocol | ciphersuite | key exchange | certificate verifies for "
              "127.0.0.1 | refuses TLS 1.2 |", "|---|---|---|---|---|---|"]
    for s in servers:
        if s in neg:
            neg_md.append(f"| {s} | " + " | ".join(neg[s]) + " |")
    parts = [open(a.head).read().rstrip("\n") + "\n",
             "\n### Results\n\n",
             "Issue 13's targets; *tinyweb vs best peer* is, per round, tinyweb's figure over the "
             "better of h2o and nginx in that round, then the median (range in brackets) over "
             "rounds; for memory it is tinyweb's bytes per connection over nginx's (lower is "
             "better).\n\n", summary_md,
             "\nWhat each server negotiated with an unrestricted `openssl s_client` (its default "
             "offer), checked once before the rounds:\n\n", "\n".join(neg_md) + "\n"]
    for scen in ("ka", "full", "resumed", "k100", "m10"):
        parts.append(f"\n#### ({scen}) {WRK.get(scen) or HS[scen]}\n\n")
        parts.append(wrk_table(scen) if scen in WRK else hs_table(scen))
    parts.append(f"\n#### (idle) {a.n_idle:,} idle TLS keep-alive connections: memory\n\n"
                 "Each connection made a full handshake, sent one GET for the 612 B file and read "
                 "the response, then stays open and silent; measured on a freshly started server. "
                 "RSS is VmRSS of the server's processes (nginx: master + worker).\n\n")
    parts.append(idle_table())
    parts.append("\n### Failures and anomalies\n\n")
    with open(a.failures) as f:
        fails = f.read().strip()
    if not anomalies and not fails:
        parts.append("None: no errors, every idle connection was set up and held, no server died"
                     + ("" if has_tw else " (tinyweb not run)") + ".\n")
    else:
        for x in anomalies:
            parts.append(f"- {x}\n")
        if fails:
            parts.append("\n```\n" + fails + "\n```\n")
    parts.append("""
### How to read it

*req/s*, *MiB/s* and latencies are wrk's (medians over rounds); *per server CPU-s* divides the
requests or connections a run completed by the server's own CPU time in that run (utime + stime,
1/CLK_TCK resolution), which does not depend on how fast the client is: with one core per side
the client (wrk's TLS, the handshake client's key exchange and signature check) often caps the
rate, so this is the fairer comparison of the servers. In (full) and (resumed) each connection
is connect, TLS 1.3 handshake, one GET of the 612 B file with `Connection: close`, the response
read to the server's close; the server's cost includes its TCP accept and close and the
session tickets it sends. *resumed* is the share of connections on which SSL_session_reused()
was true; *ticket offered again* is the share that reused an already offered ticket because the
server had sent no new one (each ticket is otherwise offered once, newest first); *tickets per
connection* counts the NewSessionTicket messages received. *bytes per connection* is the RSS
growth from opening the idle connections divided by their number. *CPU pressure* is the share of
the run's wall time in which some runnable task waited for a CPU (/proc/pressure/cpu): near 0%
when nothing else runs on the host.
""")
    section = "".join(parts)
    splice(a.doc, section, TITLE)
    print(section)


if __name__ == "__main__":
    main()
