"""`photoflux worker` as a fleet on a real queue: moto S3 sends the bucket's events to a moto SQS
queue (redrive policy to a dead-letter queue, maxReceiveCount 2) and `photoflux worker`
processes consume it with the photo function, the store given by the usual AWS settings.

    1. three workers, 200 photos: every photo processed (its manifest names the uploaded
       ETag), each output written once or identically (the bucket is versioned: every version
       of a derivative has the same ETag; duplicates are counted and printed), S3's TestEvent
       dropped, no message left in the queue or in flight;
    2. a worker SIGKILLed in the middle of a (slow) photo: the message becomes visible again and
       another worker completes it;
    3. a corrupt photo fails on every receive and ends in the dead-letter queue;
    4. SIGTERM drains: exit 0, what was running finished (or released), nothing lost.

Small photos (downscaled once with vipsthumbnail) and a one-output recipe keep the module
short; the slow recipe (an enlarged, blurred AVIF) makes one photo take seconds.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from urllib.request import urlopen

import lambda_harness as lh

DATA = lh.REPO / "tests" / "data"
CORRUPT = DATA / "hostile" / "corrupt-no-quant-table.jpg"
SOURCES = ["camera.jpg", "phone.jpg", "grey.jpg", "p3.jpg", "orientation-6.jpg",
           "progressive.jpg", "cmyk-pillow.jpg"]

LIGHT_RECIPE = """version: 1
outputs:
  - name: thumb
    resize: { width: 96, height: 96, fit: inside }
    format: { type: jpeg, quality: 70 }
"""
# Several seconds per photo on a busy two-core machine, even from a 160 px source.
SLOW_RECIPE = """version: 1
outputs:
  - name: big
    resize: { width: 1200, height: 1200, fit: inside, enlarge: true }
    blur: 10
    format: { type: avif, quality: 60, effort: 9 }
