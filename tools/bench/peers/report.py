#!/usr/bin/env python3
"""Turns bench.py's results.json into results.md (tables) and chart.png
(gnuplot). Also runnable alone: python3 report.py RESULTS_DIR."""
import json
import os
import subprocess
import sys

WORKLOADS = [
    # (key in cells, row label, metric: value|p99)
    ("seq cold", "seq read {big} MiB, cold", "value"),
    ("seq warm", "seq read {big} MiB, warm (remount)", "value"),
    ("seq hot", "seq read {big} MiB, hot", "value"),
    ("par4 cold", "4 readers x 4 files of {par} MiB, cold", "value"),
    ("par4 hot", "4 readers x 4 files of {par} MiB, hot", "value"),
    ("fio4k cold", "fio 4K randread cold, IOPS", "value"),
    ("fio4k cold", "fio 4K randread cold, p99", "p99"),
    ("fio4k hot", "fio 4K randread hot, IOPS", "value"),
    ("fio4k hot", "fio 4K randread hot, p99", "p99"),
    ("find cold", "find over {small} files, cold", "value"),
    ("find hot", "find over {small} files, hot", "value"),
    ("ls-lR cold", "ls -lR over {small} files, cold", "value"),
    ("ls-lR hot", "ls -lR over {small} files, hot", "value"),
    ("small cold", "read all {small} small files, cold", "value"),
    ("small warm", "read all {small} small files, warm (remount)", "value"),
    ("neg lookups", "{neg} repeated negative lookups", "value"),
]
SHORT = ["seq cold", "seq warm", "seq hot", "4 readers cold", "4 readers hot",
         "fio cold IOPS", "fio cold p99", "fio hot IOPS", "fio hot p99", "find cold", "find hot",
         "ls -lR cold", "ls -lR hot", "small cold", "small warm", "neg lookups"]
PEERS = ("rclone", "httpdirfs")
NAMES = {"ours": "daramjwee-fs", "rclone": "rclone", "httpdirfs": "httpdirfs"}


def rows(res):
    z = res["sizes"]
    return [(wl, label.format(big=z["big_mib"], par=z["par_mib"], small=z["small_n"], neg=z["neg_n"]), w)
            for wl, label, w in WORKLOADS]


def cell(res, wl, system):
    for c in res["cells"]:
        if c["workload"] == wl and c["system"] == system:
            return c
    return None


def metric(c, which):
    """(number, higher_better) or (None, _) when failed/missing."""
    if c is None or c.get("value") is None:
        return None, True
    if which == "p99":
        return c.get("p99_us"), False
    return c["value"], c.get("higher_better", True)


def fmt(c, which, res):
    if c is None:
        return "n/a"
    if c.get("verify") != "ok":
        v, _ = metric(c, which)
        return "**FAIL**" + ("" if v is None else " (" + fmt_num(c, which) + ")")
    return fmt_num(c, which)


def fmt_num(c, which):
    v, _ = metric(c, which)
    if v is None:
        return "-"
    if which == "p99":
        return "%.0f µs" % v
    u = c.get("unit")
    if u == "MiB/s":
        return "%.0f MiB/s" % v
    if u == "IOPS":
        return "%.0f" % v
    if u == "s":
        if c["workload"] == "neg lookups":
            return "%.1f µs/op" % (v / c.get("lookups", 1) * 1e6)
        t = "%.3f s" % v if v < 10 else "%.1f s" % v
        if c.get("partial"):
            t = "≈%s (est.: %d of %d files read within the %.0f s budget)" % (
                t, c.get("files_read", 0), c.get("files", 0), c.get("seconds", 0))
        return t
    return "%g %s" % (v, u)


def speed_ratio(a, b, which):
    """How many times faster a is than b (>1: a faster). None if unknown."""
    va, hb = metric(a, which)
    vb, _ = metric(b, which)
    if va is None or vb is None or (a and a.get("verify") != "ok") or va <= 0 or vb <= 0:
        return None
    return va / vb if hb else vb / va


def fmt_ratio(r, goal=None):
    if r is None:
        return "-"
    s = "%.2f" % r if r < 100 else "%.0f" % r
    if goal is not None and r < goal:
        s = "**%s**" % s
    return s


def paired_rows(res):
    """[(label, [ours_k / limit_k for each round k])] for the sequential and
    4-reader rows of a run made in interleaved rounds (samples in round
    order); empty for older runs, whose limits all ran before the systems."""
    if not res.get("interleaved_rounds"):
        return []
    out = []
    for wl, label, which in rows(res):
        if not (wl.startswith("seq") or wl.startswith("par4")):
            continue
        lim, ours = cell(res, wl, "limit"), cell(res, wl, "ours")
        ls, os_ = (lim or {}).get("samples"), (ours or {}).get("samples")
        if not ls or not os_ or len(ls) != len(os_) or ours.get("verify") != "ok":
            continue
        if any(not isinstance(x, (int, float)) or x <= 0 for x in ls + os_):
            continue
        out.append((label, [o / l for o, l in zip(os_, ls)]))
    return out


