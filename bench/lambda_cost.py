#!/usr/bin/env python3
"""Measures the photo function's work and prices it on AWS Lambda (run by bench/lambda_cost.sh).

For each photo set: `photoflux process --jobs 1 --json` with the built-in recipe, its own CPU time
(user + sys) and peak RSS from wait4's rusage, the machine's other CPU use during the run from
/proc/stat. A run over no photos measures start-up, which is subtracted from the per-photo figure.
Then, per memory size, a Lambda duration and the charges for 1,000 photos (model below)."""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

# us-east-1 list prices (USD). They change: check the pricing pages before relying on them.
PRICES_DATE = "2026-11-30"
LAMBDA_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}  # first tier
LAMBDA_REQUEST = 0.20 / 1_000_000
S3_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1000  # GET, HEAD and the others
SNS_PUBLISH = 0.50 / 1_000_000
SNS_EMAIL = 2.00 / 100_000
S3_STANDARD_GB_MONTH = 0.023

# Lambda gives a function CPU in proportion to its memory: one vCPU's worth at 1,769 MB.
FULL_VCPU_MB = 1769
MEMORY_SIZES_MB = (512, 1024, 1769, 3008)

# What the function asks S3 and SNS per new photo (src/function/photo_handler.cc, created()):
# HEAD of the manifest (already processed?), GET of the photo, HEAD of the photo (superseded
# while processing?), a PUT per derivative, a PUT of the manifest, one Publish.
S3_GET_CLASS_PER_PHOTO = 3  # 1 GET + 2 HEAD

# A run during which other processes used more than this share of the machine is flagged.
DISTURBED_SHARE = 0.05


def busy_ticks():
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    # user nice system idle iowait irq softirq steal
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7, 8))


def run_once(binary, inputs, out_dir):
    """One `photoflux process` run: its summary, CPU seconds, wall seconds, peak RSS, foreign CPU."""
    shutil.rmtree(out_dir, ignore_errors=True)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    cmd = [binary, "process", "--jobs", "1", "--json", "--out", out_dir, *inputs]
    before = busy_ticks()
    started = datetime.datetime.now()
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = (datetime.datetime.now() - started).total_seconds()
        after = busy_ticks()
        if proc.returncode != 0:
            sys.exit(f"lambda_cost: {' '.join(cmd[:6])} ... exited {proc.returncode}:\n"
                     f"{stderr.decode(errors='replace')[-2000:]}")
        stdout.seek(0)
        summary = json.load(stdout)
    cpu = usage.ru_utime + usage.ru_stime
    foreign = max(0.0, (after - before) / ticks_per_second - cpu)
    return {
        "summary": summary,
        "cpu": cpu,
        "wall": wall,
        "rss": usage.ru_maxrss * 1024,
        "foreign": foreign,
        "disturbed": foreign > DISTURBED_SHARE * os.cpu_count() * max(wall, 0.5),
    }


def measured_run(binary, inputs, out_dir):
    # Not repeated when disturbed: on a shared machine the next run is no quieter. The process's
    # own CPU time barely moves with contention; its wall time does, and the report says so.
    run = run_once(binary, inputs, out_dir)
    if run["disturbed"]:
        print(f"  other processes used {run['foreign']:.2f} CPU s during the run", file=sys.stderr)
    return run


