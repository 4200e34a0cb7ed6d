"""`photoflux serve` as an event source for a fleet: bucket notifications with SQS queue
destinations (QueueConfiguration), delivered to a moto_server SQS from serve's durable outbox.

What is checked (fact sheet 3.1, 3.3-3.6, 6):
  - a rule of the config file (serve.notifications with `queue:`; serve.sqs pointing at moto):
    uploads and deletes arrive in the moto queue as S3 writes them to SQS -- the message body is
    the event JSON itself ({"Records":[...]}, no SNS envelope), keys form-encoded, a sequencer,
    the rule's configurationId; keys outside the prefix send nothing;
  - a rule put with boto3's put_bucket_notification_configuration: the GET round trip, the
    s3:TestEvent S3 sends to the queue on the PUT, the records; a queue that does not exist is
    refused with S3's "Unable to validate the following destination configurations", an
    overlapping second queue rule with S3's overlap error;
  - SQS unreachable for a while (a TCP proxy in front of moto refuses connections): the events
    wait in the outbox (failed sends counted, nothing dropped) and all arrive once it is back;
  - kill -9 right after acknowledged uploads: every event arrives after the restart;
  - a queue deleted under a rule: its events are dropped with a warning and counted;
  - serve -> SQS -> `photoflux worker` -> serve (as the store): a photo uploaded to serve is
    processed by a worker that only knows the queue's URL and serve's endpoint and key pair.

photoflux only: moto_server is the SQS side here, not the server under test.
"""
from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

import harness
from harness import REGION, ServerTestCase, photoflux_only, rand_suffix, raw_request

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lambda"))
from lambda_harness import MotoServer  # noqa: E402  (moto_server on a free port)

ACCOUNT = "123456789012"  # moto's default account
FLEET_QUEUE = "pf-fleet"
FLEET_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{FLEET_QUEUE}"
ARRIVAL_TIMEOUT = float(os.environ.get("PF_QUEUE_ARRIVAL_TIMEOUT", "30"))
SEQUENCER_RE = re.compile(r"^[0-9A-F]{16,}$")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port; down() closes the listener and every open
    connection (connection refused until up()), so moto keeps its queues through an 'outage'."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener:
            # shutdown() first: close() alone leaves a socket that a thread blocks in accept() on
            # still listening (Linux), and connections would keep getting through.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)


def form_encode_key(key: str) -> str:
    """An event key as S3 writes it (fact sheet 3.4): form-encoded, '/' kept."""
    return urllib.parse.quote_plus(key, safe="/")


class QueueReader:
    """Reads a moto queue (directly, not through the proxy), deletes what it read and keeps every
    body, so each test can wait for its own messages."""

    def __init__(self, moto: MotoServer, queue_url: str):
        self.sqs = moto.client("sqs")
        self.queue_url = queue_url
        self.bodies: list[str] = []

    def poll(self, wait: int = 1) -> None:
        r = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=wait)
        for m in r.get("Messages", []):
            self.bodies.append(m["Body"])
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def records(self) -> list[dict]:
        out = []
        for body in self.bodies:
            doc = json.loads(body)
            out.extend(doc.get("Records", []))
        return out

    def test_events(self) -> list[dict]:
        return [json.loads(b) for b in self.bodies if '"s3:TestEvent"' in b]

    def wait_records(self, keys: set[str], event_prefix: str = "ObjectCreated",
                     timeout: float = ARRIVAL_TIMEOUT) -> dict[str, dict]:
        """Waits until a record of `event_prefix` arrived for every (decoded) key; returns the
        last record of each."""
        deadline = time.monotonic() + timeout
        while True:
            found = {}
            for r in self.records():
                key = urllib.parse.unquote_plus(r["s3"]["object"]["key"])
                if key in keys and r["eventName"].startswith(event_prefix):
                    found[key] = r
            if set(found) == keys or time.monotonic() > deadline:
                return found
            self.poll()


