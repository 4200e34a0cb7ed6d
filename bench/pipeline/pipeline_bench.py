#!/usr/bin/env python3
"""The load driver of bench/pipeline.sh: photos uploaded to a running `photoflux serve`, each timed
from the upload being acknowledged to its photo.processed notification arriving.

  pipeline_bench.py run --endpoint URL --hook-port P --serve-pid PID --photos F... \
      --phase open:RATE:SECONDS ... --phase closed:N1,N2,...:SECONDS --out FILE.json
  pipeline_bench.py breakdown --run FILE.json --log SERVE.LOG --out FILE.json
  pipeline_bench.py report --default FILE.json [--debug FILE.json --breakdown FILE.json]
      [--engine FILE.json] --command TEXT --machine TEXT

Notifications are received twice, by a separate process (so that its timestamps are not held up by
the uploaders' Python threads): over server-sent events (/_/sns/sse?TopicArn=..., HTTP Basic with
the key pair: no persistence, no signature check needed) and by an HTTP webhook, the subscription
serve was started with. The SSE arrival is the headline: it is the moment the function's Publish
fanned out; the webhook adds SNS's persisted, signed delivery on a new connection.

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import base64
import bisect
import http.client
import http.server
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

# --- small helpers ------------------------------------------------------------------------------


def pct(values, p):
    """The p-th percentile (0-100), linearly interpolated; None for no values."""
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    if len(v) == 1:
        return v[0]
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    with open("/proc/stat") as f:
        parts = f.readline().split()
    # user nice system idle iowait irq softirq steal
    vals = [int(x) for x in parts[1:9]]
    return (vals[0] + vals[1] + vals[2] + vals[5] + vals[6] + vals[7]) / clock_ticks()


def _proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] = state (field 3); ppid = field 4; utime 14, stime 15, cutime 16, cstime 17
    return {"ppid": int(rest[1]), "cpu": sum(int(x) for x in rest[11:15]) / clock_ticks()}


def tree_cpu_seconds(roots):
    """CPU (user + system, reaped children included) of the processes in roots and their
    descendants, as /proc has it now."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _proc_stat(int(name))
            if s:
                stats[int(name)] = s
    members = set(r for r in roots if r in stats)
    grew = True
    while grew:
        grew = False
        for pid, s in stats.items():
            if pid not in members and s["ppid"] in members:
                members.add(pid)
                grew = True
    return sum(stats[p]["cpu"] for p in members)


def wait_for_quiet(limit_s, log):
    """Waits until the machine was at most 10% busy over 2 s (bench/lib.sh's rule)."""
    cores = os.cpu_count() or 1
    waited = 0
    said = False
    while True:
        a = machine_busy_seconds()
        time.sleep(2)
        b = machine_busy_seconds()
        if (b - a) / 2 <= 0.10 * cores:
            if said:
                log(f"  (quiet again after {waited}s)")
            return
        if not said:
            log("  waiting for the machine to be quiet (other processes are using the CPU)...")
            said = True
        waited += 2
        if waited >= limit_s:
            log(f"  WARNING: still busy after {limit_s}s; measuring anyway")
            return


def scrape_metrics(endpoint):
    """The histograms and counters of /_/metrics this benchmark reads, as {name{labels}: value}."""
    with urllib.request.urlopen(endpoint + "/_/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not (line.startswith("photoflux_events_") or line.startswith("photoflux_function_")):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def histogram_delta(before, after, metric):
    """Buckets (le -> count), count and sum of a histogram between two scrapes."""
    buckets = {}
    count = total = 0.0
    for name, value in after.items():
        if not name.startswith(metric):
            continue
        delta = value - before.get(name, 0.0)
        if name.startswith(metric + "_bucket"):
            le = name.split('le="', 1)[1].split('"', 1)[0]
            buckets[le] = buckets.get(le, 0.0) + delta
        elif name.startswith(metric + "_count"):
            count += delta
        elif name.startswith(metric + "_sum"):
            total += delta
    return {"buckets": buckets, "count": count, "sum": total}


def histogram_quantile(h, q):
    """Prometheus' histogram_quantile: linear within the bucket. Seconds; None when empty."""
    if not h["count"]:
        return None
    bounds = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in h["buckets"].items())
    rank = q * h["count"]
    prev_bound, prev_count = 0.0, 0.0
    for bound, cum in bounds:
        if cum >= rank:
            if bound == float("inf"):
                return prev_bound
            width = cum - prev_count
            frac = (rank - prev_count) / width if width else 1.0
            return prev_bound + (bound - prev_bound) * frac
        prev_bound, prev_count = bound, cum
    return prev_bound


