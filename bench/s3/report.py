#!/usr/bin/env python3
"""The report of bench/s3.sh: medians of its runs, written as JSON and printed as Markdown.

    report.py RUNS.jsonl OUT.json --meta JSON --command TEXT ...

RUNS.jsonl holds one record per run as bench/s3.sh writes it: the case ("put-4096-c16"), the
server (photoflux, moto, disk), the repetition and s3load's JSON. Every figure in the tables is the
median over the repetitions of one case and server; ranges give the slowest and fastest run.
"""

import argparse
import json
import statistics
import sys
from datetime import datetime, timezone

LARGE = 256 << 20


def load_runs(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarise(runs):
    """Median figures of one case on one server (None when it never ran)."""
    if not runs:
        return None
    results = [r["result"] for r in runs]

    def med(key):
        values = [r[key] for r in results if r.get(key) is not None]
        return statistics.median(values) if values else None

    def per_op_ms(key):
        values = [r[key] / r["ops"] * 1e3 for r in results
                  if r.get(key) is not None and r.get("ops")]
        return statistics.median(values) if values else None

    ops = [r.get("ops_per_s", 0) for r in results]
    mbs = [r.get("mb_per_s", 0) for r in results]
    return {
        "runs": len(runs),
        "disturbed_runs": sum(1 for r in runs if r.get("disturbed")),
        "ops_per_s": med("ops_per_s"),
        "ops_per_s_range": [min(ops), max(ops)],
        "mb_per_s": med("mb_per_s"),
        "mb_per_s_range": [min(mbs), max(mbs)],
        "p50_ms": med("p50_ms"),
        "p99_ms": med("p99_ms"),
        "errors": sum(r.get("errors", 0) for r in results),
        "connects": med("connects"),
        "server_cpu_ms_per_op": per_op_ms("server_cpu_s"),
        "client_cpu_ms_per_op": per_op_ms("client_cpu_s"),
        "server_cores_busy": med_ratio(results, "server_cpu_s"),
        "client_cores_busy": med_ratio(results, "client_cpu_s"),
        "others_cpu_s_max": max((r.get("others_cpu_s") or 0 for r in results), default=0),
    }


def med_ratio(results, key):
    """Median CPU seconds per wall second: how many cores that process kept busy."""
    values = [r[key] / r["seconds"] for r in results
              if r.get(key) is not None and r.get("seconds")]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}x"


def fmt_range(rng, digits=0):
    lo, hi = rng
    return f"{lo:,.{digits}f}–{hi:,.{digits}f}"


