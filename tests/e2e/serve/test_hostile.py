"""Hostile input against `photoflux serve`: path traversal in keys, NUL and invalid UTF-8, key
length, XML bombs, oversized bodies and headers. The server must answer with S3 errors, quickly,
keep serving, and never write outside its data directory. photoflux only (limits and on-disk layout
are not moto's)."""
import os
import socket
import time
import unittest
import uuid
from pathlib import Path

import harness
from harness import (DEFAULT_BUCKET as B, MiB, ServerTestCase, crc32_b64, md5_b64, photoflux_only,
                     raw_request, sign_v4, signed_request, snapshot_tree)

MARK = "pfevil" + uuid.uuid4().hex[:8]


def setUpModule():
    if harness.IS_MOTO:
        raise unittest.SkipTest(f"moto deviation: {harness.MOTO_DEVIATIONS['disk']}; "
                                f"{harness.MOTO_DEVIATIONS['limits']}")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


def healthy(server) -> bool:
    try:
        return raw_request("GET", server.url + "/_/health", timeout=5).status == 200
    except OSError:
        return False


def find_marked(root: Path, exclude: Path) -> list[str]:
    """Files or directories whose name contains MARK under root, outside `exclude`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if d == exclude or exclude in d.parents:
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            if MARK in n:
                found.append(str(d / n))
    return found


@photoflux_only("disk")
class HostileKeys(ServerTestCase):
    """Each case: one raw signed request with the path exactly as given."""

    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()

    def put_raw(self, raw_key_path: str, body: bytes = b"evil"):
        return signed_request(self.server, "PUT", f"/{B}/{raw_key_path}", body=body)

    def get_raw(self, raw_key_path: str):
        return signed_request(self.server, "GET", f"/{B}/{raw_key_path}")

    def assert_literal_key_or_rejected(self, raw_key_path: str, literal_key: str):
        """S3 treats '..' segments as ordinary key bytes (keys like '../x' are valid), so either the
        object is stored under exactly that key (and readable back through the same path and
        listed verbatim) or the request is refused with an S3 error. Never anything else."""
        body = f"payload for {literal_key!r}".encode()
        r = self.put_raw(raw_key_path, body)
        if r.status == 200:
            g = self.get_raw(raw_key_path)
            self.assertEqual(g.status, 200, g.describe())
            self.assertEqual(g.body, body)
            h = self.s3.head_object(Bucket=B, Key=literal_key)
            self.assertEqual(h["ContentLength"], len(body))
            listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket=B).get("Contents", [])]
            self.assertIn(literal_key, listed)
            self.s3.delete_object(Bucket=B, Key=literal_key)
        else:
            self.assertEqual(r.status, 400, r.describe())
            self.assertWellFormedError(r)

    def test_dot_dot_segments(self):
        for raw, literal in [
            (f"../{MARK}-1", f"../{MARK}-1"),
            (f"../../../../../../../../tmp/{MARK}-2", f"../../../../../../../../tmp/{MARK}-2"),
            (f"a/../../{MARK}-3", f"a/../../{MARK}-3"),
            (f"..%2F..%2F..%2F{MARK}-4", f"../../../{MARK}-4"),
            (f"%2E%2E/%2E%2E/{MARK}-5", f"../../{MARK}-5"),
            (f"..%5C..%5C{MARK}-6", f"..\\..\\{MARK}-6"),
            (f"./{MARK}-7", f"./{MARK}-7"),
            (f"/{MARK}-8", f"/{MARK}-8"),
        ]:
            with self.subTest(raw=raw):
                self.assert_literal_key_or_rejected(raw, literal)
        self.assertTrue(healthy(self.server))

    def test_absolute_looking_keys(self):
        for raw, literal in [(f"%2Ftmp%2F{MARK}-9", f"/tmp/{MARK}-9"),
                             (f"%2F%2F{MARK}-10", f"//{MARK}-10")]:
            with self.subTest(raw=raw):
                self.assert_literal_key_or_rejected(raw, literal)

    def test_nul_byte(self):
        r = self.put_raw(f"{MARK}-nul%00.jpg")
        if r.status == 200:
            # Stored as a literal key: the exact key (with its NUL) must come back.
            key = f"{MARK}-nul\x00.jpg"
            self.assertEqual(self.get_raw(f"{MARK}-nul%00.jpg").body, b"evil")
            self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=f"{MARK}-nul")
            self.s3.delete_object(Bucket=B, Key=key)
        else:
            self.assertEqual(r.status, 400, r.describe())
            self.assertWellFormedError(r)  # XML 1.0 cannot carry NUL, not even as &#0;
        # Never truncated at the NUL.
        self.assertEqual(self.get_raw(f"{MARK}-nul").status, 404)

    def test_key_length_limit(self):
        ok = "k" * 1024
        r = self.put_raw(ok, b"max")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.get_raw(ok).body, b"max")
        self.s3.delete_object(Bucket=B, Key=ok)
        r = self.put_raw("k" * 1025, b"too long")
        self.assertS3Error(r, 400, "KeyTooLongError")
        # Multi-byte: 342 x 3-byte characters = 1026 bytes.
        r = self.put_raw(harness.encode_key_path("\u65e5" * 342), b"too long")
        self.assertS3Error(r, 400, "KeyTooLongError")

    def test_invalid_utf8(self):
        for raw in ("bad%FF%FE.jpg", "bad%C0%AF.jpg", "bad%ED%A0%80.jpg", "trunc%E6%97"):
            with self.subTest(raw=raw):
                r = self.put_raw(raw)
                self.assertEqual(r.status, 400, r.describe())
                # The error document must stay well-formed XML (no raw invalid bytes echoed).
                self.assertWellFormedError(r)


@photoflux_only("disk")
class NoEscape(ServerTestCase):
    """Every way a key reaches the disk, with traversal-shaped keys; afterwards no new path exists
    next to the data dir (its parent is the harness's private temp root) or anywhere else we can
    check, and the server still works."""

    KEYS = [f"../{MARK}-a", f"../../../../../../../../tmp/{MARK}-b", f"x/../../{MARK}-c",
            f"..%2F..%2F{MARK}-d", f"%2E%2E%2F%2E%2E%2F{MARK}-e", f"..%5C..%5C{MARK}-f",
            f"%2Ftmp%2F{MARK}-g", f"{MARK}-h%00.jpg"]

    def test_no_file_outside_data_dir(self):
        srv = self.server
        before = snapshot_tree(srv.root, exclude=[srv.data_dir])
        for raw in self.KEYS:
            signed_request(srv, "PUT", f"/{B}/{raw}", body=b"evil")
            # copy destination
            signed_request(srv, "PUT", f"/{B}/{raw}-copy",
                           headers={"x-amz-copy-source": f"/{B}/{raw}"})
            # multipart: create, one part, complete
            r = signed_request(srv, "POST", f"/{B}/{raw}-mpu?uploads")
            up = harness.xml_text(r.body, "UploadId") if r.status == 200 else None
            if up:
                pr = signed_request(srv, "PUT", f"/{B}/{raw}-mpu?partNumber=1&uploadId={up}",
                                    body=b"part")
                etag = pr.header("ETag") or '""'
                body = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                        f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>").encode()
                signed_request(srv, "POST", f"/{B}/{raw}-mpu?uploadId={up}", body=body)
        # POST policy with a traversal-shaped key and file name.
        post = srv.client(signature_version="s3v4").generate_presigned_post(
            B, "../${filename}", Conditions=[["starts-with", "$key", ""]], ExpiresIn=60)
        boundary = "pfb" + uuid.uuid4().hex
        form = b"".join(
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n".encode()
            for n, v in post["fields"].items())
        form += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"../../{MARK}-post\"\r\n\r\nevil\r\n--{boundary}--\r\n").encode()
        raw_request("POST", post["url"], body=form,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        # Restart: recovery code paths touch the disk too.
        srv.stop()
        srv.start()
        after = snapshot_tree(srv.root, exclude=[srv.data_dir])
        self.assertEqual(sorted(after - before), [], "new paths next to the data dir")
        self.assertEqual(find_marked(srv.root.parent, srv.data_dir), [])
        for p in (Path("/") / f"{MARK}-a", Path("/tmp") / f"{MARK}-b", Path("/tmp") / f"{MARK}-g"):
            self.assertFalse(p.exists(), p)
        self.assertTrue(healthy(srv))
        self.assertEqual(srv.client().put_object(Bucket=B, Key="after-hostile", Body=b"ok")["ResponseMetadata"]
                         ["HTTPStatusCode"], 200)


@photoflux_only("limits")
class XmlBombs(ServerTestCase):
    """Every XML-consuming operation refuses entity tricks and deep nesting with MalformedXML
    within a second, and the server keeps answering."""

    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()

    LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
              + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                         for i in range(1, 10))
              + b"]>\n")

    def bodies(self, root: str, inner: str) -> dict[str, bytes]:
        deep = 1000  # far beyond any sane depth, still only ~7 KB
        return {
            "billion-laughs": self.LAUGHS + f"<{root}>{inner.replace('VALUE', '&lol9;')}</{root}>".encode(),
            "external-entity": (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                                + f"<{root}>{inner.replace('VALUE', '&xxe;')}</{root}>".encode()),
            "deep-nesting": (f"<{root}>".encode() + b"<a>" * deep + b"</a>" * deep
                             + f"</{root}>".encode()),
            "unclosed": f"<{root}><Object><Key>".encode(),
        }

    def send(self, method, path, body, extra=None):
        headers = {"Content-Type": "application/xml", "Content-MD5": md5_b64(body),
                   "x-amz-checksum-crc32": crc32_b64(body), "x-amz-sdk-checksum-algorithm": "CRC32"}
        headers.update(extra or {})
        t0 = time.monotonic()
        r = signed_request(self.server, method, path, body=body, headers=headers, timeout=20)
        return r, time.monotonic() - t0

    def check_all(self, method, path, root, inner):
        for name, body in self.bodies(root, inner).items():
            with self.subTest(case=name):
                r, elapsed = self.send(method, path, body)
                self.assertS3Error(r, 400, "MalformedXML")
                self.assertLess(elapsed, 1.0, f"{name} took {elapsed:.2f}s")
                self.assertNotIn(b"root:", r.body)
                self.assertTrue(healthy(self.server))

    def test_delete_objects(self):
        self.check_all("POST", f"/{B}?delete", "Delete", "<Object><Key>VALUE</Key></Object>")

    def test_complete_multipart_upload(self):
        k = f"bomb-{uuid.uuid4().hex[:6]}"
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        self.addCleanup(self.s3.abort_multipart_upload, Bucket=B, Key=k, UploadId=up)
        self.check_all("POST", f"/{B}/{k}?uploadId={up}", "CompleteMultipartUpload",
                       "<Part><PartNumber>1</PartNumber><ETag>VALUE</ETag></Part>")

    def test_put_bucket_notification(self):
        self.check_all("PUT", f"/{B}?notification", "NotificationConfiguration",
                       "<TopicConfiguration><Id>VALUE</Id><Topic>arn:aws:sns:us-east-1:1:t</Topic>"
                       "<Event>s3:ObjectCreated:*</Event></TopicConfiguration>")
        # The stored configuration was not replaced by any of them.
        got = self.s3.get_bucket_notification_configuration(Bucket=B)
        for t in got.get("TopicConfigurations", []):
            self.assertNotIn("lol", t.get("Id", ""))

    def test_huge_deep_nesting(self):
        # 100,000 levels (~700 KB): refused as malformed or as too big, quickly.
        body = b"<Delete>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</Delete>"
        r, elapsed = self.send("POST", f"/{B}?delete", body)
        self.assertEqual(r.status, 400, r.describe())
        self.assertIn(r.error_code(), ("MalformedXML", "MaxMessageLengthExceeded"), r.describe())
        self.assertLess(elapsed, 1.0)
        self.assertTrue(healthy(self.server))

    def test_oversized_xml_body(self):
        # 10 MiB of whitespace inside an otherwise valid Delete document.
        body = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>x</Key>'
                b"</Object>" + b" " * (10 * MiB) + b"</Delete>")
        t0 = time.monotonic()
        try:
            r, _ = self.send("POST", f"/{B}?delete", body)
        except (BrokenPipeError, ConnectionResetError) as e:
            # Refused before the whole body was read: acceptable, as long as it was quick.
            r = None
            err = e
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 5.0)
        if r is not None:
            self.assertEqual(r.status, 400, r.describe())
            self.assertIn(r.error_code(), ("MalformedXML", "MaxMessageLengthExceeded"), r.describe())
        else:
            self.assertIsInstance(err, OSError)
        self.assertTrue(healthy(self.server))


@photoflux_only("limits")
class Sizes(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()

    def raw_exchange(self, head: bytes, body: bytes = b"", timeout: float = 10) -> tuple[bytes, float]:
        t0 = time.monotonic()
        with socket.create_connection((self.server.host, self.server.port), timeout=timeout) as s:
            try:
                s.sendall(head)
            except OSError:
                pass  # the server may refuse (and close) before reading everything
            if body:
                try:
                    s.sendall(body)
                except OSError:
                    pass
            data = b""
            try:
                while b"\r\n\r\n" not in data or (data.startswith(b"HTTP/1.1 100") and data.count(b"\r\n\r\n") < 2):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                # read a little of the body for the error code
                s.settimeout(1)
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                        if len(data) > 100_000:
                            break
                except OSError:
                    pass
            except OSError:
                pass
        return data, time.monotonic() - t0

    @staticmethod
    def final_status(data: bytes) -> int:
        # skip interim 1xx responses
        while data.startswith(b"HTTP/1.1 1"):
            data = data[data.index(b"\r\n\r\n") + 4:]
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else -1

    def put_head(self, key: str, length: int, expect: bool) -> bytes:
        headers = {"Content-Length": str(length)}
        if expect:
            headers["Expect"] = "100-continue"
        s = sign_v4("PUT", f"{self.server.url}/{B}/{key}", headers, "UNSIGNED-PAYLOAD",
                    self.server.creds)
        lines = "".join(f"{n}: {v}\r\n" for n, v in s.headers)
        return f"PUT /{B}/{key} HTTP/1.1\r\n{lines}\r\n".encode()

    def test_content_length_over_5_gib(self):
        for expect in (True, False):
            with self.subTest(expect=expect):
                key = f"huge-{uuid.uuid4().hex[:6]}"
                data, elapsed = self.raw_exchange(self.put_head(key, 5 * 1024 ** 3 + 1, expect))
                self.assertEqual(self.final_status(data), 400, data[:400])
                self.assertIn(b"<Code>EntityTooLarge</Code>", data, data[:600])
                self.assertNotIn(b"HTTP/1.1 100", data)  # refused before asking for the body
                self.assertLess(elapsed, 5)
                self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=key)
        self.assertTrue(healthy(self.server))

    def test_header_flood(self):
        many = "".join(f"X-Flood-{i}: {'v' * 40}\r\n" for i in range(5000))
        head = f"GET /_/health HTTP/1.1\r\nHost: {self.server.host}:{self.server.port}\r\n{many}\r\n".encode()
        data, elapsed = self.raw_exchange(head)
        st = self.final_status(data)
        if st != -1:  # the server may also just close the connection
            self.assertIn(st, (400, 431), data[:300])
        self.assertLess(elapsed, 5)
        big = f"GET /_/health HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * (1024 * 1024)}\r\n\r\n".encode()
        data, elapsed = self.raw_exchange(big)
        st = self.final_status(data)
        if st != -1:
            self.assertIn(st, (400, 431), data[:300])
        self.assertLess(elapsed, 5)
        self.assertTrue(healthy(self.server))

    @photoflux_only("disk")
    def test_truncated_body_leaves_nothing(self):
        key = f"trunc-{uuid.uuid4().hex[:6]}"
        head = self.put_head(key, 100_000, expect=False)
        tmp = self.server.data_dir / "tmp"

        def temp_files():
            return list(tmp.iterdir()) if tmp.exists() else []

        # The connection stays open until the server has begun the body's temp file, so the test
        # sees the abort and its clean-up in that order whatever the machine's load (closing at
        # once raced the server: an empty tmp/ could mean "not started yet").
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as s:
            s.sendall(head + b"x" * 40_000)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not temp_files():
                time.sleep(0.02)
            self.assertTrue(temp_files(), "the server never started writing the body")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and temp_files():
            time.sleep(0.1)
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=key)
        leftovers = list(tmp.iterdir()) if tmp.exists() else []
        self.assertEqual(leftovers, [], "temp files left after an aborted upload")
        self.assertTrue(healthy(self.server))

    def test_missing_content_length(self):
        key = f"nolen-{uuid.uuid4().hex[:6]}"
        s = sign_v4("PUT", f"{self.server.url}/{B}/{key}", None, "UNSIGNED-PAYLOAD", self.server.creds)
        lines = "".join(f"{n}: {v}\r\n" for n, v in s.headers)
        data, _ = self.raw_exchange(f"PUT /{B}/{key} HTTP/1.1\r\n{lines}\r\n".encode())
        # No Content-Length and no chunked framing: S3 says 411 MissingContentLength.
        self.assertEqual(self.final_status(data), 411, data[:400])
        self.assertIn(b"MissingContentLength", data)

    def test_many_concurrent_slow_connections_do_not_block(self):
        socks = []
        try:
            for _ in range(50):
                s = socket.create_connection((self.server.host, self.server.port), timeout=5)
                s.sendall(b"GET /_/health HTTP/1.1\r\nHost: x\r\n")  # never finished
                socks.append(s)
            t0 = time.monotonic()
            self.assertTrue(healthy(self.server))
            self.assertLess(time.monotonic() - t0, 2)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
