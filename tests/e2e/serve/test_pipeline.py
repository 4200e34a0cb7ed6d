"""The whole pipeline of `photoflux serve`: an upload fires an S3 event, the function host runs
`photoflux function` worker processes, the function writes derivatives and a manifest and
publishes photo.processed / photo.failed to the SNS-compatible service, which delivers signed
messages to webhooks and server-sent-event streams.

Real clients only: the aws CLI uploads (`s3 cp --recursive`), invokes (`aws lambda invoke`) and
reads; boto3 checks what was written; the webhook is an http.server receiver whose every message
is verified against the certificate at SigningCertURL with `cryptography`; the SSE stream is read
from /_/sns/sse. The function's outputs are checked with vipsheader (libvips' own CLI).

What is shown:
  - 20 real photos (EXIF-rotated, CMYK, PNG with alpha, HEIC, AVIF, GIF, P3 ...) each get their
    derivatives, a manifest and one signed photo.processed message, at the webhook and over SSE;
  - a corrupt upload gives photo.failed with its reason and lands in the function's dead letters
    at once (a permanent failure is not retried), listed and replayed with `photoflux functions`;
  - duplicate events (the same event invoked again with `aws lambda invoke`) do no new work and
    leave the outputs as they were; writes under processed/ never trigger the function;
  - a deliberately recursive rule is stopped by the recursion guard;
  - kill -9 of serve right after uploads were acknowledged: after a restart every photo is
    processed and notified (duplicates counted, not failed);
  - a worker killed in the middle of an invocation: the event is retried and completes;
  - /_/metrics, /_/health and /_/ready.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

import harness
from harness import REGION, ServerTestCase, describe_proc, raw_request, run
from test_sns import Receiver, load_certificate, signature_ok
from test_sse import HttpStream

AWS = shutil.which("aws")
VIPSHEADER = shutil.which("vipsheader")
DATA = harness.REPO / "tests" / "data"
ACCOUNT = "000000000000"
TOPIC = "photo-events"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
FUNCTION = "process-photo"
WAIT = float(os.environ.get("PF_PIPELINE_WAIT", "90"))

# Twenty real photos: every file of tests/data/photos plus EXIF orientations 2-8.
PHOTOS = sorted((DATA / "photos").iterdir()) + [
    DATA / "orientation" / f"portrait_{n}.jpg" for n in range(2, 9)]
CORRUPT = DATA / "hostile" / "corrupt-no-quant-table.jpg"


def pipeline_env(receiver_port: int | None = None, **extra) -> dict:
    env = {
        # The test's receiver lives on loopback, which serve refuses by default.
        "PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS": "127.0.0.0/8",
        "PF_SERVE_FUNCTION_WORKERS": "2",
        "PF_SERVE_FUNCTION_RETRY_DELAY_MS": "300",
    }
    env.update(extra)
    return env


def webhook_config(receiver: Receiver, route: str = "/hook") -> str:
    return (f"serve:\n  notify:\n    topics:\n      - name: {TOPIC}\n        subscriptions:\n"
            f"          - {{protocol: http, endpoint: \"{receiver.url(route)}\"}}\n")


class PipelineCase(ServerTestCase):
    def aws(self, server: harness.Server, *args, check=True, timeout=300):
        home = self.tmpdir() / "home"
        p = run([AWS, "--endpoint-url", server.url, *args], env=server.cli_env(home),
                timeout=timeout)
        if check:
            self.assertEqual(p.returncode, 0, describe_proc(p))
        return p

    def photoflux(self, server: harness.Server, *args, check=True):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": server.access_key,
                    "AWS_SECRET_ACCESS_KEY": server.secret_key})
        p = run([str(harness.photoflux_binary()), *args, "--endpoint", server.url], env=env,
                timeout=60)
        if check:
            self.assertEqual(p.returncode, 0, describe_proc(p))
        return p

    def dead_letters(self, server: harness.Server) -> list[dict]:
        p = self.photoflux(server, "functions", "dead-letters", "--json")
        return json.loads(p.stdout)

    def messages(self, receiver: Receiver, route: str = "/hook") -> list[dict]:
        return [r.doc() for r in receiver.got(route, "Notification")]

    def wait_messages(self, receiver: Receiver, pred, count: int, route: str = "/hook",
                      timeout: float = WAIT) -> list[dict]:
        found = receiver.wait_for(route, "Notification", count=count, timeout=timeout,
                                  pred=lambda r: pred(json.loads(r.doc()["Message"])))
        return [json.loads(r.doc()["Message"]) for r in found]

    def metric(self, server: harness.Server, name: str, **labels) -> float:
        """Sum of every series of `name` whose labels include `labels` (0 when none)."""
        r = raw_request("GET", server.url + "/_/metrics")
        self.assertEqual(r.status, 200, r.describe())
        total = 0.0
        for line in r.body.decode().splitlines():
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
            if not m or m.group(1) != name:
                continue
            have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total

    def head(self, server: harness.Server, key: str, bucket: str = "photos") -> dict:
        return server.client().head_object(Bucket=bucket, Key=key)

    def get(self, server: harness.Server, key: str, bucket: str = "photos") -> bytes:
        return server.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def vips_size(self, data: bytes, suffix: str) -> tuple[int, int]:
        with tempfile.NamedTemporaryFile(suffix=suffix) as f:
            f.write(data)
            f.flush()
            p = run([VIPSHEADER, "-f", "width", f.name])
            q = run([VIPSHEADER, "-f", "height", f.name])
            self.assertEqual(p.returncode, 0, describe_proc(p))
            return int(p.stdout.strip()), int(q.stdout.strip())


@harness.photoflux_only("sns-delivery")
class UploadToNotification(PipelineCase):
    """One server for the happy path: 20 photos, a corrupt one, duplicates, metrics."""

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver("hook").start()
        cls.server = harness.Server(config_text=webhook_config(cls.receiver),
                                    extra_env=pipeline_env()).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.receiver.stop()

    def test_1_twenty_photos_give_derivatives_manifests_and_signed_messages(self):
        srv = self.server
        stream = HttpStream(srv, {"TopicArn": TOPIC_ARN}, (srv.access_key, srv.secret_key))
        self.addCleanup(stream.close)
        self.assertEqual(stream.status, 200)
        stream.reader.wait_comment("stream open")  # registered: what is published now arrives

        upload_dir = self.tmpdir() / "batch"
        upload_dir.mkdir()
        for p in PHOTOS:
            shutil.copy(p, upload_dir / p.name)
        self.assertEqual(len(PHOTOS), 20)
        started = time.monotonic()
        self.aws(srv, "s3", "cp", "--recursive", "--quiet", str(upload_dir), "s3://photos/uploads/")

        keys = {f"uploads/{p.name}" for p in PHOTOS}
        done = self.wait_messages(self.receiver, lambda m: m.get("key") in keys, 20)
        elapsed = time.monotonic() - started
        by_key = {}
        for m in done:
            by_key.setdefault(m["key"], []).append(m)
        self.assertEqual(set(by_key), keys)
        print(f"\n20 photos uploaded, processed and notified in {elapsed:.1f}s; "
              f"{sum(len(v) for v in by_key.values()) - 20} duplicate messages")

        cert_cache = {}
        for doc in (r.doc() for r in self.receiver.got("/hook", "Notification")):
            url = doc["SigningCertURL"]
            if url not in cert_cache:
                cert_cache[url] = load_certificate(raw_request("GET", url).body)
            self.assertTrue(signature_ok(doc, cert_cache[url]), f"bad signature: {doc}")
            self.assertEqual(doc["TopicArn"], TOPIC_ARN)
            self.assertEqual(doc["Subject"], "photo.processed")

        for key, msgs in by_key.items():
            m = msgs[0]
            self.assertEqual(m["type"], "photo.processed", m)
            self.assertEqual(m["bucket"], "photos")
            source = self.head(srv, key)
            self.assertEqual(m["etag"], source["ETag"].strip('"'))
            manifest_key = f"processed/{key}/manifest.json"
            self.assertEqual(m["manifestKey"], manifest_key)
            manifest = json.loads(self.get(srv, manifest_key))
            self.assertEqual(manifest["source"]["etag"], m["etag"])
            self.assertEqual({o["name"] for o in manifest["outputs"]},
                             {o["name"] for o in m["outputs"]})
            self.assertGreaterEqual(len(m["outputs"]), 2, m)
            for out in m["outputs"]:
                head = self.head(srv, out["key"], out["bucket"])
                self.assertEqual(head["ContentType"], out["contentType"], out)
                self.assertEqual(head["ContentLength"], out["bytes"], out)
                self.assertEqual(head["Metadata"].get("source-etag"), m["etag"], head["Metadata"])
                data = self.get(srv, out["key"], out["bucket"])
                w, h = self.vips_size(data, "." + out["key"].rsplit(".", 1)[-1])
                self.assertEqual((w, h), (out["width"], out["height"]), out)
            # Upright: an EXIF-rotated portrait gives portrait derivatives.
            if "portrait_" in key:
                preview = max(m["outputs"], key=lambda o: o["width"] * o["height"])
                self.assertGreater(preview["height"], preview["width"], (key, preview))

        # The same messages over server-sent events: one Notification event per photo message
        # the webhook got, same MessageId.
        hook_ids = {r.doc()["MessageId"] for r in self.receiver.got("/hook", "Notification")}
        events = stream.reader.events(len(hook_ids), timeout=WAIT)
        self.assertEqual({e["event"] for e in events}, {"Notification"})
        self.assertEqual({e["id"] for e in events}, hook_ids)
        self.assertEqual({json.loads(json.loads(e["data"])["Message"])["key"] for e in events}, keys)

        # Writes under processed/ never trigger the function: one invocation per upload.
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION, outcome="success"), 20)

    def test_2_corrupt_upload_fails_permanently_without_retries(self):
        srv = self.server
        key = "uploads/broken.jpg"
        self.aws(srv, "s3", "cp", "--quiet", str(CORRUPT), f"s3://photos/{key}")
        [failed] = self.wait_messages(self.receiver, lambda m: m.get("key") == key, 1)
        self.assertEqual(failed["type"], "photo.failed")
        self.assertTrue(failed["reason"], failed)
        deadline = time.monotonic() + WAIT
        while True:
            letters = [d for d in self.dead_letters(srv) if key in json.dumps(d["payload"])]
            if letters or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(len(letters), 1, self.dead_letters(srv))
        letter = letters[0]
        self.assertEqual(letter["condition"], "Rejected")
        self.assertEqual(letter["errorType"], "Photoflux.PhotoRejected")
        self.assertEqual(letter["attempts"], 1, "a permanent failure is not retried")
        time.sleep(1.5)  # well past the retry delay: still exactly one photo.failed
        self.assertEqual(len([m for m in map(lambda d: json.loads(d["Message"]),
                                             self.messages(self.receiver))
                              if m.get("key") == key]), 1)

        # Replace the photo with a good one, then replay the dead letter: the replayed event
        # names the broken upload's ETag, so the function sees it superseded and succeeds
        # without work; the dead letter is gone.
        self.aws(srv, "s3", "cp", "--quiet", str(DATA / "photos" / "grey.jpg"), f"s3://photos/{key}")
        self.wait_messages(self.receiver, lambda m: m.get("key") == key
                           and m.get("type") == "photo.processed", 1)
        successes = self.metric(srv, "photoflux_function_invocations_total", function=FUNCTION,
                                outcome="success")
        p = self.photoflux(srv, "functions", "replay", "--id", letter["id"])
        self.assertIn(b"Replayed 1 invocation", p.stdout)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.metric(
                srv, "photoflux_function_invocations_total", function=FUNCTION,
                outcome="success") < successes + 1:
            time.sleep(0.2)
        self.assertEqual([d for d in self.dead_letters(srv) if d["id"] == letter["id"]], [])

    def test_3_duplicate_events_do_no_new_work(self):
        srv = self.server
        key = "uploads/dup.jpg"
        self.aws(srv, "s3", "cp", "--quiet", str(DATA / "photos" / "camera.jpg"), f"s3://photos/{key}")
        [first] = self.wait_messages(self.receiver, lambda m: m.get("key") == key, 1)
        before = {o["key"]: self.head(srv, o["key"]) for o in first["outputs"]}
        manifest_before = self.head(srv, first["manifestKey"])
        puts_before = self.metric(srv, "photoflux_http_requests_total", service="s3",
                                  operation="PutObject")

        source = self.head(srv, key)
        event = {"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": "2026-11-29T12:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:test"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "DUP", "x-amz-id-2": "DUP"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "dup",
                   "bucket": {"name": "photos", "ownerIdentity": {"principalId": "x"},
                              "arn": "arn:aws:s3:::photos"},
                   "object": {"key": urllib.parse.quote_plus(key, safe="/"),
                              "size": source["ContentLength"],
                              "eTag": source["ETag"].strip('"'), "sequencer": "0000000000000001"}}}]}
        payload = self.tmpdir() / "event.json"
        payload.write_text(json.dumps(event))
        for _ in range(2):
            out = self.tmpdir() / "out.json"
            p = self.aws(srv, "lambda", "invoke", "--function-name", FUNCTION,
                         "--invocation-type", "Event", "--payload", f"fileb://{payload}", str(out))
            self.assertEqual(json.loads(p.stdout)["StatusCode"], 202, p.stdout)
        msgs = self.wait_messages(self.receiver, lambda m: m.get("key") == key, 3)
        self.assertEqual({m["type"] for m in msgs}, {"photo.processed"})
        self.assertEqual([m["outputs"] for m in msgs], [first["outputs"]] * 3,
                         "a duplicate event gives the same outputs")
        for k, head in before.items():
            now = self.head(srv, k)
            self.assertEqual((now["ETag"], now["LastModified"]), (head["ETag"], head["LastModified"]))
        self.assertEqual(self.head(srv, first["manifestKey"])["LastModified"],
                         manifest_before["LastModified"])
        self.assertEqual(self.metric(srv, "photoflux_http_requests_total", service="s3",
                                     operation="PutObject"), puts_before,
                         "a duplicate event must not write anything")

    def test_4_delete_removes_derivatives(self):
        srv = self.server
        key = "uploads/to-delete.png"
        self.aws(srv, "s3", "cp", "--quiet", str(DATA / "photos" / "alpha.png"), f"s3://photos/{key}")
        [done] = self.wait_messages(self.receiver, lambda m: m.get("key") == key, 1)
        self.aws(srv, "s3", "rm", "--quiet", f"s3://photos/{key}")
        self.wait_messages(self.receiver, lambda m: m.get("key") == key
                           and m.get("type") == "photo.deleted", 1)
        listing = srv.client().list_objects_v2(Bucket="photos", Prefix=f"processed/{key}/")
        self.assertEqual(listing.get("KeyCount"), 0, listing)

    def test_5_health_ready_and_metrics(self):
        srv = self.server
        for path in ("/_/health", "/_/ready"):
            r = raw_request("GET", srv.url + path)
            self.assertEqual(r.status, 200, r.describe())
        page = raw_request("GET", srv.url + "/_/metrics").body.decode()
        for name in ("photoflux_http_requests_total", "photoflux_http_request_duration_seconds_bucket",
                     "photoflux_function_invocations_total", "photoflux_function_queue_depth",
                     "photoflux_events_outbox_depth", "photoflux_notify_deliveries_total"):
            self.assertIn(name, page)
        self.assertGreater(self.metric(srv, "photoflux_http_requests_total", service="s3",
                                       operation="PutObject", status="200"), 0)


@harness.photoflux_only("sns-delivery")
class S3EventsToTopic(PipelineCase):
    """Bucket notifications set with the aws CLI; S3 event records delivered through a topic in
    the SNS envelope, checked field by field against what the S3 API answered."""

    def test_topic_configuration_delivers_s3_event_records(self):
        receiver = Receiver("s3events").start()
        self.addCleanup(receiver.stop)
        config = (f"serve:\n  notify:\n    topics:\n      - name: uploads-audit\n"
                  f"        subscriptions:\n"
                  f"          - {{protocol: http, endpoint: \"{receiver.url('/events')}\"}}\n")
        srv = self.own_server(config_text=config, extra_env=pipeline_env())
        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:uploads-audit"
        bucket = harness.unique_bucket("events")
        self.aws(srv, "s3", "mb", f"s3://{bucket}")
        rules = {"TopicConfigurations": [{
            "Id": "audit", "TopicArn": topic,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]}
        self.aws(srv, "s3api", "put-bucket-notification-configuration", "--bucket", bucket,
                 "--notification-configuration", json.dumps(rules))
        got = json.loads(self.aws(srv, "s3api", "get-bucket-notification-configuration",
                                  "--bucket", bucket).stdout)
        self.assertEqual(got["TopicConfigurations"][0]["Id"], "audit")
        self.assertEqual(got["TopicConfigurations"][0]["TopicArn"], topic)
        self.assertEqual(got["TopicConfigurations"][0]["Filter"]["Key"]["FilterRules"],
                         [{"Name": "Prefix", "Value": "in/"}])

        # Refused: a topic that does not exist, an overlapping second rule, a queue.
        for bad, code in [
            ({"TopicConfigurations": [{"TopicArn": topic + "-missing", "Events": ["s3:ObjectCreated:*"]}]},
             "InvalidArgument"),
            ({"TopicConfigurations": [rules["TopicConfigurations"][0],
                                      dict(rules["TopicConfigurations"][0], Id="again")]},
             "InvalidArgument"),
            ({"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q",
                                       "Events": ["s3:ObjectCreated:*"]}]}, "InvalidArgument"),
        ]:
            p = self.aws(srv, "s3api", "put-bucket-notification-configuration", "--bucket",
                         bucket, "--notification-configuration", json.dumps(bad), check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(code.encode(), p.stderr, describe_proc(p))

        s3 = srv.client()
        key = "in/red flower+1.jpg"
        body = (DATA / "photos" / "grey.jpg").read_bytes()
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        put_request_id = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        s3.put_object(Bucket=bucket, Key="elsewhere/skip.jpg", Body=body)  # outside the prefix
        s3.copy_object(Bucket=bucket, Key="in/copy.jpg", CopySource={"Bucket": bucket, "Key": key})
        big = self.tmpdir() / "big.bin"
        harness.write_random_file(big, 20 * harness.MiB)
        self.aws(srv, "s3", "cp", "--quiet", str(big), f"s3://{bucket}/in/big.bin")
        deleted = s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "in/copy.jpg"}]})

        docs = [r.doc() for r in receiver.wait_for("/events", "Notification", count=5)]
        time.sleep(1)
        docs = [r.doc() for r in receiver.got("/events", "Notification")]
        self.assertEqual(len(docs), 5, receiver.describe())
        records = []
        for doc in docs:
            self.assertEqual(doc["Subject"], "Amazon S3 Notification")
            self.assertEqual(doc["TopicArn"], topic)
            event = json.loads(doc["Message"])
            self.assertEqual(len(event["Records"]), 1)
            records.append(event["Records"][0])
        by_name = {}
        for r in records:
            by_name.setdefault(r["eventName"], []).append(r)
        self.assertEqual({k: len(v) for k, v in by_name.items()},
                         {"ObjectCreated:Put": 1, "ObjectCreated:Copy": 1,
                          "ObjectCreated:CompleteMultipartUpload": 1, "ObjectRemoved:Delete": 2})
        [created] = by_name["ObjectCreated:Put"]
        self.assertEqual(created["eventVersion"], "2.1")
        self.assertEqual(created["eventSource"], "aws:s3")
        self.assertEqual(created["awsRegion"], REGION)
        self.assertRegex(created["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(created["responseElements"]["x-amz-request-id"], put_request_id)
        self.assertEqual(created["userIdentity"]["principalId"], f"AWS:{srv.access_key}")
        self.assertEqual(created["requestParameters"]["sourceIPAddress"], "127.0.0.1")
        s3info = created["s3"]
        self.assertEqual(s3info["configurationId"], "audit")
        self.assertEqual(s3info["bucket"]["name"], bucket)
        self.assertEqual(s3info["bucket"]["arn"], f"arn:aws:s3:::{bucket}")
        self.assertEqual(s3info["object"]["key"], "in/red+flower%2B1.jpg")  # form-encoded
        self.assertEqual(urllib.parse.unquote_plus(s3info["object"]["key"]), key)
        self.assertEqual(s3info["object"]["size"], len(body))
        self.assertEqual(s3info["object"]["eTag"], put["ETag"].strip('"'))
        self.assertRegex(s3info["object"]["sequencer"], r"^[0-9A-F]{16}$")
        [multipart] = by_name["ObjectCreated:CompleteMultipartUpload"]
        self.assertRegex(multipart["s3"]["object"]["eTag"], r"^[0-9a-f]{32}-\d+$")
        removes = by_name["ObjectRemoved:Delete"]
        self.assertEqual({r["s3"]["object"]["key"] for r in removes},
                         {"in/red+flower%2B1.jpg", "in/copy.jpg"})
        for r in removes:
            self.assertNotIn("eTag", r["s3"]["object"])
            self.assertNotIn("size", r["s3"]["object"])
        delete_request_id = deleted["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        self.assertIn(delete_request_id, {r["responseElements"]["x-amz-request-id"] for r in removes})
        # Same key: the later change has the larger sequencer.
        self.assertGreater([r for r in removes if r["s3"]["object"]["key"] == "in/red+flower%2B1.jpg"][0]
                           ["s3"]["object"]["sequencer"], s3info["object"]["sequencer"])


@harness.photoflux_only("crash")
class Durability(PipelineCase):
    def test_kill_9_after_acknowledged_uploads_loses_no_photo(self):
        receiver = Receiver("crash").start()
        self.addCleanup(receiver.stop)
        srv = self.own_server(config_text=webhook_config(receiver), extra_env=pipeline_env())
        keys = []
        s3 = srv.client()
        for i, p in enumerate(PHOTOS[:12]):
            key = f"uploads/crash-{i}{p.suffix}"
            s3.put_object(Bucket="photos", Key=key, Body=p.read_bytes())
            keys.append(key)
        srv.kill()  # SIGKILL right after the last upload was acknowledged
        srv.start()
        # Wait for each key in turn: duplicates are allowed, so a count of messages could be
        # reached by repeats before the last photos are processed.
        for key in keys:
            self.wait_messages(receiver, lambda m, key=key: m.get("key") == key, 1)
        got = {}
        for m in (json.loads(d["Message"]) for d in self.messages(receiver)):
            got.setdefault(m["key"], 0)
            got[m["key"]] += 1
        self.assertEqual(set(got), set(keys))
        self.assertTrue(all(json.loads(d["Message"])["type"] == "photo.processed"
                            for d in self.messages(receiver)))
        print(f"\nkill -9 after {len(keys)} acknowledged uploads: all processed and notified, "
              f"{sum(got.values()) - len(keys)} duplicate messages")

    def test_worker_killed_mid_invocation_is_retried(self):
        receiver = Receiver("worker").start()
        self.addCleanup(receiver.stop)
        # One worker and a heavy recipe (six large AVIF outputs, seconds of work), so the
        # invocation is surely running when its worker is killed.
        recipe = self.tmpdir() / "heavy.yaml"
        recipe.write_text("outputs:\n" + "".join(
            f"  - name: big{i}\n    resize: {{width: {2000 + 10 * i}}}\n"
            f"    format: {{type: avif, quality: 60}}\n" for i in range(6)))
        srv = self.own_server(config_text=webhook_config(receiver), extra_env=pipeline_env(
            PF_SERVE_FUNCTION_WORKERS="1", PF_SERVE_FUNCTION_RECIPE_FILE=str(recipe)))
        key = "uploads/big.jpg"
        srv.client().put_object(Bucket="photos", Key=key,
                                Body=(DATA / "photos" / "progressive.jpg").read_bytes())
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.metric(srv, "photoflux_function_in_flight") < 1:
            time.sleep(0.01)
        p = run(["pgrep", "-P", str(srv.proc.pid)])  # serve's children are its workers
        workers = [int(x) for x in p.stdout.split()]
        self.assertEqual(len(workers), 1, describe_proc(p))
        self.assertEqual(self.metric(srv, "photoflux_function_in_flight"), 1)
        os.kill(workers[0], signal.SIGKILL)
        [m] = self.wait_messages(receiver, lambda m: m.get("key") == key, 1, timeout=3 * WAIT)
        self.assertEqual(m["type"], "photo.processed")
        self.assertEqual(len(m["outputs"]), 6)
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION, outcome="crash"), 1)
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION, outcome="success"), 1)
        self.assertEqual(self.dead_letters(srv), [])


    def test_sigterm_lets_the_running_invocation_finish(self):
        receiver = Receiver("sigterm").start()
        self.addCleanup(receiver.stop)
        recipe = self.tmpdir() / "heavy.yaml"
        recipe.write_text("outputs:\n" + "".join(
            f"  - name: big{i}\n    resize: {{width: {2000 + 10 * i}}}\n"
            f"    format: {{type: webp, quality: 90}}\n" for i in range(3)))
        srv = self.own_server(config_text=webhook_config(receiver), extra_env=pipeline_env(
            PF_SERVE_FUNCTION_WORKERS="1", PF_SERVE_FUNCTION_RECIPE_FILE=str(recipe)))
        key = "uploads/term.jpg"
        srv.client().put_object(Bucket="photos", Key=key,
                                Body=(DATA / "photos" / "progressive.jpg").read_bytes())
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.metric(srv, "photoflux_function_in_flight") < 1:
            time.sleep(0.01)
        # Seconds of work left (well within the 10 s stop grace) when SIGTERM arrives.
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(timeout=60), 0, srv.log_tail())
        # The invocation finished before serve exited: its outputs are there, and nothing is
        # left to run after a restart.
        srv.start()
        head = self.head(srv, f"processed/{key}/manifest.json")
        self.assertGreater(head["ContentLength"], 0)
        [m] = self.wait_messages(receiver, lambda m: m.get("key") == key, 1)
        self.assertEqual(m["type"], "photo.processed")
        time.sleep(2)
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION), 0, "nothing was left to run again")


@harness.photoflux_only("crash")
class RecursionGuard(PipelineCase):
    def test_a_rule_on_the_whole_bucket_does_not_loop(self):
        """The function's outputs land where its rule fires: the function sees its own outputs
        and does nothing with them, so the chain ends after one step."""
        config = (
            "serve:\n  notifications:\n"
            "    - {bucket: photos, id: everything, function: process-photo, suffix: .jpg}\n")
        srv = self.own_server(config_text=config, extra_env=pipeline_env(PF_SERVE_FUNCTION_TOPIC=""))
        s3 = srv.client()
        s3.put_object(Bucket="photos", Key="loop.jpg",
                      Body=(DATA / "photos" / "camera.jpg").read_bytes())
        # loop.jpg, then its preview (a .jpg) under processed/: two invocations, then quiet.
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.metric(
                srv, "photoflux_function_invocations_total", function=FUNCTION) < 2:
            time.sleep(0.2)
        time.sleep(2)
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION, outcome="success"), 2)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="photos")["Contents"])
        self.assertEqual(keys, ["loop.jpg", "processed/loop.jpg/manifest.json",
                                "processed/loop.jpg/preview.jpg", "processed/loop.jpg/thumb.webp"])

    def test_a_chain_at_the_recursion_limit_is_stopped(self):
        """Lambda's loop detection: an event whose trace says it was caused by 16 invocations in a
        row (X-Ray Lineage) is not run but dead-lettered (RecursionDetected)."""
        import boto3
        from botocore.config import Config
        srv = self.own_server(extra_env=pipeline_env())
        lam = boto3.session.Session().client(
            "lambda", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=srv.access_key,
            aws_secret_access_key=srv.secret_key, config=Config(retries={"total_max_attempts": 1}))
        traces = {"ok": "Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:15",
                  "loop": "Root=1-5759e988-bd862e3fe1be46a994272794;Lineage=a87bd80c:16"}

        def send(trace):
            def add_header(request, **_):
                request.headers["X-Amzn-Trace-Id"] = trace
            lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
            try:
                r = lam.invoke(FunctionName=FUNCTION, InvocationType="Event",
                               Payload=json.dumps({"Records": []}).encode())
            finally:
                lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
            self.assertEqual(r["StatusCode"], 202)

        send(traces["loop"])
        deadline = time.monotonic() + WAIT
        letters = []
        while time.monotonic() < deadline and not letters:
            letters = self.dead_letters(srv)
            time.sleep(0.2)
        self.assertEqual([d["condition"] for d in letters], ["RecursionDetected"], letters)
        self.assertIn("Root=1-5759e988-bd862e3fe1be46a994272794", letters[0]["traceId"])
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION), 0, "a stopped chain is not run")
        send(traces["ok"])  # one below the limit still runs
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.metric(
                srv, "photoflux_function_invocations_total", function=FUNCTION) < 1:
            time.sleep(0.2)
        self.assertEqual(self.metric(srv, "photoflux_function_invocations_total",
                                     function=FUNCTION, outcome="success"), 1)
        self.assertEqual(len(self.dead_letters(srv)), 1)


if __name__ == "__main__":
    unittest.main()
