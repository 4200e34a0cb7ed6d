"""The SNS-compatible notification service of `photoflux serve`, driven by the aws CLI, with real
HTTP receivers (http.server threads on 127.0.0.1 recording every request) and a real SMTP sink
(aiosmtpd under Debian's /usr/bin/python3).

What is checked (fact sheet section 5):
  - the aws CLI flow: create-topic (idempotent), subscribe http, SubscriptionConfirmation,
    confirmation by SubscribeURL and by `confirm-subscription --token`, list-*, publish with
    Subject and message attributes, unsubscribe (+ UnsubscribeConfirmation, UnsubscribeURL);
  - every JSON document received is verified independently: string to sign rebuilt from 5.4,
    certificate fetched from SigningCertURL, RSA PKCS#1 v1.5 with SHA1 (v1) / SHA256 (v2) checked
    with `cryptography`; tampered documents fail;
  - raw delivery, MessageStructure=json, filter policies;
  - email and email-json over SMTP (confirmation link, subject, bodies);
  - retries per DeliveryPolicy with a stable MessageId, 4xx not retried, pending deliveries
    surviving SIGTERM and SIGKILL restarts;
  - SSRF: without PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS nothing reaches loopback (in any spelling),
    and 169.254.169.254 is never reached. That part runs in a private network namespace
    (`unshare -rn`) where 169.254.169.254 is a local address with a receiver of its own, so "never
    reached" is observed, not assumed.

photoflux only: moto_server implements the SNS API but delivers nothing over HTTP or SMTP.
"""
from __future__ import annotations

import base64
import datetime as _dt
import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import harness
from harness import REGION, ServerTestCase, describe_proc, rand_suffix, raw_request, run

AWS = shutil.which("aws")
SYSTEM_PYTHON = "/usr/bin/python3"  # has aiosmtpd (the pyenv python3 on PATH does not)
HERE = Path(__file__).resolve().parent

ACCOUNT = "000000000000"
MAIL_FROM = "photoflux@example.test"
LOOPBACK_CIDR = "127.0.0.0/8"

ARRIVAL_TIMEOUT = float(os.environ.get("PF_SNS_ARRIVAL_TIMEOUT", "20"))  # expected deliveries
QUIET = float(os.environ.get("PF_SNS_QUIET", "3"))  # how long "nothing more arrives" is watched

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONTENT_TYPE = "text/plain; charset=UTF-8"
USER_AGENT = "Amazon Simple Notification Service Agent"

# A short retry policy: 5 retries one second apart (fact sheet 5.5).
def retry_policy(num_retries: int = 5, delay: int = 1) -> dict:
    return {"http": {"defaultHealthyRetryPolicy": {
        "numRetries": num_retries, "minDelayTarget": delay, "maxDelayTarget": delay,
        "numNoDelayRetries": 0, "numMinDelayRetries": 0, "numMaxDelayRetries": 0,
        "backoffFunction": "linear"}}}


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def confirmation_text(arn: str) -> str:
    return (f"You have chosen to subscribe to the topic {arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.")


# --------------------------------------------------------------------------------------------
# Signature verification (fact sheet 5.4), independent of the server
# --------------------------------------------------------------------------------------------

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}


def sns_string_to_sign(doc: dict) -> bytes:
    """`Name\\nValue\\n` for the signed fields of doc's Type, in the fixed order; Subject only when
    the document has one. Values are the parsed (unescaped) JSON strings."""
    out = []
    for name in SIGNED_FIELDS[doc["Type"]]:
        if name == "Subject" and doc.get("Subject") is None:
            continue
        out.append(f"{name}\n{doc[name]}\n")
    return "".join(out).encode("utf-8")


def load_certificate(pem: bytes):
    from cryptography import x509
    return x509.load_pem_x509_certificate(pem)


def verify_sns_signature(doc: dict, certificate, *, version: str | None = None) -> None:
    """Raises cryptography.exceptions.InvalidSignature (or KeyError/ValueError for a malformed
    document) unless doc's Signature is the certificate key's signature of its string to sign.
    `version` overrides the document's SignatureVersion (to show v1 is not SHA-256 and so on)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[version or doc["SignatureVersion"]]
    signature = base64.b64decode(doc["Signature"], validate=True)
    certificate.public_key().verify(signature, sns_string_to_sign(doc), padding.PKCS1v15(),
                                    algorithm)


def signature_ok(doc: dict, certificate, **kw) -> bool:
    from cryptography.exceptions import InvalidSignature
    try:
        verify_sns_signature(doc, certificate, **kw)
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def tampered_variants(doc: dict) -> dict[str, dict]:
    """Copies of doc each with one change a verifier must catch."""
    out = {}

    def variant(label, **changes):
        d = dict(doc)
        for k, v in changes.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
        out[label] = d

    variant("Message+1 char", Message=doc["Message"] + "!")
    variant("Message newline as \\n text", Message=doc["Message"].replace("\n", "\\n") + " ")
    variant("MessageId", MessageId="00000000-0000-4000-8000-000000000000")
    variant("Timestamp", Timestamp="2001-01-01T00:00:00.000Z")
    variant("TopicArn", TopicArn=doc["TopicArn"] + "-other")
    if doc["Type"] == "Notification":
        if doc.get("Subject") is not None:
            variant("Subject removed", Subject=None)
            variant("Subject changed", Subject=doc["Subject"] + "x")
        else:
            variant("Subject added", Subject="added")
    else:
        variant("Token", Token=doc["Token"][:-1] + ("0" if doc["Token"][-1] != "0" else "1"))
        variant("SubscribeURL", SubscribeURL=doc["SubscribeURL"] + "&x=1")
    sig = bytearray(base64.b64decode(doc["Signature"]))
    sig[len(sig) // 2] ^= 0x01
    variant("Signature bit flipped", Signature=base64.b64encode(bytes(sig)).decode())
    return out


# --------------------------------------------------------------------------------------------
# HTTP receivers
# --------------------------------------------------------------------------------------------

class Received:
    """One request a receiver got."""

    def __init__(self, receiver: str, method: str, path: str, headers, body: bytes, status: int):
        self.receiver = receiver
        self.method = method
        self.path = path  # with the query
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get()
        self.body = body
        self.status = status  # what the receiver answered
        self.t = time.monotonic()

    def header(self, name: str):
        return self.headers.get(name)

    @property
    def route(self) -> str:
        return urllib.parse.urlsplit(self.path).path

    @property
    def type(self) -> str | None:
        return self.headers.get("x-amz-sns-message-type")

    def doc(self) -> dict:
        return json.loads(self.body)

    def describe(self) -> str:
        hdrs = "".join(f"\n    {k}: {v}" for k, v in self.headers.items())
        return (f"[{self.receiver}] {self.method} {self.path} -> answered {self.status}{hdrs}\n"
                f"    body: {self.body[:1500]!r}")


class Receiver:
    """A webhook endpoint on a loopback port that records every request. It answers 200 unless
    told otherwise: `plan(route, [500, 500])` answers the next requests on route with those
    statuses, `redirect(route, url)` answers 307 to url."""

    def __init__(self, name: str = "receiver", host: str = "127.0.0.1", port: int = 0):
        self.name, self.host, self.port = name, host, port
        self.requests: list[Received] = []
        self.cond = threading.Condition()
        self.plans: dict[str, deque] = {}
        self.redirects: dict[str, str] = {}
        self.default_status = 200
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # so Expect: 100-continue is answered

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    data = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(data)
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _serve(self):
                body = self._body()
                route = urllib.parse.urlsplit(self.path).path
                location = None
                with receiver.cond:
                    plan = receiver.plans.get(route)
                    status = plan.popleft() if plan else receiver.default_status
                    if route in receiver.redirects:
                        status, location = 307, receiver.redirects[route]
                    receiver.requests.append(Received(receiver.name, self.command, self.path,
                                                      self.headers, body, status))
                    receiver.cond.notify_all()
                payload = b"ok\n" if status < 300 else b"receiver says no\n"
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

            do_POST = do_GET = do_PUT = do_HEAD = _serve

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            daemon_threads = True
            allow_reuse_address = True

        self._httpd = Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"receiver-{self.name}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Closes the listening socket: connections are refused until start() again."""
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def url(self, route: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{route}"

    def plan(self, route: str, statuses: list[int]) -> None:
        with self.cond:
            self.plans[route] = deque(statuses)

    def redirect(self, route: str, location: str) -> None:
        with self.cond:
            self.redirects[route] = location

    def got(self, route: str | None = None, type: str | None = None) -> list[Received]:
        with self.cond:
            return [r for r in self.requests
                    if (route is None or r.route == route) and (type is None or r.type == type)]

    def wait_for(self, route: str, type: str | None = None, count: int = 1,
                 timeout: float = ARRIVAL_TIMEOUT, pred=None) -> list[Received]:
        """Waits until `count` requests on route (of that message type, matching pred) arrived;
        returns them. AssertionError with everything received on a timeout."""
        deadline = time.monotonic() + timeout

        def matching():
            return [r for r in self.requests
                    if r.route == route and (type is None or r.type == type)
                    and (pred is None or pred(r))]

        with self.cond:
            while True:
                found = matching()
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver {self.name}: {len(found)} of {count} {type or 'requests'} on "
                        f"{route} after {timeout}s; everything received:\n{self.describe()}")
                self.cond.wait(left)

    def describe(self) -> str:
        with self.cond:
            return "\n".join(r.describe() for r in self.requests) or "    (nothing)"


