"""Dead letters of the notification service through `photoflux notify`, and topics declared in the
config file (serve.notify.topics), against the real binary.

  - a topic with a short DeliveryPolicy (one retry, 1 s) and an http subscription to a receiver
    that answers 500: after the retries `photoflux notify dead-letters` lists the delivery (text and
    --json); the receiver is fixed; `photoflux notify replay --subscription ARN` delivers it again,
    with the same MessageId;
  - how the CLI finds the server and its keys (environment, --data-dir credentials.json) and what
    it says when it cannot (serve not running, wrong keys, no keys, no selector);
  - a topic and an http subscription declared with --config are usable at once: a publish reaches
    the receiver without any confirmation, the declared filter policy applies, a restart keeps the
    same subscription, and invalid declarations stop serve with every problem listed.

The SNS API is called with hand-signed requests (harness.sign_v4, service "sns"), so the module
needs no aws CLI. photoflux only: moto delivers nothing.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import REGION, ServerTestCase, describe_proc, photoflux_binary, rand_suffix, run

LOOPBACK_CIDR = "127.0.0.0/8"
ACCOUNT = "000000000000"
ARRIVAL_TIMEOUT = float(os.environ.get("PF_SNS_ARRIVAL_TIMEOUT", "20"))
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# One retry one second after the first attempt, then the delivery is dead.
SHORT_POLICY = {"http": {"defaultHealthyRetryPolicy": {
    "numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1, "numNoDelayRetries": 0,
    "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear"}}}


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording every request. Confirmations are answered 200;
    notifications get `notification_status` (500 while "broken")."""

    def __init__(self):
        self.requests: list[dict] = []
        self.cond = threading.Condition()
        self.notification_status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.headers.get("x-amz-sns-message-type")
                with receiver.cond:
                    status = receiver.notification_status if kind == "Notification" else 200
                    receiver.requests.append({
                        "path": urllib.parse.urlsplit(self.path).path, "type": kind,
                        "message_id": self.headers.get("x-amz-sns-message-id"),
                        "subscription": self.headers.get("x-amz-sns-subscription-arn"),
                        "body": body, "status": status, "t": time.monotonic()})
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, path: str, kind: str | None = None) -> list[dict]:
        with self.cond:
            return [r for r in self.requests
                    if r["path"] == path and (kind is None or r["type"] == kind)]

    def wait_for(self, path: str, kind: str, count: int = 1, pred=None,
                 timeout: float = ARRIVAL_TIMEOUT) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [r for r in self.requests if r["path"] == path and r["type"] == kind
                         and (pred is None or pred(r))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} {kind} on {path} after "
                                         f"{timeout}s; got: {self.describe()}")
                self.cond.wait(left)

    def describe(self) -> str:
        with self.cond:
            return "\n".join(f"  {r['path']} {r['type']} {r['message_id']} -> {r['status']}"
                             for r in self.requests) or "  (nothing)"


RECEIVER: Receiver | None = None


def setUpModule():
    global RECEIVER
    if harness.IS_MOTO:
        raise unittest.SkipTest(f"moto deviation: {harness.MOTO_DEVIATIONS['sns-delivery']}")
    RECEIVER = Receiver()
    try:
        harness.start_module_server(
            __name__, extra_env={"PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS": LOOPBACK_CIDR})
    except Exception:
        RECEIVER.close()
        raise


def tearDownModule():
    harness.stop_module_server(__name__)
    if RECEIVER:
        RECEIVER.close()