# --- the receiver (its own process) ---------------------------------------------------------------


def _note_message(out, channel, message_text, t):
    try:
        msg = json.loads(message_text)
    except ValueError:
        return
    if not isinstance(msg, dict) or msg.get("type") not in ("photo.processed", "photo.failed"):
        return
    manifest = msg.get("manifest") or {}
    out.put((channel, msg.get("key"), t, manifest.get("millis"), msg["type"]))


def _sse_loop(out, endpoint, auth, topic_arn, ready):
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=None)
    path = "/_/sns/sse?" + urllib.parse.urlencode({"TopicArn": topic_arn})
    conn.request("GET", path, headers={"Authorization": "Basic " + auth, "Accept": "text/event-stream"})
    resp = conn.getresponse()
    if resp.status != 200:
        out.put(("error", f"SSE answered {resp.status}: {resp.read(500)!r}", 0, None, None))
        ready.set()
        return
    ready.set()
    while True:
        line = resp.readline()
        if not line:
            out.put(("error", "the SSE stream ended", time.time(), None, None))
            return
        if line.startswith(b"data:"):
            t = time.time()
            try:
                envelope = json.loads(line[5:])
            except ValueError:
                continue
            _note_message(out, "sse", envelope.get("Message", ""), t)


def _hook_server(out, port, ready):
    class Hook(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 (http.server's naming)
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            t = time.time()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            try:
                envelope = json.loads(body)
            except ValueError:
                return
            if envelope.get("Type") == "Notification":
                _note_message(out, "hook", envelope.get("Message", ""), t)

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def receiver_main(out, endpoint, auth, topic_arn, hook_port, ready):
    sse_ready = threading.Event()
    hook_ready = threading.Event()
    if hook_port:
        threading.Thread(target=_hook_server, args=(out, hook_port, hook_ready), daemon=True).start()
    else:
        hook_ready.set()
    threading.Thread(target=_sse_loop, args=(out, endpoint, auth, topic_arn, sse_ready), daemon=True).start()
    sse_ready.wait(30)
    hook_ready.wait(30)
    ready.set()
    threading.Event().wait()  # until terminated


# --- the driver ---------------------------------------------------------------------------------


class Arrivals:
    """Notification arrivals by key, filled by a thread reading the receiver's queue."""

    def __init__(self, q):
        self.q = q
        self.lock = threading.Condition()
        self.by_key = {}
        self.errors = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            channel, key, t, millis, kind = self.q.get()
            with self.lock:
                if channel == "error":
                    self.errors.append(key)
                else:
                    e = self.by_key.setdefault(key, {})
                    e.setdefault(channel, t)  # the first arrival (a redelivery is not a new one)
                    if millis is not None:
                        e["millis"] = millis
                    e["type"] = kind
                self.lock.notify_all()

    def wait(self, keys, channels, timeout):
        deadline = time.time() + timeout
        with self.lock:
            while True:
                missing = [k for k in keys if any(c not in self.by_key.get(k, {}) for c in channels)]
                if not missing or self.errors:
                    return missing
                left = deadline - time.time()
                if left <= 0:
                    return missing
                self.lock.wait(min(left, 0.5))

    def get(self, key):
        with self.lock:
            return dict(self.by_key.get(key, {}))


def make_client(args):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                      max_pool_connections=32),
    )


