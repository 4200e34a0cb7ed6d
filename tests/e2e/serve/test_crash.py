"""Crash safety of `photoflux serve`: concurrent uploads while the server is SIGKILLed at random
moments and restarted on the same data dir. Every upload acknowledged with 200 must survive with
identical bytes; nothing half-written may ever be visible; temp files are cleaned up; SIGTERM stops
gracefully. photoflux only (moto keeps state in memory).

PF_CRASH_KILLS (default 20) sets the number of kills; PF_CRASH_SEED fixes the randomness."""
import hashlib
import os
import random
import threading
import time
import unittest
import uuid

import harness
from harness import DEFAULT_BUCKET as B, KiB, MiB, ServerTestCase, photoflux_only

KILLS = int(os.environ.get("PF_CRASH_KILLS", "20"))
WRITERS = int(os.environ.get("PF_CRASH_WRITERS", "8"))
SEED = int(os.environ.get("PF_CRASH_SEED", str(random.randrange(1 << 30))))


def setUpModule():
    if harness.IS_MOTO:
        raise unittest.SkipTest(f"moto deviation: {harness.MOTO_DEVIATIONS['crash']}")


def temp_leftovers(data_dir) -> list[str]:
    """Temp files anywhere in the data dir: DATA/tmp/* and *.tmp / *.part names."""
    found = []
    tmp = data_dir / "tmp"
    if tmp.exists():
        found += [str(p) for p in tmp.rglob("*") if p.is_file()]
    for p in data_dir.rglob("*"):
        if p.is_file() and (p.name.endswith(".tmp") or p.name.endswith(".part")):
            found.append(str(p))
    return sorted(set(found))


class Clients:
    """boto3 clients for the writers, made from one session: creating a client from a fresh
    session costs ~0.1 s of CPU (model loading), too slow to redo after every restart."""

    def __init__(self, server):
        import boto3
        self.server = server
        self.session = boto3.session.Session()

    def make(self):
        from botocore.config import Config
        return self.session.client(
            "s3", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id=self.server.access_key, aws_secret_access_key=self.server.secret_key,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=15))

    def hand_out(self, writers):
        for w in writers:
            w.s3 = self.make()


def merge_counts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


class Writer(threading.Thread):
    """Puts objects of random sizes until told to stop; some through multipart. Records a key
    only after the server acknowledged it."""

    def __init__(self, idx, server, acked, lock, stop, rng_seed, multipart_ratio=0.2):
        super().__init__(daemon=True, name=f"writer-{idx}")
        self.multipart_ratio = multipart_ratio
        self.idx, self.server, self.acked, self.lock, self.stop = idx, server, acked, lock, stop
        self.rng = random.Random(rng_seed)
        self.attempts = self.failures = 0
        self.unexpected: list[str] = []
        self.errors: dict[str, int] = {}

    s3 = None  # set (and replaced after every restart) by the test's main thread

    def run(self):
        from botocore.exceptions import ClientError
        n = 0
        while not self.stop.is_set():
            s3 = self.s3
            n += 1
            key = f"crash/{self.idx}/{n}-{uuid.uuid4().hex[:6]}"
            size = self.rng.randint(1 * KiB, 2 * MiB)
            data = self.rng.randbytes(size)
            self.attempts += 1
            try:
                if self.rng.random() < self.multipart_ratio:
                    etag, data = self.multipart(s3, key, data)
                    size = len(data)
                else:
                    etag = s3.put_object(Bucket=B, Key=key, Body=data)["ETag"]
            except ClientError as e:
                self.failures += 1
                code = e.response.get("Error", {}).get("Code")
                self.errors[str(code)] = self.errors.get(str(code), 0) + 1
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                # 5xx/503 while shutting down or starting is acceptable; 4xx is a bug.
                if status and status < 500:
                    self.unexpected.append(f"{key}: {status} {code}")
                time.sleep(0.02)
                continue
            except Exception as e:  # connection refused/reset while the server is down
                self.failures += 1
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked[key] = (hashlib.md5(data).hexdigest(), size, etag)

    def multipart(self, s3, key, data):
        """One part, or a 5 MiB part then the data. Returns (etag, whole object bytes)."""
        up = s3.create_multipart_upload(Bucket=B, Key=key)["UploadId"]
        parts = [data]
        if len(data) > 1 * MiB and self.rng.random() < 0.3:
            parts = [self.rng.randbytes(5 * MiB), data]
        done = []
        for i, p in enumerate(parts, 1):
            done.append({"PartNumber": i, "ETag": s3.upload_part(Bucket=B, Key=key, UploadId=up,
                                                                 PartNumber=i, Body=p)["ETag"]})
        etag = s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=up,
                                            MultipartUpload={"Parts": done})["ETag"]
        return etag, b"".join(parts)