class Case(ServerTestCase):
    # -- the SNS API, hand-signed ---------------------------------------------------------------

    def sns(self, action: str, params: dict | list | None = None, server=None,
            ok: bool = True) -> ET.Element:
        server = server or self.server
        items = list(params.items()) if isinstance(params, dict) else list(params or [])
        body = urllib.parse.urlencode([("Action", action), ("Version", "2010-03-31")] + items,
                                      quote_via=urllib.parse.quote).encode()
        r = harness.signed_request(
            server, "POST", "/", body=body, service="sns",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        if ok:
            self.assertEqual(r.status, 200, f"{action}: {r.describe()}")
        return ET.fromstring(r.body)

    @staticmethod
    def text(root: ET.Element, tag: str) -> str | None:
        found = [e for e in root.iter() if e.tag.split("}")[-1] == tag]
        return found[0].text if found else None

    def publish(self, arn: str, message: str, attributes: dict | None = None, server=None) -> str:
        params = [("TopicArn", arn), ("Message", message)]
        for i, (name, value) in enumerate((attributes or {}).items(), 1):
            params += [(f"MessageAttributes.entry.{i}.Name", name),
                       (f"MessageAttributes.entry.{i}.Value.DataType", "String"),
                       (f"MessageAttributes.entry.{i}.Value.StringValue", value)]
        mid = self.text(self.sns("Publish", params, server=server), "MessageId")
        self.assertRegex(mid or "", UUID_RE)
        return mid

    # -- the CLI ------------------------------------------------------------------------------

    def cli_env(self, with_keys: bool = True, server=None) -> dict:
        server = server or self.server
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "PHOTOFLUX_", "PF_"))}
        if with_keys:
            env["PHOTOFLUX_ACCESS_KEY_ID"] = server.access_key
            env["PHOTOFLUX_SECRET_ACCESS_KEY"] = server.secret_key
        return env

    def notify(self, *args, env: dict | None = None, server=None, expect: int = 0,
               endpoint: bool = True) -> subprocess.CompletedProcess:
        server = server or self.server
        sub, rest = args[0], list(args[1:])
        if endpoint:
            rest += ["--endpoint", server.url]
        cmd = [str(photoflux_binary()), "notify", sub, *rest]
        p = run(cmd, env=env if env is not None else self.cli_env(server=server),
                timeout=60, cwd=self.tmpdir())
        self.assertEqual(p.returncode, expect, describe_proc(p))
        return p

    def dead_letters(self, *args, server=None) -> list[dict]:
        p = self.notify("dead-letters", "--json", *args, server=server)
        return json.loads(p.stdout)


class DeadLetters(Case):
    def test_listed_after_the_retries_then_replayed_with_the_same_message_id(self):
        name = f"dlq-{rand_suffix()}"
        arn = self.text(self.sns("CreateTopic", [
            ("Name", name), ("Attributes.entry.1.key", "DeliveryPolicy"),
            ("Attributes.entry.1.value", json.dumps(SHORT_POLICY))]), "TopicArn")
        self.assertEqual(arn, topic_arn(name))
        route = f"/dlq-{rand_suffix()}"
        self.sns("Subscribe", {"TopicArn": arn, "Protocol": "http",
                               "Endpoint": RECEIVER.url(route)})
        confirmation = json.loads(RECEIVER.wait_for(route, "SubscriptionConfirmation")[0]["body"])
        status, _, body = harness.http_request("GET", confirmation["SubscribeURL"])
        self.assertEqual(status, 200, body)
        sub_arn = self.text(ET.fromstring(body), "SubscriptionArn")
        self.assertTrue(sub_arn.startswith(arn + ":"), body)

        RECEIVER.notification_status = 500  # broken receiver
        try:
            mid = self.publish(arn, "nobody is listening yet")
            attempts = RECEIVER.wait_for(route, "Notification", count=2)
            self.assertEqual({a["message_id"] for a in attempts}, {mid})
            # Dead after the retry: listed (poll, the dead-lettering follows the last answer).
            deadline = time.monotonic() + ARRIVAL_TIMEOUT
            mine = []
            while time.monotonic() < deadline:
                mine = [d for d in self.dead_letters() if d["MessageId"] == mid]
                if mine:
                    break
                time.sleep(0.3)
            self.assertEqual(len(mine), 1, f"not dead-lettered:\n{self.server.log_tail()}")
        finally:
            RECEIVER.notification_status = 200  # the receiver is fixed
        letter = mine[0]
        self.assertRegex(letter["DeliveryId"], UUID_RE)
        self.assertEqual(letter["MessageType"], "Notification")
        self.assertEqual(letter["TopicArn"], arn)
        self.assertEqual(letter["SubscriptionArn"], sub_arn)
        self.assertEqual(letter["Protocol"], "http")
        self.assertEqual(letter["Endpoint"], RECEIVER.url(route))
        self.assertEqual(letter["Attempts"], 2, letter)  # the first attempt and one retry
        self.assertRegex(letter["DeadAt"], ISO_RE)
        self.assertIn("500", letter["Reason"])
        self.assertEqual(len(RECEIVER.got(route, "Notification")), 2, RECEIVER.describe())

        # Filtered by subscription, and the human-readable listing.
        self.assertEqual([d["DeliveryId"] for d in self.dead_letters("--subscription", sub_arn)],
                         [letter["DeliveryId"]])
        text = self.notify("dead-letters", "--subscription", sub_arn).stdout.decode()
        for part in (letter["DeliveryId"], mid, sub_arn, RECEIVER.url(route), "attempts 2",
                     "1 dead letter"):
            self.assertIn(part, text)

        t0 = time.monotonic()
        p = self.notify("replay", "--subscription", sub_arn)
        self.assertIn("Replayed 1 dead letter", p.stdout.decode())
        delivered = RECEIVER.wait_for(route, "Notification", pred=lambda r: r["status"] == 200)
        self.assertEqual(len(delivered), 1, RECEIVER.describe())
        self.assertEqual(delivered[0]["message_id"], mid)
        self.assertEqual(json.loads(delivered[0]["body"])["MessageId"], mid)
        self.assertEqual(json.loads(delivered[0]["body"])["Message"], "nobody is listening yet")
        self.assertEqual(delivered[0]["subscription"], sub_arn)
        self.assertLess(delivered[0]["t"] - t0, 10)
        self.assertEqual(self.dead_letters("--subscription", sub_arn), [])
        self.assertIn("No dead letters", self.notify("dead-letters", "--subscription",
                                                     sub_arn).stdout.decode())
        # Replaying again finds nothing; naming a replayed id is reported (exit 1).
        self.assertIn("Nothing replayed",
                      self.notify("replay", "--subscription", sub_arn).stdout.decode())
        p = self.notify("replay", "--id", letter["DeliveryId"], expect=1)
        self.assertIn("not a dead letter", p.stdout.decode())
        time.sleep(1.5)
        self.assertEqual(len(RECEIVER.got(route, "Notification")), 3, RECEIVER.describe())