class Driver:
    def __init__(self, args):
        self.args = args
        self.photos = [(os.path.basename(p), open(p, "rb").read()) for p in args.photos]
        self.shared_client = None
        self.seq = 0
        self.seq_lock = threading.Lock()
        key = os.environ["AWS_ACCESS_KEY_ID"]
        secret = os.environ["AWS_SECRET_ACCESS_KEY"]
        auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
        ctx = multiprocessing.get_context("fork")
        self.q = ctx.Queue()
        ready = ctx.Event()
        self.receiver = ctx.Process(target=receiver_main,
                                    args=(self.q, args.endpoint, auth, args.topic_arn, args.hook_port, ready),
                                    daemon=True)
        self.receiver.start()
        if not ready.wait(30):
            raise SystemExit("pipeline_bench: the receiver did not start")
        self.arrivals = Arrivals(self.q)
        time.sleep(0.3)
        if self.arrivals.errors:
            raise SystemExit("pipeline_bench: " + "; ".join(self.arrivals.errors))
        self.channels = ["sse", "hook"] if args.hook_port else ["sse"]

    def log(self, text):
        print(text, file=sys.stderr, flush=True)

    def client(self):
        # One client for every thread (botocore clients are thread-safe), built before any clock
        # starts: building one takes ~50 ms of CPU.
        if self.shared_client is None:
            self.shared_client = make_client(self.args)
        return self.shared_client

    def next_photo(self, prefix):
        with self.seq_lock:
            i = self.seq
            self.seq += 1
        name, body = self.photos[i % len(self.photos)]
        return f"uploads/{prefix}/{i:05d}-{name}", name, body

    def upload(self, prefix, t_sched=None):
        key, name, body = self.next_photo(prefix)
        c = self.client()
        t0 = time.time()
        r = c.put_object(Bucket=self.args.bucket, Key=key, Body=body, ContentType="image/jpeg")
        t1 = time.time()
        return {"key": key, "photo": name, "bytes": len(body), "t_sched": t_sched, "t_start": t0,
                "t_ack": t1, "request_id": r["ResponseMetadata"].get("RequestId", "")}

    def finish(self, records):
        for rec in records:
            a = self.arrivals.get(rec["key"])
            rec["t_sse"] = a.get("sse")
            rec["t_hook"] = a.get("hook")
            rec["millis"] = a.get("millis")
            rec["type"] = a.get("type")
            rec["latency_ms"] = (rec["t_sse"] - rec["t_ack"]) * 1000 if rec["t_sse"] else None
            rec["hook_latency_ms"] = (rec["t_hook"] - rec["t_ack"]) * 1000 if rec["t_hook"] else None
            rec["overhead_ms"] = (rec["latency_ms"] - rec["millis"]
                                  if rec["latency_ms"] is not None and rec["millis"] is not None else None)
        return records

    def own_pids(self):
        return [self.args.serve_pid, os.getpid(), self.receiver.pid]

    def measured(self, name, body):
        """Runs body() between two snapshots of metrics and CPU. A run that other processes
        disturbed (more than 5% of the machine) is repeated, up to 3 tries; the last is kept."""
        tries = 3 if self.args.retry_disturbed else 1
        for attempt in range(1, tries + 1):
            wait_for_quiet(self.args.quiet_limit, self.log)
            m0 = scrape_metrics(self.args.endpoint)
            busy0 = machine_busy_seconds()
            own0 = tree_cpu_seconds(self.own_pids())
            serve0 = tree_cpu_seconds([self.args.serve_pid])
            w0 = time.time()
            result = body()
            w1 = time.time()
            serve1 = tree_cpu_seconds([self.args.serve_pid])
            own1 = tree_cpu_seconds(self.own_pids())
            busy1 = machine_busy_seconds()
            m1 = scrape_metrics(self.args.endpoint)
            wall = w1 - w0
            others = max(0.0, (busy1 - busy0) - (own1 - own0))
            disturbed = others > 0.05 * (os.cpu_count() or 1) * wall
            result.update({
                "name": name, "attempt": attempt, "wall_s": wall,
                "cpu": {"serve_and_workers_s": serve1 - serve0, "driver_and_receiver_s": (own1 - own0) - (serve1 - serve0),
                        "others_s": others, "machine_s": busy1 - busy0},
                "disturbed": disturbed,
                "dispatch_lag": histogram_delta(m0, m1, "photoflux_events_dispatch_lag_seconds"),
                "function_duration": histogram_delta(m0, m1, "photoflux_function_duration_seconds"),
                "invocations": {k.split("outcome=")[1].strip('"}'): v - m0.get(k, 0.0)
                                for k, v in m1.items() if k.startswith("photoflux_function_invocations_total")},
            })
            if disturbed and attempt < tries:
                self.log(f"  {name}: other processes used {others:.1f} CPU s in {wall:.0f} s; running it again")
                continue
            return result

    def drain(self, records, timeout=60):
        missing = self.arrivals.wait([r["key"] for r in records], self.channels, timeout)
        if self.arrivals.errors:
            raise SystemExit("pipeline_bench: receiver: " + "; ".join(self.arrivals.errors))
        return missing

    def warmup(self, n):
        """Each worker's first photos (libvips start-up, first connections): not measured."""
        recs = []
        for _ in range(n):
            rec = self.upload("warmup")
            self.drain([rec], 60)
            recs.append(rec)
        self.log(f"  warm-up: {n} photos")

    def open_phase(self, rate, seconds, tag):
        """Uploads at a steady rate: upload i starts at t0 + i/rate, whatever the others do."""
        from concurrent.futures import ThreadPoolExecutor

        def body():
            count = int(rate * seconds)
            records = []
            futures = []
            with ThreadPoolExecutor(max_workers=16) as pool:
                t0 = time.time() + 0.2
                for i in range(count):
                    t = t0 + i / rate
                    delay = t - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(self.upload, tag, t))
                for f in futures:
                    records.append(f.result())
            missing = self.drain(records)
            return {"kind": "open", "rate": rate, "seconds": seconds, "missing": len(missing),
                    "records": self.finish(records)}

        return self.measured(f"open {rate}/s", body)

    def closed_phase(self, clients, seconds, tag, settle=2.0):
        """N uploaders, each uploading its next photo as soon as the last one's notification came."""
        barrier = threading.Barrier(clients + 1)
        stop_at = [0.0]

        def body():
            records = []
            lock = threading.Lock()

            def worker():
                barrier.wait()
                while time.time() < stop_at[0]:
                    rec = self.upload(tag)
                    self.arrivals.wait([rec["key"]], ["sse"], 60)
                    with lock:
                        records.append(rec)

            threads = [threading.Thread(target=worker) for _ in range(clients)]
            for t in threads:
                t.start()
            t0 = time.time()
            stop_at[0] = t0 + seconds
            barrier.wait()
            for t in threads:
                t.join()
            missing = self.drain(records)
            self.finish(records)
            # Steady state: photos whose notification came between settle and the end.
            lo, hi = t0 + settle, t0 + seconds
            done = [r for r in records if r["t_sse"] and lo <= r["t_sse"] <= hi]
            return {"kind": "closed", "clients": clients, "seconds": seconds, "settle_s": settle,
                    "missing": len(missing), "photos_per_s": len(done) / (hi - lo),
                    "records": records, "window": [lo, hi]}

        return self.measured(f"closed {clients}", body)