@photoflux_only("crash")
class CrashSafety(ServerTestCase):
    def setUp(self):
        self.own_server()

    def test_acknowledged_uploads_survive_sigkill(self):
        srv = self.server
        rng = random.Random(SEED)
        acked: dict[str, tuple[str, int, str]] = {}
        lock = threading.Lock()
        stop = threading.Event()
        writers = [Writer(i, srv, acked, lock, stop, rng.randrange(1 << 30)) for i in range(WRITERS)]
        clients = Clients(srv)
        clients.hand_out(writers)
        for w in writers:
            w.start()
        t0 = time.monotonic()
        kills = 0
        restart_times = []
        try:
            while kills < KILLS:
                time.sleep(rng.uniform(0.15, 1.2))
                srv.kill()
                kills += 1
                t = time.monotonic()
                srv.start()
                restart_times.append(time.monotonic() - t)
                clients.hand_out(writers)  # the new server listens on a new port
        finally:
            time.sleep(0.5)
            stop.set()
            for w in writers:
                w.join(30)
        elapsed = time.monotonic() - t0
        print(f"\n[crash] seed={SEED} kills={kills} acked={len(acked)} "
              f"attempts={sum(w.attempts for w in writers)} failed={sum(w.failures for w in writers)} "
              f"max_restart={max(restart_times):.2f}s elapsed={elapsed:.1f}s "
              f"errors={merge_counts(w.errors for w in writers)}")
        self.assertGreater(len(acked), KILLS, "too few acknowledged uploads to mean anything")
        unexpected = [u for w in writers for u in w.unexpected]
        self.assertEqual(unexpected, [], "4xx answers to valid uploads during the crash loop")

        # One more hard kill right now, then verify from a fresh start.
        srv.kill()
        srv.start()
        s3 = srv.client()
        missing, corrupt = [], []
        for key, (md5, size, etag) in sorted(acked.items()):
            try:
                body = s3.get_object(Bucket=B, Key=key)["Body"].read()
            except Exception as e:  # noqa: BLE001
                missing.append(f"{key}: {e}")
                continue
            if hashlib.md5(body).hexdigest() != md5 or len(body) != size:
                corrupt.append(f"{key}: got {len(body)} bytes md5 {hashlib.md5(body).hexdigest()}, "
                               f"want {size} bytes md5 {md5}")
        self.assertEqual(missing, [], f"{len(missing)} acknowledged objects lost")
        self.assertEqual(corrupt, [], f"{len(corrupt)} acknowledged objects corrupted")

        # Nothing half-written is visible: every listed object reads back whole at its listed size.
        listed = [o for p in s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix="crash/")
                  for o in p.get("Contents", [])]
        for o in listed:
            body = s3.get_object(Bucket=B, Key=o["Key"])["Body"].read()
            self.assertEqual(len(body), o["Size"], o["Key"])
            if "-" not in o["ETag"]:
                self.assertEqual(f'"{hashlib.md5(body).hexdigest()}"', o["ETag"], o["Key"])
        self.assertTrue(set(acked) <= {o["Key"] for o in listed})

        # Graceful stop, clean start: no temp files left behind.
        self.assertEqual(srv.stop(), 0, srv.log_tail())
        srv.start()
        self.assertEqual(temp_leftovers(srv.data_dir), [])
        tmp = srv.data_dir / "tmp"
        if tmp.exists():
            self.assertEqual(list(tmp.iterdir()), [])

    def test_sigterm_is_graceful_and_data_persists(self):
        srv = self.server
        s3 = srv.client()
        data = os.urandom(300_000)
        s3.put_object(Bucket=B, Key="persist/a", Body=data)
        up = s3.create_multipart_upload(Bucket=B, Key="persist/mpu")["UploadId"]
        s3.upload_part(Bucket=B, Key="persist/mpu", UploadId=up, PartNumber=1, Body=b"part one")
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 0, srv.log_tail())
        self.assertLess(time.monotonic() - t0, 10)
        srv.start()
        s3 = srv.client()
        self.assertEqual(s3.get_object(Bucket=B, Key="persist/a")["Body"].read(), data)
        # An upload in progress survives a restart too.
        parts = s3.list_parts(Bucket=B, Key="persist/mpu", UploadId=up)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in parts], [(1, 8)])
        done = s3.complete_multipart_upload(Bucket=B, Key="persist/mpu", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}]})
        self.assertEqual(done["ETag"], f'"{harness.multipart_etag_of_parts([b"part one"])}"')
        self.assertEqual(s3.get_object(Bucket=B, Key="persist/mpu")["Body"].read(), b"part one")
        self.assertIn(B, [b["Name"] for b in s3.list_buckets()["Buckets"]])

    def test_sigterm_during_uploads(self):
        """SIGTERM while uploads are in flight: exit 0, and whatever was acknowledged is there."""
        srv = self.server
        acked, lock, stop = {}, threading.Lock(), threading.Event()
        writers = [Writer(i, srv, acked, lock, stop, i, multipart_ratio=0) for i in range(4)]
        Clients(srv).hand_out(writers)
        for w in writers:
            w.start()
        time.sleep(1.5)
        rc = srv.stop(timeout=20)
        stop.set()
        for w in writers:
            w.join(30)
        self.assertEqual(rc, 0, srv.log_tail())
        srv.start()
        s3 = srv.client()
        for key, (md5, size, _) in acked.items():
            body = s3.get_object(Bucket=B, Key=key)["Body"].read()
            self.assertEqual(hashlib.md5(body).hexdigest(), md5, key)
        self.assertEqual(temp_leftovers(srv.data_dir), [])


if __name__ == "__main__":
    unittest.main()
