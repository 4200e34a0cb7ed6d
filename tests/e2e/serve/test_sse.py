"""Server-sent events of `photoflux serve` (protocol `sse`): GET /_/sns/sse?TopicArn=... and
?SubscriptionArn=..., read with `curl -N -u AK:SECRET` and with a streaming http.client reader,
while the aws CLI creates topics and subscriptions and publishes.

What is checked:
  - a topic stream opened with curl gets every published message as one event: `id:` the
    MessageId, `event: Notification`, `data:` the Notification JSON on one line, whose signature
    verifies against the server's certificate;
  - HTTP Basic: no or wrong credentials -> 401 with `WWW-Authenticate: Basic realm="photoflux"`;
    unknown topic/subscription -> 404; the stream's headers (text/event-stream, no-store, chunked);
  - an sse subscription's FilterPolicy (only matching messages) and RawMessageDelivery (the text,
    multi-line data split into several data: lines);
  - Unsubscribe and DeleteTopic end their streams with a closing comment; SIGTERM ends open
    streams promptly (the server exits well within its shutdown grace).

photoflux only: moto_server has no SSE endpoint.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

import harness
from harness import REGION, ServerTestCase, describe_proc, rand_suffix, raw_request, run

AWS = shutil.which("aws")
CURL = shutil.which("curl")
ACCOUNT = "000000000000"
WAIT = float(os.environ.get("PF_SSE_WAIT", "20"))   # for an expected event
QUIET = float(os.environ.get("PF_SSE_QUIET", "2"))  # how long "nothing more arrives" is watched
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def setUpModule():
    if harness.IS_MOTO:
        raise unittest.SkipTest("moto deviation: moto_server has no SSE endpoint")
    if not AWS:
        raise unittest.SkipTest("aws CLI not installed")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


# --------------------------------------------------------------------------------------------
# An SSE reader over any line source (curl's stdout, an http.client response)
# --------------------------------------------------------------------------------------------

class SseReader:
    """Parses text/event-stream lines on a thread (WHATWG HTML, "server-sent events") into a
    queue of ("event", {"id", "event", "data"}), ("comment", text) and ("eof", None)."""

    def __init__(self, readline):
        self.items: "queue.Queue[tuple[str, object]]" = queue.Queue()
        self.seen: list[tuple[str, object]] = []
        self._readline = readline
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        fields: dict = {}
        data: list[str] = []
        try:
            while True:
                raw = self._readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
                if line == "":
                    if data:
                        self.items.put(("event", {"id": fields.get("id"),
                                                  "event": fields.get("event", "message"),
                                                  "data": "\n".join(data)}))
                    fields, data = {}, []
                    continue
                if line.startswith(":"):
                    self.items.put(("comment", line[1:].removeprefix(" ")))
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        except (OSError, ValueError, http.client.HTTPException):
            pass
        self.items.put(("eof", None))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def next(self, timeout: float = WAIT, kinds=("event", "eof")) -> tuple[str, object]:
        """The next item of one of `kinds` (others are kept in `seen` only)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing of {kinds} within {timeout}s; seen: {self.seen}")
            try:
                item = self.items.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(item)
            if item[0] in kinds:
                return item

    def events(self, n: int, timeout: float = WAIT) -> list[dict]:
        out = []
        for _ in range(n):
            kind, value = self.next(timeout)
            if kind != "event":
                raise AssertionError(f"stream ended after {len(out)} of {n} events: {self.seen}")
            out.append(value)
        return out

    def quiet(self, wait: float = QUIET) -> list:
        """Events (or the end) arriving within `wait` seconds: should be none."""
        got = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                continue
            self.seen.append(item)
            if item[0] != "comment":
                got.append(item)
        return got

    def wait_comment(self, prefix: str, timeout: float = WAIT) -> str:
        while True:
            kind, value = self.next(timeout, kinds=("comment", "eof"))
            if kind == "eof":
                raise AssertionError(f"stream ended before a comment {prefix!r}: {self.seen}")
            if value.startswith(prefix):
                return value

    def wait_eof(self, timeout: float = WAIT) -> None:
        self.next(timeout, kinds=("eof",))