def summarize(phase):
    recs = [r for r in phase["records"] if r.get("latency_ms") is not None]
    if phase["kind"] == "closed":
        lo, hi = phase["window"]
        recs = [r for r in recs if lo <= r["t_sse"] <= hi]
    s = {"n": len(recs)}
    for field in ("latency_ms", "hook_latency_ms", "millis", "overhead_ms"):
        vals = [r[field] for r in recs if r.get(field) is not None]
        s[field] = {"p50": pct(vals, 50), "p99": pct(vals, 99), "mean": statistics.fmean(vals) if vals else None}
    put = [(r["t_ack"] - r["t_start"]) * 1000 for r in recs]
    s["put_ms"] = {"p50": pct(put, 50), "p99": pct(put, 99)}
    if phase["kind"] == "open":
        late = [(r["t_start"] - r["t_sched"]) * 1000 for r in recs]
        s["start_late_ms_p99"] = pct(late, 99)
    d = phase["dispatch_lag"]
    f = phase["function_duration"]
    s["dispatch_lag_ms"] = {"mean": 1000 * d["sum"] / d["count"] if d["count"] else None,
                            "p50": 1000 * (histogram_quantile(d, 0.5) or 0) if d["count"] else None,
                            "p99": 1000 * (histogram_quantile(d, 0.99) or 0) if d["count"] else None}
    s["function_ms"] = {"mean": 1000 * f["sum"] / f["count"] if f["count"] else None,
                        "p50": 1000 * (histogram_quantile(f, 0.5) or 0) if f["count"] else None,
                        "p99": 1000 * (histogram_quantile(f, 0.99) or 0) if f["count"] else None}
    s["overhead_beyond_function_ms_mean"] = (s["latency_ms"]["mean"] - s["function_ms"]["mean"]
                                             if s["latency_ms"]["mean"] is not None and s["function_ms"]["mean"] is not None else None)
    photos_done = len([r for r in phase["records"] if r.get("t_sse")])
    s["serve_cpu_ms_per_photo"] = 1000 * phase["cpu"]["serve_and_workers_s"] / photos_done if photos_done else None
    return s


