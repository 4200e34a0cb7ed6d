#!/usr/bin/env python3
"""The driver of bench/worker.sh: photos/s of `photoflux worker` processes consuming S3 events
from SQS (moto_server for S3 and SQS), next to `photoflux serve`'s in-process function host on
the same photos, uploaded the same way.

  worker_bench.py run --photoflux BIN --photos F... --count N --config W:C ... [--serve]
      --work DIR --out FILE.json
  worker_bench.py report --run FILE.json --command TEXT --machine TEXT

One run per configuration, each on a fresh store: for `W:C`, a fresh moto_server (a bucket
whose uploads/ prefix notifies a queue), W `photoflux worker --concurrency C` processes; for
--serve, a fresh `photoflux serve` on its defaults. Each run: warm-up photos (every function
process started and its first photo done, not measured), then N photos uploaded as fast as 4
uploading threads go, timed from the first upload's start to the last photo completed (the
worker deleted its message, after the manifest; serve's function host recorded the
invocation's success, after the manifest and the Publish), read from the processes' own
counters every 50 ms. After the clock stops, every manifest is read back: it must name the
uploaded ETag, and its `millis` (the engine's time for the photo) gives the processing time.

Per-photo overhead = slots x wall / N - mean processing, slots being the photos in flight at
once (W x C, or serve's function workers): the time a slot spends on a photo beyond the engine
(receive, fetch, store, delete; and waiting for a core when the slots outnumber the cores).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BUCKET = "photos"
QUEUE = "photos"
REGION = "us-east-1"
UPLOADERS = 4


def log(text):
    print(text, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# --- CPU from /proc -------------------------------------------------------------------------------


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (vals[0] + vals[1] + vals[2] + vals[5] + vals[6] + vals[7]) / clock_ticks()


def _all_stats():
    stats = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()
        # ppid is field 4; utime, stime, cutime, cstime fields 14-17 (reaped children included)
        stats[int(name)] = (int(rest[1]), sum(int(x) for x in rest[11:15]) / clock_ticks())
    return stats


def tree_cpu(groups):
    """{name: CPU seconds of the processes in pids and their descendants} for {name: [pids]};
    the driver's own process without its children (which are the other groups)."""
    stats = _all_stats()
    own = os.times()
    out = {"driver": own.user + own.system}
    for name, roots in groups.items():
        members = {r for r in roots if r in stats}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _) in stats.items():
                if pid not in members and ppid in members:
                    members.add(pid)
                    grew = True
        out[name] = sum(stats[p][1] for p in members)
    return out


def wait_for_quiet(limit_s):
    """Until the machine was at most 10% busy over 2 s (bench/lib.sh's rule), at most limit_s."""
    cores = os.cpu_count() or 1
    waited = 0
    while True:
        a = machine_busy_seconds()
        time.sleep(2)
        b = machine_busy_seconds()
        if (b - a) / 2 <= 0.10 * cores:
            return waited
        waited += 2
        if waited == 2:
            log("  waiting for the machine to be quiet (other processes are using the CPU)...")
        if waited >= limit_s:
            log(f"  WARNING: still busy after {limit_s}s; measuring anyway")
            return waited


# --- processes ------------------------------------------------------------------------------------


LIVE = []  # every Child not stopped yet: stopped on the way out, whatever happened


class Child:
    """A process this driver started, in its own process group, stopped by its own id."""

    def __init__(self, argv, log_path, env, cwd):
        self.log_path = log_path
        LIVE.append(self)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                         start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, grace=30.0):
        if self in LIVE:
            LIVE.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of its group
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, n=3000):
        try:
            return open(self.log_path, errors="replace").read()[-n:]
        except OSError:
            return ""


def wait_port(port, child, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise SystemExit(f"worker_bench: {what} exited with {child.proc.returncode}:\n{child.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"worker_bench: {what} did not answer on port {port}:\n{child.tail()}")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def metric_sum(m, prefix):
    return sum(v for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))


def boto_client(service, endpoint, key, secret):
    import boto3
    from botocore.config import Config
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"total_max_attempts": 3},
                                      max_pool_connections=16))


# --- one run ------------------------------------------------------------------------------------


class Target:
    """What the photos go through: moto + W workers, or serve. Gives the S3 client, the count of
    photos completed, the processes whose CPU is counted, and the slots."""

    def completed(self):
        raise NotImplementedError

    def durations(self):
        """(sum, count) of the invocation-duration histogram, summed over the processes."""
        raise NotImplementedError