def measure_set(binary, name, folder, repeats, work):
    photos = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                    if os.path.isfile(os.path.join(folder, f)))
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    out_dir = os.path.join(work, "out")
    print(f"lambda_cost: {name}: {len(photos)} files, {repeats} runs", file=sys.stderr)

    startups = [measured_run(binary, [empty], out_dir) for _ in range(repeats)]
    runs = [measured_run(binary, photos, out_dir) for _ in range(repeats)]
    summary = runs[-1]["summary"]
    results = [r for r in summary["results"] if r["status"] == "ok"]
    n = len(results)
    if n == 0:
        sys.exit(f"lambda_cost: {name}: no photo was processed")

    # What one photo leaves in S3: the derivatives and the manifest (sizes from the last run).
    derivatives = output_bytes = 0
    for r in results:
        for f in r["files"]:
            output_bytes += os.path.getsize(f)
            derivatives += not f.endswith("manifest.json")
    input_bytes = sum(os.path.getsize(r["input"]) for r in results)

    startup_cpu = statistics.median(r["cpu"] for r in startups)
    cpu_per_photo = (statistics.median(r["cpu"] for r in runs) - startup_cpu) / n
    millis = [r["millis"] for r in results]
    wall_per_photo = statistics.mean(millis) / 1000
    return {
        "name": name,
        "folder": folder,
        "photos": n,
        "failed": summary["failed"] + summary["not_started"],
        "not_images": len(summary["skipped_not_images"]),
        "input_mb_mean": input_bytes / n / 1e6,
        "input_mb_max": max(os.path.getsize(r["input"]) for r in results) / 1e6,
        "cpu_runs": [r["cpu"] for r in runs],
        "foreign": [r["foreign"] for r in startups + runs],
        "disturbed": any(r["disturbed"] for r in runs),
        "startup_cpu": startup_cpu,
        "startup_rss": statistics.median(r["rss"] for r in startups),
        "cpu_per_photo": cpu_per_photo,
        "wall_per_photo": wall_per_photo,
        # CPU seconds per wall second while a photo is processed here (libvips threads at work).
        "parallelism": max(1.0, cpu_per_photo / wall_per_photo),
        "max_millis": max(millis),
        "peak_rss": max(r["rss"] for r in runs),
        "vips_threads": summary["vips_threads_per_photo"],
        "puts_per_photo": derivatives / n + 1,
        "output_bytes_per_photo": output_bytes / n,
    }


def lambda_seconds(cpu, parallelism, memory_mb, io_seconds):
    """Billed seconds for work of `cpu` CPU seconds: Lambda gives memory/1769 of a vCPU, so below
    a full vCPU the work takes cpu / share; above, the extra vCPUs help only as far as the work
    kept more than one core busy here (`parallelism`, CPU seconds per wall second, at least 1).
    Plus the assumed S3/SNS round trips."""
    share = memory_mb / FULL_VCPU_MB
    return cpu / min(share, parallelism) + io_seconds


def dollars(value):
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