"""

moto: lh.MotoServer | None = None
small: list[bytes] = []
scratch: Path | None = None


def setUpModule():
    global moto, scratch
    scratch = Path(tempfile.mkdtemp(prefix="pf-worker-e2e-"))
    for name in SOURCES:
        out = scratch / f"small-{name}"
        subprocess.run(["vipsthumbnail", str(DATA / "photos" / name), "-s", "160", "-o",
                        str(out)], check=True)
        small.append(out.read_bytes())
    moto = lh.MotoServer().start()


def tearDownModule():
    if moto:
        moto.stop()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


class Worker:
    """One `photoflux worker` process, its log and its metrics port."""

    def __init__(self, name: str, queue_url: str, *, recipe: str, concurrency: int = 2,
                 visibility: int = 6, function_timeout: int = 30, extra_env: dict | None = None):
        self.name = name
        self.root = scratch / f"{name}-{uuid.uuid4().hex[:6]}"
        self.root.mkdir()
        self.log_path = self.root / "worker.log"
        self.port = lh.free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ACCESS_KEY_ID": lh.ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": lh.SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": lh.SESSION_TOKEN,
            "AWS_REGION": lh.REGION,
            "AWS_ENDPOINT_URL": moto.url,
            "PF_RECIPE": recipe,
            "PF_VIPS_CONCURRENCY": "1",
        }
        env.update(extra_env or {})
        argv = [str(lh.photoflux_binary()), "--log-level", "info", "worker", "--queue",
                queue_url, "--concurrency", str(concurrency), "--data-dir",
                str(self.root / "data"), "--metrics-listen", f"127.0.0.1:{self.port}",
                "--visibility-timeout", str(visibility), "--wait-time", "2",
                "--function-timeout", str(function_timeout)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=self.root,
                                         preexec_fn=lh._child_setup)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {name} exited with {self.proc.returncode}:\n"
                                     f"{self.log()[-3000:]}")
            try:
                with urlopen(f"http://127.0.0.1:{self.port}/_/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"worker {name} not ready:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, event: str) -> list[dict]:
        """The key=value fields of each log line with event=<event>."""
        out = []
        for line in self.log().splitlines():
            if f"event={event} " in line or line.endswith(f"event={event}"):
                out.append({k: v[1:-1] if v.startswith('"') else v
                            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)})
        return out

    def metrics(self) -> dict[str, float]:
        with urlopen(f"http://127.0.0.1:{self.port}/_/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        lh._stop_group(self.proc, grace=40)


class Fleet(unittest.TestCase):
    """Each test gets its own versioned bucket, queue and dead-letter queue."""

    def setUp(self):
        sfx = uuid.uuid4().hex[:8]
        self.s3, self.sqs = moto.client("s3"), moto.client("sqs")
        self.bucket = f"worker-{sfx}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(Bucket=self.bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
        self.dlq = self.sqs.create_queue(QueueName=f"photos-dlq-{sfx}")["QueueUrl"]
        self.queue = self.sqs.create_queue(QueueName=f"photos-{sfx}", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": self.arn(self.dlq),
                                         "maxReceiveCount": "2"})})["QueueUrl"]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": self.arn(self.queue), "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
        self.workers: list[Worker] = []

    def tearDown(self):
        for w in self.workers:
            w.stop()
        if any(self._outcome_failed()):
            for w in self.workers:
                print(f"\n--- {w.name} log tail ---\n{w.log()[-4000:]}", file=sys.stderr)

    def _outcome_failed(self):
        result = getattr(self, "_outcome", None)
        errors = getattr(result, "errors", None) or getattr(getattr(result, "result", None),
                                                           "errors", [])
        return [e for e in errors if e and e[1]]

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def start(self, name: str, **kw) -> Worker:
        w = Worker(name, self.queue, **kw)
        self.workers.append(w)
        return w

    def upload(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["ETag"].strip('"')

    def manifest(self, key: str) -> dict | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"processed/{key}/manifest.json")
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body["Body"].read())

    def queue_counts(self, url: str | None = None) -> tuple[int, int]:
        a = self.sqs.get_queue_attributes(QueueUrl=url or self.queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return (int(a["ApproximateNumberOfMessages"]),
                int(a["ApproximateNumberOfMessagesNotVisible"]))

    def wait_for(self, what: str, condition, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.5)
        self.fail(f"timed out after {timeout:.0f} s waiting for {what}")

    def wait_queue_empty(self, timeout: float = 60):
        self.wait_for("an empty queue (nothing visible, nothing in flight)",
                      lambda: self.queue_counts() == (0, 0), timeout)

    # ----------------------------------------------------------------------------------------

    def test_1_three_workers_process_200_photos(self):
        workers = [self.start(f"w{i}", recipe=LIGHT_RECIPE, concurrency=2) for i in range(3)]
        started = time.monotonic()
        etags = {}
        for i in range(200):
            key = f"uploads/p{i:03d}.jpg"
            etags[key] = self.upload(key, small[i % len(small)])

        def manifests_done():
            listed = set()
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix="processed/"):
                listed.update(o["Key"] for o in page.get("Contents", []))
            return all(f"processed/{k}/manifest.json" in listed for k in etags)
        self.wait_for("200 manifests", manifests_done, 300)
        elapsed = time.monotonic() - started
        for key, etag in etags.items():
            manifest = self.manifest(key)
            self.assertEqual(manifest["source"]["key"], key)
            self.assertEqual(manifest["source"]["etag"], etag, key)
        self.wait_queue_empty()

        # Every version of every derivative is the same bytes: a photo processed twice wrote
        # the same output again.
        versions: dict[str, list[str]] = {}
        for page in self.s3.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix="processed/"):
            for v in page.get("Versions", []):
                versions.setdefault(v["Key"], []).append(v["ETag"])
        derivatives = {k: e for k, e in versions.items() if not k.endswith("/manifest.json")}
        self.assertEqual(len(derivatives), 200)
        for key, tags in derivatives.items():
            self.assertEqual(len(set(tags)), 1, f"{key} written with different bytes: {tags}")
        rewritten = sorted(k for k, tags in derivatives.items() if len(tags) > 1)

        deleted = Counter()
        for w in workers:
            for e in w.events("message_deleted"):
                deleted[e["photo"]] += 1
        self.assertEqual(len(deleted), 200)
        duplicates = sum(n - 1 for n in deleted.values())
        metrics = [w.metrics() for w in workers]
        total = lambda name: sum(m.get(name, 0) for m in metrics)
        self.assertEqual(total("photoflux_worker_messages_deleted_total"), 200 + duplicates)
        self.assertEqual(total("photoflux_worker_test_events_total"), 1)  # S3's TestEvent
        self.assertEqual(total("photoflux_worker_messages_failed_total"), 0)
        self.assertEqual(total("photoflux_worker_in_flight"), 0)
        per_worker = [int(m.get("photoflux_worker_messages_deleted_total", 0)) for m in metrics]
        self.assertTrue(all(n > 0 for n in per_worker), f"a worker did nothing: {per_worker}")
        print(f"\n  200 photos by 3 workers in {elapsed:.1f} s; per worker {per_worker}; "
              f"duplicate invocations {duplicates}; derivatives rewritten {len(rewritten)} "
              f"(identical bytes)", file=sys.stderr)
        for w in workers:
            self.assertEqual(w.terminate(), 0, w.log()[-2000:])
        self.assertEqual(self.queue_counts(), (0, 0))

    def test_2_sigkill_mid_photo_another_worker_completes_it(self):
        first = self.start("killed", recipe=SLOW_RECIPE, concurrency=1, visibility=4,
                           function_timeout=120)
        key = "uploads/slow.jpg"
        etag = self.upload(key, small[0])
        self.wait_for("the first worker to take the photo",
                      lambda: first.events("message_received"), 60)
        time.sleep(1.0)  # in the middle of the photo
        self.assertIsNone(self.manifest(key), "the slow photo finished before the kill")
        first.kill()
        second = self.start("survivor", recipe=SLOW_RECIPE, concurrency=1, visibility=4,
                            function_timeout=120)
        done = self.wait_for("the second worker to complete the photo",
                             lambda: second.events("message_deleted"), 120)
        self.assertEqual(done[0]["photo"], f"{self.bucket}/{key}")
        self.assertEqual(done[0]["receive_count"], "2")  # the killed worker's receive was 1
        self.assertEqual(self.manifest(key)["source"]["etag"], etag)
        metrics = second.metrics()
        self.assertGreaterEqual(metrics["photoflux_worker_visibility_extensions_total"], 1,
                                "a photo longer than the visibility timeout was not extended")
        self.wait_queue_empty()
        self.assertEqual(self.queue_counts(self.dlq), (0, 0))
        print(f"\n  killed mid-photo, completed by another worker in "
              f"{done[0]['duration_ms']} ms with "
              f"{int(metrics['photoflux_worker_visibility_extensions_total'])} visibility "
              f"extension(s)", file=sys.stderr)

    def test_3_poison_photo_ends_in_the_dead_letter_queue(self):
        worker = self.start("poison", recipe=LIGHT_RECIPE, concurrency=1, visibility=3)
        key = "uploads/poison.jpg"
        self.upload(key, CORRUPT.read_bytes())

        def in_dlq():
            got = self.sqs.receive_message(QueueUrl=self.dlq, WaitTimeSeconds=1,
                                           MaxNumberOfMessages=1,
                                           AttributeNames=["ApproximateReceiveCount"])
            return got.get("Messages")
        messages = self.wait_for("the poison message in the dead-letter queue", in_dlq, 90)
        record = json.loads(messages[0]["Body"])["Records"][0]
        self.assertEqual(urllib.parse.unquote_plus(record["s3"]["object"]["key"]), key)
        failures = worker.events("invocation_failed")
        self.assertEqual(len(failures), 2, "maxReceiveCount 2: two attempts")
        self.assertEqual([f["receive_count"] for f in failures], ["1", "2"])
        self.assertIn("PhotoRejected", failures[0]["error_type"])
        self.assertEqual(worker.events("message_deleted"), [])
        self.assertEqual(self.queue_counts(), (0, 0))
        self.assertIsNone(self.manifest(key))
        self.assertEqual(worker.metrics()["photoflux_worker_messages_failed_total"], 2)

    def test_4_sigterm_drains_cleanly(self):
        worker = self.start("drained", recipe=SLOW_RECIPE, concurrency=2, visibility=4,
                            function_timeout=25)
        keys = [f"uploads/t{i}.jpg" for i in range(3)]
        etags = {k: self.upload(k, small[i]) for i, k in enumerate(keys)}
        self.wait_for("two photos in flight",
                      lambda: len(worker.events("message_received")) >= 2, 60)
        time.sleep(0.5)
        started = time.monotonic()
        code = worker.terminate(timeout=60)
        took = time.monotonic() - started
        self.assertEqual(code, 0, worker.log()[-2000:])
        stopped = worker.events("worker_stopped")
        self.assertEqual(len(stopped), 1)
        # What was running finished within the grace (deleted) or went back (released).
        received = {e["message_id"] for e in worker.events("message_received")}
        settled = ({e["message_id"] for e in worker.events("message_deleted")} |
                   {e["message_id"] for e in worker.events("message_released")})
        self.assertEqual(received - settled, set(), "a message was left hanging")
        self.assertEqual(worker.events("invocation_failed"), [])
        # Nothing lost: another worker finishes the rest.
        self.start("after", recipe=SLOW_RECIPE, concurrency=2, visibility=4,
                   function_timeout=25)
        self.wait_for("every photo's manifest",
                      lambda: all(self.manifest(k) for k in keys), 120)
        for k in keys:
            self.assertEqual(self.manifest(k)["source"]["etag"], etags[k])
        self.wait_queue_empty()
        self.assertEqual(self.queue_counts(self.dlq), (0, 0))
        print(f"\n  SIGTERM: exit 0 after {took:.1f} s; deleted "
              f"{len(worker.events('message_deleted'))}, released "
              f"{len(worker.events('message_released'))}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