class WorkerFleet(Target):
    def __init__(self, args, run_dir, workers, concurrency):
        self.name = f"{workers} worker{'s' if workers > 1 else ''} x --concurrency {concurrency}"
        self.slots = workers * concurrency
        self.concurrency = concurrency
        self.children = []
        self.moto_port = free_port()
        moto_url = f"http://127.0.0.1:{self.moto_port}"
        env = dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
        self.moto = Child([args.moto_server, "-H", "127.0.0.1", "-p", str(self.moto_port)],
                          os.path.join(run_dir, "moto.log"), env, run_dir)
        self.children.append(self.moto)
        wait_port(self.moto_port, self.moto, "moto_server")
        self.s3 = boto_client("s3", moto_url, "bench", "bench")
        sqs = boto_client("sqs", moto_url, "bench", "bench")
        self.s3.create_bucket(Bucket=BUCKET)
        self.queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        self.sqs = sqs
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
        self.ports = []
        self.workers = []
        for i in range(workers):
            wdir = os.path.join(run_dir, f"worker{i}")
            os.makedirs(wdir)
            port = free_port()
            wenv = dict(PATH=env["PATH"], AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                        AWS_REGION=REGION, AWS_ENDPOINT_URL=moto_url, PF_VIPS_CONCURRENCY="1")
            argv = [args.photoflux, "--log-level", "info", "worker", "--queue", self.queue_url,
                    "--concurrency", str(concurrency), "--data-dir", os.path.join(wdir, "data"),
                    "--metrics-listen", f"127.0.0.1:{port}"]
            w = Child(argv, os.path.join(wdir, "worker.log"), wenv, wdir)
            self.children.append(w)
            self.workers.append(w)
            self.ports.append(port)
        for w, port in zip(self.workers, self.ports):
            deadline = time.monotonic() + 60
            while True:
                if w.proc.poll() is not None:
                    raise SystemExit(f"worker_bench: a worker exited:\n{w.tail()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_/ready", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"worker_bench: a worker was not ready:\n{w.tail()}")
                time.sleep(0.1)
        self.cpu_groups = {"moto_server": [self.moto.pid],
                           "workers and their functions": [w.pid for w in self.workers]}

    def completed(self):
        return sum(metric_sum(scrape(p), "photoflux_worker_messages_deleted_total") for p in self.ports)

    def durations(self):
        ms = [scrape(p) for p in self.ports]
        return (sum(metric_sum(m, "photoflux_worker_invocation_duration_seconds_sum") for m in ms),
                sum(metric_sum(m, "photoflux_worker_invocation_duration_seconds_count") for m in ms))

    def breakdown(self, prefix, engine_ms):
        return log_breakdown([w.log_path for w in self.workers], prefix, engine_ms, self.concurrency)

    def extra(self):
        ms = [scrape(p) for p in self.ports]
        a = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return {"per_worker_deleted": [int(metric_sum(m, "photoflux_worker_messages_deleted_total")) for m in ms],
                "received": int(sum(metric_sum(m, "photoflux_worker_messages_received_total") for m in ms)),
                "failed": int(sum(metric_sum(m, "photoflux_worker_messages_failed_total") for m in ms)),
                "queue_visible": int(a["ApproximateNumberOfMessages"]),
                "queue_in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}

    def stop(self):
        for w in self.workers:
            w.stop(grace=40)
        self.moto.stop(grace=5)


class Serve(Target):
    def __init__(self, args, run_dir):
        self.children = []
        key, secret = "workerbench", "workerbench-secret-" + os.urandom(6).hex()
        self.slots = args.serve_workers
        env = dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), PHOTOFLUX_ACCESS_KEY_ID=key,
                   PHOTOFLUX_SECRET_ACCESS_KEY=secret, PF_SERVE_FUNCTION_WORKERS=str(self.slots))
        ready = os.path.join(run_dir, "ready")
        self.serve = Child([args.photoflux, "serve", "--data-dir", os.path.join(run_dir, "data"),
                            "--listen", "127.0.0.1:0", "--ready-file", ready],
                           os.path.join(run_dir, "serve.log"), env, run_dir)
        self.children.append(self.serve)
        deadline = time.monotonic() + 30
        while not (os.path.exists(ready) and os.path.getsize(ready) > 0):
            if self.serve.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker_bench: serve did not start:\n{self.serve.tail()}")
            time.sleep(0.1)
        self.url = open(ready).readline().strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self.s3 = boto_client("s3", self.url, key, secret)
        self.name = f"serve, {self.slots} function workers (in-process host)"
        self.cpu_groups = {"serve and its functions": [self.serve.pid]}

    def completed(self):
        m = scrape(self.port)
        return sum(v for k, v in m.items()
                   if k.startswith("photoflux_function_invocations_total") and 'outcome="success"' in k)

    def durations(self):
        m = scrape(self.port)
        return (metric_sum(m, "photoflux_function_duration_seconds_sum"),
                metric_sum(m, "photoflux_function_duration_seconds_count"))

    def extra(self):
        return {}

    def breakdown(self, prefix, engine_ms):
        return None

    def stop(self):
        self.serve.stop(grace=30)


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3}) ")