def cmd_run(args):
    drv = Driver(args)
    drv.client()
    drv.log(f"pipeline_bench: {len(drv.photos)} photos in the mix, notifications over {' and '.join(drv.channels)}")
    drv.warmup(args.warmup)
    phases = []
    for spec in args.phase:
        kind, what, seconds = spec.split(":")
        seconds = float(seconds)
        if kind == "open":
            ph = drv.open_phase(float(what), seconds, f"open-{what}")
            ph["summary"] = summarize(ph)
            phases.append(ph)
            s = ph["summary"]
            drv.log(f"  open {what}/s: {s['n']} photos, latency p50 {s['latency_ms']['p50']:.1f} ms p99 {s['latency_ms']['p99']:.1f}, "
                    f"processing p50 {s['millis']['p50']:.1f}, overhead p50 {s['overhead_ms']['p50']:.1f} ms p99 {s['overhead_ms']['p99']:.1f}"
                    f" (others' CPU {ph['cpu']['others_s']:.1f} s)")
        elif kind == "closed":
            best = 0.0
            for n in [int(x) for x in what.split(",")]:
                ph = drv.closed_phase(n, seconds, f"closed-{n}")
                ph["summary"] = summarize(ph)
                phases.append(ph)
                s = ph["summary"]
                drv.log(f"  closed, {n} uploader(s): {ph['photos_per_s']:.2f} photos/s, latency p50 {s['latency_ms']['p50']:.0f} ms "
                        f"p99 {s['latency_ms']['p99']:.0f}, processing p50 {s['millis']['p50']:.0f} ms (others' CPU {ph['cpu']['others_s']:.1f} s)")
                if ph["photos_per_s"] < best * 1.05:
                    break  # stopped growing
                best = max(best, ph["photos_per_s"])
        else:
            raise SystemExit(f"pipeline_bench: unknown phase {spec}")
    out = {"photos": [p for p, _ in drv.photos], "channels": drv.channels, "phases": phases,
           "receiver_errors": drv.arrivals.errors}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    drv.receiver.terminate()


# --- the breakdown of a debug log -----------------------------------------------------------------


