"""SigV4 verification by `photoflux serve`: every signed part of a request matters, unknown keys,
clock skew, anonymous access and public-read buckets, presign limits. photoflux only (moto does
not verify signatures)."""
import hashlib
import unittest
import uuid

import harness
from harness import (DEFAULT_BUCKET as B, Credentials, ServerTestCase, amz_now, encode_key_path,
                     photoflux_only, presign_v4, raw_request, send_signed, sign_v4, unique_bucket)


def setUpModule():
    if harness.IS_MOTO:
        raise unittest.SkipTest(f"moto deviation: {harness.MOTO_DEVIATIONS['auth']}")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


def flip(s: str, index: int = -1) -> str:
    """One-character change at `index` (hex-safe)."""
    c = s[index]
    repl = "0" if c != "0" else "1"
    index = index % len(s)
    return s[:index] + repl + s[index + 1:]


@photoflux_only("auth")
class Tampering(ServerTestCase):
    """A request signed correctly, then changed in exactly one place before it is sent."""

    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()
        cls.prefix = f"auth-{uuid.uuid4().hex[:6]}/"
        cls.k = cls.prefix + "target.txt"
        cls.s3.put_object(Bucket=B, Key=cls.k, Body=b"original")

    def url(self, key=None, query=""):
        return f"{self.server.url}/{B}/{encode_key_path(key or self.k)}" + (f"?{query}" if query else "")

    def still_original(self):
        self.assertEqual(self.s3.get_object(Bucket=B, Key=self.k)["Body"].read(), b"original")

    def test_baseline_signed_request_works(self):
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        r = send_signed(s)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"original")

    def test_changed_method(self):
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.method = "DELETE"
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")
        self.still_original()

    def test_changed_path(self):
        other = self.prefix + "target.txu"
        self.s3.put_object(Bucket=B, Key=other, Body=b"other")
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.url = self.url(other)
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_changed_query(self):
        s = sign_v4("GET", f"{self.server.url}/{B}?list-type=2&prefix=auth-a", None,
                    hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.url = f"{self.server.url}/{B}?list-type=2&prefix=auth-b"
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_added_query_parameter(self):
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.url = self.url(query="response-content-type=text/html")
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_changed_signed_header_value(self):
        body = b"new body"
        s = sign_v4("PUT", self.url(), {"x-amz-meta-owner": "bob"},
                    hashlib.sha256(body).hexdigest(), self.server.creds)
        s.headers = [(n, "bog" if n.lower() == "x-amz-meta-owner" else v) for n, v in s.headers]
        self.assertS3Error(send_signed(s, body=body), 403, "SignatureDoesNotMatch")
        self.still_original()

    def test_changed_body_of_signed_payload(self):
        body = b"signed body content"
        s = sign_v4("PUT", self.url(), None, hashlib.sha256(body).hexdigest(), self.server.creds)
        r = send_signed(s, body=b"signed body contenu")
        # S3: the signature covers the declared hash; the body not matching it is a 400.
        self.assertS3Error(r, 400, "XAmzContentSHA256Mismatch")
        self.still_original()

    def test_changed_signature(self):
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.headers = [(n, flip(v) if n == "Authorization" else v) for n, v in s.headers]
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_changed_date(self):
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        later = amz_now(1) if amz_now(1) != s.amz_date else amz_now(2)
        s.headers = [(n, later if n.lower() == "x-amz-date" else v) for n, v in s.headers]
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_unsigned_header_may_change(self):
        # Headers outside SignedHeaders are not covered (e.g. User-Agent).
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        s.headers.append(("User-Agent", "changed-after-signing"))
        r = send_signed(s)
        self.assertEqual(r.status, 200, r.describe())

    def test_unsigned_x_amz_header_is_rejected(self):
        # S3 requires every x-amz-* header present to be signed.
        body = b"x"
        s = sign_v4("PUT", self.url(self.prefix + "unsigned-meta"), None,
                    hashlib.sha256(body).hexdigest(), self.server.creds)
        s.headers.append(("x-amz-meta-sneaky", "1"))
        r = send_signed(s, body=body)
        # S3: 403 AccessDenied "There were headers present in the request which were not signed".
        self.assertEqual(r.status, 403, r.describe())
        self.assertIn(r.error_code(), ("AccessDenied", "SignatureDoesNotMatch"), r.describe())
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B,
                               Key=self.prefix + "unsigned-meta")

    def test_wrong_secret(self):
        creds = Credentials(self.server.access_key, self.server.secret_key + "x")
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), creds)
        self.assertS3Error(send_signed(s), 403, "SignatureDoesNotMatch")

    def test_unknown_access_key(self):
        creds = Credentials("AKIANOTKNOWN0000000", self.server.secret_key)
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), creds)
        self.assertS3Error(send_signed(s), 403, "InvalidAccessKeyId")
        import boto3
        boto = boto3.session.Session().client(
            "s3", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id="AKIANOTKNOWN0000000", aws_secret_access_key="whatever",
            config=__import__("botocore.config").config.Config(retries={"total_max_attempts": 1}))
        self.assertClientError(boto.list_objects_v2, "InvalidAccessKeyId", 403, Bucket=B)

    def test_clock_skew(self):
        for offset in (+20 * 60, -20 * 60):
            s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(),
                        self.server.creds, amz_date=amz_now(offset))
            self.assertS3Error(send_signed(s), 403, "RequestTimeTooSkewed")
        # Inside the 15-minute window: fine.
        s = sign_v4("GET", self.url(), None, hashlib.sha256(b"").hexdigest(), self.server.creds,
                    amz_date=amz_now(-10 * 60))
        self.assertEqual(send_signed(s).status, 200)

    def test_tampered_signed_chunk(self):
        k = self.prefix + "chunked"
        data = harness.random_bytes(100_000)
        chunks = harness.split_chunks(data, [65536])
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(data)),
                   "Content-Length": str(harness.signed_chunked_content_length([len(c) for c in chunks]))}
        s = sign_v4("PUT", self.url(k), headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                    self.server.creds)
        body = bytearray(harness.aws_chunked_signed(chunks, s))
        body[200] ^= 0x01  # one byte of chunk data, signature left as computed
        self.assertS3Error(send_signed(s, body=bytes(body)), 403, "SignatureDoesNotMatch")
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)