def log_time(line):
    m = LOG_LINE.match(line)
    if not m:
        return None
    # photoflux's text logs are in local time, millisecond resolution
    return time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1000.0


def log_breakdown(log_paths, prefix, engine_ms, concurrency):
    """Each measured photo's path through a worker, from its log (millisecond resolution):
    message_received, the function's photo_processed (with the handler's own millis), and
    message_deleted. Medians in ms."""
    steps = {"to_function": [], "function_io": [], "to_deleted": [], "between_photos": [], "per_photo": []}
    marker = f"uploads/{prefix}/"
    for path in log_paths:
        photos = {}
        for line in open(path, errors="replace"):
            if marker not in line:
                continue
            t = log_time(line)
            if t is None:
                continue
            key = re.search(r'(?:photo="photos/|key=\\?")(uploads/[^"\\]+)', line)
            if not key:
                continue
            e = photos.setdefault(key.group(1), {})
            if "event=message_received" in line:
                e.setdefault("received", t)
            elif "event=photo_processed" in line:
                e["processed"] = t
                e["handler_ms"] = float(re.search(r"millis=([0-9.]+)", line).group(1))
            elif "event=message_deleted" in line:
                e["deleted"] = t
        done = sorted((e for e in photos.values() if {"received", "processed", "deleted"} <= e.keys()),
                      key=lambda e: e["received"])
        for key, e in photos.items():
            e["key"] = key
        for i, e in enumerate(done):
            engine = engine_ms.get(e["key"])
            steps["to_function"].append(1000 * (e["processed"] - e["received"]) - e["handler_ms"])
            if engine is not None:
                steps["function_io"].append(e["handler_ms"] - engine)
            steps["to_deleted"].append(1000 * (e["deleted"] - e["processed"]))
            if concurrency == 1 and i > 0:
                steps["between_photos"].append(1000 * (e["received"] - done[i - 1]["processed"]))
                steps["per_photo"].append(1000 * (e["received"] - done[i - 1]["received"]))
    return {k: {"p50": pct(v, 50), "mean": statistics.fmean(v) if v else None, "n": len(v)}
            for k, v in steps.items()}


def upload_all(s3, photos, prefix, count):
    """count photos, round robin over the mix, as fast as UPLOADERS threads go."""
    records = [None] * count

    def one(i):
        name, body = photos[i % len(photos)]
        key = f"uploads/{prefix}/{i:05d}-{name}"
        t0 = time.time()
        r = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/jpeg")
        records[i] = {"key": key, "photo": name, "etag": r["ETag"].strip('"'), "t_start": t0,
                      "t_ack": time.time()}

    with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
        list(pool.map(one, range(count)))
    return records