def parse_log_time(text):
    # "2026-11-29T22:52:17.125": serve's text logs are in local time, millisecond resolution.
    base, ms = text.split(".")
    return time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def cmd_breakdown(args):
    run = json.load(open(args.run))
    recs = [r for ph in run["phases"] for r in ph["records"] if r.get("t_sse")]
    by_key = {r["key"]: {"rec": r} for r in recs}
    by_request = {r["request_id"].lower(): r["key"] for r in recs if r.get("request_id")}
    invocation_key = {}
    publishes = []
    next_done = []  # when a worker's /next was answered with an invocation
    for line in open(args.log, errors="replace"):
        parts = line.split(" ", 3)
        if len(parts) < 4 or not parts[0][:4].isdigit():
            continue
        t = parse_log_time(parts[0])
        msg = parts[3]
        if msg.startswith("event=event_invoked"):
            fields = dict(x.split("=", 1) for x in msg.split() if "=" in x)
            root = fields.get("trace_id", "").split(";")[0]
            # Root=1-<epoch hex>-<S3 request id, 16 hex><8 hex>: the upload's request id.
            rid = root.split("-")[-1][:16] if root.count("-") >= 2 else ""
            key = by_request.get(rid)
            if key:
                by_key[key]["invoked"] = t
                invocation_key[fields.get("request_id")] = key
            continue
        if not msg.startswith("request "):
            continue
        fields = dict(x.split("=", 1) for x in msg.split() if "=" in x)
        path = urllib.parse.unquote(fields.get("path", ""))
        method = fields.get("method")
        ms = float(fields.get("ms", "0"))
        if path == "/" and method == "POST":
            publishes.append(ms)
            continue
        if path.endswith("/runtime/invocation/next"):
            if fields.get("status") == "200":
                next_done.append(t)
            continue
        if "/runtime/invocation/" in path and path.endswith("/response"):
            key = invocation_key.get(path.split("/")[-2])
            if key:
                by_key[key]["response"] = t
            continue
        bucket_prefix = "/" + args.bucket + "/"
        if not path.startswith(bucket_prefix):
            continue
        obj = path[len(bucket_prefix):]
        if obj in by_key:
            e = by_key[obj]
            if method == "PUT":
                e["put"] = (t, ms)
            elif method == "GET":
                e["get"] = (t, ms)
            elif method == "HEAD":
                e["head_src"] = (t, ms)
            continue
        if obj.startswith("processed/"):
            rest = obj[len("processed/"):]
            src, _, name = rest.rpartition("/")
            if src in by_key:
                e = by_key[src]
                if method == "HEAD" and name == "manifest.json":
                    e["head_manifest"] = (t, ms)
                elif method == "PUT":
                    e.setdefault("puts", {})[name] = (t, ms)
    next_done.sort()
    steps = {k: [] for k in ("ack_skew", "dispatch", "to_next", "next_to_head", "pickup", "get", "engine", "engine_gap", "store",
                             "store_server", "publish_to_sse", "total", "sse_to_hook", "put_each")}
    complete = 0
    for key, e in by_key.items():
        r = e["rec"]
        need = ("put", "invoked", "head_manifest", "get", "head_src", "puts")
        if not all(n in e for n in need) or "manifest.json" not in e["puts"]:
            continue
        complete += 1
        t_put = e["put"][0]
        t_manifest = e["puts"]["manifest.json"][0]
        steps["ack_skew"].append((r["t_ack"] - t_put) * 1000)
        steps["dispatch"].append((e["invoked"] - t_put) * 1000)
        steps["pickup"].append((e["head_manifest"][0] - e["invoked"]) * 1000)
        # The /next answer that carried this photo: the last one before its first request, if it
        # came after the upload (with two photos in flight at once the pairing may be off).
        i = bisect.bisect_right(next_done, e["head_manifest"][0]) - 1
        if i >= 0 and next_done[i] >= t_put - 0.002:
            steps["to_next"].append((next_done[i] - t_put) * 1000)
            steps["next_to_head"].append((e["head_manifest"][0] - next_done[i]) * 1000)
        steps["get"].append((e["get"][0] - e["head_manifest"][0]) * 1000)
        steps["engine"].append((e["head_src"][0] - e["get"][0]) * 1000)
        if r.get("millis") is not None:
            steps["engine_gap"].append((e["head_src"][0] - e["get"][0]) * 1000 - r["millis"])
        steps["store"].append((t_manifest - e["head_src"][0]) * 1000)
        steps["store_server"].append(sum(ms for _, ms in e["puts"].values()))
        steps["put_each"].extend(ms for _, ms in e["puts"].values())
        steps["publish_to_sse"].append((r["t_sse"] - t_manifest) * 1000)
        steps["total"].append((r["t_sse"] - t_put) * 1000)
        if r.get("t_hook"):
            steps["sse_to_hook"].append((r["t_hook"] - r["t_sse"]) * 1000)
    out = {"photos": len(by_key), "complete": complete,
           "steps": {k: {"p50": pct(v, 50), "p99": pct(v, 99), "mean": statistics.fmean(v) if v else None, "n": len(v)}
                     for k, v in steps.items()},
           "publish_server_ms": {"p50": pct(publishes, 50), "p99": pct(publishes, 99), "n": len(publishes)}}
    json.dump(out, open(args.out, "w"), indent=1)
    print(json.dumps(out["steps"], indent=1), file=sys.stderr)


