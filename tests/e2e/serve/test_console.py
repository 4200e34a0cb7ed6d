"""The web console of `photoflux serve` (docs/console.md) in a real browser: headless Chromium
driven by js/console_browser.mjs (playwright-core), against a serve running the zero-config
pipeline (bucket photos, uploads/ -> process-photo -> topic photo-events) and a webhook receiver.

The browser side, step by step (see the script's header): GET / redirects a browser to the
console, which shows only the sign-in; the API key pair signs in; three real photos dropped on the
drop zone (real drag events carrying a DataTransfer of File objects) upload with full progress,
reach "done" and show loaded thumbnails; the detail view lists the manifest's derivatives with
their dimensions and format; a webhook subscribed on the Notifications page turns confirmed and a
new upload's message appears in the live log; a corrupt file shows as failed with its reason; the
settings page; signing out returns to the sign-in and the API answers 401. Screenshots of every
page at 1280x800 and 390x844, light and dark, go to PF_SCREENSHOT_DIR.

This side then checks the server: the receiver got the confirmation and the signed photo.processed
notification of the photo uploaded after subscribing; every photo's derivatives exist as their
manifest says; the corrupt upload has no manifest and is a function dead letter; the screenshots
are PNG files of the expected widths.

Skipped (locally) when Chromium, node or js/node_modules/playwright-core is missing; under CI
(CI=true) a missing browser fails instead, so CI cannot pass by skipping.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import harness
from harness import raw_request
from test_pipeline import DATA, TOPIC_ARN, PipelineCase, pipeline_env
from test_sns import Receiver, load_certificate, signature_ok

JS_DIR = harness.HERE / "js"
SCRIPT = JS_DIR / "console_browser.mjs"
NODE = shutil.which("node")
CHROMIUM = os.environ.get("PF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHOTOS = [DATA / "photos" / n for n in ("camera.jpg", "phone.jpg", "orientation-6.jpg")]
HOOK = "/console-hook"
NODE_TIMEOUT = float(os.environ.get("PF_CONSOLE_TIMEOUT", "480"))
SHOT_NAMES = ["signin", "upload", "gallery", "detail", "notifications", "notifications-log",
              "upload-failed", "settings"]
VIEWPORT_WIDTHS = {"desktop": 1280, "phone": 390}


def missing_browser() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not NODE:
        return "node is not installed (scripts/setup.sh installs nodejs)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (scripts/setup.sh installs Debian's chromium)"
    if not (JS_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        return f"playwright-core is not installed: run `npm ci` in {JS_DIR} (scripts/setup.sh does)"
    return None


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; ValueError when the file is not a PNG."""
    head = path.read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


class Confirmer:
    """Confirms every SubscriptionConfirmation the receiver gets on a route by GETting its
    SubscribeURL, as an endpoint that accepts subscriptions does (the browser cannot see the
    receiver). Records what it confirmed and how the server answered."""

    def __init__(self, receiver: Receiver, route: str):
        self.receiver, self.route = receiver, route
        self.confirmed: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="confirmer")

    def start(self) -> "Confirmer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        done = 0
        while not self._stop.is_set():
            pending = self.receiver.got(self.route, "SubscriptionConfirmation")[done:]
            for r in pending:
                url = r.doc()["SubscribeURL"]
                try:
                    status = raw_request("GET", url, timeout=10).status
                except OSError as e:
                    status = -1
                    print(f"[confirmer] GET {url}: {e}", file=sys.stderr)
                self.confirmed.append((url, status))
                done += 1
            self._stop.wait(0.2)