@photoflux_only("auth")
class Presign(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()
        cls.k = f"presign-{uuid.uuid4().hex[:6]}/obj"
        cls.s3.put_object(Bucket=B, Key=cls.k, Body=b"presigned")
        cls.obj_url = f"{cls.server.url}/{B}/{encode_key_path(cls.k)}"

    def test_own_presign_works(self):
        r = raw_request("GET", presign_v4("GET", self.obj_url, self.server.creds, expires=60))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"presigned")

    def test_expires_over_7_days(self):
        r = raw_request("GET", presign_v4("GET", self.obj_url, self.server.creds, expires=604801))
        self.assertS3Error(r, 400, "AuthorizationQueryParametersError")
        r = raw_request("GET", presign_v4("GET", self.obj_url, self.server.creds, expires=604800))
        self.assertEqual(r.status, 200, r.describe())

    def test_changed_expires(self):
        url = presign_v4("GET", self.obj_url, self.server.creds, expires=60)
        r = raw_request("GET", url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000"))
        self.assertS3Error(r, 403, "SignatureDoesNotMatch")

    def test_changed_signature(self):
        url = presign_v4("GET", self.obj_url, self.server.creds, expires=60)
        self.assertS3Error(raw_request("GET", flip(url)), 403, "SignatureDoesNotMatch")

    def test_unknown_access_key(self):
        url = presign_v4("GET", self.obj_url, Credentials("AKIANOTKNOWN0000000", "x"), expires=60)
        self.assertS3Error(raw_request("GET", url), 403, "InvalidAccessKeyId")

    def test_expired(self):
        url = presign_v4("GET", self.obj_url, self.server.creds, expires=60,
                         amz_date=amz_now(-120))
        self.assertS3Error(raw_request("GET", url), 403, "AccessDenied")

    def test_presigned_put_cannot_delete(self):
        url = presign_v4("PUT", self.obj_url, self.server.creds, expires=60)
        self.assertS3Error(raw_request("DELETE", url), 403, "SignatureDoesNotMatch")
        self.assertEqual(self.s3.get_object(Bucket=B, Key=self.k)["Body"].read(), b"presigned")


@photoflux_only("acl")
class Anonymous(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()
        cls.k = f"anon-{uuid.uuid4().hex[:6]}/obj"
        cls.s3.put_object(Bucket=B, Key=cls.k, Body=b"private")

    def test_anonymous_refused_on_private_bucket(self):
        base = f"{self.server.url}/{B}"
        self.assertS3Error(raw_request("GET", f"{base}/{self.k}"), 403, "AccessDenied")
        self.assertEqual(raw_request("HEAD", f"{base}/{self.k}").status, 403)
        self.assertS3Error(raw_request("GET", f"{base}?list-type=2"), 403, "AccessDenied")
        self.assertS3Error(raw_request("PUT", f"{base}/anon-put", body=b"x"), 403, "AccessDenied")
        self.assertS3Error(raw_request("DELETE", f"{base}/{self.k}"), 403, "AccessDenied")
        # Anonymous GET / is ListBuckets (403), unless the server sends browsers to the console.
        r = raw_request("GET", f"{self.server.url}/")
        if 300 <= r.status < 400:
            self.assertTrue(r.header("Location", "").startswith(("/_/", f"{self.server.url}/_/")),
                            r.describe())
        else:
            self.assertS3Error(r, 403, "AccessDenied")
        self.assertEqual(self.s3.get_object(Bucket=B, Key=self.k)["Body"].read(), b"private")

    def test_public_read_bucket(self):
        name = unique_bucket("public")
        self.s3.create_bucket(Bucket=name, ACL="public-read")
        self.s3.put_object(Bucket=name, Key="pic one.jpg", Body=b"public bytes")
        url = f"{self.server.url}/{name}/pic%20one.jpg"
        r = raw_request("GET", url)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"public bytes")
        r = raw_request("GET", url, headers={"Range": "bytes=0-5"})
        self.assertEqual(r.status, 206, r.describe())
        self.assertEqual(r.body, b"public")
        self.assertEqual(raw_request("HEAD", url).status, 200)
        # public-read grants reads only.
        self.assertS3Error(raw_request("PUT", f"{self.server.url}/{name}/evil", body=b"x"), 403,
                           "AccessDenied")
        self.assertS3Error(raw_request("DELETE", url), 403, "AccessDenied")
        self.assertEqual(self.s3.get_object(Bucket=name, Key="pic one.jpg")["Body"].read(),
                         b"public bytes")
        self.s3.delete_object(Bucket=name, Key="pic one.jpg")
        self.s3.delete_bucket(Bucket=name)

    def test_anonymous_missing_key_in_public_bucket(self):
        name = unique_bucket("public")
        self.s3.create_bucket(Bucket=name, ACL="public-read")
        self.addCleanup(self.s3.delete_bucket, Bucket=name)
        r = raw_request("GET", f"{self.server.url}/{name}/missing")
        self.assertEqual(r.status, 404, r.describe())


if __name__ == "__main__":
    unittest.main()