def wait_completed(target, goal, timeout, interval=0.05):
    """The time the process counters first showed `goal` photos completed, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if target.completed() >= goal:
            return time.time()
        time.sleep(interval)
    return None


def measure(args, target, photos, tag):
    # Warm-up: each slot's function process started and through its first photo.
    base = target.completed()
    warm = upload_all(target.s3, photos, "warmup", 2 * target.slots)
    if wait_completed(target, base + len(warm), 120) is None:
        raise SystemExit(f"worker_bench: {target.name}: the warm-up photos were not processed")
    tries = 3 if args.retry_disturbed else 1
    for attempt in range(1, tries + 1):
        waited = wait_for_quiet(args.quiet_limit)
        prefix = f"{tag}-{attempt}"
        base = target.completed()
        d_sum0, d_n0 = target.durations()
        groups = target.cpu_groups
        cpu0 = tree_cpu(groups)
        busy0 = machine_busy_seconds()
        records = upload_all(target.s3, photos, prefix, args.count)
        t_end = wait_completed(target, base + args.count, args.timeout)
        busy1 = machine_busy_seconds()
        cpu1 = tree_cpu(groups)
        if t_end is None:
            raise SystemExit(f"worker_bench: {target.name}: not every photo was processed "
                             f"within {args.timeout}s")
        d_sum1, d_n1 = target.durations()
        t_first = min(r["t_start"] for r in records)
        t_uploaded = max(r["t_ack"] for r in records)
        wall = t_end - t_first
        cpu = {k: cpu1[k] - cpu0[k] for k in cpu1}
        machine = busy1 - busy0
        others = max(0.0, machine - sum(cpu.values()))
        disturbed = others > 0.05 * (os.cpu_count() or 1) * wall
        # After the clock: every manifest, its source ETag and its processing time.
        millis = []
        engine_ms = {}
        bad = []
        for r in records:
            body = target.s3.get_object(Bucket=BUCKET, Key=f"processed/{r['key']}/manifest.json")["Body"].read()
            m = json.loads(body)
            if m.get("source", {}).get("etag", "").strip('"') != r["etag"]:
                bad.append(r["key"])
            millis.append(float(m["millis"]))
            engine_ms[r["key"]] = float(m["millis"])
        if bad:
            raise SystemExit(f"worker_bench: {len(bad)} manifests do not name the uploaded photo, e.g. {bad[0]}")
        invocations = d_n1 - d_n0
        result = {
            "name": target.name, "slots": target.slots, "attempt": attempt, "photos": args.count,
            "warmup_photos": len(warm), "waited_for_quiet_s": waited,
            "wall_s": wall, "upload_s": t_uploaded - t_first, "photos_per_s": args.count / wall,
            "invocations": invocations,
            "invocation_ms_mean": 1000 * (d_sum1 - d_sum0) / invocations if invocations else None,
            "millis": {"mean": statistics.fmean(millis), "p50": pct(millis, 50), "p99": pct(millis, 99)},
            "cpu_s": cpu, "machine_cpu_s": machine, "others_cpu_s": others, "disturbed": disturbed,
            "extra": target.extra(),
            "breakdown": target.breakdown(prefix, engine_ms),
        }
        result["slot_ms_per_photo"] = 1000 * target.slots * wall / args.count
        result["overhead_ms"] = result["slot_ms_per_photo"] - result["millis"]["mean"]
        log(f"  {target.name}: {args.count} photos in {wall:.2f} s = {result['photos_per_s']:.2f} photos/s "
            f"(uploads took {result['upload_s']:.1f} s); processing mean {result['millis']['mean']:.0f} ms, "
            f"overhead {result['overhead_ms']:.0f} ms a photo; CPU s "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()) + f", others {others:.1f}")
        if disturbed and attempt < tries:
            log(f"  disturbed by other processes ({others:.1f} CPU s); running it again")
            continue
        return result


def cmd_run(args):
    photos = [(os.path.basename(p), open(p, "rb").read()) for p in args.photos]
    runs = []
    specs = [("worker", c) for c in args.config] + ([("serve", None)] if args.serve else [])
    # Repetitions take turns (all configurations, then all again), so a slow spell of the
    # machine does not land on one configuration only.
    for n, (kind, spec) in enumerate(specs * args.repeats):
        run_dir = os.path.join(args.work, f"run{n}")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        target = None
        try:
            if kind == "worker":
                w, c = (int(x) for x in spec.split(":"))
                target = WorkerFleet(args, run_dir, w, c)
            else:
                target = Serve(args, run_dir)
            log(f"worker_bench: {target.name}")
            result = measure(args, target, photos, f"run{n}")
            result["config"] = spec or "serve"
            runs.append(result)
        finally:
            if target:
                target.stop()
            for child in list(LIVE):
                child.stop(grace=5)
    with open(args.out, "w") as f:
        json.dump({"photos": [p for p, _ in photos], "count": args.count, "repeats": args.repeats,
                   "runs": runs}, f, indent=1)


# --- the report -----------------------------------------------------------------------------------


def median_run(runs):
    """The run with the median photos/s (the lower middle one for an even number), of the runs
    other processes did not disturb when there are any."""
    quiet = [r for r in runs if not r["disturbed"]] or runs
    ordered = sorted(quiet, key=lambda r: r["photos_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def cmd_report(args):
    data = json.load(open(args.run))
    by_config = {}
    for r in data["runs"]:
        by_config.setdefault(r["config"], []).append(r)
    rows = [(cfg, median_run(rs), rs) for cfg, rs in by_config.items()]
    one = next((m for cfg, m, _ in rows if cfg == "1:1"), None)
    serve = next((m for cfg, m, _ in rows if cfg == "serve"), None)
    lines = [f"`{args.command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {args.machine}", "",
             f"{data['count']} photos a run, round robin: " + ", ".join(data["photos"]) + "; the built-in "
             "recipe; one libvips thread per photo. Wall: first upload's start → last photo completed. "
             f"{data['repeats']} runs of each, taking turns; the median run of those other processes did not "
             "disturb is shown, with every run's photos/s.", "",
             "| photos through | slots | photos/s | every run | vs 1 worker | vs serve | wall (s) | uploads done at (s) | "
             "processing mean / p99 (ms) | slot ms a photo | **overhead a photo (ms)** | invocation mean (ms) | "
             "CPU s: moto_server | CPU s: photoflux | CPU s: driver | CPU s: others |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for cfg, r, rs in rows:
        cpu = r["cpu_s"]
        moto = cpu.get("moto_server")
        pf = cpu.get("workers and their functions", cpu.get("serve and its functions"))
        vs1 = f"{r['photos_per_s'] / one['photos_per_s']:.2f}x" if one else "—"
        vss = f"{r['photos_per_s'] / serve['photos_per_s']:.2f}x" if serve else "—"
        flag = " (disturbed)" if r["disturbed"] else ""
        moto_text = "—" if moto is None else f"{moto:.1f} ({100 * moto / r['wall_s']:.0f}% of a core)"
        every = ", ".join(f"{x['photos_per_s']:.2f}" + (" (disturbed)" if x["disturbed"] else "") for x in rs)
        lines.append(
            f"| {r['name']} | {r['slots']} | **{r['photos_per_s']:.2f}** | {every} | {vs1} | {vss} | {r['wall_s']:.2f} | "
            f"{r['upload_s']:.1f} | {r['millis']['mean']:.0f} / {r['millis']['p99']:.0f} | {r['slot_ms_per_photo']:.0f} | "
            f"**{r['overhead_ms']:.0f}** | {r['invocation_ms_mean']:.0f} | {moto_text} | "
            f"{pf:.1f} | {cpu['driver']:.1f} | {r['others_cpu_s']:.1f}{flag} |")
    lines += ["", "Where a worker's time goes (the median run's worker logs, medians in ms): "
              "to_function = message received → the function's photo_processed, minus the handler's own time; "
              "function_io = the handler's time minus the engine's (its S3 requests to moto: HEAD manifest, GET photo, "
              "HEAD photo, two derivative PUTs at once, manifest PUT); to_deleted = photo_processed → message deleted "
              "(the response, DeleteMessage; overlapped with the next receive); between_photos (concurrency 1) = "
              "photo_processed → the next message received (the response, then ReceiveMessage); per_photo "
              "(concurrency 1) = one message received → the next.", "",
              "| photos through | to_function | function_io | to_deleted | between_photos | per_photo |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for cfg, r, rs in rows:
        b = r.get("breakdown")
        if not b:
            continue
        cell = lambda k: "—" if b[k]["p50"] is None else f"{b[k]['p50']:.1f}"
        lines.append(f"| {r['name']} | {cell('to_function')} | {cell('function_io')} | {cell('to_deleted')} | "
                     f"{cell('between_photos')} | {cell('per_photo')} |")
    lines.append("")
    for cfg, r, rs in rows:
        e = r.get("extra") or {}
        if e:
            lines.append(f"- {r['name']}: photos per worker {e['per_worker_deleted']} (warm-up included), "
                         f"messages received {e['received']}, failed {e['failed']}, left in the queue "
                         f"{e['queue_visible']} visible / {e['queue_in_flight']} in flight.")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--photoflux", required=True)
    r.add_argument("--moto-server", default=shutil.which("moto_server") or "moto_server")
    r.add_argument("--photos", nargs="+", required=True)
    r.add_argument("--count", type=int, default=120)
    r.add_argument("--repeats", type=int, default=1)
    r.add_argument("--config", action="append", default=[], help="W:C, W workers with --concurrency C")
    r.add_argument("--serve", action="store_true")
    r.add_argument("--serve-workers", type=int, default=os.cpu_count() or 1,
                   help="serve's function workers (default: one per core, serve's own default)")
    r.add_argument("--quiet-limit", type=int, default=60)
    r.add_argument("--retry-disturbed", action="store_true")
    r.add_argument("--timeout", type=float, default=180)
    r.add_argument("--work", required=True)
    r.add_argument("--out", required=True)
    rp = sub.add_parser("report")
    rp.add_argument("--run", required=True)
    rp.add_argument("--command", default="bench/worker.sh")
    rp.add_argument("--machine", default="")
    args = p.parse_args()
    if args.cmd == "run":
        args.photoflux = os.path.abspath(args.photoflux)
    {"run": cmd_run, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