def size_text(size):
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("out")
    ap.add_argument("--meta", default="{}")
    ap.add_argument("--command", default="bench/s3.sh")
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--cache-drop", default="")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--repeats", type=int, default=0)
    ap.add_argument("--large-count", type=int, default=0)
    args = ap.parse_args()

    runs = load_runs(args.runs)
    cases = {}
    for r in runs:
        cases.setdefault(r["case"], {}).setdefault(r["server"], []).append(r)
    medians = {case: {server: summarise(rs) for server, rs in by_server.items()}
               for case, by_server in cases.items()}

    def get(case, server):
        return medians.get(case, {}).get(server)

    def value(case, server, key):
        s = get(case, server)
        return s[key] if s else None

    meta = json.loads(args.meta)
    out = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": args.command,
        "machine": meta,
        "load_average": {"before": args.load_before, "after": args.load_after},
        "page_cache_drop": args.cache_drop,
        "settings": {"seconds_per_small_run": args.seconds, "repeats": args.repeats,
                     "large_transfers_per_run": args.large_count},
        "medians": medians,
        "runs": runs,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    p = print
    p(f"S3 API: photoflux serve vs moto_server — {out['date']}, `{args.command}`")
    p()
    p(f"- {meta.get('photoflux', 'photoflux')} (binary sha256 {meta.get('photoflux_sha256', '?')}),"
      f" moto {meta.get('moto', '?')}; {meta.get('cpu', '')}, {meta.get('cores', '?')} cores,"
      f" Linux {meta.get('kernel', '')}; data on {meta.get('filesystem', '?')}")
    p(f"- load average (1, 5, 15 min) before: {args.load_before}; after: {args.load_after}")
    p(f"- median of {args.repeats} runs; small objects {args.seconds:g} s per run after a warm-up;"
      f" page cache dropped with {args.cache_drop}")
    disturbed = sum(1 for r in runs if r.get("disturbed"))
    if disturbed:
        p(f"- **{disturbed} run(s) kept although other processes used more than 5% of the CPU**")
    p()

    # Small objects.
    p("| operation | clients | photoflux ops/s | moto ops/s | photoflux / moto |"
      " photoflux p50 / p99 (ms) | moto p50 / p99 (ms) | server CPU per op, photoflux / moto (ms) |"
      " photoflux, all runs (ops/s) |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    small_ratios = {}
    for op in ("put", "get"):
        for size in (4096, 65536):
            for clients in (1, 16):
                case = f"{op}-{size}-c{clients}"
                pf, moto = get(case, "photoflux"), get(case, "moto")
                if not pf and not moto:
                    continue
                r = ratio(value(case, "photoflux", "ops_per_s"), value(case, "moto", "ops_per_s"))
                small_ratios[case] = r

                def lat(s):
                    return f"{fmt(s['p50_ms'], 2)} / {fmt(s['p99_ms'], 2)}" if s else "—"
                cpu = (f"{fmt(value(case, 'photoflux', 'server_cpu_ms_per_op'), 3)} / "
                       f"{fmt(value(case, 'moto', 'server_cpu_ms_per_op'), 3)}")
                p(f"| {op.upper()} {size_text(size)} | {clients} |"
                  f" {fmt(value(case, 'photoflux', 'ops_per_s'))} |"
                  f" {fmt(value(case, 'moto', 'ops_per_s'))} | {fmt_ratio(r)} |"
                  f" {lat(pf)} | {lat(moto)} | {cpu} |"
                  f" {fmt_range(pf['ops_per_s_range']) if pf else '—'} |")
    p()

    # Large objects against the disk.
    disk_write = value("serve-style-write", "disk", "mb_per_s")
    disk_read = value("serve-style-read-cold", "disk", "mb_per_s")
    dd_write = value("dd-write", "disk", "mb_per_s")
    dd_read = value("dd-read-cold", "disk", "mb_per_s")
    put_case, warm_case, cold_case = (f"put-{LARGE}-c1", f"get-{LARGE}-c1-warm",
                                      f"get-{LARGE}-c1-cold")
    p("| 256 MiB, one client | photoflux MB/s | moto MB/s | photoflux / moto |"
      " the disk MB/s: serve's way (dd) | photoflux / disk | photoflux, all runs (MB/s) |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [
        ("PUT", put_case, f"{fmt(disk_write)} ({fmt(dd_write)})", disk_write),
        ("GET, from the page cache", warm_case, "—", None),
        ("GET, page cache dropped first", cold_case, f"{fmt(disk_read)} ({fmt(dd_read)})",
         disk_read),
    ]
    large_vs_disk = {}
    for label, case, disk_text, disk in rows:
        pf_mb = value(case, "photoflux", "mb_per_s")
        moto_mb = value(case, "moto", "mb_per_s")
        vs_disk = ratio(pf_mb, disk)
        if disk is not None:
            large_vs_disk[label] = vs_disk
        pf = get(case, "photoflux")
        p(f"| {label} | {fmt(pf_mb)} | {fmt(moto_mb)} | {fmt_ratio(ratio(pf_mb, moto_mb))} |"
          f" {disk_text} | {fmt_ratio(vs_disk) if disk else '—'} |"
          f" {fmt_range(pf['mb_per_s_range']) if pf else '—'} |")
    p()

    # The disk itself.
    p("| the disk | MB/s | files/s | p50 (ms) | p99 (ms) |")
    p("| --- | ---: | ---: | ---: | ---: |")
    disk_rows = [
        ("dd bs=1M count=256 conv=fsync", "dd-write"),
        ("dd read, page cache dropped", "dd-read-cold"),
        ("256 MiB written as serve does (buffer to 1 MiB, fsync, rename, fsync dir)",
         "serve-style-write"),
        ("256 MiB read back, evicted from the page cache first", "serve-style-read-cold"),
        ("4 KiB files one after another, as serve writes them", "fsync-files-4096"),
        ("64 KiB files one after another, as serve writes them", "fsync-files-65536"),
    ]
    for label, case in disk_rows:
        s = get(case, "disk")
        if not s:
            continue
        files = fmt(s["ops_per_s"]) if case.startswith("fsync-files") else "—"
        lat = case.startswith("fsync-files")
        p(f"| {label} | {fmt(s['mb_per_s'])} | {files} |"
          f" {fmt(s['p50_ms'], 2) if lat else '—'} | {fmt(s['p99_ms'], 2) if lat else '—'} |")
    p()

    p("Targets:")
    for case in ("put-4096-c1", "put-4096-c16", "put-65536-c1", "put-65536-c16"):
        r = small_ratios.get(case)
        if r is not None:
            p(f"- {case}: {r:.2f}x moto — {'met' if r >= 10 else 'NOT met'} (at least 10x)")
    for label, r in large_vs_disk.items():
        if r is not None:
            p(f"- 256 MiB {label}: {r:.0%} of the disk — {'met' if r >= 0.8 else 'NOT met'}"
              " (at least 80%)")
    errors = sum(r["result"].get("errors", 0) for r in runs)
    if errors:
        p(f"- **{errors} failed operations** (see the runs in the JSON)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