@unittest.skipIf(harness.IS_MOTO, "the web console is photoflux's own (moto has none)")
class ConsoleInBrowser(PipelineCase):
    @classmethod
    def setUpClass(cls):
        why = missing_browser()
        if why:
            if os.environ.get("CI", "").lower() == "true":
                raise RuntimeError(f"CI must run the browser test, but: {why}")
            raise unittest.SkipTest(why)
        cls.work = Path(tempfile.mkdtemp(prefix="pf-e2e-console-"))
        # Not an image at all: 64 KiB of noise named like a JPEG.
        cls.corrupt = cls.work / "broken.jpg"
        cls.corrupt.write_bytes(random.Random(6).randbytes(64 * 1024))
        shots = os.environ.get("PF_SCREENSHOT_DIR")
        cls.shots = Path(shots) if shots else Path(tempfile.mkdtemp(prefix="pf-console-screenshots-"))
        cls.shots.mkdir(parents=True, exist_ok=True)
        for old in cls.shots.glob("*.png"):  # so only this run's screenshots are checked
            old.unlink()
        cls.receiver = Receiver("console").start()
        cls.server = harness.Server(extra_env=pipeline_env()).start()
        cls.confirmer = Confirmer(cls.receiver, HOOK).start()

    @classmethod
    def tearDownClass(cls):
        cls.confirmer.stop()
        cls.server.cleanup()
        cls.receiver.stop()
        shutil.rmtree(cls.work, ignore_errors=True)
        print(f"\nconsole screenshots: {cls.shots}", file=sys.stderr)

    def run_browser(self) -> tuple[int, str, dict | None]:
        """Runs the node script, echoing its output live; returns (status, output, PF_RESULT)."""
        env = dict(os.environ)
        env.update({
            "PF_URL": self.server.url,
            "PF_ACCESS_KEY": self.server.access_key,
            "PF_SECRET_KEY": self.server.secret_key,
            "PF_WEBHOOK_URL": self.receiver.url(HOOK),
            "PF_PHOTOS": ":".join(str(p) for p in PHOTOS),
            "PF_CORRUPT": str(self.corrupt),
            "PF_SCREENSHOT_DIR": str(self.shots),
            "PF_CHROMIUM": CHROMIUM,
        })
        proc = subprocess.Popen([NODE, str(SCRIPT)], cwd=JS_DIR, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=harness._die_with_parent)
        lines: list[str] = []

        def pump():
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                lines.append(line)
                sys.stderr.write("    | " + line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            proc.wait(NODE_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            reader.join(5)
            proc.stdout.close()
            self.fail(f"console_browser.mjs still running after {NODE_TIMEOUT}s; output:\n"
                      + "".join(lines[-80:]))
        reader.join(10)
        proc.stdout.close()
        result = None
        for line in lines:
            if line.startswith("PF_RESULT "):
                result = json.loads(line[len("PF_RESULT "):])
        return proc.returncode, "".join(lines), result

    def test_console_end_to_end(self):
        status, output, result = self.run_browser()
        failed = [s for s in (result or {}).get("steps", []) if not s["ok"]]
        self.assertEqual(status, 0, f"the browser steps failed: {failed or output[-4000:]}")
        self.assertIsNotNone(result, output[-4000:])
        self.assertEqual(len(result["steps"]), 7, result["steps"])
        srv, s3 = self.server, self.server.client()

        # The webhook subscribed in the browser was confirmed through its SubscribeURL...
        self.assertTrue(self.confirmer.confirmed, "no SubscriptionConfirmation reached the receiver")
        self.assertTrue(all(st == 200 for _, st in self.confirmer.confirmed), self.confirmer.confirmed)
        import boto3
        sns = boto3.client("sns", endpoint_url=srv.url, region_name=harness.REGION,
                           aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key)
        subs = sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
        mine = [s for s in subs if s["Endpoint"] == self.receiver.url(HOOK)]
        self.assertEqual(len(mine), 1, subs)
        self.assertNotEqual(mine[0]["SubscriptionArn"], "PendingConfirmation", mine)
        self.assertEqual(mine[0]["Protocol"], "http")

        # ...and received the signed photo.processed of the photo uploaded after that.
        key = result["notify_key"]
        found = self.receiver.wait_for(
            HOOK, "Notification", timeout=30,
            pred=lambda r: json.loads(r.doc()["Message"]).get("key") == key)
        doc = found[0].doc()
        self.assertEqual(doc["Subject"], "photo.processed", doc)
        self.assertEqual(doc["TopicArn"], TOPIC_ARN)
        cert = load_certificate(raw_request("GET", doc["SigningCertURL"]).body)
        self.assertTrue(signature_ok(doc, cert), f"bad signature: {doc}")

        # Every uploaded photo (this ETag) has its manifest and each derivative it lists.
        for name in [p.name for p in PHOTOS] + [key.rsplit("/", 1)[1]]:
            photo_key = f"uploads/{name}"
            source = s3.head_object(Bucket="photos", Key=photo_key)
            manifest = json.loads(self.get(srv, f"processed/{photo_key}/manifest.json"))
            self.assertEqual(manifest["source"]["etag"], source["ETag"].strip('"'), photo_key)
            self.assertTrue(manifest["outputs"], manifest)
            for out in manifest["outputs"]:
                head = s3.head_object(Bucket="photos", Key=f"processed/{photo_key}/{out['file']}")
                self.assertEqual(head["ContentLength"], out["bytes"], (photo_key, out))
        self.assertEqual(
            self.get(srv, "uploads/" + PHOTOS[0].name), PHOTOS[0].read_bytes(),
            "the browser uploaded the photo's exact bytes")

        # The corrupt upload: stored as uploaded, no manifest, a function dead letter.
        corrupt_key = result["corrupt_key"]
        self.assertEqual(self.get(srv, corrupt_key), self.corrupt.read_bytes())
        listing = s3.list_objects_v2(Bucket="photos", Prefix=f"processed/{corrupt_key}/")
        self.assertEqual(listing.get("KeyCount"), 0, listing.get("Contents"))
        letters = [d for d in self.dead_letters(srv) if corrupt_key in json.dumps(d["payload"])]
        self.assertEqual(len(letters), 1, self.dead_letters(srv))

        # The screenshots: one PNG per page, viewport and colour scheme, as wide as the viewport.
        for page in SHOT_NAMES:
            for vp, width in VIEWPORT_WIDTHS.items():
                for scheme in ("light", "dark"):
                    path = self.shots / f"{page}-{vp}-{scheme}.png"
                    self.assertTrue(path.is_file(), f"missing screenshot {path}")
                    w, h = png_size(path)
                    self.assertGreaterEqual(w, width, path)
                    self.assertGreaterEqual(h, 300, path)
        for w in result.get("warnings", []):
            print(f"\nconsole warning: {w}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