class CliConnection(Case):
    def test_credentials_from_the_data_dir(self):
        data = self.tmpdir()
        (data / "credentials.json").write_text(json.dumps(
            {"access_key_id": self.server.access_key, "secret_access_key": self.server.secret_key}))
        p = self.notify("dead-letters", "--data-dir", str(data), "--json",
                        env=self.cli_env(with_keys=False))
        self.assertIsInstance(json.loads(p.stdout), list)
        # AWS_* keys are taken when PHOTOFLUX_* are not set.
        env = self.cli_env(with_keys=False)
        env.update({"AWS_ACCESS_KEY_ID": self.server.access_key,
                    "AWS_SECRET_ACCESS_KEY": self.server.secret_key})
        self.notify("dead-letters", env=env)

    def test_wrong_keys_no_keys_no_server_no_selector(self):
        env = self.cli_env(with_keys=False)
        env.update({"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1",
                    "AWS_SECRET_ACCESS_KEY": "wrong"})
        p = self.notify("dead-letters", env=env, expect=1)
        err = p.stderr.decode()
        self.assertIn("InvalidClientTokenId", err)
        self.assertIn("AKIAWRONGWRONGWRONG1 (from AWS_ACCESS_KEY_ID)", err)

        empty = self.tmpdir()
        p = self.notify("dead-letters", "--data-dir", str(empty),
                        env=self.cli_env(with_keys=False), expect=2)
        self.assertIn("no credentials", p.stderr.decode())
        self.assertIn(str(empty / "credentials.json"), p.stderr.decode())

        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        p = self.notify("replay", "--all", "--endpoint", f"http://127.0.0.1:{closed}",
                        endpoint=False, expect=1)
        err = p.stderr.decode()
        self.assertIn(f"cannot reach photoflux serve at http://127.0.0.1:{closed}", err)
        self.assertIn("Is `photoflux serve` running?", err)

        p = self.notify("replay", expect=2)
        self.assertIn("--subscription ARN, --id ID ... or --all", p.stderr.decode())
        p = self.notify("replay", "--all", "--subscription", topic_arn("x") + ":y", expect=108)
        self.assertIn("excludes", p.stderr.decode())
        p = self.notify("dead-letters", "--endpoint", "ftp://127.0.0.1:1", endpoint=False,
                        expect=2)
        self.assertIn("--endpoint must be an http:// or https:// URL", p.stderr.decode())


DECLARED = """serve:
  notify:
    topics:
      - name: {name}
        attributes: {{DisplayName: Declared photos, SignatureVersion: "2"}}
        subscriptions:
          - protocol: http
            endpoint: "{endpoint}"
            raw: false
            filter_policy: '{{"kind":["thumb"]}}'
"""