def report(sets, io_ms, command, binary):
    cpu_model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open(binary, "rb") as f:
        binary_hash = hashlib.sha256(f.read()).hexdigest()[:12]
    version = subprocess.run([binary, "version"], capture_output=True, text=True,
                             check=False).stdout.strip().splitlines()
    version = "; ".join(version) if version else "photoflux"
    io_s = io_ms / 1000
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `{command}`: {version}"
        f" (binary sha256 `{binary_hash}`), built-in recipe (320 px WebP + 1280 px JPEG +"
        f" manifest), on \"{cpu_model}\", {os.cpu_count()} cores.",
        "",
        f"Prices: us-east-1 list prices used on {PRICES_DATE}; they change, check"
        " aws.amazon.com/lambda/pricing, /s3/pricing and /sns/pricing. Lambda"
        f" ${LAMBDA_GB_SECOND['x86_64']:.10f}/GB-s (x86_64), ${LAMBDA_GB_SECOND['arm64']:.10f}/GB-s"
        " (arm64), $0.20 per 1M requests; S3 PUT $0.005 and GET/HEAD $0.0004 per 1,000;"
        " SNS $0.50 per 1M publishes. Free tiers are left out.",
        "",
        "Model: Lambda gives memory/1,769 of a vCPU, so a photo's duration is its measured CPU"
        " time (user + sys, start-up excluded) x 1769 / memory; above 1,769 MB the extra vCPU"
        " shortens it only as far as the work kept more than one core busy here (CPU time / wall"
        f" time); plus {io_ms} ms per photo for the S3 and SNS round trips"
        " (an assumption, not measured). arm64 is priced with the same duration:"
        " Graviton's speed for this work was not measured. Requests per photo: 1 invocation,"
        f" {S3_GET_CLASS_PER_PHOTO} S3 GET-class (GET photo, HEAD manifest, HEAD photo), the"
        " measured PUTs (derivatives + manifest), 1 SNS publish.",
        "",
    ]
    for s in sets:
        requests = (LAMBDA_REQUEST + S3_GET_CLASS_PER_PHOTO * S3_GET
                    + s["puts_per_photo"] * S3_PUT + SNS_PUBLISH) * 1000
        lines += [
            f"### {s['name']}: {s['photos']} photos, mean {s['input_mb_mean']:.2f} MB, largest"
            f" {s['input_mb_max']:.2f} MB",
            "",
            f"- CPU per photo {s['cpu_per_photo'] * 1000:.0f} ms (user + sys; runs"
            f" {', '.join(f'{c:.2f}' for c in s['cpu_runs'])} s in all, median used), wall"
            f" {s['wall_per_photo'] * 1000:.0f} ms here with {s['vips_threads']} libvips threads;"
            f" slowest photo {s['max_millis']:.0f} ms wall here."
            f" Start-up (cold start): {s['startup_cpu'] * 1000:.0f} ms CPU,"
            f" {s['startup_rss'] / 2**20:.0f} MiB.",
            f"- Peak RSS {s['peak_rss'] / 2**20:.0f} MiB (the largest photo sets it); the function"
            " also holds the downloaded photo in memory.",
            f"- Per photo in S3: {s['puts_per_photo']:.0f} PUTs,"
            f" {s['output_bytes_per_photo'] / 1000:.0f} kB of derivatives and manifest"
            f" ({dollars(s['output_bytes_per_photo'] * 1000 / 1e9 * S3_STANDARD_GB_MONTH)}"
            " per month per 1,000 photos in S3 Standard).",
            f"- Other processes used {max(s['foreign']):.2f} CPU s at most during a run"
            + (": the machine was busy, so the wall times (and the rows above 1,769 MB, which"
               " use them) are pessimistic; the CPU times hold." if s["disturbed"] else "."),
            "",
            "| memory | duration per photo | GB-s per 1,000 | Lambda duration x86_64 | arm64"
            " | requests (Lambda + S3 + SNS) | total per 1,000 x86_64 | arm64 |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for memory in MEMORY_SIZES_MB:
            seconds = lambda_seconds(s["cpu_per_photo"], s["parallelism"], memory, io_s)
            gbs = 1000 * seconds * memory / 1024
            x86 = gbs * LAMBDA_GB_SECOND["x86_64"]
            arm = gbs * LAMBDA_GB_SECOND["arm64"]
            lines.append(
                f"| {memory} MB | {seconds * 1000:.0f} ms | {gbs:.1f} | {dollars(x86)}"
                f" | {dollars(arm)} | {dollars(requests)} | **{dollars(x86 + requests)}**"
                f" | **{dollars(arm + requests)}** |")
        slowest = s["max_millis"] / 1000 * s["parallelism"]
        lines += [
            "",
            f"Slowest photo at 1024 MB: about"
            f" {lambda_seconds(slowest, s['parallelism'], 1024, io_s):.1f} s."
            f" E-mail deliveries, if subscribed: {dollars(SNS_EMAIL * 1000)} per 1,000.",
            "",
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--io-ms", type=int, default=100)
    parser.add_argument("--photos", action="append", default=[])
    args = parser.parse_args()
    if not 1 <= args.repeats <= 20:
        parser.error("--repeats must be 1 to 20")
    if not 0 <= args.io_ms <= 60_000:
        parser.error("--io-ms must be 0 to 60000")

    folders = args.photos
    if not folders:
        folders = [os.path.join(args.repo, "tests/data/photos")]
        bench_photos = os.path.join(args.repo, "bench/cache/photos")
        if os.path.isdir(bench_photos) and os.listdir(bench_photos):
            folders.append(bench_photos)
        else:
            print("lambda_cost: bench/cache/photos is empty (bench/fetch-photos.sh fills it);"
                  " measuring the test photos only", file=sys.stderr)
    names = {os.path.join(args.repo, "tests/data/photos"): "test photos (tests/data/photos)",
             os.path.join(args.repo, "bench/cache/photos"): "camera photos (bench/cache/photos)"}
    sets = [measure_set(args.binary, names.get(f, f), f, args.repeats, args.work)
            for f in folders]
    command = "bench/lambda_cost.sh" + "".join(
        f" {a}" for a in sys.argv[1:] if a not in (args.binary, args.work, args.repo, args.report)
        and a not in ("--binary", "--work", "--repo", "--report"))
    text = report(sets, args.io_ms, command, args.binary)
    with open(args.report, "w", encoding="utf-8") as out:
        out.write("# Lambda cost per 1,000 photos\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
