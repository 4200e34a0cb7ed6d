"""`photoflux function` as AWS Lambda runs it, against moto_server (S3, SNS, SQS) on loopback.

Issue 7, "Must be shown by tests". Everything the function talks to is an independent
implementation: moto generates the S3 event notifications (into SQS, with its own key encoding),
stores the derivatives and delivers the SNS messages to SQS; the Runtime API is lambda_harness's;
the SigV4 signatures of the function's real requests are recomputed with botocore.

What is shown:
  - real photos (JPEG, EXIF orientation 6, PNG with alpha, HEIC, a key with spaces, '+' and
    non-ASCII letters) put into a moto bucket: moto's S3 events, handed to the function through
    the Runtime API, give derivatives (dimensions checked with vipsheader, content types, source
    metadata) and a manifest under the output prefix, and photo.processed arrives in an SQS queue
    subscribed to the topic with the SNS envelope and in one with raw message delivery;
  - s3:TestEvent (the one moto sends when the notification configuration is put, and the
    documented shape) is answered with success and does nothing;
  - retryable S3 and SNS errors (503 SlowDown, 500 InternalError, 400 Throttling), injected by a
    proxy between the function and moto, are retried and the invocation succeeds; a persistent
    503 ends in a Photoflux.Retryable error;
  - a corrupt photo gives a Photoflux.PhotoRejected error response and photo.failed;
  - parity: the same photos through `photoflux serve` (zero-config pipeline) and through moto
    give byte-identical derivatives and manifests equal but for where/when fields;
  - every request the function sent (S3 and SNS) carries the session token, signed, and its
    signature equals botocore's for the same request.
"""
from __future__ import annotations

import http.client
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

import lambda_harness as lh

DATA = lh.REPO / "tests" / "data"
PHOTOS = DATA / "photos"
CORRUPT = DATA / "hostile" / "corrupt-no-quant-table.jpg"
VIPSHEADER = shutil.which("vipsheader")
INVOKE_TIMEOUT_MS = 120_000
# The key moto encodes in its events: spaces, '+', non-ASCII letters and '/' (moto escapes '/'
# too, unlike S3; a form-decoding reader must handle both).
ODD_KEY = "uploads/My Trip + friends/Zoë café №1.jpg"
CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
                 "webp": "image/webp", "avif": "image/avif", "gif": "image/gif",
                 "json": "application/json"}

moto: lh.MotoServer | None = None
api: lh.RuntimeApi | None = None


def setUpModule():
    global moto, api
    moto = lh.MotoServer().start()
    api = lh.RuntimeApi().start()


def tearDownModule():
    if api:
        api.stop()
    if moto:
        moto.stop()


# --------------------------------------------------------------------------------------------
# A bucket with S3 events to SQS, a topic with an enveloped and a raw SQS subscription
# --------------------------------------------------------------------------------------------