class DeclaredInConfig(Case):
    def test_declared_topic_and_subscription_are_usable_at_once(self):
        name = f"declared-{rand_suffix()}"
        route = f"/declared-{rand_suffix()}"
        config = DECLARED.format(name=name, endpoint=RECEIVER.url(route))
        srv = self.own_server(config_text=config,
                              extra_env={"PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS": LOOPBACK_CIDR})
        arn = topic_arn(name)
        subs = self.sns("ListSubscriptionsByTopic", {"TopicArn": arn}, server=srv)
        arns = [e.text for e in subs.iter() if e.tag.split("}")[-1] == "SubscriptionArn"]
        self.assertEqual(len(arns), 1, ET.tostring(subs))
        self.assertTrue(arns[0].startswith(arn + ":"), arns)  # confirmed, not PendingConfirmation
        attrs = self.sns("GetTopicAttributes", {"TopicArn": arn}, server=srv)
        entries = {self.text(e, "key"): self.text(e, "value")
                   for e in attrs.iter() if e.tag.split("}")[-1] == "entry"}
        self.assertEqual(entries["DisplayName"], "Declared photos")
        self.assertEqual(entries["SignatureVersion"], "2")
        self.assertEqual(entries["SubscriptionsConfirmed"], "1")
        self.assertEqual(entries["SubscriptionsPending"], "0")

        skipped = self.publish(arn, "filtered out", {"kind": "preview"}, server=srv)
        mid = self.publish(arn, "straight through", {"kind": "thumb"}, server=srv)
        got = RECEIVER.wait_for(route, "Notification")
        self.assertEqual(got[0]["message_id"], mid)
        self.assertEqual(got[0]["subscription"], arns[0])
        self.assertEqual(json.loads(got[0]["body"])["Message"], "straight through")
        self.assertEqual(RECEIVER.got(route, "SubscriptionConfirmation"), [],
                         "a declared subscription needs no confirmation")
        time.sleep(1.5)
        self.assertNotIn(skipped, [r["message_id"] for r in RECEIVER.got(route)])

        # A restart with the same file keeps the very same subscription.
        srv.stop()
        srv.start()
        again = self.sns("ListSubscriptionsByTopic", {"TopicArn": arn}, server=srv)
        self.assertEqual([e.text for e in again.iter()
                          if e.tag.split("}")[-1] == "SubscriptionArn"], arns)

        # `photoflux config` says what the file declares.
        p = run([str(photoflux_binary()), "--config", str(srv.config_path), "config"],
                env=self.cli_env(with_keys=False))
        self.assertEqual(p.returncode, 0, describe_proc(p))
        self.assertIn(f"declares 1 topic, 1 subscription: {name} (http)", p.stdout.decode())

    def test_invalid_declarations_stop_serve_with_every_problem(self):
        root = self.tmpdir()
        bad_shape = root / "shape.yaml"
        bad_shape.write_text("serve:\n  notify:\n    topics:\n      - name: a.fifo\n"
                             "        subscriptions:\n          - {protocol: sms, endpoint: x}\n")
        bad_policy = root / "policy.yaml"
        bad_policy.write_text(
            "serve:\n  notify:\n    topics:\n      - name: ok\n"
            "        attributes: {DeliveryPolicy: '{\"http\": 5}'}\n"
            "        subscriptions:\n"
            "          - {protocol: https, endpoint: 'https://h.example.com/', "
            "filter_policy: 'not json'}\n"
            "          - {protocol: email, endpoint: ops@example.com}\n")
        for path, expected in (
                (bad_shape, ["invalid configuration:",
                             "serve.notify.topics[0].name: must be 1 to 256",
                             "serve.notify.topics[0].subscriptions[0].protocol: must be one of"]),
                (bad_policy, ["serve.notify.topics[0].attributes.DeliveryPolicy:",
                              "serve.notify.topics[0].subscriptions[0]: ",
                              "serve.notify.topics[0].subscriptions[1].endpoint: e-mail "
                              "subscriptions need an SMTP server"])):
            data = root / f"data-{path.stem}"
            p = run([str(photoflux_binary()), "serve", "--config", str(path), "--data-dir",
                     str(data), "--listen", "127.0.0.1:0"], env=self.cli_env(), timeout=30)
            self.assertEqual(p.returncode, 2, describe_proc(p))
            for part in expected:
                self.assertIn(part, p.stderr.decode(), describe_proc(p))


if __name__ == "__main__":
    unittest.main()