# --------------------------------------------------------------------------------------------
# SMTP sink (aiosmtpd under /usr/bin/python3)
# --------------------------------------------------------------------------------------------

SMTP_SINK_SCRIPT = r'''
import asyncio, base64, itertools, json, os, sys
from aiosmtpd.smtp import SMTP

outdir = sys.argv[1]
counter = itertools.count(1)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "helo": session.host_name,
            "data": base64.b64encode(envelope.original_content or envelope.content).decode(),
        }
        tmp = os.path.join(outdir, ".%06d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(outdir, "%06d.json" % n))
        return "250 2.0.0 Message accepted for delivery"

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="sink.test", enable_SMTPUTF8=True, loop=loop),
        "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
'''


class Mail:
    def __init__(self, record: dict, path: Path):
        self.path = path
        self.mail_from: str = record["mail_from"]
        self.rcpt_tos: list[str] = record["rcpt_tos"]
        self.raw: bytes = base64.b64decode(record["data"])
        self.msg = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.msg["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body, transfer encoding undone, line breaks as \\n."""
        part = self.msg.get_body(preferencelist=("plain", "html")) or self.msg
        return part.get_content().replace("\r\n", "\n")

    def describe(self) -> str:
        return (f"MAIL FROM {self.mail_from} RCPT TO {self.rcpt_tos}\n"
                f"{self.raw[:3000].decode(errors='replace')}")


class SmtpSink:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pf-e2e-smtp-"))
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "SmtpSink":
        self.proc = subprocess.Popen([SYSTEM_PYTHON, "-c", SMTP_SINK_SCRIPT, str(self.dir)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"SMTP sink did not start: {line!r} "
                               f"{self.proc.stderr.read().decode(errors='replace')}")
        self.port = int(m.group(1))
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.environ.get("PF_E2E_KEEP"):
            print(f"[test_sns] kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def mails(self, rcpt: str | None = None) -> list[Mail]:
        out = []
        for p in sorted(self.dir.glob("*.json")):
            m = Mail(json.loads(p.read_text()), p)
            if rcpt is None or rcpt in m.rcpt_tos:
                out.append(m)
        return out

    def wait_for(self, rcpt: str, count: int = 1, timeout: float = ARRIVAL_TIMEOUT) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.mails(rcpt)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                everything = "\n---\n".join(m.describe() for m in self.mails()) or "(no mail)"
                raise AssertionError(f"{len(got)} of {count} mails to {rcpt} after {timeout}s; "
                                     f"all mail received:\n{everything}")
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# Module setup
# --------------------------------------------------------------------------------------------

SMTP: SmtpSink | None = None


def notify_env(smtp_port: int, *, allowed: str | None = LOOPBACK_CIDR) -> dict:
    """Environment settings of the serve contract; allowed=None removes the allow-list."""
    return {
        "PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS": allowed,
        "PF_SERVE_NOTIFY_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PF_SERVE_NOTIFY_SMTP_STARTTLS": "off",
        "PF_SERVE_NOTIFY_SMTP_FROM": MAIL_FROM,
    }


def setUpModule():
    global SMTP
    if harness.IS_MOTO:
        raise unittest.SkipTest(f"moto deviation: {harness.MOTO_DEVIATIONS['sns-delivery']}")
    if not AWS:
        raise unittest.SkipTest("aws CLI not installed")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise unittest.SkipTest("python package 'cryptography' missing (signature verification)")
    if not os.path.exists(SYSTEM_PYTHON):
        raise unittest.SkipTest(f"{SYSTEM_PYTHON} (with aiosmtpd) not found")
    SMTP = SmtpSink().start()
    try:
        harness.start_module_server(__name__, extra_env=notify_env(SMTP.port))
    except Exception:
        SMTP.stop()
        raise


def tearDownModule():
    harness.stop_module_server(__name__)
    if SMTP:
        SMTP.stop()


# --------------------------------------------------------------------------------------------
# The aws CLI and shared assertions
# --------------------------------------------------------------------------------------------

class SnsCli:
    """`aws sns ...` against one server (JSON output, a single attempt, 20 s read timeout)."""

    def __init__(self, server: harness.Server, home: Path):
        self.server = server
        self.env = server.cli_env(home)

    def __call__(self, *args, ok: bool = True) -> subprocess.CompletedProcess:
        p = run([AWS, "--endpoint-url", self.server.url, "--region", REGION,
                 "--cli-read-timeout", "20", "--output", "json", "sns", *map(str, args)],
                env=self.env, timeout=120)
        if ok and p.returncode != 0:
            raise AssertionError(f"aws sns {args[0]} failed:\n{describe_proc(p)}")
        return p

    def json(self, *args) -> dict:
        return json.loads(self(*args).stdout or b"{}")

    @staticmethod
    def error_code(p: subprocess.CompletedProcess) -> str | None:
        m = re.search(rb"An error occurred \(([A-Za-z0-9_.]+)\)", p.stderr)
        return m.group(1).decode() if m else None


class SnsCase(ServerTestCase):
    """Helpers shared by the test classes. self.server is the module server unless the test
    started its own."""

    def setUp(self):
        self.home = self.tmpdir()
        self.sns = SnsCli(self.server, self.home)

    def cli_for(self, server: harness.Server) -> SnsCli:
        return SnsCli(server, self.tmpdir())

    def receiver(self, name: str = "receiver", **kw) -> Receiver:
        r = Receiver(name, **kw).start()
        self.addCleanup(r.stop)
        return r

    # -- API shortcuts ------------------------------------------------------------------------

    def create_topic(self, stem: str, attributes: dict | None = None, sns: SnsCli | None = None):
        sns = sns or self.sns
        name = f"{stem}-{rand_suffix()}"
        args = ["create-topic", "--name", name]
        if attributes:
            args += ["--attributes", json.dumps(attributes)]
        arn = sns.json(*args)["TopicArn"]
        self.assertEqual(arn, topic_arn(name))
        return arn

    def subscribe(self, arn: str, protocol: str, endpoint: str, attributes: dict | None = None,
                  sns: SnsCli | None = None) -> str:
        sns = sns or self.sns
        args = ["subscribe", "--topic-arn", arn, "--protocol", protocol,
                "--notification-endpoint", endpoint]
        if attributes:
            args += ["--attributes", json.dumps(attributes)]
        out = sns.json(*args)
        self.assertEqual(out.get("SubscriptionArn"), "pending confirmation",
                         f"Subscribe of a {protocol} endpoint must answer 'pending confirmation' "
                         f"until it is confirmed: {out}")
        return out["SubscriptionArn"]

    def publish(self, arn: str, message: str, *, subject: str | None = None,
                attributes: dict | None = None, structure: str | None = None,
                sns: SnsCli | None = None) -> str:
        sns = sns or self.sns
        args = ["publish", "--topic-arn", arn, "--message", message]
        if subject is not None:
            args += ["--subject", subject]
        if attributes:
            args += ["--message-attributes", json.dumps(attributes)]
        if structure:
            args += ["--message-structure", structure]
        mid = sns.json(*args)["MessageId"]
        self.assertRegex(mid, UUID_RE)
        return mid

    def sub_attributes(self, sub_arn: str, sns: SnsCli | None = None) -> dict:
        return (sns or self.sns).json("get-subscription-attributes", "--subscription-arn",
                                      sub_arn)["Attributes"]

    def subscriptions_of(self, arn: str, sns: SnsCli | None = None) -> list[dict]:
        return (sns or self.sns).json("list-subscriptions-by-topic", "--topic-arn",
                                      arn).get("Subscriptions", [])

    def subscribe_and_confirm(self, arn: str, receiver: Receiver, route: str, *,
                              attributes: dict | None = None, version: str = "1",
                              server: harness.Server | None = None,
                              sns: SnsCli | None = None) -> tuple[str, dict]:
        """Subscribes receiver's route, checks the SubscriptionConfirmation, confirms it by
        GETting SubscribeURL; returns (subscription ARN, confirmation document)."""
        self.subscribe(arn, "http", receiver.url(route), attributes, sns=sns)
        req = receiver.wait_for(route, "SubscriptionConfirmation")[-1]
        doc = self.check_confirmation(req, arn, version=version, server=server)
        return self.confirm_by_url(doc, arn, server=server), doc

    def confirm_by_url(self, doc: dict, arn: str, server: harness.Server | None = None) -> str:
        r = raw_request("GET", doc["SubscribeURL"])
        self.assertEqual(r.status, 200, r.describe())
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag.split("}")[-1], "ConfirmSubscriptionResponse", r.describe())
        sub_arn = harness.xml_text(r.body, "SubscriptionArn")
        self.assertRegex(sub_arn or "", "^" + re.escape(arn) + ":[0-9a-f-]{36}$", r.describe())
        return sub_arn

    # -- envelope checks ------------------------------------------------------------------------

    def assertSigned(self, doc: dict, server: harness.Server | None = None):
        """Fetches the certificate from SigningCertURL (which must point at this server) and
        verifies doc's signature independently. Returns the certificate."""
        server = server or self.server
        url = doc.get("SigningCertURL", "")
        self.assertRegex(url, "^" + re.escape(server.url)
                         + r"/_/sns/SimpleNotificationService-[0-9a-f]+\.pem$")
        r = raw_request("GET", url)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn(b"-----BEGIN CERTIFICATE-----", r.body, r.describe())
        cert = load_certificate(r.body)
        from cryptography.exceptions import InvalidSignature
        try:
            verify_sns_signature(doc, cert)
        except InvalidSignature:
            self.fail(f"{doc['Type']} {doc['MessageId']}: SignatureVersion "
                      f"{doc['SignatureVersion']} signature does not verify against {url}.\n"
                      f"string to sign (rebuilt from 5.4): {sns_string_to_sign(doc)!r}\n"
                      f"document: {json.dumps(doc, ensure_ascii=False)}")
        return cert

    def check_common(self, req: Received, type_: str, arn: str, version: str,
                     server: harness.Server | None) -> dict:
        where = req.describe()
        self.assertEqual(req.method, "POST", where)
        self.assertEqual(req.header("x-amz-sns-message-type"), type_, where)
        self.assertEqual(req.header("x-amz-sns-topic-arn"), arn, where)
        self.assertEqual(req.header("Content-Type"), CONTENT_TYPE, where)
        self.assertEqual(req.header("User-Agent"), USER_AGENT, where)
        self.assertIsNone(req.header("x-amz-sns-rawdelivery"), where)
        try:
            doc = req.doc()
        except ValueError as e:
            self.fail(f"body is not JSON ({e}):\n{where}")
        self.assertIsInstance(doc, dict, where)
        self.assertEqual(doc.get("Type"), type_, where)
        self.assertEqual(doc.get("TopicArn"), arn, where)
        self.assertRegex(doc.get("MessageId", ""), UUID_RE, where)
        self.assertEqual(req.header("x-amz-sns-message-id"), doc["MessageId"], where)
        self.assertRegex(doc.get("Timestamp", ""), TIMESTAMP_RE, where)
        ts = _dt.datetime.strptime(doc["Timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=_dt.timezone.utc)
        age = abs((_dt.datetime.now(_dt.timezone.utc) - ts).total_seconds())
        self.assertLess(age, 600, f"Timestamp {doc['Timestamp']} is not now\n{where}")
        self.assertEqual(doc.get("SignatureVersion"), version, where)
        self.assertSigned(doc, server)
        return doc

    def check_confirmation(self, req: Received, arn: str, *, version: str = "1",
                           server: harness.Server | None = None,
                           type_: str = "SubscriptionConfirmation") -> dict:
        server = server or self.server
        doc = self.check_common(req, type_, arn, version, server)
        self.assertEqual(set(doc), {"Type", "MessageId", "Token", "TopicArn", "Message",
                                    "SubscribeURL", "Timestamp", "SignatureVersion", "Signature",
                                    "SigningCertURL"}, req.describe())
        if type_ == "SubscriptionConfirmation":
            self.assertIsNone(req.header("x-amz-sns-subscription-arn"), req.describe())
            self.assertEqual(doc["Message"], confirmation_text(arn))
            url = urllib.parse.urlsplit(doc["SubscribeURL"])
            self.assertEqual(f"{url.scheme}://{url.netloc}", server.url, doc["SubscribeURL"])
            self.assertEqual(url.path, "/_/sns/confirm", doc["SubscribeURL"])
            q = dict(urllib.parse.parse_qsl(url.query))
            self.assertEqual(q.get("Action"), "ConfirmSubscription", doc["SubscribeURL"])
            self.assertEqual(q.get("TopicArn"), arn, doc["SubscribeURL"])
            self.assertEqual(q.get("Token"), doc["Token"], doc["SubscribeURL"])
        self.assertTrue(doc["Token"], req.describe())
        return doc

    def check_notification(self, req: Received, arn: str, sub_arn: str, *, message: str,
                           subject: str | None = None, attributes: dict | None = None,
                           version: str = "1", server: harness.Server | None = None) -> dict:
        """A Notification exactly as 5.3 describes it: headers, fields, no extra fields."""
        server = server or self.server
        doc = self.check_common(req, "Notification", arn, version, server)
        where = req.describe()
        self.assertEqual(req.header("x-amz-sns-subscription-arn"), sub_arn, where)
        self.assertEqual(doc.get("Message"), message, where)
        if subject is None:
            self.assertNotIn("Subject", doc, f"published without Subject:\n{where}")
        else:
            self.assertEqual(doc.get("Subject"), subject, where)
        if attributes is None:
            self.assertNotIn("MessageAttributes", doc, where)
        else:
            self.assertEqual(doc.get("MessageAttributes"), attributes, where)
        allowed = {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                   "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
                   "MessageAttributes"}
        self.assertEqual(set(doc) - allowed, set(), where)
        unsub = urllib.parse.urlsplit(doc.get("UnsubscribeURL", ""))
        self.assertEqual(f"{unsub.scheme}://{unsub.netloc}", server.url, where)
        self.assertTrue(unsub.path.startswith("/_/sns/"), where)
        self.assertEqual(dict(urllib.parse.parse_qsl(unsub.query)).get("SubscriptionArn"),
                         sub_arn, where)
        return doc

    def assertNothingMore(self, receiver: Receiver, route: str, expected: int,
                          wait: float = QUIET, type: str | None = None):
        time.sleep(wait)
        got = receiver.got(route, type)
        self.assertEqual(len(got), expected, f"{len(got)} requests on {route}, expected "
                                             f"{expected}:\n" + "\n".join(r.describe() for r in got))


# --------------------------------------------------------------------------------------------
# 0. The verifier itself (no server involved)
# --------------------------------------------------------------------------------------------

class VerifierSelfCheck(unittest.TestCase):
    """The signature helper against a key made here, so a failure of the server tests below
    cannot be a bug of the helper."""

    @classmethod
    def setUpClass(cls):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        cls.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
        now = _dt.datetime.now(_dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(cls.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + _dt.timedelta(days=1))
                .sign(cls.key, hashes.SHA256()))
        cls.cert = load_certificate(cert.public_bytes(serialization.Encoding.PEM))

    def sign(self, doc: dict, version: str, text: bytes) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        algo = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = self.key.sign(text, padding.PKCS1v15(), algo)
        return dict(doc, SignatureVersion=version, Signature=base64.b64encode(sig).decode())

    def test_string_to_sign_layout(self):
        n = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Subject": "S",
             "Message": 'two\nlines "q"', "Timestamp": "2026-01-01T00:00:00.000Z",
             "UnsubscribeURL": "u", "MessageAttributes": {"a": {"Type": "String", "Value": "x"}}}
        self.assertEqual(sns_string_to_sign(n),
                         b'Message\ntwo\nlines "q"\nMessageId\nm-1\nSubject\nS\n'
                         b'Timestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n')
        del n["Subject"]
        self.assertNotIn(b"Subject", sns_string_to_sign(n))
        c = {"Type": "SubscriptionConfirmation", "MessageId": "m-2", "Token": "tok",
             "TopicArn": "arn:t", "Message": "hi", "SubscribeURL": "http://x/?a=1&b=2",
             "Timestamp": "2026-01-01T00:00:00.000Z"}
        self.assertEqual(sns_string_to_sign(c),
                         b"Message\nhi\nMessageId\nm-2\nSubscribeURL\nhttp://x/?a=1&b=2\n"
                         b"Timestamp\n2026-01-01T00:00:00.000Z\nToken\ntok\nTopicArn\narn:t\n"
                         b"Type\nSubscriptionConfirmation\n")

    def test_verify_and_tamper(self):
        n = {"Type": "Notification", "MessageId": "5bd1a6fc-8d2a-4b5c-9e3f-0a1b2c3d4e5f",
             "TopicArn": topic_arn("t"), "Subject": "Sübject", "Message": "ünï\ncödé \"x\" \\",
             "Timestamp": "2026-01-01T00:00:00.000Z"}
        c = {"Type": "UnsubscribeConfirmation", "MessageId": "5bd1a6fc-8d2a-4b5c-9e3f-0a1b2c3d4e60",
             "Token": "abcdef", "TopicArn": topic_arn("t"), "Message": "bye",
             "SubscribeURL": "http://127.0.0.1:1/_/sns/confirm?Token=abcdef",
             "Timestamp": "2026-01-01T00:00:00.000Z"}
        for doc in (n, c):
            for version in ("1", "2"):
                signed = self.sign(doc, version, sns_string_to_sign(doc))
                # through JSON and back, as a receiver sees it
                signed = json.loads(json.dumps(signed))
                self.assertTrue(signature_ok(signed, self.cert), (doc["Type"], version))
                other = "2" if version == "1" else "1"
                self.assertFalse(signature_ok(signed, self.cert, version=other))
                for label, bad in tampered_variants(signed).items():
                    self.assertFalse(signature_ok(bad, self.cert), f"{label} still verifies")
        # a signature over the JSON-escaped text (a classic bug) does not verify
        wrong = self.sign(n, "1", sns_string_to_sign(n).replace(b"\n", b"\\n"))
        self.assertFalse(signature_ok(wrong, self.cert))

    def test_receiver_and_smtp_sink(self):
        """The receiver records requests and follows its plan; the SMTP sink stores mail."""
        r = Receiver("self-check").start()
        try:
            r.plan("/p", [500])
            s1 = raw_request("POST", r.url("/p"), body=b"one", headers={"X-A": "1"})
            s2 = raw_request("POST", r.url("/p"), body=[b"tw", b"o"], chunked=True)
            self.assertEqual((s1.status, s2.status), (500, 200))
            got = r.wait_for("/p", count=2, timeout=2)
            self.assertEqual([g.body for g in got], [b"one", b"two"])
            self.assertEqual(got[0].header("x-a"), "1")
            port = r.port
            r.stop()
            with self.assertRaises(OSError):
                raw_request("POST", f"http://127.0.0.1:{port}/p", body=b"x", timeout=2)
            r.port = port
            r.start()
            self.assertEqual(raw_request("POST", r.url("/p"), body=b"x").status, 200)
        finally:
            r.stop()
        if SMTP is None:
            self.skipTest("no SMTP sink (module skipped)")
        import smtplib
        with smtplib.SMTP("127.0.0.1", SMTP.port, timeout=10) as s:
            s.sendmail("a@example.test", ["self-check@example.test"],
                       b"Subject: hi\r\n\r\nbody line\r\n")
        m = SMTP.wait_for("self-check@example.test", timeout=5)[0]
        self.assertEqual((m.mail_from, m.subject, m.text), ("a@example.test", "hi", "body line\n"))


# --------------------------------------------------------------------------------------------
# 1. The aws CLI flow
# --------------------------------------------------------------------------------------------

class CliFlow(SnsCase):
    def test_topic_subscribe_confirm_publish_unsubscribe(self):
        rcv = self.receiver("flow")
        name = f"photos-{rand_suffix()}"
        arn = self.sns.json("create-topic", "--name", name)["TopicArn"]
        self.assertEqual(arn, topic_arn(name))
        self.assertEqual(self.sns.json("create-topic", "--name", name)["TopicArn"], arn,
                         "CreateTopic is idempotent")
        topics = [t["TopicArn"] for t in self.sns.json("list-topics").get("Topics", [])]
        self.assertEqual(topics.count(arn), 1, topics)
        attrs = self.sns.json("get-topic-attributes", "--topic-arn", arn)["Attributes"]
        self.assertEqual(attrs.get("TopicArn"), arn, attrs)

        # subscription 1: confirmed by GETting SubscribeURL
        self.subscribe(arn, "http", rcv.url("/one"))
        conf1 = self.check_confirmation(rcv.wait_for("/one", "SubscriptionConfirmation")[0], arn)
        # subscription 2: confirmed with `aws sns confirm-subscription --token`
        self.subscribe(arn, "http", rcv.url("/two"))
        conf2 = self.check_confirmation(rcv.wait_for("/two", "SubscriptionConfirmation")[0], arn)
        self.assertNotEqual(conf1["Token"], conf2["Token"])
        self.assertNotEqual(conf1["MessageId"], conf2["MessageId"])
        # subscription 3 stays pending: it must never get a Notification
        self.subscribe(arn, "http", rcv.url("/pending"))
        self.check_confirmation(rcv.wait_for("/pending", "SubscriptionConfirmation")[0], arn)

        sub1 = self.confirm_by_url(conf1, arn)
        out = self.sns.json("confirm-subscription", "--topic-arn", arn, "--token", conf2["Token"])
        sub2 = out.get("SubscriptionArn", "")
        self.assertRegex(sub2, "^" + re.escape(arn) + ":[0-9a-f-]{36}$", out)
        self.assertNotEqual(sub1, sub2)

        listed = {s["SubscriptionArn"]: s for s in self.subscriptions_of(arn)}
        for sub, route in ((sub1, "/one"), (sub2, "/two")):
            self.assertIn(sub, listed, listed)
            self.assertEqual((listed[sub]["Protocol"], listed[sub]["Endpoint"],
                              listed[sub]["TopicArn"], listed[sub]["Owner"]),
                             ("http", rcv.url(route), arn, ACCOUNT), listed[sub])
            a = self.sub_attributes(sub)
            self.assertEqual((a.get("PendingConfirmation"), a.get("TopicArn"), a.get("Protocol"),
                              a.get("Endpoint")), ("false", arn, "http", rcv.url(route)), a)
        others = [s for a, s in listed.items() if a not in (sub1, sub2)]
        self.assertEqual([s["Endpoint"] for s in others], [rcv.url("/pending")] if others else [],
                         f"only the pending subscription besides the two confirmed: {listed}")
        self.assertIn(sub1, [s["SubscriptionArn"]
                             for s in self.sns.json("list-subscriptions").get("Subscriptions", [])])

        # publish with Subject and String + Number attributes
        message = 'Photo "IMG 0001.jpg" ready\nline two\twith tab, ünïcödé 日本語 & <xml> \\ /'
        mid = self.publish(arn, message, subject="Photo ready", attributes={
            "kind": {"DataType": "String", "StringValue": "thumb"},
            "size": {"DataType": "Number", "StringValue": "1024"}})
        expected_attrs = {"kind": {"Type": "String", "Value": "thumb"},
                          "size": {"Type": "Number", "Value": "1024"}}
        docs = {}
        for sub, route in ((sub1, "/one"), (sub2, "/two")):
            req = rcv.wait_for(route, "Notification")[0]
            docs[route] = self.check_notification(req, arn, sub, message=message,
                                                  subject="Photo ready", attributes=expected_attrs)
            self.assertEqual(docs[route]["MessageId"], mid)
        # and one without Subject or attributes
        mid2 = self.publish(arn, "plain")
        for sub, route in ((sub1, "/one"), (sub2, "/two")):
            req = rcv.wait_for(route, "Notification", count=2)[1]
            d = self.check_notification(req, arn, sub, message="plain")
            self.assertEqual(d["MessageId"], mid2)

        # unsubscribe 1: no more notifications (its UnsubscribeConfirmation is checked last)
        self.sns("unsubscribe", "--subscription-arn", sub1)
        self.assertNotIn(sub1, [s["SubscriptionArn"] for s in self.subscriptions_of(arn)])
        mid3 = self.publish(arn, "after unsubscribe")
        req = rcv.wait_for("/two", "Notification", count=3)[2]
        self.check_notification(req, arn, sub2, message="after unsubscribe")
        self.assertEqual(req.doc()["MessageId"], mid3)
        self.assertNothingMore(rcv, "/one", 2, type="Notification")
        # the pending subscription got its confirmation and nothing else
        self.assertEqual([r.type for r in rcv.got("/pending")], ["SubscriptionConfirmation"],
                         rcv.describe())

        # the UnsubscribeURL of a notification unsubscribes subscription 2
        r = raw_request("GET", docs["/two"]["UnsubscribeURL"])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(ET.fromstring(r.body).tag.split("}")[-1], "UnsubscribeResponse",
                         r.describe())
        self.assertNotIn(sub2, [s["SubscriptionArn"] for s in self.subscriptions_of(arn)])
        before = len(rcv.got("/two", "Notification"))
        self.publish(arn, "nobody left")
        self.assertNothingMore(rcv, "/two", before, type="Notification")

        # Unsubscribe sent subscription 1 an UnsubscribeConfirmation, and nothing after it
        req = rcv.wait_for("/one", "UnsubscribeConfirmation", timeout=5)[0]
        unconf = self.check_confirmation(req, arn, type_="UnsubscribeConfirmation")
        self.assertIn(sub1, unconf["Message"])
        self.assertEqual([r.type for r in rcv.got("/one")],
                         ["SubscriptionConfirmation", "Notification", "Notification",
                          "UnsubscribeConfirmation"], rcv.describe())

    def test_errors(self):
        """A few SNS errors as the CLI reports them."""
        p = self.sns("publish", "--topic-arn", topic_arn(f"missing-{rand_suffix()}"),
                     "--message", "x", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(SnsCli.error_code(p), "NotFound", describe_proc(p))
        arn = self.create_topic("errors")
        p = self.sns("confirm-subscription", "--topic-arn", arn, "--token", "0" * 64, ok=False)
        self.assertIn(SnsCli.error_code(p), ("InvalidParameter", "NotFound"), describe_proc(p))
        p = self.sns("subscribe", "--topic-arn", arn, "--protocol", "http",
                     "--notification-endpoint", "not a url", ok=False)
        self.assertEqual(SnsCli.error_code(p), "InvalidParameter", describe_proc(p))
        p = self.sns("create-topic", "--name", "bad name!", ok=False)
        self.assertEqual(SnsCli.error_code(p), "InvalidParameter", describe_proc(p))
        # SNS: Subject is ASCII, starts with a letter/number/punctuation, no line breaks, < 100
        for subject in ("Photo ü", "two\nlines", "x" * 100):
            p = self.sns("publish", "--topic-arn", arn, "--message", "m", "--subject", subject,
                         ok=False)
            self.assertEqual(SnsCli.error_code(p), "InvalidParameter",
                             f"Subject {subject!r}:\n{describe_proc(p)}")


# --------------------------------------------------------------------------------------------
# 2. Signatures
# --------------------------------------------------------------------------------------------

class Signatures(SnsCase):
    def test_every_message_verifies_v1_and_v2(self):
        rcv = self.receiver("sig")
        v1 = self.create_topic("sig-v1")
        v2 = self.create_topic("sig-v2")
        self.sns("set-topic-attributes", "--topic-arn", v2, "--attribute-name", "SignatureVersion",
                 "--attribute-value", "2")
        a1 = self.sns.json("get-topic-attributes", "--topic-arn", v1)["Attributes"]
        a2 = self.sns.json("get-topic-attributes", "--topic-arn", v2)["Attributes"]
        self.assertIn(a1.get("SignatureVersion", "1"), ("1",), a1)
        self.assertEqual(a2.get("SignatureVersion"), "2", a2)
        v3 = self.create_topic("sig-v2-at-create", {"SignatureVersion": "2"})

        messages = ["plain ascii", 'quotes " and \\ backslash', "new\nlines\r\nand\ttabs",
                    "ünïcödé 日本語 🐱 \u2028 separator", "{\"looks\": \"like json\"}"]
        seen: list[tuple[str, dict]] = []  # (version, document) of every message received
        for arn, version, route in ((v1, "1", "/v1"), (v2, "2", "/v2"), (v3, "2", "/v3")):
            sub, conf = self.subscribe_and_confirm(arn, rcv, route, version=version)
            seen.append((version, conf))
            for i, text in enumerate(messages):
                self.publish(arn, text, subject=f"subject {i}: ok?" if i % 2 == 0 else None)
            notes = rcv.wait_for(route, "Notification", count=len(messages))
            by_message = {}
            for req in notes:
                d = req.doc()
                self.assertIn(d["Message"], messages, req.describe())
                i = messages.index(d["Message"])
                by_message[i] = self.check_notification(
                    req, arn, sub, message=messages[i],
                    subject=f"subject {i}: ok?" if i % 2 == 0 else None, version=version)
                seen.append((version, by_message[i]))
            self.assertEqual(sorted(by_message), list(range(len(messages))))
            self.sns("unsubscribe", "--subscription-arn", sub)
        unsubscribed = []
        for arn, version, route in ((v1, "1", "/v1"), (v2, "2", "/v2"), (v3, "2", "/v3")):
            try:
                unconf = rcv.wait_for(route, "UnsubscribeConfirmation", timeout=10)[0]
            except AssertionError:
                continue  # reported below, after everything that did arrive was verified
            unsubscribed.append(route)
            seen.append((version, self.check_confirmation(unconf, arn, version=version,
                                                          type_="UnsubscribeConfirmation")))

        # every document received verifies (checked above) and with the declared hash only
        certs = set()
        for version, doc in seen:
            cert = self.assertSigned(doc)
            certs.add(doc["SigningCertURL"])
            other = "2" if version == "1" else "1"
            self.assertFalse(signature_ok(doc, cert, version=other),
                             f"a v{version} signature also verifies as v{other}: {doc}")
            for label, bad in tampered_variants(doc).items():
                self.assertFalse(signature_ok(bad, cert),
                                 f"tampered ({label}) {doc['Type']} still verifies: {bad}")
        self.assertEqual(len(certs), 1, f"one signing certificate per server: {certs}")
        self.assertEqual(unsubscribed, ["/v1", "/v2", "/v3"],
                         "every Unsubscribe sends an UnsubscribeConfirmation")
        self.assertEqual(len(seen), 3 * (2 + len(messages)))

        url = certs.pop()
        pem = raw_request("GET", url)
        cert = load_certificate(pem.body)
        self.assertGreaterEqual(cert.public_key().key_size, 2048)
        bogus = re.sub(r"-[0-9a-f]+\.pem$", "-0123456789abcdef0123456789abcdef.pem", url)
        r = raw_request("GET", bogus)
        self.assertGreaterEqual(r.status, 400, f"an unknown certificate name: {r.describe()}")


# --------------------------------------------------------------------------------------------
# 3. Raw delivery, MessageStructure=json, filter policies
# --------------------------------------------------------------------------------------------

class DeliveryOptions(SnsCase):
    def test_raw_delivery_and_message_structure(self):
        rcv = self.receiver("raw")
        arn = self.create_topic("raw")
        envelope_sub, _ = self.subscribe_and_confirm(arn, rcv, "/envelope")
        # raw set at Subscribe (the confirmation itself is still the JSON document)
        raw_sub, _ = self.subscribe_and_confirm(arn, rcv, "/raw",
                                                attributes={"RawMessageDelivery": "true"})
        self.assertEqual(self.sub_attributes(raw_sub).get("RawMessageDelivery"), "true")
        # raw switched on afterwards with set-subscription-attributes
        later_sub, _ = self.subscribe_and_confirm(arn, rcv, "/raw-later")
        self.assertEqual(self.sub_attributes(later_sub).get("RawMessageDelivery", "false"),
                         "false")
        self.sns("set-subscription-attributes", "--subscription-arn", later_sub,
                 "--attribute-name", "RawMessageDelivery", "--attribute-value", "true")
        self.assertEqual(self.sub_attributes(later_sub).get("RawMessageDelivery"), "true")

        message = '{"photo": "IMG_0001.jpg"}\nsecond line ü 日本'
        mid = self.publish(arn, message, subject="raw test", attributes={
            "kind": {"DataType": "String", "StringValue": "thumb"}})
        for route, sub in (("/raw", raw_sub), ("/raw-later", later_sub)):
            req = rcv.wait_for(route, "Notification")[0]
            where = req.describe()
            self.assertEqual(req.body, message.encode(), where)
            self.assertEqual(req.header("x-amz-sns-rawdelivery"), "true", where)
            self.assertEqual(req.header("x-amz-sns-message-id"), mid, where)
            self.assertEqual(req.header("x-amz-sns-topic-arn"), arn, where)
            self.assertEqual(req.header("x-amz-sns-subscription-arn"), sub, where)
            self.assertEqual(req.header("Content-Type"), CONTENT_TYPE, where)
        self.check_notification(rcv.wait_for("/envelope", "Notification")[0], arn, envelope_sub,
                                message=message, subject="raw test",
                                attributes={"kind": {"Type": "String", "Value": "thumb"}})

        # MessageStructure=json: each protocol gets its own text, attributes are not delivered
        structured = {"default": "for everyone", "http": "for http ü\nline 2",
                      "email": "for email"}
        mid = self.publish(arn, json.dumps(structured), structure="json",
                           attributes={"kind": {"DataType": "String", "StringValue": "x"}})
        req = rcv.wait_for("/envelope", "Notification", count=2)[1]
        d = self.check_notification(req, arn, envelope_sub, message=structured["http"])
        self.assertEqual(d["MessageId"], mid)
        raw = rcv.wait_for("/raw", "Notification", count=2)[1]
        self.assertEqual(raw.body, structured["http"].encode(), raw.describe())
        # without an "http" key: "default"
        self.publish(arn, json.dumps({"default": "the default", "sqs": "for sqs"}),
                     structure="json")
        req = rcv.wait_for("/envelope", "Notification", count=3)[2]
        self.check_notification(req, arn, envelope_sub, message="the default")
        raw = rcv.wait_for("/raw", "Notification", count=3)[2]
        self.assertEqual(raw.body, b"the default", raw.describe())
        # MessageStructure=json needs a JSON object with a "default" string
        for bad in ('{"http": "no default"}', "not json"):
            p = self.sns("publish", "--topic-arn", arn, "--message", bad,
                         "--message-structure", "json", ok=False)
            self.assertEqual(SnsCli.error_code(p), "InvalidParameter", describe_proc(p))
        self.assertNothingMore(rcv, "/envelope", 3, type="Notification")

    def test_filter_policy(self):
        rcv = self.receiver("filter")
        arn = self.create_topic("filter")
        all_sub, _ = self.subscribe_and_confirm(arn, rcv, "/all")
        policy = {"kind": ["thumb", {"prefix": "preview-"}], "size": [{"numeric": [">", 100]}]}
        filtered, _ = self.subscribe_and_confirm(arn, rcv, "/filtered",
                                                 attributes={"FilterPolicy": json.dumps(policy)})
        self.assertEqual(json.loads(self.sub_attributes(filtered)["FilterPolicy"]), policy)
        # payload-based filtering (FilterPolicyScope=MessageBody)
        self.subscribe_and_confirm(arn, rcv, "/body", attributes={
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": json.dumps({"photo": {"kind": ["thumb"]}})})

        def attrs(kind, size):
            return {"kind": {"DataType": "String", "StringValue": kind},
                    "size": {"DataType": "Number", "StringValue": str(size)}}

        publishes = [
            ("no match: kind", attrs("full", 500), '{"photo": {"kind": "full"}}'),
            ("no match: size", attrs("thumb", 50), "not json"),
            ("no attributes", None, '{"photo": {}}'),
            ("match: thumb", attrs("thumb", 500), '{"photo": {"kind": "thumb"}}'),
            ("match: prefix", attrs("preview-small", 101), '{"other": 1}'),
        ]
        for label, a, body in publishes:
            self.publish(arn, body, subject=label, attributes=a)
        rcv.wait_for("/all", "Notification", count=len(publishes))
        got = {r.doc()["Subject"] for r in rcv.wait_for("/filtered", "Notification", count=2)}
        self.assertEqual(got, {"match: thumb", "match: prefix"})
        got = {r.doc()["Subject"] for r in rcv.wait_for("/body", "Notification", count=1)}
        self.assertEqual(got, {"match: thumb"})
        time.sleep(QUIET)
        self.assertEqual(sorted(r.doc()["Subject"] for r in rcv.got("/filtered", "Notification")),
                         ["match: prefix", "match: thumb"], rcv.describe())
        self.assertEqual([r.doc()["Subject"] for r in rcv.got("/body", "Notification")],
                         ["match: thumb"], rcv.describe())
        for req in rcv.got("/filtered", "Notification"):
            d = req.doc()
            self.check_notification(req, arn, filtered, message=d["Message"],
                                    subject=d["Subject"], attributes=d["MessageAttributes"])
        # an invalid policy is refused
        p = self.sns("set-subscription-attributes", "--subscription-arn", filtered,
                     "--attribute-name", "FilterPolicy", "--attribute-value", '{"kind": "thumb"}',
                     ok=False)
        self.assertEqual(SnsCli.error_code(p), "InvalidParameter", describe_proc(p))


# --------------------------------------------------------------------------------------------
# 4. Email and email-json over SMTP
# --------------------------------------------------------------------------------------------

URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")


class Email(SnsCase):
    def confirm_link(self, mail: Mail) -> str:
        links = [u for u in URL_IN_TEXT.findall(mail.text) if "/_/sns/confirm" in u]
        self.assertTrue(links, f"no SubscribeURL link in the confirmation mail:\n{mail.describe()}")
        return links[0]

    def test_email_and_email_json(self):
        arn = self.create_topic("mail")
        alice = f"alice-{rand_suffix()}@example.test"
        bob = f"bob-{rand_suffix()}@example.test"
        self.subscribe(arn, "email", alice)
        self.subscribe(arn, "email-json", bob)

        conf_a = SMTP.wait_for(alice)[0]
        self.assertEqual(conf_a.mail_from, MAIL_FROM, conf_a.describe())
        self.assertIn(MAIL_FROM, str(conf_a.msg["From"]), conf_a.describe())
        self.assertIn(alice, str(conf_a.msg["To"]), conf_a.describe())
        self.assertTrue(conf_a.subject, conf_a.describe())
        link_a = self.confirm_link(conf_a)
        self.assertTrue(link_a.startswith(self.server.url + "/_/sns/confirm?"), link_a)

        conf_b = SMTP.wait_for(bob)[0]
        self.assertEqual(conf_b.mail_from, MAIL_FROM, conf_b.describe())
        link_b = self.confirm_link(conf_b)
        try:
            doc_b = json.loads(conf_b.text)
        except ValueError:
            doc_b = None
        if doc_b is not None:  # email-json confirmations are the signed JSON document
            self.assertEqual(doc_b.get("Type"), "SubscriptionConfirmation", conf_b.describe())
            self.assertEqual(doc_b.get("SubscribeURL"), link_b)
            self.assertSigned(doc_b)

        # nothing is mailed before confirmation
        self.publish(arn, "before confirmation")
        subs = {}
        for who, link in ((alice, link_a), (bob, link_b)):
            r = raw_request("GET", link.replace("&amp;", "&"))
            self.assertEqual(r.status, 200, r.describe())
            subs[who] = harness.xml_text(r.body, "SubscriptionArn")
            self.assertRegex(subs[who] or "", "^" + re.escape(arn) + ":")
        listed = {s["Endpoint"]: s for s in self.subscriptions_of(arn)}
        self.assertEqual(listed[alice]["Protocol"], "email")
        self.assertEqual(listed[bob]["Protocol"], "email-json")
        self.assertEqual(listed[alice]["SubscriptionArn"], subs[alice])
        self.assertEqual(listed[bob]["SubscriptionArn"], subs[bob])

        message = "Your photo is ready.\nSecond line: ünïcödé 日本語"
        mid = self.publish(arn, message, subject="Photo ready (1/2)")
        note_a = SMTP.wait_for(alice, count=2)[1]
        self.assertEqual(note_a.subject, "Photo ready (1/2)", note_a.describe())
        self.assertEqual(note_a.mail_from, MAIL_FROM)
        self.assertTrue(note_a.text.startswith(message), f"email body = message + footer:\n"
                                                         f"{note_a.describe()}")
        self.assertIn("/_/sns/", note_a.text[len(message):],
                      f"the footer carries the unsubscribe link:\n{note_a.describe()}")
        note_b = SMTP.wait_for(bob, count=2)[1]
        self.assertEqual(note_b.subject, "Photo ready (1/2)", note_b.describe())
        doc = json.loads(note_b.text)
        self.assertEqual((doc["Type"], doc["MessageId"], doc["TopicArn"], doc["Subject"],
                          doc["Message"], doc["SignatureVersion"]),
                         ("Notification", mid, arn, "Photo ready (1/2)", message, "1"))
        self.assertRegex(doc["Timestamp"], TIMESTAMP_RE)
        self.assertSigned(doc)
        self.assertEqual(dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(doc["UnsubscribeURL"]).query)).get("SubscriptionArn"), subs[bob])

        # without Subject: SNS's default subject; MessageStructure=json picks per protocol
        self.publish(arn, json.dumps({"default": "the default", "email": "for email ü"}),
                     structure="json")
        note_a = SMTP.wait_for(alice, count=3)[2]
        self.assertEqual(note_a.subject, "AWS Notification Message", note_a.describe())
        self.assertTrue(note_a.text.startswith("for email ü"), note_a.describe())
        note_b = SMTP.wait_for(bob, count=3)[2]
        doc = json.loads(note_b.text)
        self.assertEqual(doc["Message"], "the default")
        self.assertNotIn("Subject", doc)
        self.assertSigned(doc)
        time.sleep(QUIET)
        self.assertEqual(len(SMTP.mails(alice)), 3, "the publish before confirmation was mailed")
        self.assertEqual(len(SMTP.mails(bob)), 3, "the publish before confirmation was mailed")


# --------------------------------------------------------------------------------------------
# 5. Reliability
# --------------------------------------------------------------------------------------------

class Reliability(SnsCase):
    def assertSameDelivery(self, reqs: list[Received], mid: str):
        """Every attempt carries the same MessageId and the very same bytes."""
        where = "\n".join(r.describe() for r in reqs)
        self.assertEqual({r.header("x-amz-sns-message-id") for r in reqs}, {mid}, where)
        self.assertEqual({r.body for r in reqs}, {reqs[0].body}, where)
        self.assertEqual(reqs[0].doc()["MessageId"], mid, where)

    def test_retry_after_500_until_success(self):
        rcv = self.receiver("retry")
        policy = retry_policy(5, 1)
        arn = self.create_topic("retry", {"DeliveryPolicy": json.dumps(policy)})
        got = json.loads(self.sns.json("get-topic-attributes", "--topic-arn",
                                       arn)["Attributes"]["DeliveryPolicy"])
        self.assertEqual(got["http"]["defaultHealthyRetryPolicy"],
                         policy["http"]["defaultHealthyRetryPolicy"], got)
        sub, _ = self.subscribe_and_confirm(arn, rcv, "/flaky")
        rcv.plan("/flaky", [500, 503, 500])
        t0 = time.monotonic()
        mid = self.publish(arn, "retried message", subject="retry")
        reqs = rcv.wait_for("/flaky", "Notification", count=4)
        self.assertEqual([r.status for r in reqs], [500, 503, 500, 200])
        self.assertSameDelivery(reqs, mid)
        self.check_notification(reqs[-1], arn, sub, message="retried message", subject="retry")
        gaps = [b.t - a.t for a, b in zip(reqs, reqs[1:])]
        self.assertTrue(all(g >= 0.5 for g in gaps), f"retries 1 s apart by policy: {gaps}")
        self.assertLess(reqs[-1].t - t0, 15, gaps)
        self.assertNothingMore(rcv, "/flaky", 4, type="Notification")

    def test_retry_while_receiver_down(self):
        rcv = self.receiver("down")
        arn = self.create_topic("down")
        self.sns("set-topic-attributes", "--topic-arn", arn, "--attribute-name", "DeliveryPolicy",
                 "--attribute-value", json.dumps(retry_policy(8, 1)))
        sub, _ = self.subscribe_and_confirm(arn, rcv, "/down")
        rcv.stop()  # connection refused from now on
        mid = self.publish(arn, "delivered once the receiver is back")
        time.sleep(2.5)
        rcv.start()  # same port
        reqs = rcv.wait_for("/down", "Notification")
        self.assertSameDelivery(reqs, mid)
        self.check_notification(reqs[0], arn, sub, message="delivered once the receiver is back")
        self.assertNothingMore(rcv, "/down", 1, type="Notification")

    def test_retries_exhausted_and_4xx_not_retried(self):
        rcv = self.receiver("exhaust")
        arn = self.create_topic("exhaust", {"DeliveryPolicy": json.dumps(retry_policy(2, 1))})
        self.subscribe_and_confirm(arn, rcv, "/always-500")
        self.subscribe_and_confirm(arn, rcv, "/gone")
        rcv.plan("/always-500", [500] * 50)
        rcv.plan("/gone", [404] * 50)
        mid = self.publish(arn, "nobody wants me")
        reqs = rcv.wait_for("/always-500", "Notification", count=3)
        self.assertSameDelivery(reqs, mid)
        self.assertNothingMore(rcv, "/always-500", 3, wait=QUIET + 1, type="Notification")
        gone = rcv.got("/gone", "Notification")
        self.assertEqual(len(gone), 1, "a 4xx answer is a delivery (5.5), not retried:\n"
                         + "\n".join(r.describe() for r in gone))

    def restartable_server(self) -> harness.Server:
        srv = self.own_server(extra_env=notify_env(SMTP.port))
        srv.listen = f"127.0.0.1:{srv.port}"  # restarts come back on the same port
        self.sns = self.cli_for(srv)
        return srv

    def test_pending_retry_survives_sigterm_restart(self):
        srv = self.restartable_server()
        rcv = self.receiver("restart")
        arn = self.create_topic("restart", {"DeliveryPolicy": json.dumps(retry_policy(30, 2))})
        sub, conf = self.subscribe_and_confirm(arn, rcv, "/r", server=srv)
        rcv.plan("/r", [500] * 1000)
        mid = self.publish(arn, "survives a restart", subject="restart")
        first = rcv.wait_for("/r", "Notification")[0]
        stopped = srv.stop()  # checked last, so a bad exit still shows whether delivery survived
        stop_log = srv.log_tail()
        rcv.plan("/r", [])  # healthy from now on
        n_before = len(rcv.got("/r", "Notification"))
        srv.start()
        self.assertEqual(srv.url, self.sns.server.url)
        reqs = rcv.wait_for("/r", "Notification", pred=lambda r: r.status == 200,
                            timeout=ARRIVAL_TIMEOUT + 10)
        attempts = rcv.got("/r", "Notification")
        self.assertGreater(len(attempts), n_before)
        self.assertSameDelivery(attempts, mid)
        self.assertEqual(reqs[0].body, first.body, "the retry after the restart sends the same "
                                                   "bytes (MessageId, Timestamp, Signature)")
        d = self.check_notification(reqs[0], arn, sub, message="survives a restart",
                                    subject="restart", server=srv)
        self.assertEqual(d["SigningCertURL"], conf["SigningCertURL"],
                         "the signing certificate is kept across restarts")
        time.sleep(QUIET)
        self.assertEqual(len([r for r in rcv.got("/r", "Notification") if r.status == 200]), 1,
                         rcv.describe())
        self.assertEqual(stopped, 0, "SIGTERM with a retry pending: exit status 0\n" + stop_log)

    def test_published_delivery_survives_sigkill(self):
        """Publish answered = delivery persisted: SIGKILL right after Publish, receiver down,
        then both come back and the message arrives."""
        srv = self.restartable_server()
        rcv = self.receiver("kill")
        arn = self.create_topic("kill", {"DeliveryPolicy": json.dumps(retry_policy(30, 2))})
        sub, _ = self.subscribe_and_confirm(arn, rcv, "/k", server=srv)
        rcv.stop()
        mids = [self.publish(arn, f"message {i}") for i in range(3)]
        srv.kill()
        rcv.start()
        srv.start()
        reqs = rcv.wait_for("/k", "Notification", count=3, timeout=ARRIVAL_TIMEOUT + 10)
        by_id = {}
        for r in reqs:
            d = self.check_notification(r, arn, sub, message=r.doc().get("Message"), server=srv)
            by_id.setdefault(d["MessageId"], []).append(d["Message"])
        self.assertEqual(set(by_id), set(mids), rcv.describe())
        self.assertEqual({mid: msgs[0] for mid, msgs in by_id.items()},
                         {mid: f"message {i}" for i, mid in enumerate(mids)})
        self.assertNothingMore(rcv, "/k", 3, type="Notification")


# --------------------------------------------------------------------------------------------
# 6. SSRF
# --------------------------------------------------------------------------------------------

METADATA = "169.254.169.254"
PUBLIC = "8.8.8.8"  # only ever a local address inside the private network namespace


def netns_available() -> bool:
    try:
        p = subprocess.run(["unshare", "-rn", "ip", "addr", "add", f"{METADATA}/32", "dev", "lo"],
                           capture_output=True, timeout=20)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ssrf_probe(report_path: str, netns: bool) -> None:
    """Runs in a child process (in its own network namespace when netns): two servers, one
    without and one with the loopback allow-list, subscribe endpoints that must never be
    reached, plus one positive control each. Writes a JSON report."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    report = {"netns": netns, "subscribe": {}, "requests": [], "controls": {}, "logs": {}}
    receivers = []
    if netns:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"],
                    ["ip", "addr", "add", f"{PUBLIC}/32", "dev", "lo"]):
            subprocess.run(cmd, check=True)
    lo = Receiver("loopback").start()
    receivers.append(lo)
    try:
        lo6 = Receiver("loopback6", host="::1").start()
        receivers.append(lo6)
    except OSError:
        lo6 = None
    meta = pub = None
    if netns:
        meta = Receiver("metadata", host=METADATA, port=80).start()
        pub = Receiver("public", host=PUBLIC).start()
        receivers += [meta, pub]
    lo.redirect("/b-redirect", f"http://{METADATA}/latest/meta-data/iam/redirected")

    forbidden_a = {
        "a-loopback": lo.url("/a-loopback"),
        "a-localhost": f"http://localhost:{lo.port}/a-localhost",
        "a-zero": f"http://0.0.0.0:{lo.port}/a-zero",
        "a-mapped": f"http://[::ffff:127.0.0.1]:{lo.port}/a-mapped",
        "a-decimal": f"http://2130706433:{lo.port}/a-decimal",
        "a-meta": f"http://{METADATA}/latest/meta-data/a-meta",
    }
    if lo6:
        forbidden_a["a-v6"] = lo6.url("/a-v6")
    forbidden_b = {
        "b-meta": f"http://{METADATA}/latest/meta-data/b-meta",
        "b-meta-port": f"http://{METADATA}:80/latest/meta-data/b-meta-port",
        "b-meta-mapped": f"http://[::ffff:{METADATA}]/latest/meta-data/b-meta-mapped",
    }
    if lo6:
        forbidden_b["b-v6"] = lo6.url("/b-v6")
    controls_a = {"a-public": pub.url("/a-public")} if pub else {}
    controls_b = {"b-loopback": lo.url("/b-loopback"), "b-redirect": lo.url("/b-redirect")}
    report["forbidden"] = sorted(forbidden_a) + sorted(forbidden_b)

    def phase(label, allowed, forbidden, controls):
        srv = harness.Server(extra_env={"PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS": allowed})
        try:
            srv.start()
            sns = boto3.session.Session().client(
                "sns", endpoint_url=srv.url, region_name=REGION,
                aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
                config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
            arn = sns.create_topic(Name=f"ssrf-{label}")["TopicArn"]
            for key, endpoint in list(forbidden.items()) + list(controls.items()):
                try:
                    out = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint,
                                        ReturnSubscriptionArn=True)
                    report["subscribe"][key] = {"endpoint": endpoint, "outcome": "accepted",
                                                "arn": out.get("SubscriptionArn")}
                except ClientError as e:
                    report["subscribe"][key] = {"endpoint": endpoint, "outcome": "refused",
                                                "code": e.response["Error"].get("Code"),
                                                "message": e.response["Error"].get("Message")}
            deadline = time.monotonic() + ARRIVAL_TIMEOUT
            for key in controls:
                rcv = pub if key == "a-public" else lo
                while time.monotonic() < deadline and not rcv.got("/" + key):
                    time.sleep(0.1)
                report["controls"][key] = len(rcv.got("/" + key))
            time.sleep(QUIET + (0 if controls else ARRIVAL_TIMEOUT / 2))
            for key in forbidden:
                sub = report["subscribe"][key]
                if sub["outcome"] == "accepted" and sub.get("arn", "").startswith("arn:"):
                    try:
                        a = sns.get_subscription_attributes(SubscriptionArn=sub["arn"])
                        sub["pending"] = a["Attributes"].get("PendingConfirmation")
                    except ClientError as e:
                        sub["pending"] = f"error {e.response['Error'].get('Code')}"
        finally:
            report["logs"][label] = srv.log_tail(40)
            srv.cleanup()

    try:
        phase("a", None, forbidden_a, controls_a)
        phase("b", LOOPBACK_CIDR, forbidden_b, controls_b)
    finally:
        for r in receivers:
            report["requests"] += [{"receiver": q.receiver, "method": q.method, "path": q.path,
                                    "route": q.route, "type": q.type, "status": q.status}
                                   for q in r.requests]
            r.stop()
        Path(report_path).write_text(json.dumps(report, indent=1))


class Ssrf(SnsCase):
    def test_private_destinations_never_reached(self):
        report_path = self.tmpdir() / "ssrf.json"
        netns = netns_available()
        if netns:
            cmd = ["unshare", "-rn", sys.executable, str(HERE / "test_sns.py"), "--ssrf-probe",
                   str(report_path), "netns"]
            p = run(cmd, timeout=240, cwd=HERE)
            self.assertEqual(p.returncode, 0, describe_proc(p))
        else:  # no user namespaces here: same probe, metadata address not observable
            ssrf_probe(str(report_path), netns=False)
        report = json.loads(report_path.read_text())
        dump = json.dumps({k: v for k, v in report.items() if k != "logs"}, indent=1)
        logs = "\n".join(f"--- server {k} ---\n{v}" for k, v in report["logs"].items())
        where = f"{dump}\n{logs}"

        # positive controls: the setup can deliver at all
        for key, n in report["controls"].items():
            self.assertGreaterEqual(n, 1, f"control {key} got no SubscriptionConfirmation\n{where}")
        # forbidden endpoints: refused with InvalidParameter, or accepted and never reached
        for key in report["forbidden"]:
            sub = report["subscribe"][key]
            if sub["outcome"] == "refused":
                self.assertEqual(sub["code"], "InvalidParameter", f"{key}: {sub}\n{where}")
            else:
                self.assertIn(sub.get("pending"), ("true", None), f"{key}: {sub}\n{where}")
            hits = [q for q in report["requests"] if q["route"].endswith("/" + key)
                    or q["route"] == "/" + key]
            self.assertEqual(hits, [], f"{key} ({sub['endpoint']}) was reached\n{where}")
        meta_hits = [q for q in report["requests"] if q["receiver"] == "metadata"]
        self.assertEqual(meta_hits, [], f"{METADATA} was reached\n{where}")
        if not netns:
            self.skipTest("unshare -rn unavailable: loopback spellings checked, but reaching "
                          f"{METADATA} itself could not be observed")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--ssrf-probe":
        ssrf_probe(sys.argv[2], netns=len(sys.argv) > 3 and sys.argv[3] == "netns")
    else:
        unittest.main()