class Stack:
    """One test class's moto resources and its running function."""

    def __init__(self, stem: str, output_prefix: str = "processed/"):
        sfx = uuid.uuid4().hex[:8]
        self.s3, self.sns, self.sqs = moto.client("s3"), moto.client("sns"), moto.client("sqs")
        self.bucket = f"{stem}-{sfx}"
        self.output_prefix = output_prefix
        self.s3.create_bucket(Bucket=self.bucket)
        self.topic_arn = self.sns.create_topic(Name=f"{stem}-events-{sfx}")["TopicArn"]
        self.enveloped = self.queue(f"{stem}-enveloped-{sfx}")
        self.raw = self.queue(f"{stem}-raw-{sfx}")
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs",
                           Endpoint=self.queue_arn(self.enveloped))
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs",
                           Endpoint=self.queue_arn(self.raw),
                           Attributes={"RawMessageDelivery": "true"})
        self.events = self.queue(f"{stem}-s3-events-{sfx}")
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": self.queue_arn(self.events), "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
        # moto, like S3, answers the configuration with an s3:TestEvent in the queue.
        self.test_events = [m for m in self.receive(self.events, 1, timeout=10)]
        self.function: lh.FunctionProcess | None = None

    def queue(self, name: str) -> str:
        return self.sqs.create_queue(QueueName=name)["QueueUrl"]

    def queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def start_function(self, endpoint_url: str | None = None, **env) -> lh.FunctionProcess:
        config = {"PF_TOPIC_ARN": self.topic_arn}
        if self.output_prefix != "processed/":
            config["PF_OUTPUT_PREFIX"] = self.output_prefix
        config.update(env)
        self.function = lh.run_function(lh.photoflux_binary(), config, api,
                                        endpoint_url=endpoint_url or moto.url)
        _current_function.append(self.function)
        return self.function

    def stop(self) -> None:
        if self.function:
            self.function.stop()

    def receive(self, queue_url: str, count: int, timeout: float = 30) -> list[str]:
        """`count` message bodies (deleted from the queue), or fewer when `timeout` passed."""
        bodies: list[str] = []
        deadline = time.monotonic() + timeout
        while len(bodies) < count and time.monotonic() < deadline:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            for m in got:
                bodies.append(m["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return bodies

    def put_photo(self, key: str, body: bytes) -> dict:
        """Puts `key` and returns moto's S3 event for it (parsed), as S3 would send it."""
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        events = [json.loads(b) for b in self.receive(self.events, 1)]
        if not events:
            raise AssertionError(f"moto sent no S3 event for {key!r}")
        return events[0]

    def keys(self, prefix: str = "") -> list[str]:
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


_current_function: list[lh.FunctionProcess] = []


def invoke(payload, **kw) -> lh.Outcome:
    """One invocation of the running function (failing at once if it dies meanwhile)."""
    return api.invoke(payload, timeout_ms=kw.pop("timeout_ms", INVOKE_TIMEOUT_MS),
                      watch=_current_function[-1] if _current_function else None, **kw)


def vips_size(data: bytes, suffix: str) -> tuple[int, int]:
    with tempfile.NamedTemporaryFile(suffix="." + suffix) as f:
        f.write(data)
        f.flush()
        p = subprocess.run([VIPSHEADER, "-f", "width", f.name], capture_output=True, text=True)
        q = subprocess.run([VIPSHEADER, "-f", "height", f.name], capture_output=True, text=True)
    if p.returncode or q.returncode:
        raise AssertionError(f"vipsheader cannot read a .{suffix}: {p.stderr}{q.stderr}")
    return int(p.stdout), int(q.stdout)


def event_key(event: dict) -> str:
    return event["Records"][0]["s3"]["object"]["key"]


# --------------------------------------------------------------------------------------------
# Real S3 events from moto
# --------------------------------------------------------------------------------------------

class RealS3EventsTest(unittest.TestCase):
    PREFIX = "derivatives/v1/"

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("pf-lambda", output_prefix=cls.PREFIX)
        cls.stack.start_function()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def explain(self, outcome) -> str:
        return f"{outcome}\n--- function log ---\n{self.stack.function.log_tail()}"

    def test_1_s3_test_event_is_ignored(self):
        st = self.stack
        self.assertEqual(len(st.test_events), 1, "moto sent no s3:TestEvent")
        from_moto = json.loads(st.test_events[0])
        self.assertEqual(from_moto.get("Event"), "s3:TestEvent")
        documented = {"Service": "Amazon S3", "Event": "s3:TestEvent",
                      "Time": "2025-01-01T00:00:00.000Z", "Bucket": st.bucket,
                      "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3e"}
        for event in (from_moto, documented):
            outcome = invoke(event)
            self.assertTrue(outcome.ok,
                            "TestEvent not answered with success: " + self.explain(outcome))
        self.assertEqual(st.keys(), [], "a TestEvent wrote to the bucket")
        self.assertEqual(st.receive(st.raw, 1, timeout=2), [], "a TestEvent published")
        self.assertEqual(st.receive(st.enveloped, 1, timeout=1), [], "a TestEvent published")

    def test_2_photos_give_derivatives_manifest_and_both_notifications(self):
        st = self.stack
        photos = {"uploads/camera.jpg": PHOTOS / "camera.jpg",
                  ODD_KEY: PHOTOS / "phone.jpg",
                  "uploads/rotated/orientation-6.jpg": PHOTOS / "orientation-6.jpg",
                  "uploads/alpha.png": PHOTOS / "alpha.png",
                  "uploads/example.heic": PHOTOS / "example.heic"}
        etags = {}
        for key, path in photos.items():
            event = st.put_photo(key, path.read_bytes())
            record = event["Records"][0]
            self.assertEqual(record["eventSource"], "aws:s3")
            self.assertEqual(urllib.parse.unquote_plus(event_key(event)), key)
            if key == ODD_KEY:  # moto's encoding really is exercised
                self.assertNotIn(" ", event_key(event))
                self.assertIn("%2B", event_key(event))
            etags[key] = st.s3.head_object(Bucket=st.bucket, Key=key)["ETag"].strip('"')
            outcome = invoke(event)
            self.assertTrue(outcome.ok, f"{key}: " + self.explain(outcome))
            reply = outcome.json()
            self.assertEqual([(r["key"], r["outcome"]) for r in reply["records"]],
                             [(key, "processed")])

        # Only the photos and, under the output prefix, their derivatives and manifests.
        all_keys = st.keys()
        self.assertEqual(sorted(k for k in all_keys if not k.startswith(self.PREFIX)),
                         sorted(photos))
        manifests = {}
        for key in photos:
            manifest_key = f"{self.PREFIX}{key}/manifest.json"
            self.assertIn(manifest_key, all_keys)
            head = st.s3.head_object(Bucket=st.bucket, Key=manifest_key)
            self.assertEqual(head["ContentType"].split(";")[0], "application/json")
            self.assertEqual(head["Metadata"].get("source-etag"), etags[key])
            manifest = json.loads(st.get(manifest_key))
            manifests[key] = manifest
            self.assertEqual(manifest["source"]["key"], key)
            self.assertEqual(manifest["source"]["bucket"], st.bucket)
            self.assertEqual(manifest["source"]["etag"], etags[key])
            self.assertGreaterEqual(len(manifest["outputs"]), 1)
            # The stored pixels as vipsheader reads them, turned upright for EXIF 5-8.
            raw_w, raw_h = vips_size(photos[key].read_bytes(), photos[key].suffix[1:])
            upright = ((raw_h, raw_w) if manifest["source"].get("orientation") in (5, 6, 7, 8)
                       else (raw_w, raw_h))
            self.assertEqual((manifest["source"]["width"], manifest["source"]["height"]), upright)
            derivative_keys = {f"{self.PREFIX}{key}/{o['file']}" for o in manifest["outputs"]}
            self.assertEqual(set(k for k in all_keys if k.startswith(f"{self.PREFIX}{key}/")),
                             derivative_keys | {manifest_key})
            for o in manifest["outputs"]:
                self.assertEqual(o["key"], f"{self.PREFIX}{key}/{o['file']}")
                self.assertEqual(o["bucket"], st.bucket)
                obj = st.s3.get_object(Bucket=st.bucket, Key=o["key"])
                data = obj["Body"].read()
                ext = o["file"].rsplit(".", 1)[-1]
                self.assertEqual(obj["ContentType"], CONTENT_TYPES[ext], o["key"])
                self.assertEqual(obj["ContentType"], o["content_type"])
                self.assertEqual(obj["Metadata"].get("source-etag"), etags[key])
                self.assertEqual(obj["Metadata"].get("source-bucket"), st.bucket)
                self.assertEqual(urllib.parse.unquote(obj["Metadata"].get("source-key", "")), key)
                self.assertEqual(len(data), o["bytes"])
                self.assertEqual(vips_size(data, ext), (o["width"], o["height"]), o["key"])
                if o["width"] != o["height"]:  # a fitted (not square-cropped) output keeps
                    self.assertEqual(o["width"] > o["height"], upright[0] > upright[1],
                                     f"{o['key']} is not upright")  # the upright aspect

        # photo.processed, once per photo, in both queues.
        enveloped = [json.loads(b) for b in st.receive(st.enveloped, len(photos))]
        raw = [json.loads(b) for b in st.receive(st.raw, len(photos))]
        self.assertEqual(len(enveloped), len(photos), "enveloped deliveries missing")
        self.assertEqual(len(raw), len(photos), "raw deliveries missing")
        by_key_raw = {m["key"]: m for m in raw}
        self.assertEqual(set(by_key_raw), set(photos))
        for env in enveloped:
            self.assertEqual(env["Type"], "Notification")
            self.assertEqual(env["TopicArn"], st.topic_arn)
            self.assertEqual(env["Subject"], "photo.processed")
            self.assertTrue(env.get("MessageId"))
            message = json.loads(env["Message"])
            key = message["key"]
            self.assertEqual(message, by_key_raw[key], "raw and enveloped messages differ")
            attrs = {k: v["Value"] for k, v in env.get("MessageAttributes", {}).items()}
            self.assertEqual(attrs.get("event"), "photo.processed")
            self.assertEqual(attrs.get("key"), key)
            self.assertEqual(attrs.get("bucket"), st.bucket)
        for key, message in by_key_raw.items():
            manifest = manifests[key]
            self.assertEqual(message["type"], "photo.processed")
            self.assertEqual(message["bucket"], st.bucket)
            self.assertEqual(message["etag"], etags[key])
            self.assertEqual(message["manifestKey"], f"{self.PREFIX}{key}/manifest.json")
            self.assertEqual(message["recipeHash"], manifest["recipeHash"])
            self.assertEqual([(o["name"], o["key"], o["width"], o["height"], o["bytes"])
                              for o in message["outputs"]],
                             [(o["name"], o["key"], o["width"], o["height"], o["bytes"])
                              for o in manifest["outputs"]])

    def test_3_corrupt_photo_is_rejected_with_photo_failed(self):
        st = self.stack
        key = "uploads/broken.jpg"
        event = st.put_photo(key, CORRUPT.read_bytes())
        outcome = invoke(event)
        self.assertEqual(outcome.kind, "error", f"a corrupt photo succeeded: {outcome}")
        self.assertEqual(outcome.error_type, "Photoflux.PhotoRejected")
        body = outcome.json()
        self.assertEqual(body.get("errorType"), "Photoflux.PhotoRejected")
        self.assertTrue(body.get("errorMessage", "").startswith(f"s3://{st.bucket}/{key}: "),
                        f"the message does not name the photo: {body}")
        self.assertRegex(body["errorMessage"], r"(?i)broken|corrupt|unsupported|jpeg")
        self.assertFalse([k for k in st.keys(f"{self.PREFIX}{key}/")],
                         "a rejected photo left outputs")
        raw = [json.loads(b) for b in st.receive(st.raw, 1)]
        self.assertEqual(len(raw), 1, "no photo.failed")
        failed = raw[0]
        self.assertEqual((failed["type"], failed["bucket"], failed["key"]),
                         ("photo.failed", st.bucket, key))
        self.assertEqual(failed["errorType"], "CorruptInput")  # the photo's own fault
        self.assertTrue(failed["reason"])
        enveloped = [json.loads(b) for b in st.receive(st.enveloped, 1)]
        self.assertEqual([e["Subject"] for e in enveloped], ["photo.failed"])
        self.assertEqual(json.loads(enveloped[0]["Message"]), failed)
        print(f"\n  PhotoRejected: {body['errorMessage']}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Faults between the function and moto; signatures checked with botocore
# --------------------------------------------------------------------------------------------

S3_ERROR = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            '<Message>{message}</Message><RequestId>PFPROXY{n}</RequestId>'
            '<HostId>injected</HostId></Error>')
SNS_ERROR = ('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
             '<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>'
             '<RequestId>pf-proxy-{n}</RequestId></ErrorResponse>')


class Fault:
    """Answer the first `times` requests `match` accepts (None: all of them) with an error."""

    def __init__(self, match, status: int, code: str, message: str, times: int | None,
                 template: str = S3_ERROR):
        self.match, self.status, self.code, self.message = match, status, code, message
        self.times, self.template = times, template
        self.injected = 0


class FaultProxy:
    """An HTTP proxy in front of moto (the function's AWS_ENDPOINT_URL). It records every request
    (method, path, query, service), answers the ones a Fault matches with that fault, forwards
    the rest, and recomputes the SigV4 signature of each with botocore."""

    MAX_BODY = 64 * 1024 * 1024

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self):
        with self.lock:
            self.faults = []
            self.requests = []

    def count(self, pred) -> int:
        with self.lock:
            return sum(1 for r in self.requests if pred(r))

    @staticmethod
    def _read_body(h) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(h.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += h.rfile.read(size)
                h.rfile.readline()
                if len(out) > FaultProxy.MAX_BODY:
                    raise ValueError("body too large")
        n = int(h.headers.get("Content-Length") or 0)
        if n > FaultProxy.MAX_BODY:
            raise ValueError("body too large")
        return h.rfile.read(n) if n else b""

    def handle(self, h) -> None:
        body = self._read_body(h)
        path, _, query = h.path.partition("?")
        auth = h.headers.get("Authorization", "")
        service = m.group(1) if (m := re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/", auth)) \
            else ""
        record = {"method": h.command, "path": path, "query": query, "service": service,
                  "body": body if service == "sns" else b"", "signature": self.verify(h, body)}
        with self.lock:
            self.requests.append(record)
            fault = next((f for f in self.faults
                          if (f.times is None or f.injected < f.times) and f.match(record)), None)
            if fault:
                fault.injected += 1
                n = fault.injected
        if fault:
            data = fault.template.format(code=fault.code, message=fault.message, n=n).encode()
            h.send_response(fault.status)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
            return
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in ("host", "connection", "transfer-encoding", "expect")}
        headers["Content-Length"] = str(len(body))
        conn.request(h.command, h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "server",
                                 "date"):
                h.send_header(k, v)
        # HEAD: the object's length, as moto gave it; otherwise the body's.
        h.send_header("Content-Length", resp.getheader("Content-Length", "0")
                      if h.command == "HEAD" else str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        conn.close()

    @staticmethod
    def verify(h, body: bytes) -> str:
        """'' when botocore computes the same signature for this request with the credentials
        lambda_harness gave the function, else what differs."""
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        auth = h.headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/"
                         r"aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*"
                         r"Signature=([0-9a-f]{64})", auth)
        if not m:
            return f"unparsable Authorization: {auth!r}"
        access, date, region, service, signed, signature = m.groups()
        if access != lh.ACCESS_KEY_ID:
            return f"access key {access}"
        names = signed.split(";")
        if "x-amz-security-token" not in names:
            return "x-amz-security-token not signed"
        if h.headers.get("X-Amz-Security-Token") != lh.SESSION_TOKEN:
            return f"session token sent: {h.headers.get('X-Amz-Security-Token')!r}"
        amz_date = h.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(date):
            return f"x-amz-date {amz_date} outside the scope date {date}"
        headers = {}
        for n in names:
            values = h.headers.get_all(n)
            if values is None:
                return f"signed header {n} not sent"
            headers[n] = ",".join(values)
        request = AWSRequest(method=h.command, url=f"http://{h.headers['Host']}{h.path}",
                             headers=headers, data=body)
        request.context["timestamp"] = amz_date
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(
            Credentials(lh.ACCESS_KEY_ID, lh.SECRET_ACCESS_KEY, lh.SESSION_TOKEN), service, region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        return "" if expected == signature else (
            f"signature {signature} != botocore's {expected}; botocore's canonical request:\n"
            f"{canonical}")


class FaultInjectionTest(unittest.TestCase):
    """The function's endpoint is a FaultProxy in front of moto; the photos go straight to moto."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack("pf-faults")
        cls.proxy = FaultProxy(moto.url)
        cls.stack.start_function(endpoint_url=cls.proxy.url)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.proxy.stop()

    def setUp(self):
        self.proxy.clear()

    def log_on_failure(self, outcome):
        return f"{outcome}\n--- function log ---\n{self.stack.function.log_tail()}"

    def photo_get(self, key):
        path = f"/{self.stack.bucket}/{urllib.parse.quote(key)}"
        return lambda r: r["method"] == "GET" and r["path"] == path and r["service"] == "s3"

    def test_persistent_503_ends_in_a_retryable_error(self):
        st = self.stack
        key = "uploads/always-slow.jpg"
        event = st.put_photo(key, (PHOTOS / "camera.jpg").read_bytes())
        fault = self.proxy.add(Fault(self.photo_get(key), 503, "SlowDown",
                                     "Please reduce your request rate.", times=None))
        started = time.monotonic()
        outcome = invoke(event)
        took = time.monotonic() - started
        self.assertEqual(outcome.kind, "error", self.log_on_failure(outcome))
        self.assertEqual(outcome.error_type, "Photoflux.Retryable", self.log_on_failure(outcome))
        message = outcome.json().get("errorMessage", "")
        self.assertIn("SlowDown", message)
        self.assertTrue(message.startswith(f"s3://{st.bucket}/{key}: "), message)
        # Retried (the first try and at least one more), but not forever.
        self.assertGreaterEqual(fault.injected, 2)
        self.assertLessEqual(fault.injected, 10)
        self.assertLess(took, 60)
        self.assertEqual(st.keys("processed/"), [])
        # A retryable failure is not the photo's fault: no photo.failed (Lambda will retry).
        self.assertEqual(st.receive(st.raw, 1, timeout=2), [])
        print(f"\n  persistent 503: {fault.injected} attempts in {took:.2f} s -> "
              f"{outcome.error_type}", file=sys.stderr)

    def test_retryable_s3_and_sns_errors_are_retried(self):
        st = self.stack
        key = "uploads/flaky.jpg"
        event = st.put_photo(key, (PHOTOS / "camera.jpg").read_bytes())
        manifest_path = f"/{st.bucket}/processed/{urllib.parse.quote(key)}/manifest.json"
        get_503 = self.proxy.add(Fault(self.photo_get(key), 503, "SlowDown",
                                       "Please reduce your request rate.", times=2))
        get_500 = self.proxy.add(Fault(self.photo_get(key), 500, "InternalError",
                                       "We encountered an internal error. Please try again.",
                                       times=1))
        put_503 = self.proxy.add(Fault(
            lambda r: r["method"] == "PUT" and r["path"] == manifest_path, 503, "SlowDown",
            "Please reduce your request rate.", times=1))
        publish_throttled = self.proxy.add(Fault(
            lambda r: r["service"] == "sns" and b"Action=Publish" in r["body"], 400, "Throttling",
            "Rate exceeded", times=1, template=SNS_ERROR))
        outcome = invoke(event)
        self.assertTrue(outcome.ok, self.log_on_failure(outcome))
        self.assertEqual((get_503.injected, get_500.injected, put_503.injected,
                          publish_throttled.injected), (2, 1, 1, 1))
        self.assertEqual(self.proxy.count(self.photo_get(key)), 4, "photo GET attempts")
        self.assertEqual(self.proxy.count(
            lambda r: r["method"] == "PUT" and r["path"] == manifest_path), 2)
        self.assertEqual(self.proxy.count(
            lambda r: r["service"] == "sns" and b"Action=Publish" in r["body"]), 2)
        self.assertIn(f"processed/{key}/manifest.json", st.keys("processed/"))
        raw = [json.loads(b) for b in st.receive(st.raw, 2, timeout=5)]
        self.assertEqual([(m["type"], m["key"]) for m in raw], [("photo.processed", key)],
                         "expected exactly one photo.processed")
        print(f"\n  retried: photo GET x{self.proxy.count(self.photo_get(key))}, manifest PUT x2, "
              f"SNS Publish x2 -> success", file=sys.stderr)

    def test_signatures_with_session_token_match_botocore(self):
        st = self.stack
        event = st.put_photo(ODD_KEY, (PHOTOS / "orientation-6.jpg").read_bytes())
        outcome = invoke(event)
        self.assertTrue(outcome.ok, self.log_on_failure(outcome))
        with self.proxy.lock:
            requests = list(self.proxy.requests)
        services = {r["service"] for r in requests}
        self.assertEqual(services, {"s3", "sns"}, [r["path"] for r in requests])
        self.assertTrue(any(r["method"] == "PUT" for r in requests))
        self.assertTrue(any("%20" in r["path"] or "%C3" in r["path"] for r in requests),
                        "no request for the odd key")
        bad = [(r["method"], r["path"], r["signature"]) for r in requests if r["signature"]]
        self.assertEqual(bad, [], "signatures botocore does not reproduce")
        print(f"\n  {len(requests)} requests (S3 and SNS) signed with the session token, "
              f"all equal to botocore's signatures", file=sys.stderr)


class InitErrorTest(unittest.TestCase):
    def test_bad_configuration_is_posted_as_an_init_error(self):
        before = len(api.init_errors)
        fn = lh.run_function(lh.photoflux_binary(),
                             {"PF_OUTPUT_PREFIX": "/absolute", "PF_TOPIC_ARN": "not-an-arn"}, api,
                             endpoint_url=moto.url)
        try:
            status = fn.wait(timeout=30)
        finally:
            fn.stop()
        self.assertNotEqual(status, 0, fn.log_tail())
        self.assertEqual(len(api.init_errors), before + 1, fn.log_tail())
        error_type, body = api.init_errors[-1]
        self.assertTrue(error_type, "no Lambda-Runtime-Function-Error-Type")
        message = json.loads(body)["errorMessage"]
        self.assertIn("PF_OUTPUT_PREFIX", message)
        self.assertIn("PF_TOPIC_ARN", message)
        print(f"\n  init error {error_type}: {message!r}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Parity with `photoflux serve`
# --------------------------------------------------------------------------------------------

WHERE_AND_WHEN = ("bucket", "millis")


def comparable(manifest: dict) -> dict:
    """The manifest without what names where or when: buckets and timings."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in WHERE_AND_WHEN}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(manifest)


class ParityWithServeTest(unittest.TestCase):
    PHOTOS = {"uploads/camera.jpg": PHOTOS / "camera.jpg",
              "uploads/orientation-6.jpg": PHOTOS / "orientation-6.jpg",
              "uploads/alpha.png": PHOTOS / "alpha.png",
              "uploads/example.heic": PHOTOS / "example.heic"}

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, str(lh.REPO / "tests" / "e2e" / "serve"))
        import harness as serve_harness  # the serve e2e tests' own harness
        cls.serve_harness = serve_harness
        cls.server = serve_harness.Server().start()
        cls.stack = Stack("pf-parity")
        cls.stack.start_function()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.server.stop()
        cls.server.cleanup()

    def serve_outputs(self) -> dict[str, tuple[dict, dict[str, bytes]]]:
        client = self.server.client()
        for key, path in self.PHOTOS.items():
            client.put_object(Bucket="photos", Key=key, Body=path.read_bytes())
        out = {}
        for key in self.PHOTOS:
            manifest_key = f"processed/{key}/manifest.json"
            deadline = time.monotonic() + 90
            while True:
                try:
                    manifest = json.loads(client.get_object(Bucket="photos", Key=manifest_key)
                                          ["Body"].read())
                    break
                except client.exceptions.NoSuchKey:
                    if time.monotonic() > deadline:
                        self.fail(f"serve wrote no {manifest_key}\n{self.server.log_tail()}")
                    time.sleep(0.2)
            files = {o["key"]: client.get_object(Bucket="photos", Key=o["key"])["Body"].read()
                     for o in manifest["outputs"]}
            out[key] = (manifest, files)
        return out

    def moto_outputs(self) -> dict[str, tuple[dict, dict[str, bytes]]]:
        st = self.stack
        out = {}
        for key, path in self.PHOTOS.items():
            outcome = invoke(st.put_photo(key, path.read_bytes()))
            self.assertTrue(outcome.ok, f"{key}: {outcome}\n{st.function.log_tail()}")
            manifest = json.loads(st.get(f"processed/{key}/manifest.json"))
            out[key] = (manifest, {o["key"]: st.get(o["key"]) for o in manifest["outputs"]})
        return out

    def test_serve_and_lambda_on_moto_give_identical_outputs(self):
        served, lambda_ = self.serve_outputs(), self.moto_outputs()
        for key in self.PHOTOS:
            s_manifest, s_files = served[key]
            l_manifest, l_files = lambda_[key]
            self.assertEqual(s_manifest["source"]["bucket"], "photos")
            self.assertEqual(l_manifest["source"]["bucket"], self.stack.bucket)
            self.assertEqual(sorted(s_files), sorted(l_files), key)
            for out_key in s_files:
                print(f"\n  {out_key}: serve {len(s_files[out_key])} bytes, "
                      f"lambda/moto {len(l_files[out_key])} bytes", end="", file=sys.stderr)
                self.assertEqual(s_files[out_key], l_files[out_key],
                                 f"{out_key} differs between serve and the moto path")
            self.assertEqual(comparable(s_manifest), comparable(l_manifest), key)
        print(file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