def origin_str(c):
    if c is None or "origin" not in c:
        return "-"
    o = c["origin"]
    by = ", ".join("%s %d" % (k, v) for k, v in sorted(o["by"].items()))
    return "%d (%s; %.1f MiB)" % (o["requests"], by or "none", o["bytes"] / 1048576.0)


def markdown(res):
    m = res["machine"]
    out = []
    out.append("## daramjwee-fs vs limits and peers — %s" % res["date"])
    out.append("")
    out.append("Machine: %s, %s cores (%s), %d MiB RAM, work dir on %s; kernel %s. "
               "Load average at start %s, at end %s (other jobs were running). "
               "Mode: %s, run time %.0f s. Command: `%s`."
               % (m["host"], m["cores"], m["cpu"], m["mem_mib"], m["workdir_fs"],
                  res["versions"]["kernel"], " ".join("%.1f" % x for x in res["loadavg_start"]),
                  " ".join("%.1f" % x for x in res["loadavg_end"]), res["mode"],
                  res["duration_s"], res["command"]))
    out.append("")
    if res.get("wan"):
        w = res["wan"]
        out.append("**WAN mode**: the origin (nginx) runs in its own network namespace, "
                   "reached over a veth with %g ms of round trip and %g Mbit/s (%s). The "
                   "curl limits cross the same link; the native limits read the origin's "
                   "disk." % (w["rtt_ms"], w["rate_mbit"], w["method"]))
        out.append("")
    if res.get("repeat", 1) > 1:
        out.append("Sequential and 4-reader rows (limits included): the median of %d runs, each "
                   "on a fresh mount and cache; every sample is in results.json. Hot rows: the "
                   "median of 3 (5 for find and ls -lR) reads." % res["repeat"])
        if res.get("interleaved_rounds"):
            out.append("The runs are interleaved (limit, then each system, %d rounds), so the "
                       "machine's drift falls on all of them alike." % res["repeat"])
        out.append("")
    folios = res.get("page_cache_folios") or {}
    if folios:
        parts = []
        for s in ("limit", "ours") + PEERS:
            f = folios.get(s)
            if f:
                parts.append("%s %.0f%% of pages in large folios (mean folio %.0f KiB)"
                             % ("native" if s == "limit" else NAMES[s], f["large_pct"], f["mean_folio_kib"]))
        if parts:
            out.append("Page cache after the hot reads of the %d MiB file (/proc/kpageflags): " % res["sizes"]["big_mib"]
                       + "; ".join(parts) + ". A FUSE file's page cache in 4 KiB folios costs "
                       "every hot read per-page work that a large-folio file system skips; "
                       "that cost is the kernel's: a hot read of daramjwee-fs never reaches "
                       "the daemon.")
            out.append("")
    out.append("Ratios are speed ratios: >1 means daramjwee-fs is faster, 1.00 equal "
               "(for times and latencies: other / ours; for rates: ours / other). "
               "Bold: ours below 1.00 against a peer, or below 0.90 against the limit on "
               "sequential reads. **FAIL** = a wrong byte, listing, error or timeout (the "
               "number, if any, is shown but no ratio is computed).")
    out.append("")
    out.append("| workload | limit (what) | limit | daramjwee-fs | rclone | httpdirfs | ours/limit | ours/rclone | ours/httpdirfs |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for wl, label, which in rows(res):
        lim = cell(res, wl, "limit")
        ours = cell(res, wl, "ours")
        row = [label, (lim or {}).get("limit_kind", "-"), fmt(lim, which, res)]
        row += [fmt(cell(res, wl, s), which, res) for s in ("ours",) + PEERS]
        seq = wl.startswith("seq") or wl.startswith("par4")
        row.append(fmt_ratio(speed_ratio(ours, lim, which), 0.90 if seq else None))
        row += [fmt_ratio(speed_ratio(ours, cell(res, wl, p), which), 1.0) for p in PEERS]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    paired = paired_rows(res)
    if paired:
        out.append("### Sequential rows per round (ours/limit within each interleaved round)")
        out.append("")
        out.append("Within a round the limit and daramjwee-fs run back to back, so a round's "
                   "ratio is free of the drift between rounds that the medians above still mix in.")
        out.append("")
        out.append("| workload | ours/limit per round | median |")
        out.append("|---|---|---|")
        for label, ratios in paired:
            med = sorted(ratios)[len(ratios) // 2]
            out.append("| %s | %s | %s |" % (label, " / ".join("%.2f" % r for r in ratios),
                                            fmt_ratio(med, 0.90)))
        out.append("")
    out.append("### Origin requests per workload (nginx access log: count, by method and status, bytes sent)")
    out.append("")
    out.append("Cold cells include the mount (first listing). Warm cells include the remount. "
               "Repeated cells: the median run's requests; the curl column counts all runs of "
               "a repeated limit.")
    out.append("")
    out.append("| workload | daramjwee-fs | rclone | httpdirfs | curl (limit) |")
    out.append("|---|---|---|---|---|")
    seen = set()
    for wl, label, which in rows(res):
        if wl in seen:
            continue
        seen.add(wl)
        lim = cell(res, wl, "limit")
        row = [wl] + [origin_str(cell(res, wl, s)) for s in ("ours",) + PEERS]
        row.append(origin_str(lim) if lim and "origin" in lim else "-")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("### Peak RSS (VmHWM of the daemon, highest over all its mounts)")
    out.append("")
    out.append("| daramjwee-fs | rclone | httpdirfs |")
    out.append("|---|---|---|")
    out.append("| " + " | ".join(
        ("%.0f MiB" % (res["peak_rss_kb"].get(s, 0) / 1024.0)) if res["peak_rss_kb"].get(s) else "n/a"
        for s in ("ours",) + PEERS) + " |")
    out.append("")
    fails = [c for c in res["cells"] if c.get("verify") != "ok"]
    out.append("### Failures")
    out.append("")
    if not fails:
        out.append("None: every byte, listing and lookup matched the dataset.")
    for c in fails:
        out.append("- **FAIL** %s / %s: %s" % (c["workload"], NAMES.get(c["system"], c["system"]), c["verify"]))
    for s, why in res.get("unavailable", {}).items():
        out.append("- **UNAVAILABLE** %s: %s" % (NAMES[s], why))
    out.append("")
    out.append("### Exact mounts")
    out.append("")
    for s in ("ours",) + PEERS:
        f = res["flags"].get(s)
        if not f:
            continue
        argv = " ".join(f["argv"] or ["(not run)"])
        out.append("- %s: `%s`  \n  %s" % (NAMES[s], argv, f["why"]))
    out.append("")
    out.append("Versions: " + "; ".join("%s: %s" % (k, v) for k, v in sorted(res["versions"].items())))
    out.append("")
    return "\n".join(out)


def chart(res, out_dir):
    dat = os.path.join(out_dir, "chart.dat")
    with open(dat, "w") as f:
        f.write("# workload ours rclone httpdirfs  (speed relative to the limit, 1 = limit)\n")
        for wl, label, which in rows(res):
            lim = cell(res, wl, "limit")
            vals = []
            for s in ("ours",) + PEERS:
                r = speed_ratio(cell(res, wl, s), lim, which)
                vals.append("%.5f" % r if r is not None else "NaN")
            short = SHORT[[(w[0], w[2]) for w in WORKLOADS].index((wl, which))]
            f.write('"%s" %s\n' % (short, " ".join(vals)))
    png = os.path.join(out_dir, "chart.png")
    gp = """
set terminal pngcairo size 1400,700 font "sans,10"
set output '{png}'
set title "daramjwee-fs vs peers, speed relative to the physical limit (1 = limit; higher is better; log scale; no bar = FAIL, see the table)\\n{date}, {host}, load {load}{wan}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set logscale y
set yrange [0.0001:*]
set bmargin 6
set grid ytics
set ylabel "speed / limit"
set xtics rotate by -35 scale 0 font "sans,9"
set key top right
set datafile missing "NaN"
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black" dt 2
plot '{dat}' using 2:xtic(1) title 'daramjwee-fs' lc rgb "#1b9e77", \\
     '' using 3 title 'rclone (vfs full)' lc rgb "#d95f02", \\
     '' using 4 title 'httpdirfs --cache' lc rgb "#7570b3"
""".format(png=png, dat=dat, date=res["date"], host=res["machine"]["host"],
           load=" ".join("%.1f" % x for x in res["loadavg_start"]),
           wan=(", WAN: origin behind %g ms RTT and %g Mbit/s" % (res["wan"]["rtt_ms"], res["wan"]["rate_mbit"]))
           if res.get("wan") else "")
    p = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
    if p.returncode != 0:
        print("gnuplot failed: " + p.stderr, file=sys.stderr)
    os.unlink(dat)


def write_all(res, out_dir):
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(res))
    chart(res, out_dir)


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results")
    with open(os.path.join(d, "results.json")) as f:
        write_all(json.load(f), d)