@photoflux_only("queue-destinations")
class QueueDestinations(ServerTestCase):
    moto: MotoServer
    proxy: TcpProxy
    fleet: QueueReader

    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer().start()
        cls.proxy = TcpProxy(cls.moto.port)
        cls.proxy.up()
        sqs = cls.moto.client("sqs")
        cls.fleet = QueueReader(cls.moto, sqs.create_queue(QueueName=FLEET_QUEUE)["QueueUrl"])
        config = f"""serve:
  function:
    workers: 1
  sqs:
    endpoint_url: {cls.proxy.url}
    region: {REGION}
    access_key_id: testing
    secret_access_key: testing
  notifications:
    - bucket: photos
      id: fleet
      queue: {FLEET_ARN}
      events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
      prefix: uploads/
"""
        cls.server = harness.Server(config_text=config).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.proxy.down()
        cls.moto.stop()

    def metric(self, name: str, **labels) -> float:
        r = raw_request("GET", self.server.url + "/_/metrics")
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

    def assertS3Record(self, record: dict, *, bucket: str, key: str, event: str,
                       configuration_id: str, etag: str | None = None, size: int | None = None):
        self.assertEqual(record["eventVersion"], "2.1")
        self.assertEqual(record["eventSource"], "aws:s3")
        self.assertEqual(record["awsRegion"], REGION)
        self.assertEqual(record["eventName"], event)
        self.assertRegex(record["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        s3 = record["s3"]
        self.assertEqual(s3["s3SchemaVersion"], "1.0")
        self.assertEqual(s3["configurationId"], configuration_id)
        self.assertEqual(s3["bucket"]["name"], bucket)
        self.assertEqual(s3["bucket"]["arn"], f"arn:aws:s3:::{bucket}")
        self.assertEqual(s3["object"]["key"], form_encode_key(key))
        self.assertRegex(s3["object"]["sequencer"], SEQUENCER_RE)
        if etag is not None:
            self.assertEqual(s3["object"]["eTag"], etag)
        if size is not None:
            self.assertEqual(s3["object"]["size"], size)
        self.assertIn("x-amz-request-id", record["responseElements"])

    # ------------------------------------------------------------------------------------------
    def test_config_file_rule_sends_records_as_s3_writes_them(self):
        s3 = self.server.client()
        tag = rand_suffix()
        key = f"uploads/{tag}/red flower+1 é.jpg"
        body = os.urandom(2048)
        put = s3.put_object(Bucket="photos", Key=key, Body=body)
        s3.put_object(Bucket="photos", Key=f"elsewhere/{tag}.jpg", Body=b"x")  # outside prefix
        created = self.fleet.wait_records({key})
        self.assertIn(key, created, f"no record for {key}; got {self.fleet.bodies}")
        self.assertS3Record(created[key], bucket="photos", key=key, event="ObjectCreated:Put",
                            configuration_id="fleet", etag=harness.md5_hex(body), size=len(body))
        self.assertEqual(created[key]["responseElements"]["x-amz-request-id"],
                         put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])

        s3.delete_object(Bucket="photos", Key=key)
        removed = self.fleet.wait_records({key}, event_prefix="ObjectRemoved")
        self.assertIn(key, removed)
        self.assertS3Record(removed[key], bucket="photos", key=key, event="ObjectRemoved:Delete",
                            configuration_id="fleet")
        self.assertNotIn("eTag", removed[key]["s3"]["object"])
        # Per key, the sequencer grows (fact sheet 3.5).
        self.assertGreater(removed[key]["s3"]["object"]["sequencer"],
                           created[key]["s3"]["object"]["sequencer"])

        # The body is the event JSON itself: one record, no SNS envelope; nothing for the key
        # outside the prefix.
        for raw in self.fleet.bodies:
            doc = json.loads(raw)
            self.assertNotIn("Type", doc)
            if "Records" in doc:
                self.assertEqual(len(doc["Records"]), 1)
        self.assertFalse([r for r in self.fleet.records()
                          if r["s3"]["object"]["key"].startswith("elsewhere/")])
        self.assertGreaterEqual(self.metric("photoflux_events_queue_sends_total", outcome="sent"), 2)
        self.assertGreaterEqual(
            self.metric("photoflux_events_delivered_total", destination="queue"), 2)

    # ------------------------------------------------------------------------------------------
    def test_rule_put_with_boto3_test_event_and_validation(self):
        sqs = self.moto.client("sqs")
        name = f"api-{rand_suffix()}"
        reader = QueueReader(self.moto, sqs.create_queue(QueueName=name)["QueueUrl"])
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        s3 = self.server.client()
        bucket = harness.unique_bucket("queued")
        s3.create_bucket(Bucket=bucket)

        # Refused: a queue that does not exist; two queue rules that overlap.
        missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-missing"
        err = self.assertClientError(
            s3.put_bucket_notification_configuration, "InvalidArgument", 400, Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
        self.assertEqual(err.response["Error"]["Message"],
                         "Unable to validate the following destination configurations")
        self.assertEqual(err.response["Error"].get("ArgumentName1"), missing)
        self.assertClientError(
            s3.put_bucket_notification_configuration, "InvalidArgument", 400, Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]},
                {"QueueArn": FLEET_ARN, "Events": ["s3:ObjectCreated:Put"],
                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}]}}}]})

        cfg = {"QueueConfigurations": [{
            "Id": "to-fleet", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]}
        put = s3.put_bucket_notification_configuration(Bucket=bucket,
                                                       NotificationConfiguration=cfg)
        request_id = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
        self.assertEqual(len(got), 1)
        self.assertEqual((got[0]["Id"], got[0]["QueueArn"], got[0]["Events"]),
                         ("to-fleet", arn, ["s3:ObjectCreated:*"]))
        self.assertEqual(got[0]["Filter"]["Key"]["FilterRules"], [{"Name": "Suffix", "Value": ".jpg"}])

        # S3's test message, sent on the PUT (fact sheet 3.1): no Records.
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while not reader.test_events() and time.monotonic() < deadline:
            reader.poll()
        tests = reader.test_events()
        self.assertEqual(len(tests), 1, reader.bodies)
        self.assertEqual(tests[0]["Service"], "Amazon S3")
        self.assertEqual(tests[0]["Bucket"], bucket)
        self.assertEqual(tests[0]["RequestId"], request_id)
        self.assertRegex(tests[0]["Time"], r"Z$")
        self.assertNotIn("Records", tests[0])

        key = "in/cat photo.jpg"
        data = os.urandom(1000)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        s3.put_object(Bucket=bucket, Key="in/notes.txt", Body=b"skip")  # suffix does not match
        arrived = reader.wait_records({key})
        self.assertIn(key, arrived, reader.bodies)
        self.assertS3Record(arrived[key], bucket=bucket, key=key, event="ObjectCreated:Put",
                            configuration_id="to-fleet", etag=harness.md5_hex(data), size=1000)
        reader.poll(wait=1)
        self.assertEqual(len(reader.records()), 1, reader.bodies)

        # The queue vanishes: its events are dropped (and counted), the outbox moves on.
        dropped_before = self.metric("photoflux_events_dropped_total", reason="queue_not_found")
        sqs.delete_queue(QueueUrl=reader.queue_url)
        s3.put_object(Bucket=bucket, Key="in/lost.jpg", Body=b"y")
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while (self.metric("photoflux_events_dropped_total", reason="queue_not_found")
               <= dropped_before and time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertGreater(self.metric("photoflux_events_dropped_total", reason="queue_not_found"),
                           dropped_before, self.server.log_tail())
        later = f"uploads/after-drop-{rand_suffix()}.jpg"
        s3.put_object(Bucket="photos", Key=later, Body=b"z")
        self.assertIn(later, self.fleet.wait_records({later}))
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

    # ------------------------------------------------------------------------------------------
    def test_outage_events_wait_in_the_outbox(self):
        s3 = self.server.client()
        keys = {f"uploads/outage-{rand_suffix()}/{i}.jpg" for i in range(6)}
        failed_before = self.metric("photoflux_events_queue_sends_total", outcome="failed")
        self.proxy.down()
        try:
            for k in sorted(keys):
                s3.put_object(Bucket="photos", Key=k, Body=k.encode())
            deadline = time.monotonic() + ARRIVAL_TIMEOUT
            while (self.metric("photoflux_events_queue_sends_total", outcome="failed")
                   <= failed_before and time.monotonic() < deadline):
                time.sleep(0.2)
            self.assertGreater(self.metric("photoflux_events_queue_sends_total", outcome="failed"),
                               failed_before)
            time.sleep(2)
            self.assertGreaterEqual(self.metric("photoflux_events_outbox_depth"), len(keys))
            self.fleet.poll(wait=0)
            self.assertFalse(keys & {urllib.parse.unquote_plus(r["s3"]["object"]["key"])
                                     for r in self.fleet.records()})
        finally:
            self.proxy.up()
        arrived = self.fleet.wait_records(keys)
        self.assertEqual(set(arrived), keys, self.server.log_tail())
        # An outage is a reason to wait, never to drop.
        self.assertEqual(self.metric("photoflux_events_dropped_total", reason="rejected_by_queue"),
                         0)

    # ------------------------------------------------------------------------------------------
    def test_kill_9_after_acknowledged_uploads(self):
        s3 = self.server.client()
        keys = {f"uploads/crash-{rand_suffix()}/{i}.jpg" for i in range(12)}
        self.proxy.down()  # so the events are certainly still in the outbox at the kill
        try:
            for k in sorted(keys):
                s3.put_object(Bucket="photos", Key=k, Body=k.encode())
            self.server.kill()
        finally:
            self.proxy.up()
        self.server.start()
        arrived = self.fleet.wait_records(keys)
        self.assertEqual(set(arrived), keys, self.server.log_tail())

        # And without the outage: uploads acknowledged just before the kill.
        s3 = self.server.client()
        racing = {f"uploads/race-{rand_suffix()}/{i}.jpg" for i in range(12)}
        for k in sorted(racing):
            s3.put_object(Bucket="photos", Key=k, Body=k.encode())
        self.server.kill()
        self.server.start()
        arrived = self.fleet.wait_records(racing)
        self.assertEqual(set(arrived), racing, self.server.log_tail())


def worker_available() -> bool:
    try:
        p = subprocess.run([str(harness.photoflux_binary()), "worker", "--help"],
                           capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired, unittest.SkipTest):
        return False
    return p.returncode == 0 and b"--queue" in p.stdout


@photoflux_only("queue-destinations")
@unittest.skipUnless(worker_available(), "this build has no `photoflux worker`")
class ServeToWorkerToServe(ServerTestCase):
    """The issue's 'serve -> SQS -> worker -> serve (as the store)': serve's queue rule on
    uploads/, one worker on the moto queue writing the derivatives back into serve."""

    def test_a_photo_uploaded_to_serve_is_processed_by_a_worker(self):
        with MotoServer() as moto:
            name = f"work-{rand_suffix()}"
            queue_url = moto.client("sqs").create_queue(
                QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
            config = f"""serve:
  function:
    workers: 1
  sqs:
    endpoint_url: {moto.url}
    access_key_id: testing
    secret_access_key: testing
  notifications:
    - bucket: photos
      id: to-workers
      queue: arn:aws:sqs:{REGION}:{ACCOUNT}:{name}
      events: ["s3:ObjectCreated:*"]
      prefix: uploads/
"""
            srv = self.own_server(config_text=config)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PF_"))}
            env.update({
                "AWS_ENDPOINT_URL": srv.url,          # the store (and the topic): serve
                "AWS_ENDPOINT_URL_SQS": moto.url,     # the queue: moto
                "AWS_ACCESS_KEY_ID": srv.access_key,  # serve's key pair (moto accepts any)
                "AWS_SECRET_ACCESS_KEY": srv.secret_key,
                "AWS_REGION": REGION,
                "PF_OUTPUT_PREFIX": "processed/",
            })
            log_path = srv.root / "worker.log"
            with open(log_path, "ab") as log:
                worker = subprocess.Popen(
                    [str(harness.photoflux_binary()), "worker", "--queue", queue_url,
                     "--concurrency", "1", "--wait-time", "1"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    cwd=srv.root, preexec_fn=harness._die_with_parent)
            try:
                s3 = srv.client()
                photo = (harness.REPO / "tests" / "data" / "photos" / "camera.jpg").read_bytes()
                s3.put_object(Bucket="photos", Key="uploads/fleet cat.jpg", Body=photo)
                deadline = time.monotonic() + 120
                keys: list[str] = []
                while time.monotonic() < deadline:
                    listed = s3.list_objects_v2(Bucket="photos",
                                                Prefix="processed/uploads/fleet cat.jpg/")
                    keys = [o["Key"] for o in listed.get("Contents", [])]
                    if any(k.endswith(".json") for k in keys) and len(keys) >= 2:
                        break
                    self.assertIsNone(worker.poll(), log_path.read_text(errors="replace"))
                    time.sleep(0.5)
                self.assertTrue(any(k.endswith(".json") for k in keys),
                                f"no manifest under processed/: {keys}\n"
                                + log_path.read_text(errors="replace")[-4000:])
                self.assertGreaterEqual(len(keys), 2, keys)  # the manifest and derivatives
                manifest_key = next(k for k in keys if k.endswith(".json"))
                manifest = json.loads(s3.get_object(Bucket="photos", Key=manifest_key)["Body"].read())
                self.assertIn("fleet cat.jpg", json.dumps(manifest))
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    self.assertEqual(worker.wait(60), 0, log_path.read_text(errors="replace")[-4000:])
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
                    raise


if __name__ == "__main__":
    unittest.main()