class HttpStream:
    """GET /_/sns/sse with http.client, kept open; `reader` parses the body as it arrives."""

    def __init__(self, server: harness.Server, query: dict, auth: tuple[str, str] | None):
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)
        headers = {"Accept": "text/event-stream"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.conn.request("GET", "/_/sns/sse?" + urllib.parse.urlencode(query), headers=headers)
        # The response keeps the socket; the connection lets go of it (Connection: close).
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.reader: SseReader | None = None
        if self.status == 200:
            self.sock.settimeout(None)  # the reader thread blocks until data or close
            self.reader = SseReader(self.response.readline)
        else:
            self.body = self.response.read()

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self.reader:
            self.reader.join(5)  # it sees the end, then the response can be closed under it
        self.response.close()
        self.conn.close()


class CurlStream:
    """`curl -sS -N -u AK:SECRET URL` as a subprocess; `reader` parses its stdout."""

    def __init__(self, url: str, auth: tuple[str, str]):
        self.proc = subprocess.Popen([CURL, "-sS", "-N", "-u", f"{auth[0]}:{auth[1]}", url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.reader = SseReader(self.proc.stdout.readline)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

class SseCase(ServerTestCase):
    def setUp(self):
        self.home = self.tmpdir()

    def aws_sns(self, *args, server: harness.Server | None = None) -> dict:
        server = server or self.server
        env = server.cli_env(self.home)
        p = run([AWS, "--endpoint-url", server.url, "--region", REGION, "--output", "json",
                 "--cli-read-timeout", "20", "sns", *map(str, args)], env=env, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"aws sns {args[0]} failed:\n{describe_proc(p)}")
        return json.loads(p.stdout or b"{}")

    def create_topic(self, stem: str, server: harness.Server | None = None) -> str:
        name = f"{stem}-{rand_suffix()}"
        arn = self.aws_sns("create-topic", "--name", name, server=server)["TopicArn"]
        self.assertEqual(arn, f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}")
        return arn

    def subscribe_sse(self, arn: str, attributes: dict | None = None) -> str:
        args = ["subscribe", "--topic-arn", arn, "--protocol", "sse",
                "--notification-endpoint", f"browser-{rand_suffix()}"]
        if attributes:
            args += ["--attributes", json.dumps(attributes)]
        sub = self.aws_sns(*args)["SubscriptionArn"]
        self.assertRegex(sub, "^" + re.escape(arn) + ":[0-9a-f-]{36}$",
                         "an sse subscription needs no confirmation")
        return sub

    def publish(self, arn: str, message: str, *, subject: str | None = None,
                kind: str | None = None, server: harness.Server | None = None) -> str:
        args = ["publish", "--topic-arn", arn, "--message", message]
        if subject is not None:
            args += ["--subject", subject]
        if kind is not None:
            args += ["--message-attributes",
                     json.dumps({"kind": {"DataType": "String", "StringValue": kind}})]
        mid = self.aws_sns(*args, server=server)["MessageId"]
        self.assertRegex(mid, UUID_RE)
        return mid

    def open_stream(self, server: harness.Server | None = None, *, auth="default",
                    **query) -> HttpStream:
        server = server or self.server
        if auth == "default":
            auth = (server.access_key, server.secret_key)
        stream = HttpStream(server, query, auth)
        self.addCleanup(stream.close)
        return stream

    def open_ok(self, server: harness.Server | None = None, **query) -> SseReader:
        stream = self.open_stream(server, **query)
        self.assertEqual(stream.status, 200, getattr(stream, "body", b""))
        return stream.reader

    def assertSignedBy(self, doc: dict, server: harness.Server):
        """The event's Notification JSON verifies against the certificate the server serves."""
        try:
            import cryptography  # noqa: F401
        except ImportError:
            self.skipTest("python package 'cryptography' missing")
        from cryptography.exceptions import InvalidSignature
        from test_sns import load_certificate, verify_sns_signature
        url = doc["SigningCertURL"]
        self.assertTrue(url.startswith(server.url + "/_/sns/"), url)
        r = raw_request("GET", url)
        self.assertEqual(r.status, 200, r.describe())
        try:
            verify_sns_signature(doc, load_certificate(r.body))
        except InvalidSignature:
            self.fail(f"signature of {doc['MessageId']} does not verify: {doc}")


class TopicStreams(SseCase):
    def test_curl_reads_three_published_messages(self):
        if not CURL:
            self.skipTest("curl not installed")
        arn = self.create_topic("sse-curl")
        url = f"{self.server.url}/_/sns/sse?" + urllib.parse.urlencode({"TopicArn": arn})
        curl = CurlStream(url, (self.server.access_key, self.server.secret_key))
        self.addCleanup(curl.close)
        curl.reader.wait_comment("stream open")  # registered: what is published now arrives

        sent = [
            ("first message", None, "processed"),
            ("second\nmessage on two lines", "A subject", "failed"),
            ('third {"json": "inside"}', None, None),
        ]
        ids = [self.publish(arn, text, subject=subject, kind=kind)
               for text, subject, kind in sent]
        events = curl.reader.events(3)
        self.assertEqual([e["id"] for e in events], ids)
        for event, (text, subject, kind), mid in zip(events, sent, ids):
            self.assertEqual(event["event"], "Notification")
            self.assertNotIn("\n", event["data"], "the JSON is sent as one data line")
            doc = json.loads(event["data"])
            self.assertEqual(doc["Type"], "Notification")
            self.assertEqual(doc["MessageId"], mid)
            self.assertEqual(doc["TopicArn"], arn)
            self.assertEqual(doc["Message"], text)
            self.assertEqual(doc.get("Subject"), subject)
            if kind is None:
                self.assertNotIn("MessageAttributes", doc)
            else:
                self.assertEqual(doc["MessageAttributes"],
                                 {"kind": {"Type": "String", "Value": kind}})
            self.assertSignedBy(doc, self.server)
        self.assertEqual(curl.reader.quiet(), [])
        self.assertIsNone(curl.proc.poll(), "curl must still be streaming")

    def test_authentication_and_lookup(self):
        arn = self.create_topic("sse-auth")
        ak, sk = self.server.access_key, self.server.secret_key
        for label, auth in [("no credentials", None), ("wrong secret", (ak, sk + "x")),
                            ("secret prefix", (ak, sk[:-1])), ("unknown key", ("AKNOPE", sk)),
                            ("empty", ("", ""))]:
            with self.subTest(label):
                s = self.open_stream(auth=auth, TopicArn=arn)
                self.assertEqual(s.status, 401, s.body)
                self.assertEqual(s.header("WWW-Authenticate"), 'Basic realm="photoflux"')
        # Not Basic at all, and a 401 comes before revealing whether the topic exists.
        r = raw_request("GET", f"{self.server.url}/_/sns/sse?TopicArn={arn}:nope",
                        headers={"Authorization": "Bearer " + sk})
        self.assertEqual(r.status, 401, r.describe())
        if CURL:
            url = f"{self.server.url}/_/sns/sse?" + urllib.parse.urlencode({"TopicArn": arn})
            p = run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                     f"{ak}:wrong", url], timeout=30)
            self.assertEqual(p.stdout, b"401", describe_proc(p))

        self.assertEqual(self.open_stream(TopicArn=arn + "-missing").status, 404)
        self.assertEqual(self.open_stream(SubscriptionArn=arn + ":" + "0" * 36).status, 404)
        self.assertEqual(self.open_stream().status, 400)
        self.assertEqual(self.open_stream(TopicArn=arn, SubscriptionArn=arn + ":x").status, 400)

        s = self.open_stream(TopicArn=arn)
        self.assertEqual(s.status, 200)
        self.assertEqual(s.header("Content-Type"), "text/event-stream")
        self.assertEqual(s.header("Cache-Control"), "no-store")
        self.assertEqual(s.header("Transfer-Encoding"), "chunked")
        s.reader.wait_comment("stream open")

    def test_delete_topic_ends_its_streams(self):
        arn = self.create_topic("sse-delete")
        reader = self.open_ok(TopicArn=arn)
        reader.wait_comment("stream open")
        self.aws_sns("delete-topic", "--topic-arn", arn)
        # Promptly when the topic had a subscription; otherwise at the next heartbeat (15 s).
        self.assertEqual(reader.wait_comment("closed", timeout=30), "closed: topic deleted")
        reader.wait_eof()


class SubscriptionStreams(SseCase):
    def test_filter_policy_applies_to_a_subscription_stream(self):
        arn = self.create_topic("sse-filter")
        sub = self.subscribe_sse(arn, {"FilterPolicy": json.dumps({"kind": ["processed"]})})
        filtered = self.open_ok(SubscriptionArn=sub)
        whole = self.open_ok(TopicArn=arn)

        kinds = ["processed", "failed", "processed", "other"]
        ids = [self.publish(arn, f"message {i} ({kind})", kind=kind)
               for i, kind in enumerate(kinds)]
        matching = [mid for mid, kind in zip(ids, kinds) if kind == "processed"]

        got = filtered.events(2)
        self.assertEqual([e["id"] for e in got], matching)
        for event in got:
            doc = json.loads(event["data"])
            self.assertEqual(doc["MessageAttributes"]["kind"]["Value"], "processed")
            unsubscribe = urllib.parse.urlsplit(doc["UnsubscribeURL"])
            self.assertEqual(dict(urllib.parse.parse_qsl(unsubscribe.query))["SubscriptionArn"],
                             sub)
            self.assertSignedBy(doc, self.server)
        self.assertEqual([e["id"] for e in whole.events(4)], ids, "the topic stream gets all")
        self.assertEqual(filtered.quiet(), [], "nothing else for the filtered stream")

    def test_raw_delivery_sends_the_text_as_data_lines(self):
        arn = self.create_topic("sse-raw")
        sub = self.subscribe_sse(arn, {"RawMessageDelivery": "true"})
        reader = self.open_ok(SubscriptionArn=sub)
        text = "line one\nline two\n\n  indented line four"
        mid = self.publish(arn, text)
        [event] = reader.events(1)
        self.assertEqual(event, {"id": mid, "event": "Notification", "data": text})

    def test_unsubscribe_ends_the_stream(self):
        arn = self.create_topic("sse-unsub")
        sub = self.subscribe_sse(arn)
        reader = self.open_ok(SubscriptionArn=sub)
        reader.wait_comment("stream open")
        self.aws_sns("unsubscribe", "--subscription-arn", sub)
        self.assertEqual(reader.wait_comment("closed", timeout=10), "closed: unsubscribed")
        reader.wait_eof(timeout=10)
        self.assertEqual(self.open_stream(SubscriptionArn=sub).status, 404)

    def test_a_subscription_of_another_protocol_is_not_a_stream(self):
        arn = self.create_topic("sse-proto")
        p = run([AWS, "--endpoint-url", self.server.url, "--region", REGION, "--output", "json",
                 "sns", "subscribe", "--topic-arn", arn, "--protocol", "http",
                 "--notification-endpoint", "http://192.0.2.1/hook",
                 "--return-subscription-arn"], env=self.server.cli_env(self.home),
                timeout=120)
        if p.returncode != 0:
            self.skipTest(f"http subscription refused here: {describe_proc(p)}")
        sub = json.loads(p.stdout)["SubscriptionArn"]
        self.assertEqual(self.open_stream(SubscriptionArn=sub).status, 404)


class Shutdown(SseCase):
    def test_sigterm_ends_open_streams_promptly(self):
        srv = self.own_server()
        arn = self.create_topic("sse-stop", server=srv)
        readers = [self.open_ok(srv, TopicArn=arn) for _ in range(3)]
        for reader in readers:
            reader.wait_comment("stream open")
        mid = self.publish(arn, "before the stop", server=srv)
        for reader in readers:
            self.assertEqual(reader.events(1)[0]["id"], mid)
        started = time.monotonic()
        status = srv.stop(timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(status, 0, srv.log_tail())
        self.assertLess(elapsed, 10, "open streams must not hold the shutdown for its grace")
        for reader in readers:
            self.assertEqual(reader.wait_comment("closed", timeout=5), "closed: server stopping")
            reader.wait_eof(timeout=5)


if __name__ == "__main__":
    unittest.main()