# --- the report -----------------------------------------------------------------------------------


def f1(x, unit=""):
    return "—" if x is None else f"{x:,.1f}{unit}"


def f0(x):
    return "—" if x is None else f"{x:,.0f}"


def cmd_report(args):
    run = json.load(open(args.default))
    lines = []
    lines.append(f"`{args.command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {args.machine}")
    lines.append("")
    lines.append("Photos, round robin: " + ", ".join(run["photos"]) + ". Latency: from the upload's "
                 "200 to the photo.processed notification arriving over SSE (webhook: the same "
                 "message's signed HTTP delivery). Processing: the manifest's `millis` (the engine). "
                 "Overhead: latency minus processing, per photo.")
    lines.append("")
    lines.append("| load | photos | photos/s | latency p50 / p99 (ms) | processing p50 / p99 (ms) | **overhead p50** / p99 (ms) | webhook latency p50 / p99 (ms) | function duration, mean (ms) | latency − function duration, means (ms) | dispatch lag mean (ms) | serve + workers CPU per photo (ms) | CPU s of other processes |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ph in run["phases"]:
        s = ph["summary"]
        if ph["kind"] == "open":
            load = f"steady {ph['rate']:g}/s for {ph['seconds']:g} s"
            rate = ph["rate"]
        else:
            load = f"closed loop, {ph['clients']} uploader{'s' if ph['clients'] > 1 else ''}"
            rate = ph["photos_per_s"]
        flag = " (disturbed)" if ph["disturbed"] else ""
        lines.append(f"| {load} | {s['n']} | {rate:.2f} | {f1(s['latency_ms']['p50'])} / {f1(s['latency_ms']['p99'])} | "
                     f"{f1(s['millis']['p50'])} / {f1(s['millis']['p99'])} | **{f1(s['overhead_ms']['p50'])}** / {f1(s['overhead_ms']['p99'])} | "
                     f"{f1(s['hook_latency_ms']['p50'])} / {f1(s['hook_latency_ms']['p99'])} | {f1(s['function_ms']['mean'])} | "
                     f"{f1(s['overhead_beyond_function_ms_mean'])} | "
                     f"{f1(s['dispatch_lag_ms']['mean'])} | {f0(s['serve_cpu_ms_per_photo'])} | {ph['cpu']['others_s']:.1f}{flag} |")
    closed = [ph for ph in run["phases"] if ph["kind"] == "closed"]
    if closed:
        best = max(closed, key=lambda p: p["photos_per_s"])
        lines.append("")
        lines.append(f"Maximum sustained: **{best['photos_per_s']:.2f} photos/s** with {best['clients']} uploaders "
                     f"(latency p50 {f0(best['summary']['latency_ms']['p50'])} ms, p99 {f0(best['summary']['latency_ms']['p99'])} ms).")
    if args.breakdown:
        b = json.load(open(args.breakdown))
        dbg = json.load(open(args.debug))
        ds = dbg["phases"][0]["summary"]
        st = b["steps"]
        lines.append("")
        lines.append(f"Where the time goes: a second serve with `--log-level debug`, {dbg['phases'][0]['rate']:g} photos/s, "
                     f"{b['complete']} photos timed from serve's own log lines (millisecond resolution). "
                     f"Its overhead p50: {f1(ds['overhead_ms']['p50'])} ms (latency {f1(ds['latency_ms']['p50'])}, processing {f1(ds['millis']['p50'])}).")
        lines.append("")
        lines.append("| step | from → to (serve's log) | p50 (ms) | p99 (ms) |")
        lines.append("| --- | --- | ---: | ---: |")
        rows = [("ack_skew", "(serve logged the upload's PUT → boto3 returned it to the driver: not in the latency)"),
                ("dispatch", "upload committed (its PUT logged) → event handed to the function host (`event_invoked`)"),
                ("pickup", "→ the worker's first request done (HEAD of the manifest, the idempotence check)"),
                ("to_next", "  upload committed → the worker's `/next` answered"),
                ("next_to_head", "  `/next` answered → that HEAD done (the worker's event parsing, signing, a new connection)"),
                ("get", "→ GET of the photo done"),
                ("engine", "→ HEAD of the photo done (the engine, then the superseded check)"),
                ("engine_gap", "  of which not the engine (that step minus the manifest's `millis`)"),
                ("store", "→ PUT of the manifest done (thumb, preview, manifest: three PUTs in a row)"),
                ("store_server", "  of which inside serve (the three PUTs' own `ms`)"),
                ("publish_to_sse", "→ notification read by the SSE client (Publish, fan-out, stream)"),
                ("total", "upload committed → notification received"),
                ("sse_to_hook", "SSE arrival → webhook arrival (persisted, signed delivery)")]
        for k, text in rows:
            lines.append(f"| {k} | {text} | {f1(st[k]['p50'])} | {f1(st[k]['p99'])} |")
        lines.append("")
        lines.append(f"One derivative PUT inside serve: p50 {f1(st['put_each']['p50'])} ms, p99 {f1(st['put_each']['p99'])} ms; "
                     f"one Publish inside serve: p50 {f1(b['publish_server_ms']['p50'])} ms.")
    if args.engine:
        e = json.load(open(args.engine))
        lines.append("")
        lines.append("| the same photos through | photos/s | wall ms per photo | CPU ms per photo | pipeline's maximum photos/s ÷ this | CPU s of other processes |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        best_rate = max((p["photos_per_s"] for p in closed), default=None)
        for row in e["rows"]:
            ratio = f"{best_rate / row['photos_per_s']:.2f}x" if best_rate and row.get("photos_per_s") else "—"
            lines.append(f"| {row['what']} | {f1(row.get('photos_per_s'))} | {f1(row.get('ms_per_photo'))} | "
                         f"{f1(row.get('cpu_ms_per_photo'))} | {ratio} | {row.get('others_s', '—')} |")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--endpoint", required=True)
    r.add_argument("--bucket", default="photos")
    r.add_argument("--topic-arn", default="arn:aws:sns:us-east-1:000000000000:photo-events")
    r.add_argument("--hook-port", type=int, default=0)
    r.add_argument("--serve-pid", type=int, required=True)
    r.add_argument("--photos", nargs="+", required=True)
    r.add_argument("--phase", action="append", required=True)
    r.add_argument("--warmup", type=int, default=6)
    r.add_argument("--quiet-limit", type=int, default=120)
    r.add_argument("--retry-disturbed", action="store_true")
    r.add_argument("--out", required=True)
    b = sub.add_parser("breakdown")
    b.add_argument("--run", required=True)
    b.add_argument("--log", required=True)
    b.add_argument("--bucket", default="photos")
    b.add_argument("--out", required=True)
    rp = sub.add_parser("report")
    rp.add_argument("--default", required=True)
    rp.add_argument("--debug")
    rp.add_argument("--breakdown")
    rp.add_argument("--engine")
    rp.add_argument("--command", default="bench/pipeline.sh")
    rp.add_argument("--machine", default="")
    args = p.parse_args()
    {"run": cmd_run, "breakdown": cmd_breakdown, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
