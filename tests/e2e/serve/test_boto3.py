"""boto3/botocore against `photoflux serve`: every operation of the contract, as the SDK sends it,
plus hand-framed aws-chunked bodies (botocore only sends those over https) and the browser paths
(presigned URLs, POST policy, CORS, virtual-hosted addressing)."""
import base64
import datetime as dt
import hashlib
import io
import json
import time
import unittest
import urllib.parse
import uuid

import harness
from harness import (DEFAULT_BUCKET as B, IS_MOTO, MiB, ServerTestCase, aws_chunked_signed,
                     aws_chunked_unsigned, crc32_b64, crc32c_b64, md5_b64, md5_hex,
                     multipart_etag_of_parts, photoflux_only, random_bytes, raw_request,
                     sha256_b64, sign_v4, send_signed, signed_chunked_content_length,
                     split_chunks, unique_bucket, unquote_etag)


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


def status(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def hdrs(resp) -> dict:
    return resp["ResponseMetadata"]["HTTPHeaders"]


class Base(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3 = cls.server.client()

    def key(self, name: str = "") -> str:
        return f"{self.id().split('.')[-1]}-{uuid.uuid4().hex[:6]}/{name or 'obj'}"

    def put(self, key: str, data: bytes, **kw):
        return self.s3.put_object(Bucket=B, Key=key, Body=data, **kw)

    def get_bytes(self, key: str, **kw) -> bytes:
        return self.s3.get_object(Bucket=B, Key=key, **kw)["Body"].read()


# ------------------------------------------------------------------------------------------------
class Objects(Base):
    def test_put_get_head_delete_roundtrip(self):
        k = self.key("photo one.jpg")
        data = random_bytes(100_000)
        expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
        r = self.put(k, data, ContentType="image/jpeg", Metadata={"Owner": "Bob", "Camera-Model": "X100"},
                     ContentDisposition='attachment; filename="one.jpg"', CacheControl="max-age=60",
                     ContentEncoding="identity", ContentLanguage="de-CH", Expires=expires)
        self.assertEqual(status(r), 200)
        self.assertEqual(r["ETag"], f'"{md5_hex(data)}"')
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["Body"].read(), data)
        for resp in (g, self.s3.head_object(Bucket=B, Key=k)):
            self.assertEqual(resp["ETag"], f'"{md5_hex(data)}"')
            self.assertEqual(resp["ContentLength"], len(data))
            self.assertEqual(resp["ContentType"], "image/jpeg")
            self.assertEqual(resp["Metadata"], {"owner": "Bob", "camera-model": "X100"})
            self.assertEqual(resp["ContentDisposition"], 'attachment; filename="one.jpg"')
            self.assertEqual(resp["CacheControl"], "max-age=60")
            self.assertEqual(resp["ContentEncoding"], "identity")
            self.assertEqual(resp["ContentLanguage"], "de-CH")
            self.assertEqual(resp["Expires"], expires)
            self.assertEqual(resp.get("AcceptRanges"), "bytes")
            age = abs((dt.datetime.now(dt.timezone.utc) - resp["LastModified"]).total_seconds())
            self.assertLess(age, 120, resp["LastModified"])
        d = self.s3.delete_object(Bucket=B, Key=k)
        self.assertEqual(status(d), 204)
        self.assertClientError(self.s3.get_object, "NoSuchKey", 404, Bucket=B, Key=k)
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)
        # Deleting an absent key is still 204 in an unversioned bucket.
        self.assertEqual(status(self.s3.delete_object(Bucket=B, Key=k)), 204)

    def test_empty_object_and_default_content_type(self):
        k = self.key("empty")
        r = self.put(k, b"")
        self.assertEqual(r["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"')
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["Body"].read(), b"")
        self.assertEqual(g["ContentLength"], 0)
        # S3 default when the client sent none (botocore sends none for bytes bodies).
        self.assertEqual(g["ContentType"], "binary/octet-stream")

    def test_empty_put_then_more_requests_on_the_same_connection(self):
        # botocore sends Expect: 100-continue on every PutObject. If the server answers a
        # zero-length PUT with its final status without "100 Continue" first, botocore keeps that
        # early status line for the connection's next request, which then hangs until the read
        # timeout (aws s3 cp/sync of an empty file stalls 60 s). S3 always sends 100 Continue.
        import io
        s3 = self.server.client(read_timeout=5, max_pool_connections=1)
        for i, body in enumerate((b"", io.BytesIO(b""))):
            k = self.key(f"empty{i}")
            t0 = time.monotonic()
            s3.put_object(Bucket=B, Key=k, Body=body)
            s3.put_object(Bucket=B, Key=k + "-next", Body=b"next")
            self.assertEqual(s3.get_object(Bucket=B, Key=k + "-next")["Body"].read(), b"next")
            self.assertLess(time.monotonic() - t0, 3)

    def test_overwrite_replaces_bytes_and_metadata(self):
        k = self.key()
        self.put(k, b"first", Metadata={"a": "1"})
        self.put(k, b"second!", Metadata={"b": "2"})
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["Body"].read(), b"second!")
        self.assertEqual(g["Metadata"], {"b": "2"})

    def test_keys_with_special_characters_roundtrip(self):
        prefix = self.key("")
        names = ["a b.txt", "plus+sign.txt", "percent%20lit.txt", "per%cent", "ümlaut/日本語.jpg",
                 "q?uery#hash.txt", "semi;colon,comma=eq&amp", "tilde~star*(paren)!'.txt",
                 "double//slash", "trailing/", "emoji-\U0001F600.png", "back\\slash"]
        for i, n in enumerate(names):
            self.put(prefix + n, n.encode() * (i + 1))
        for i, n in enumerate(names):
            self.assertEqual(self.get_bytes(prefix + n), n.encode() * (i + 1), n)
        listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket=B, Prefix=prefix)["Contents"]]
        self.assertEqual(listed, sorted((prefix + n for n in names), key=lambda s: s.encode()))

    @photoflux_only("limits")
    @photoflux_only("version-null")
    def test_version_id_null_is_the_object(self):
        # Unversioned bucket: the object is the "null" version (rclone HEADs ?versionId=null).
        k = self.key()
        self.put(k, b"null version")
        h = self.s3.head_object(Bucket=B, Key=k, VersionId="null")
        self.assertEqual(h["ContentLength"], 12)
        self.assertEqual(self.get_bytes(k, VersionId="null"), b"null version")

    @photoflux_only("limits")
    def test_metadata_too_large(self):
        k = self.key()
        self.assertClientError(self.put, "MetadataTooLarge", 400, k, b"x",
                               Metadata={"big": "v" * 2100})
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    def test_missing_bucket(self):
        self.assertClientError(self.s3.get_object, "NoSuchBucket", 404,
                               Bucket=unique_bucket("nope"), Key="k")
        self.assertClientError(self.s3.put_object, "NoSuchBucket", 404,
                               Bucket=unique_bucket("nope"), Key="k", Body=b"x")

    def test_put_if_none_match_star(self):
        k = self.key()
        r = self.put(k, b"one", IfNoneMatch="*")
        self.assertEqual(status(r), 200)
        self.assertClientError(self.put, "PreconditionFailed", 412, k, b"two", IfNoneMatch="*")
        self.assertEqual(self.get_bytes(k), b"one")


# ------------------------------------------------------------------------------------------------
class Ranges(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = random_bytes(1000, seed=7)
        cls.k = f"ranges-{uuid.uuid4().hex[:6]}/obj"
        cls.s3.put_object(Bucket=B, Key=cls.k, Body=cls.data)

    def check(self, rng, start, end):
        g = self.s3.get_object(Bucket=B, Key=self.k, Range=rng)
        self.assertEqual(status(g), 206, rng)
        self.assertEqual(g["ContentRange"], f"bytes {start}-{end}/1000", rng)
        self.assertEqual(g["ContentLength"], end - start + 1, rng)
        self.assertEqual(g["Body"].read(), self.data[start:end + 1], rng)
        return g

    def test_ranges(self):
        self.check("bytes=0-9", 0, 9)
        self.check("bytes=10-10", 10, 10)
        self.check("bytes=990-", 990, 999)
        self.check("bytes=-100", 900, 999)
        self.check("bytes=995-2000", 995, 999)  # end clamped to the size
        self.check("bytes=-5000", 0, 999)       # suffix longer than the object: whole object

    def test_unsatisfiable_range(self):
        e = self.assertClientError(self.s3.get_object, "InvalidRange", 416, Bucket=B, Key=self.k,
                                   Range="bytes=1000-")
        self.assertTrue(e.response["Error"].get("Message"))
        self.assertClientError(self.s3.get_object, "InvalidRange", 416, Bucket=B, Key=self.k,
                               Range="bytes=5000-6000")

    def test_invalid_range_syntax_is_ignored(self):
        g = self.s3.get_object(Bucket=B, Key=self.k, Range="bytes=abc")
        self.assertEqual(status(g), 200)
        self.assertEqual(g["Body"].read(), self.data)

    def test_ranged_get_has_no_whole_object_checksum(self):
        # botocore sends x-amz-checksum-mode: ENABLED and validates a returned checksum against the
        # (partial) body: a whole-object checksum on a 206 would make this read fail.
        g = self.s3.get_object(Bucket=B, Key=self.k, Range="bytes=0-99", ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), self.data[:100])
        self.assertNotIn("x-amz-checksum-crc32", hdrs(g))

    def test_ranged_get_with_if_match(self):
        etag = self.s3.head_object(Bucket=B, Key=self.k)["ETag"]
        g = self.s3.get_object(Bucket=B, Key=self.k, Range="bytes=100-199", IfMatch=etag)
        self.assertEqual(g["Body"].read(), self.data[100:200])


# ------------------------------------------------------------------------------------------------
class Conditionals(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.k = f"cond-{uuid.uuid4().hex[:6]}/obj"
        cls.data = b"conditional body"
        cls.etag = cls.s3.put_object(Bucket=B, Key=cls.k, Body=cls.data)["ETag"]
        cls.lm = cls.s3.head_object(Bucket=B, Key=cls.k)["LastModified"]

    def test_if_match(self):
        g = self.s3.get_object(Bucket=B, Key=self.k, IfMatch=self.etag)
        self.assertEqual(g["Body"].read(), self.data)
        self.assertClientError(self.s3.get_object, "PreconditionFailed", 412, Bucket=B,
                               Key=self.k, IfMatch='"00000000000000000000000000000000"')
        self.assertClientError(self.s3.head_object, "412", 412, Bucket=B, Key=self.k,
                               IfMatch='"00000000000000000000000000000000"')

    @photoflux_only("etag-quotes")
    def test_unquoted_etags_compare_equal(self):
        g = self.s3.get_object(Bucket=B, Key=self.k, IfMatch=unquote_etag(self.etag))
        self.assertEqual(g["Body"].read(), self.data)
        self.assertClientError(self.s3.get_object, "304", 304, Bucket=B, Key=self.k,
                               IfNoneMatch=unquote_etag(self.etag))

    def test_if_none_match(self):
        for tag in (self.etag,):
            e = self.assertClientError(self.s3.get_object, "304", 304, Bucket=B, Key=self.k,
                                       IfNoneMatch=tag)
            self.assertEqual(e.response["ResponseMetadata"]["HTTPHeaders"].get("etag"), self.etag)
        g = self.s3.get_object(Bucket=B, Key=self.k, IfNoneMatch='"0123"')
        self.assertEqual(g["Body"].read(), self.data)

    def test_if_modified_since(self):
        self.assertClientError(self.s3.get_object, "304", 304, Bucket=B, Key=self.k,
                               IfModifiedSince=self.lm + dt.timedelta(hours=1))
        self.assertClientError(self.s3.get_object, "304", 304, Bucket=B, Key=self.k,
                               IfModifiedSince=self.lm)
        g = self.s3.get_object(Bucket=B, Key=self.k, IfModifiedSince=self.lm - dt.timedelta(hours=1))
        self.assertEqual(g["Body"].read(), self.data)

    def test_if_unmodified_since(self):
        self.assertClientError(self.s3.get_object, "PreconditionFailed", 412, Bucket=B, Key=self.k,
                               IfUnmodifiedSince=self.lm - dt.timedelta(hours=1))
        for t in (self.lm, self.lm + dt.timedelta(hours=1)):
            g = self.s3.get_object(Bucket=B, Key=self.k, IfUnmodifiedSince=t)
            self.assertEqual(g["Body"].read(), self.data)

    @photoflux_only("precedence")
    def test_if_match_wins_over_if_unmodified_since(self):
        # RFC 9110 / S3: If-Match true + If-Unmodified-Since false -> 200.
        g = self.s3.get_object(Bucket=B, Key=self.k, IfMatch=self.etag,
                               IfUnmodifiedSince=self.lm - dt.timedelta(hours=1))
        self.assertEqual(status(g), 200)

    def test_if_none_match_wins_over_if_modified_since(self):
        # If-None-Match false + If-Modified-Since true -> 304.
        self.assertClientError(self.s3.get_object, "304", 304, Bucket=B, Key=self.k,
                               IfNoneMatch=self.etag,
                               IfModifiedSince=self.lm - dt.timedelta(hours=1))


# ------------------------------------------------------------------------------------------------
class Checksums(Base):
    def test_default_crc32_is_verified_stored_and_echoed(self):
        k = self.key()
        data = random_bytes(50_000)
        r = self.put(k, data)  # botocore adds x-amz-checksum-crc32 by default
        self.assertEqual(r.get("ChecksumCRC32"), crc32_b64(data))
        g = self.s3.get_object(Bucket=B, Key=k, ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g.get("ChecksumCRC32"), crc32_b64(data))
        h = self.s3.head_object(Bucket=B, Key=k, ChecksumMode="ENABLED")
        self.assertEqual(h.get("ChecksumCRC32"), crc32_b64(data))

    def test_sha256(self):
        data = b"hello world"
        k = self.key("sha")
        r = self.put(k, data, ChecksumAlgorithm="SHA256")
        self.assertEqual(r.get("ChecksumSHA256"), sha256_b64(data))
        g = self.s3.get_object(Bucket=B, Key=k, ChecksumMode="ENABLED")
        self.assertEqual(g.get("ChecksumSHA256"), sha256_b64(data))

    @photoflux_only("checksum-echo")
    def test_crc32c_given_by_client(self):
        data = b"hello world"
        k2 = self.key("crc32c")
        r = self.put(k2, data, ChecksumCRC32C=crc32c_b64(data))
        self.assertEqual(r.get("ChecksumCRC32C"), "yZRlqg==")
        self.assertEqual(self.get_bytes(k2), data)

    def test_content_md5_ok(self):
        data = b"md5 checked body"
        r = self.put(self.key(), data, ContentMD5=md5_b64(data))
        self.assertEqual(r["ETag"], f'"{md5_hex(data)}"')

    @photoflux_only("digest")
    def test_wrong_content_md5_is_bad_digest(self):
        k = self.key()
        self.assertClientError(self.put, "BadDigest", 400, k, b"actual body",
                               ContentMD5=md5_b64(b"another body"))
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    @photoflux_only("digest")
    def test_malformed_content_md5_is_invalid_digest(self):
        self.assertClientError(self.put, "InvalidDigest", 400, self.key(), b"body",
                               ContentMD5="not-base64-md5")

    @photoflux_only("checksum-verify")
    def test_wrong_crc32_is_bad_digest(self):
        k = self.key()
        self.assertClientError(self.put, "BadDigest", 400, k, b"actual body",
                               ChecksumCRC32=crc32_b64(b"other"))
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    @photoflux_only("checksum-verify")
    def test_wrong_sha256_checksum_is_bad_digest(self):
        self.assertClientError(self.put, "BadDigest", 400, self.key(), b"actual body",
                               ChecksumSHA256=sha256_b64(b"other"))


# ------------------------------------------------------------------------------------------------
class AwsChunked(Base):
    """Bodies framed by hand exactly as SDKs do (sheet 1.10, 2.5)."""

    def _unsigned_trailer_put(self, key, data, chunk_sizes, *, outer_chunked, trailer=None,
                              decoded_len=None, extra_headers=None):
        chunks = split_chunks(data, chunk_sizes)
        trailer = trailer or ("x-amz-checksum-crc32", crc32_b64(data))
        body = aws_chunked_unsigned(chunks, [trailer])
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(data) if decoded_len is None else decoded_len),
                   "x-amz-trailer": trailer[0],
                   "x-amz-sdk-checksum-algorithm": trailer[0].split("-")[-1].upper()}
        headers.update(extra_headers or {})
        if not outer_chunked:
            headers["Content-Length"] = str(len(body))
        s = sign_v4("PUT", f"{self.server.url}/{B}/{harness.encode_key_path(key)}", headers,
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", self.server.creds)
        if outer_chunked:
            # botocore's https framing: HTTP chunks wrap the aws-chunked stream, no Content-Length.
            pieces = [body[i:i + 7000] for i in range(0, len(body), 7000)]
            return send_signed(s, body=pieces, chunked=True)
        return send_signed(s, body=body)

    def test_unsigned_trailer_inside_http_chunked(self):
        k = self.key("unsigned chunked.bin")
        data = random_bytes(200_000)
        r = self._unsigned_trailer_put(k, data, [65536, 65536], outer_chunked=True)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("ETag"), f'"{md5_hex(data)}"')
        self.assertEqual(r.header("x-amz-checksum-crc32"), crc32_b64(data))
        g = self.s3.get_object(Bucket=B, Key=k, ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["ContentLength"], len(data))
        self.assertEqual(g.get("ChecksumCRC32"), crc32_b64(data))
        self.assertNotIn("aws-chunked", g.get("ContentEncoding") or "")

    def test_unsigned_trailer_with_content_length(self):
        k = self.key()
        data = b"hello world"
        r = self._unsigned_trailer_put(k, data, [11], outer_chunked=False)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("ETag"), '"5eb63bbbe01eeed093cb22bb8f5acdc3"')
        self.assertEqual(self.get_bytes(k), data)

    def test_unsigned_trailer_keeps_other_content_encoding(self):
        k = self.key()
        data = random_bytes(3000)
        r = self._unsigned_trailer_put(k, data, [1000], outer_chunked=False,
                                       extra_headers={"Content-Encoding": "gzip,aws-chunked"})
        self.assertEqual(r.status, 200, r.describe())
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g.get("ContentEncoding"), "gzip")

    def test_unsigned_trailer_crc32c(self):
        k = self.key()
        data = random_bytes(70_000)
        r = self._unsigned_trailer_put(k, data, [8192] * 8, outer_chunked=True,
                                       trailer=("x-amz-checksum-crc32c", crc32c_b64(data)))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.get_bytes(k), data)

    @photoflux_only("chunk-sig")
    def test_unsigned_trailer_wrong_checksum_is_bad_digest(self):
        k = self.key()
        data = random_bytes(5000)
        r = self._unsigned_trailer_put(k, data, [4000], outer_chunked=False,
                                       trailer=("x-amz-checksum-crc32", crc32_b64(b"other")))
        self.assertS3Error(r, 400, "BadDigest")
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    @photoflux_only("chunk-sig")
    def test_decoded_length_mismatch_is_incomplete_body(self):
        k = self.key()
        data = random_bytes(5000)
        r = self._unsigned_trailer_put(k, data, [4000], outer_chunked=False,
                                       decoded_len=len(data) + 10)
        self.assertS3Error(r, 400, "IncompleteBody")
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    def test_upload_part_with_unsigned_trailer(self):
        # botocore over https frames UploadPart bodies the same way.
        k = self.key()
        parts = [random_bytes(5 * MiB), random_bytes(1000)]
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        etags = []
        for n, p in enumerate(parts, 1):
            body = aws_chunked_unsigned(split_chunks(p, [1 * MiB] * 5),
                                        [("x-amz-checksum-crc32", crc32_b64(p))])
            s = sign_v4("PUT", f"{self.server.url}/{B}/{harness.encode_key_path(k)}"
                        f"?partNumber={n}&uploadId={urllib.parse.quote(up, safe='')}",
                        {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(p)),
                         "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body))},
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER", self.server.creds)
            r = send_signed(s, body=body)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.header("ETag"), f'"{md5_hex(p)}"')
            etags.append(r.header("ETag"))
        done = self.s3.complete_multipart_upload(Bucket=B, Key=k, UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
        self.assertEqual(done["ETag"], f'"{multipart_etag_of_parts(parts)}"')
        self.assertEqual(self.get_bytes(k), b"".join(parts))

    def _signed_streaming(self, key, data, chunk_sizes, *, trailer=False, tamper=None):
        chunks = split_chunks(data, chunk_sizes)
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(data))}
        ph = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        trailers = None
        if trailer:
            ph += "-TRAILER"
            headers["x-amz-trailer"] = "x-amz-checksum-crc32"
            trailers = [("x-amz-checksum-crc32", crc32_b64(data))]
        else:
            headers["Content-Length"] = str(signed_chunked_content_length([len(c) for c in chunks]))
        s = sign_v4("PUT", f"{self.server.url}/{B}/{harness.encode_key_path(key)}", headers, ph,
                    self.server.creds)
        body = aws_chunked_signed(chunks, s, trailers, tamper_chunk=tamper)
        if trailer:
            s.headers.append(("Content-Length", str(len(body))))
        return send_signed(s, body=body)

    def test_signed_streaming_payload(self):
        k = self.key("signed chunks.bin")
        data = random_bytes(150_000)
        r = self._signed_streaming(k, data, [65536, 65536])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("ETag"), f'"{md5_hex(data)}"')
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["Body"].read(), data)
        self.assertNotIn("aws-chunked", g.get("ContentEncoding") or "")

    def test_signed_streaming_payload_with_trailer(self):
        k = self.key()
        data = random_bytes(70_000)
        r = self._signed_streaming(k, data, [65536], trailer=True)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.get_bytes(k), data)

    def test_signed_streaming_small_chunks_accepted(self):
        # S3 rejects signed chunks < 8 KiB; the fact sheet says a self-hosted server should not.
        k = self.key()
        data = random_bytes(3000)
        r = self._signed_streaming(k, data, [1000, 1000])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.get_bytes(k), data)

    @photoflux_only("chunk-sig")
    def test_signed_streaming_bad_chunk_signature(self):
        k = self.key()
        data = random_bytes(100_000)
        r = self._signed_streaming(k, data, [65536], tamper=1)
        self.assertS3Error(r, 403, "SignatureDoesNotMatch")
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)


# ------------------------------------------------------------------------------------------------
class Copy(Base):
    def test_copy_with_metadata_directive_copy(self):
        src, dst = self.key("src a+b ü.jpg"), self.key("dst")
        data = random_bytes(30_000)
        self.put(src, data, ContentType="image/jpeg", Metadata={"owner": "bob"},
                 ContentDisposition="inline")
        r = self.s3.copy_object(Bucket=B, Key=dst, CopySource={"Bucket": B, "Key": src})
        self.assertEqual(r["CopyObjectResult"]["ETag"], f'"{md5_hex(data)}"')
        self.assertIsInstance(r["CopyObjectResult"]["LastModified"], dt.datetime)
        g = self.s3.get_object(Bucket=B, Key=dst)
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["ContentType"], "image/jpeg")
        self.assertEqual(g["Metadata"], {"owner": "bob"})
        self.assertEqual(g["ContentDisposition"], "inline")
        self.assertEqual(self.get_bytes(src), data)  # source untouched

    def test_copy_with_metadata_directive_replace(self):
        src, dst = self.key("src"), self.key("dst")
        data = b"replace me"
        self.put(src, data, ContentType="text/plain", Metadata={"old": "1"})
        self.s3.copy_object(Bucket=B, Key=dst, CopySource=f"{B}/{src}", MetadataDirective="REPLACE",
                            ContentType="application/json", Metadata={"New": "2"})
        h = self.s3.head_object(Bucket=B, Key=dst)
        self.assertEqual(h["ContentType"], "application/json")
        self.assertEqual(h["Metadata"], {"new": "2"})
        self.assertEqual(self.get_bytes(dst), data)

    def test_copy_onto_itself(self):
        k = self.key()
        self.put(k, b"self", Metadata={"v": "1"})
        self.assertClientError(self.s3.copy_object, "InvalidRequest", 400, Bucket=B, Key=k,
                               CopySource={"Bucket": B, "Key": k})
        self.s3.copy_object(Bucket=B, Key=k, CopySource={"Bucket": B, "Key": k},
                            MetadataDirective="REPLACE", Metadata={"v": "2"})
        h = self.s3.head_object(Bucket=B, Key=k)
        self.assertEqual(h["Metadata"], {"v": "2"})
        self.assertEqual(self.get_bytes(k), b"self")

    def test_copy_source_with_leading_slash_and_encoded_key(self):
        # Other clients (s3cmd, rclone) send '/bucket/key' with the key percent-encoded.
        src, dst = self.key("a b+c%d.txt"), self.key("dst")
        self.put(src, b"slash form")
        path = f"/{B}/{dst}"
        s = sign_v4("PUT", self.server.url + path,
                    {"x-amz-copy-source": f"/{B}/" + urllib.parse.quote(src, safe="/")},
                    hashlib.sha256(b"").hexdigest(), self.server.creds)
        r = send_signed(s, body=b"")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.get_bytes(dst), b"slash form")

    def test_copy_between_buckets_and_missing_source(self):
        other = unique_bucket("copy")
        self.s3.create_bucket(Bucket=other)
        self.addCleanup(self._drop_bucket, other)
        src = self.key()
        self.put(src, b"cross bucket")
        self.s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": B, "Key": src})
        self.assertEqual(self.s3.get_object(Bucket=other, Key="x")["Body"].read(), b"cross bucket")
        self.assertClientError(self.s3.copy_object, "NoSuchKey", 404, Bucket=B, Key=self.key(),
                               CopySource={"Bucket": B, "Key": self.key("missing")})

    @photoflux_only("copy-conditions")
    def test_copy_source_conditionals(self):
        src = self.key()
        etag = self.put(src, b"cond copy")["ETag"]
        self.assertClientError(self.s3.copy_object, "PreconditionFailed", 412, Bucket=B,
                               Key=self.key(), CopySource={"Bucket": B, "Key": src},
                               CopySourceIfMatch='"ffffffffffffffffffffffffffffffff"')
        self.assertClientError(self.s3.copy_object, "PreconditionFailed", 412, Bucket=B,
                               Key=self.key(), CopySource={"Bucket": B, "Key": src},
                               CopySourceIfNoneMatch=etag)
        r = self.s3.copy_object(Bucket=B, Key=self.key(), CopySource={"Bucket": B, "Key": src},
                                CopySourceIfMatch=etag)
        self.assertEqual(r["CopyObjectResult"]["ETag"], etag)

    def _drop_bucket(self, name):
        for o in self.s3.list_objects_v2(Bucket=name).get("Contents", []):
            self.s3.delete_object(Bucket=name, Key=o["Key"])
        self.s3.delete_bucket(Bucket=name)


# ------------------------------------------------------------------------------------------------
class DeleteObjects(Base):
    def test_delete_objects(self):
        prefix = self.key("")
        keys = [prefix + n for n in ("a", "b&c", "<d>", "e f+g", "h/i")]
        for k in keys:
            self.put(k, b"x")
        missing = prefix + "never-existed"
        r = self.s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": k} for k in keys[:4]]
                                                     + [{"Key": missing}]})
        self.assertEqual(status(r), 200)
        self.assertEqual(sorted(d["Key"] for d in r.get("Deleted", [])), sorted(keys[:4] + [missing]))
        self.assertEqual(r.get("Errors", []), [])
        left = [o["Key"] for o in self.s3.list_objects_v2(Bucket=B, Prefix=prefix).get("Contents", [])]
        self.assertEqual(left, [keys[4]])

    @photoflux_only("quiet-delete")
    def test_delete_objects_quiet(self):
        prefix = self.key("")
        keys = [prefix + str(i) for i in range(3)]
        for k in keys:
            self.put(k, b"x")
        r = self.s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": k} for k in keys],
                                                     "Quiet": True})
        self.assertEqual(r.get("Deleted", []), [])
        self.assertEqual(r.get("Errors", []), [])
        self.assertEqual(self.s3.list_objects_v2(Bucket=B, Prefix=prefix)["KeyCount"], 0)

    @photoflux_only("limits")
    def test_delete_objects_over_1000_keys_is_malformed(self):
        objs = [{"Key": f"k{i}"} for i in range(1001)]
        self.assertClientError(self.s3.delete_objects, "MalformedXML", 400, Bucket=B,
                               Delete={"Objects": objs})

    def test_delete_objects_with_content_md5_only(self):
        # Older SDKs send Content-MD5 and no flexible checksum.
        k = self.key()
        self.put(k, b"x")
        body = (f'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>{k}</Key>'
                f'</Object></Delete>').encode()
        r = harness.signed_request(self.server, "POST", f"/{B}?delete", body=body,
                                   headers={"Content-MD5": md5_b64(body),
                                            "Content-Type": "application/xml"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([e.text for e in harness.xml_find_all(r.body, "Key")], [k])
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)


# ------------------------------------------------------------------------------------------------
class Listing(Base):
    NAMES = ["a.txt", "b c.txt", "d+e.txt", "f%20g.txt", "h%2Fi", "dir1/x", "dir1/y", "dir2/z",
             "dir2/sub/w", "ü.txt", "日本.txt", "A-upper", "a+", "a ", "zz"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = f"list-{uuid.uuid4().hex[:6]}/"
        cls.keys = [cls.prefix + n for n in cls.NAMES]
        for k in cls.keys:
            cls.s3.put_object(Bucket=B, Key=k, Body=k.encode())
        cls.sorted_keys = sorted(cls.keys, key=lambda s: s.encode())

    def test_v2_full_listing_in_byte_order(self):
        r = self.s3.list_objects_v2(Bucket=B, Prefix=self.prefix)
        self.assertEqual([o["Key"] for o in r["Contents"]], self.sorted_keys)
        self.assertEqual(r["KeyCount"], len(self.keys))
        self.assertFalse(r["IsTruncated"])
        for o in r["Contents"]:
            self.assertEqual(o["Size"], len(o["Key"].encode()))
            self.assertEqual(o["ETag"], f'"{md5_hex(o["Key"].encode())}"')
            self.assertEqual(o.get("StorageClass"), "STANDARD")

    def test_v2_delimiter(self):
        r = self.s3.list_objects_v2(Bucket=B, Prefix=self.prefix, Delimiter="/")
        files = [k for k in self.sorted_keys if "/" not in k[len(self.prefix):]]
        self.assertEqual([o["Key"] for o in r["Contents"]], files)
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]],
                         [self.prefix + "dir1/", self.prefix + "dir2/"])
        self.assertEqual(r["KeyCount"], len(files) + 2)
        r = self.s3.list_objects_v2(Bucket=B, Prefix=self.prefix + "dir2/", Delimiter="/")
        self.assertEqual([o["Key"] for o in r["Contents"]], [self.prefix + "dir2/z"])
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], [self.prefix + "dir2/sub/"])

    def test_v2_paginator_max_keys_2(self):
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=B, Prefix=self.prefix, PaginationConfig={"PageSize": 2}))
        got = [o["Key"] for p in pages for o in p.get("Contents", [])]
        self.assertEqual(got, self.sorted_keys)
        self.assertEqual(len(pages), (len(self.keys) + 1) // 2)
        for p in pages[:-1]:
            self.assertTrue(p["IsTruncated"])
            self.assertTrue(p.get("NextContinuationToken"))
            self.assertEqual(p["KeyCount"], 2)
        self.assertFalse(pages[-1]["IsTruncated"])
        self.assertNotIn("NextContinuationToken", pages[-1])

    def test_v2_paginator_with_delimiter(self):
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=B, Prefix=self.prefix, Delimiter="/", PaginationConfig={"PageSize": 2}))
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        files = [k for k in self.sorted_keys if "/" not in k[len(self.prefix):]]
        self.assertEqual(keys, files)
        self.assertEqual(prefixes, [self.prefix + "dir1/", self.prefix + "dir2/"])
        for p in pages:
            self.assertLessEqual(len(p.get("Contents", [])) + len(p.get("CommonPrefixes", [])), 2)

    def test_v2_start_after_and_max_keys(self):
        r = self.s3.list_objects_v2(Bucket=B, Prefix=self.prefix, StartAfter=self.sorted_keys[3],
                                    MaxKeys=3)
        self.assertEqual([o["Key"] for o in r["Contents"]], self.sorted_keys[4:7])
        self.assertTrue(r["IsTruncated"])
        r = self.s3.list_objects_v2(Bucket=B, Prefix=self.prefix, MaxKeys=0)
        self.assertEqual(r.get("Contents", []), [])

    def test_v2_without_encoding_type_returns_raw_keys(self):
        # A raw request without encoding-type=url: keys come back verbatim in the XML.
        q = urllib.parse.urlencode({"list-type": "2", "prefix": self.prefix}, quote_via=urllib.parse.quote)
        r = harness.signed_request(self.server, "GET", f"/{B}?{q}")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual([e.text for e in harness.xml_find_all(r.body, "Key")], self.sorted_keys)
        self.assertIsNone(harness.xml_text(r.body, "EncodingType"))
        self.assertEqual(r.header("Content-Type").split(";")[0], "application/xml")

    def test_v2_encoding_type_url_escapes_plus(self):
        q = urllib.parse.urlencode({"list-type": "2", "prefix": self.prefix, "encoding-type": "url"},
                                   quote_via=urllib.parse.quote)
        r = harness.signed_request(self.server, "GET", f"/{B}?{q}")
        self.assertEqual(r.status, 200, r.describe())
        if harness.xml_text(r.body, "EncodingType") == "url":
            raw = [e.text for e in harness.xml_find_all(r.body, "Key")]
            self.assertEqual([urllib.parse.unquote_plus(k) for k in raw], self.sorted_keys)

    def test_v1_paginator(self):
        pages = list(self.s3.get_paginator("list_objects").paginate(
            Bucket=B, Prefix=self.prefix, PaginationConfig={"PageSize": 2}))
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], self.sorted_keys)
        for p in pages[:-1]:
            self.assertTrue(p["IsTruncated"])
        r = self.s3.list_objects(Bucket=B, Prefix=self.prefix, Delimiter="/", MaxKeys=3)
        self.assertTrue(r["IsTruncated"])
        self.assertTrue(r.get("NextMarker"))
        r2 = self.s3.list_objects(Bucket=B, Prefix=self.prefix, Marker=self.sorted_keys[1])
        self.assertEqual([o["Key"] for o in r2["Contents"]], self.sorted_keys[2:])

    @photoflux_only("v1-delimiter-pages")
    def test_v1_paginator_with_delimiter(self):
        pages = list(self.s3.get_paginator("list_objects").paginate(
            Bucket=B, Prefix=self.prefix, Delimiter="/", PaginationConfig={"PageSize": 2}))
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        self.assertEqual(keys, [k for k in self.sorted_keys if "/" not in k[len(self.prefix):]])
        self.assertEqual(prefixes, [self.prefix + "dir1/", self.prefix + "dir2/"])

    def test_list_object_versions_unversioned(self):
        pages = list(self.s3.get_paginator("list_object_versions").paginate(Bucket=B,
                                                                            Prefix=self.prefix))
        versions = [v for p in pages for v in p.get("Versions", [])]
        self.assertEqual([v["Key"] for v in versions], self.sorted_keys)
        for v in versions:
            self.assertEqual(v["VersionId"], "null")
            self.assertTrue(v["IsLatest"])
            self.assertEqual(v["Size"], len(v["Key"].encode()))
        r = self.s3.list_object_versions(Bucket=B, Prefix=self.prefix, Delimiter="/")
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]],
                         [self.prefix + "dir1/", self.prefix + "dir2/"])

    def test_list_missing_bucket(self):
        self.assertClientError(self.s3.list_objects_v2, "NoSuchBucket", 404,
                               Bucket=unique_bucket("nope"))


# ------------------------------------------------------------------------------------------------
class Buckets(Base):
    def test_bucket_lifecycle(self):
        name = unique_bucket("life")
        r = self.s3.create_bucket(Bucket=name)
        self.assertEqual(status(r), 200)
        self.assertEqual(r.get("Location"), f"/{name}")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn(name, names)
        self.assertIn(B, names)
        h = self.s3.head_bucket(Bucket=name)
        self.assertEqual(hdrs(h).get("x-amz-bucket-region"), "us-east-1")
        # us-east-1 legacy: re-creating your own bucket is 200.
        self.assertEqual(status(self.s3.create_bucket(Bucket=name)), 200)
        self.s3.put_object(Bucket=name, Key="k", Body=b"x")
        self.assertClientError(self.s3.delete_bucket, "BucketNotEmpty", 409, Bucket=name)
        self.s3.delete_object(Bucket=name, Key="k")
        self.assertEqual(status(self.s3.delete_bucket(Bucket=name)), 204)
        self.assertClientError(self.s3.head_bucket, "404", 404, Bucket=name)
        self.assertClientError(self.s3.delete_bucket, "NoSuchBucket", 404, Bucket=name)
        self.assertNotIn(name, [b["Name"] for b in self.s3.list_buckets()["Buckets"]])

    def test_get_bucket_location(self):
        r = self.s3.get_bucket_location(Bucket=B)
        self.assertIsNone(r.get("LocationConstraint"))  # empty element for us-east-1
        self.assertClientError(self.s3.get_bucket_location, "NoSuchBucket", 404,
                               Bucket=unique_bucket("nope"))

    @photoflux_only("bucket-names")
    def test_invalid_bucket_names(self):
        for name in ("ab", "Upper-Case", "under_score", "-dash", "a" * 64, "192.168.1.2"):
            self.assertClientError(self.s3.create_bucket, "InvalidBucketName", 400, Bucket=name)

    @photoflux_only("bucket-names")
    def test_reserved_underscore_prefix_is_not_a_bucket(self):
        self.assertClientError(self.s3.create_bucket, "InvalidBucketName", 400, Bucket="_health")

    @photoflux_only("list-buckets-pages")
    def test_list_buckets_paginator(self):
        made = [unique_bucket("pg") for _ in range(3)]
        for n in made:
            self.s3.create_bucket(Bucket=n)
            self.addCleanup(self.s3.delete_bucket, Bucket=n)
        pages = list(self.s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 1}))
        names = [b["Name"] for p in pages for b in p["Buckets"]]
        self.assertGreater(len(pages), 3)
        self.assertEqual(len(names), len(set(names)))
        for n in made + [B]:
            self.assertIn(n, names)
        for b in self.s3.list_buckets()["Buckets"]:
            self.assertIsInstance(b["CreationDate"], dt.datetime)


# ------------------------------------------------------------------------------------------------
class Multipart(Base):
    def test_multipart_out_of_order_list_parts_complete(self):
        k = self.key("big photo.tif")
        parts = [random_bytes(5 * MiB), random_bytes(5 * MiB), random_bytes(1234)]
        c = self.s3.create_multipart_upload(Bucket=B, Key=k, ContentType="image/tiff",
                                            Metadata={"Owner": "ann"})
        up = c["UploadId"]
        self.assertEqual(c["Key"], k)
        self.assertEqual(c["Bucket"], B)
        etags = {}
        for n in (3, 1, 2):
            r = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=n, Body=parts[n - 1])
            self.assertEqual(r["ETag"], f'"{md5_hex(parts[n - 1])}"')
            etags[n] = r["ETag"]
        # Re-uploading a part replaces it.
        parts[1] = random_bytes(5 * MiB)
        etags[2] = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=2,
                                       Body=parts[1])["ETag"]
        lp = self.s3.list_parts(Bucket=B, Key=k, UploadId=up)
        self.assertEqual([p["PartNumber"] for p in lp["Parts"]], [1, 2, 3])
        self.assertEqual([p["ETag"] for p in lp["Parts"]], [etags[1], etags[2], etags[3]])
        self.assertEqual([p["Size"] for p in lp["Parts"]], [len(p) for p in parts])
        page = self.s3.list_parts(Bucket=B, Key=k, UploadId=up, MaxParts=2)
        self.assertTrue(page["IsTruncated"])
        self.assertEqual([p["PartNumber"] for p in page["Parts"]], [1, 2])
        self.assertEqual(int(page["NextPartNumberMarker"]), 2)
        page2 = self.s3.list_parts(Bucket=B, Key=k, UploadId=up,
                                   PartNumberMarker=int(page["NextPartNumberMarker"]))
        self.assertEqual([p["PartNumber"] for p in page2["Parts"]], [3])
        uploads = self.s3.list_multipart_uploads(Bucket=B, Prefix=k)
        self.assertEqual([(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])], [(k, up)])
        done = self.s3.complete_multipart_upload(
            Bucket=B, Key=k, UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
        expected = f'"{multipart_etag_of_parts(parts)}"'
        self.assertEqual(done["ETag"], expected)
        self.assertEqual(done["Key"], k)
        self.assertEqual(done["Bucket"], B)
        g = self.s3.get_object(Bucket=B, Key=k)
        self.assertEqual(g["ETag"], expected)
        self.assertEqual(g["ContentType"], "image/tiff")
        self.assertEqual(g["Metadata"], {"owner": "ann"})
        self.assertEqual(g["Body"].read(), b"".join(parts))
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=B, Prefix=k).get("Uploads", []), [])
        # The upload id is gone once completed.
        self.assertClientError(self.s3.list_parts, "NoSuchUpload", 404, Bucket=B, Key=k, UploadId=up)

    def test_upload_part_copy(self):
        src = self.key("src")
        data = random_bytes(6 * MiB + 100)
        self.put(src, data)
        k = self.key("dst")
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        r1 = self.s3.upload_part_copy(Bucket=B, Key=k, UploadId=up, PartNumber=1,
                                      CopySource={"Bucket": B, "Key": src},
                                      CopySourceRange=f"bytes=0-{5 * MiB - 1}")
        r2 = self.s3.upload_part_copy(Bucket=B, Key=k, UploadId=up, PartNumber=2,
                                      CopySource={"Bucket": B, "Key": src},
                                      CopySourceRange=f"bytes={5 * MiB}-{len(data) - 1}")
        self.assertEqual(r1["CopyPartResult"]["ETag"], f'"{md5_hex(data[:5 * MiB])}"')
        self.assertEqual(r2["CopyPartResult"]["ETag"], f'"{md5_hex(data[5 * MiB:])}"')
        # A third part copied whole (no range) then put back by completing only 1 and 2.
        done = self.s3.complete_multipart_upload(
            Bucket=B, Key=k, UploadId=up, MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
        self.assertEqual(done["ETag"], f'"{multipart_etag_of_parts([data[:5 * MiB], data[5 * MiB:]])}"')
        self.assertEqual(self.get_bytes(k), data)

    def test_abort(self):
        k = self.key()
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=1, Body=b"part")
        r = self.s3.abort_multipart_upload(Bucket=B, Key=k, UploadId=up)
        self.assertEqual(status(r), 204)
        self.assertClientError(self.s3.list_parts, "NoSuchUpload", 404, Bucket=B, Key=k, UploadId=up)
        if not IS_MOTO:  # moto deviation: MOTO_DEVIATIONS["unknown-upload"]
            self.assertClientError(self.s3.upload_part, "NoSuchUpload", 404, Bucket=B, Key=k,
                                   UploadId=up, PartNumber=2, Body=b"late")
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=B, Prefix=k).get("Uploads", []), [])
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    def test_complete_errors(self):
        k = self.key()
        big, small = random_bytes(5 * MiB), random_bytes(100)
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        e1 = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=1, Body=big)["ETag"]
        e2 = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=2, Body=small)["ETag"]
        e3 = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=3, Body=small)["ETag"]
        complete = self.s3.complete_multipart_upload
        self.assertClientError(complete, "InvalidPart", 400, Bucket=B, Key=k, UploadId=up,
                               MultipartUpload={"Parts": [
                                   {"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]})
        self.assertClientError(complete, "InvalidPart", 400, Bucket=B, Key=k, UploadId=up,
                               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                          {"PartNumber": 7, "ETag": e2}]})
        self.assertClientError(complete, "EntityTooSmall", 400, Bucket=B, Key=k, UploadId=up,
                               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                          {"PartNumber": 2, "ETag": e2},
                                                          {"PartNumber": 3, "ETag": e3}]})
        if not IS_MOTO:  # moto deviation: MOTO_DEVIATIONS["unknown-upload"]
            self.assertClientError(complete, "NoSuchUpload", 404, Bucket=B, Key=k,
                                   UploadId="no-such-upload-id",
                                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
        # After the failures the upload is intact: a valid subset completes (unquoted ETags too).
        done = complete(Bucket=B, Key=k, UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": unquote_etag(e1)}, {"PartNumber": 3, "ETag": e3}]})
        self.assertEqual(done["ETag"], f'"{multipart_etag_of_parts([big, small])}"')
        self.assertEqual(self.get_bytes(k), big + small)

    @photoflux_only("part-order")
    def test_complete_parts_out_of_order(self):
        k = self.key()
        big = random_bytes(5 * MiB)
        up = self.s3.create_multipart_upload(Bucket=B, Key=k)["UploadId"]
        e1 = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=1, Body=big)["ETag"]
        e2 = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=2, Body=big)["ETag"]
        # Both parts are >= 5 MiB, so only the order is wrong.
        self.assertClientError(self.s3.complete_multipart_upload, "InvalidPartOrder", 400,
                               Bucket=B, Key=k, UploadId=up,
                               MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2},
                                                          {"PartNumber": 1, "ETag": e1}]})
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)
        self.s3.abort_multipart_upload(Bucket=B, Key=k, UploadId=up)

    def test_multipart_checksum_crc32(self):
        k = self.key()
        parts = [random_bytes(5 * MiB), b"hello world"]
        up = self.s3.create_multipart_upload(Bucket=B, Key=k, ChecksumAlgorithm="CRC32")["UploadId"]
        done_parts = []
        for n, p in enumerate(parts, 1):
            r = self.s3.upload_part(Bucket=B, Key=k, UploadId=up, PartNumber=n, Body=p,
                                    ChecksumAlgorithm="CRC32")
            self.assertEqual(r.get("ChecksumCRC32"), crc32_b64(p))
            done_parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
        done = self.s3.complete_multipart_upload(Bucket=B, Key=k, UploadId=up,
                                                 MultipartUpload={"Parts": done_parts})
        self.assertEqual(done["ETag"], f'"{multipart_etag_of_parts(parts)}"')
        # GET of a multipart object with checksum mode must not break botocore's validation
        # (composite values with '-N' are skipped by botocore).
        g = self.s3.get_object(Bucket=B, Key=k, ChecksumMode="ENABLED")
        self.assertEqual(g["Body"].read(), b"".join(parts))

    def test_list_multipart_uploads(self):
        prefix = self.key("")
        ups = []
        for name in ("b", "a", "a"):
            ups.append((prefix + name, self.s3.create_multipart_upload(Bucket=B, Key=prefix + name)["UploadId"]))
        r = self.s3.list_multipart_uploads(Bucket=B, Prefix=prefix)
        got = [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
        self.assertEqual(sorted(got), sorted(ups))
        if not IS_MOTO:  # moto deviation: MOTO_DEVIATIONS["upload-order"]
            self.assertEqual([g[0] for g in got], sorted(g[0] for g in got))  # key order
        for k, u in ups:
            self.s3.abort_multipart_upload(Bucket=B, Key=k, UploadId=u)


# ------------------------------------------------------------------------------------------------
class NotificationConfig(Base):
    def test_roundtrip(self):
        name = unique_bucket("notif")
        self.s3.create_bucket(Bucket=name)
        self.addCleanup(self.s3.delete_bucket, Bucket=name)
        empty = self.s3.get_bucket_notification_configuration(Bucket=name)
        for key in ("LambdaFunctionConfigurations", "TopicConfigurations", "QueueConfigurations"):
            self.assertEqual(empty.get(key, []), [])
        cfg = {
            "LambdaFunctionConfigurations": [{
                "Id": "thumb",
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:thumb",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"},
                                                   {"Name": "suffix", "Value": ".jpg"}]}}}],
            "TopicConfigurations": [{
                "Id": "gone",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:photo-events",
                "Events": ["s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated"]}],
        }
        r = self.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=cfg, SkipDestinationValidation=True)
        self.assertEqual(status(r), 200)
        got = self.s3.get_bucket_notification_configuration(Bucket=name)
        for section in cfg:
            self.assertEqual(len(got.get(section, [])), 1, got)
            want, have = cfg[section][0], got[section][0]
            self.assertEqual(have["Id"], want["Id"])
            arn = next(k for k in want if k.endswith("Arn"))
            self.assertEqual(have[arn], want[arn])
            self.assertEqual(sorted(have["Events"]), sorted(want["Events"]))
            if "Filter" in want:
                rules = {r["Name"].lower(): r["Value"] for r in have["Filter"]["Key"]["FilterRules"]}
                self.assertEqual(rules, {r["Name"]: r["Value"]
                                         for r in want["Filter"]["Key"]["FilterRules"]})
        # An empty document clears it.
        self.s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={})
        cleared = self.s3.get_bucket_notification_configuration(Bucket=name)
        self.assertEqual(cleared.get("LambdaFunctionConfigurations", []), [])
        self.assertEqual(cleared.get("TopicConfigurations", []), [])

    def test_queue_destinations_round_trip(self):
        name = unique_bucket("notif")
        self.s3.create_bucket(Bucket=name)
        self.addCleanup(self.s3.delete_bucket, Bucket=name)
        arn = "arn:aws:sqs:us-east-1:123456789012:photo-queue"
        cfg = {"QueueConfigurations": [{
            "Id": "q", "QueueArn": arn, "Events": ["s3:ObjectCreated:Put"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]}
        r = self.s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=cfg, SkipDestinationValidation=True)
        self.assertEqual(status(r), 200)
        got = self.s3.get_bucket_notification_configuration(Bucket=name)["QueueConfigurations"]
        self.assertEqual(len(got), 1, got)
        self.assertEqual((got[0]["Id"], got[0]["QueueArn"], got[0]["Events"]),
                         ("q", arn, ["s3:ObjectCreated:Put"]))
        self.assertEqual({r["Name"].lower(): r["Value"] for r in got[0]["Filter"]["Key"]["FilterRules"]},
                         {"prefix": "uploads/"})
        self.s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={})
        self.assertEqual(self.s3.get_bucket_notification_configuration(Bucket=name)
                         .get("QueueConfigurations", []), [])

    @photoflux_only("queue-destinations")
    def test_queue_destination_must_exist(self):
        name = unique_bucket("notif")
        self.s3.create_bucket(Bucket=name)
        self.addCleanup(self.s3.delete_bucket, Bucket=name)
        # This serve has no SQS it can reach: the queue cannot be validated, as on S3.
        arn = "arn:aws:sqs:us-east-1:123456789012:photo-queue"
        err = self.assertClientError(
            self.s3.put_bucket_notification_configuration, "InvalidArgument", 400, Bucket=name,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]}]})
        self.assertEqual(err.response["Error"]["Message"],
                         "Unable to validate the following destination configurations")
        self.assertEqual(self.s3.get_bucket_notification_configuration(Bucket=name)
                         .get("QueueConfigurations", []), [])

    def test_missing_bucket(self):
        self.assertClientError(self.s3.get_bucket_notification_configuration, "NoSuchBucket", 404,
                               Bucket=unique_bucket("nope"))


# ------------------------------------------------------------------------------------------------
class Presigned(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.v4 = cls.server.client(signature_version="s3v4")

    def test_presigned_get_and_put(self):
        k = self.key("presigned ü+.bin")
        data = random_bytes(40_000)
        put_url = self.v4.generate_presigned_url("put_object", Params={"Bucket": B, "Key": k},
                                                 ExpiresIn=300)
        self.assertIn("X-Amz-Signature=", put_url)
        r = raw_request("PUT", put_url, body=data)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("ETag"), f'"{md5_hex(data)}"')
        get_url = self.v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": k},
                                                 ExpiresIn=300)
        r = raw_request("GET", get_url)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, data)
        import urllib.request
        with urllib.request.urlopen(get_url, timeout=30) as resp:
            self.assertEqual(resp.read(), data)

    @photoflux_only("response-overrides")
    def test_presigned_get_with_response_overrides(self):
        k = self.key()
        self.put(k, b"override", ContentType="text/plain")
        url = self.v4.generate_presigned_url("get_object", Params={
            "Bucket": B, "Key": k, "ResponseContentDisposition": 'attachment; filename="x.txt"',
            "ResponseContentType": "application/x-test", "ResponseCacheControl": "no-store"},
            ExpiresIn=60)
        r = raw_request("GET", url)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="x.txt"')
        self.assertEqual(r.header("Content-Type"), "application/x-test")
        self.assertEqual(r.header("Cache-Control"), "no-store")

    @photoflux_only("auth")
    def test_expired_presigned_url(self):
        k = self.key()
        self.put(k, b"expiring")
        url = self.v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": k},
                                             ExpiresIn=1)
        time.sleep(2.2)
        r = raw_request("GET", url)
        self.assertS3Error(r, 403, "AccessDenied")
        # Same through a signing time in the past (our own signer).
        past = harness.presign_v4("GET", f"{self.server.url}/{B}/{harness.encode_key_path(k)}",
                                  self.server.creds, expires=60, amz_date=harness.amz_now(-3600))
        self.assertS3Error(raw_request("GET", past), 403, "AccessDenied")

    @photoflux_only("auth")
    def test_not_yet_valid_presigned_url(self):
        k = self.key()
        self.put(k, b"future")
        url = harness.presign_v4("GET", f"{self.server.url}/{B}/{harness.encode_key_path(k)}",
                                 self.server.creds, expires=3600, amz_date=harness.amz_now(3600))
        self.assertS3Error(raw_request("GET", url), 403, "AccessDenied")

    @photoflux_only("auth")
    def test_presigned_url_is_bound_to_method_and_key(self):
        k = self.key()
        self.put(k, b"bound")
        get_url = self.v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": k},
                                                 ExpiresIn=60)
        self.assertS3Error(raw_request("PUT", get_url, body=b"evil"), 403, "SignatureDoesNotMatch")
        self.assertS3Error(raw_request("DELETE", get_url), 403, "SignatureDoesNotMatch")
        other = get_url.replace(urllib.parse.quote(k.split("/")[0]), urllib.parse.quote(k.split("/")[0]) + "x", 1)
        self.assertS3Error(raw_request("GET", other), 403, "SignatureDoesNotMatch")
        self.assertEqual(self.get_bytes(k), b"bound")


# ------------------------------------------------------------------------------------------------
def multipart_form(fields: list[tuple[str, str]], file_name: str, file_data: bytes,
                   file_type: str = "application/octet-stream") -> tuple[bytes, str]:
    boundary = "----pfboundary" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode())
        out.write(value.encode() + b"\r\n")
    out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n".encode())
    out.write(file_data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


class PostPolicy(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.v4 = cls.server.client(signature_version="s3v4")

    def presign(self, prefix, *, max_size=1_000_000, status_field="201", expires=300):
        fields = {"Content-Type": "image/jpeg", "x-amz-meta-owner": "web"}
        conds = [["starts-with", "$key", prefix], ["content-length-range", 1, max_size],
                 ["starts-with", "$Content-Type", "image/"], {"x-amz-meta-owner": "web"}]
        if status_field:
            fields["success_action_status"] = status_field
            conds.append({"success_action_status": status_field})
        return self.v4.generate_presigned_post(B, prefix + "${filename}", Fields=fields,
                                               Conditions=conds, ExpiresIn=expires)

    def post(self, post, data, file_name="cat photo.jpg", override=None):
        fields = dict(post["fields"])
        fields.update(override or {})
        body, ctype = multipart_form(list(fields.items()), file_name, data, "image/jpeg")
        return raw_request("POST", post["url"], body=body, headers={"Content-Type": ctype})

    @photoflux_only("post-201")
    def test_post_upload_201(self):
        prefix = self.key("")
        data = random_bytes(20_000)
        p = self.presign(prefix)
        self.assertEqual(p["fields"]["x-amz-algorithm"], "AWS4-HMAC-SHA256")
        r = self.post(p, data)
        self.assertEqual(r.status, 201, r.describe())
        key = prefix + "cat photo.jpg"
        self.assertEqual(harness.xml_text(r.body, "Key"), key)
        self.assertEqual(harness.xml_text(r.body, "Bucket"), B)
        self.assertEqual(unquote_etag(harness.xml_text(r.body, "ETag")), md5_hex(data))
        self.assertTrue(harness.xml_text(r.body, "Location"))
        self.assertEqual(r.header("ETag"), f'"{md5_hex(data)}"')
        g = self.s3.get_object(Bucket=B, Key=key)
        self.assertEqual(g["Body"].read(), data)
        self.assertEqual(g["ContentType"], "image/jpeg")
        self.assertEqual(g["Metadata"], {"owner": "web"})

    def test_post_upload_default_204(self):
        prefix = self.key("")
        data = b"\xff\xd8 tiny jpeg"
        p = self.v4.generate_presigned_post(B, prefix + "fixed.jpg", ExpiresIn=300)
        body, ctype = multipart_form(list(p["fields"].items()), "ignored.jpg", data)
        r = raw_request("POST", p["url"], body=body, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(r.body, b"")
        self.assertEqual(self.get_bytes(prefix + "fixed.jpg"), data)

    @photoflux_only("post-form")
    def test_fields_after_file_are_ignored(self):
        prefix = self.key("")
        p = self.v4.generate_presigned_post(B, prefix + "late.jpg", ExpiresIn=300)
        body, ctype = multipart_form(list(p["fields"].items()), "late.jpg", b"data")
        boundary = ctype.split("boundary=")[1]
        late = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"x-amz-meta-late\"\r\n\r\n"
                f"yes\r\n--{boundary}--\r\n").encode()
        body = body[: -len(f"--{boundary}--\r\n")] + late
        r = raw_request("POST", p["url"], body=body, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 204, r.describe())
        self.assertEqual(self.s3.head_object(Bucket=B, Key=prefix + "late.jpg")["Metadata"], {})

    @photoflux_only("policy")
    def test_policy_violations(self):
        prefix = self.key("")
        p = self.presign(prefix, max_size=1000)
        # key outside the allowed prefix
        r = self.post(p, b"x" * 10, override={"key": "elsewhere/${filename}"})
        self.assertS3Error(r, 403, "AccessDenied")
        # too large for content-length-range
        r = self.post(p, b"x" * 2000)
        self.assertS3Error(r, 400, "EntityTooLarge")
        # content type not allowed
        r = self.post(p, b"x" * 10, override={"Content-Type": "text/html"})
        self.assertS3Error(r, 403, "AccessDenied")
        # a field not covered by any condition
        fields = dict(p["fields"])
        body, ctype = multipart_form(list(fields.items()) + [("x-amz-meta-extra", "1")], "a.jpg", b"x")
        r = raw_request("POST", p["url"], body=body, headers={"Content-Type": ctype})
        self.assertS3Error(r, 403, "AccessDenied")
        # tampered policy -> signature mismatch
        pol = json.loads(base64.b64decode(p["fields"]["policy"]))
        pol["conditions"] = [c for c in pol["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")]
        r = self.post(p, b"x" * 5000, override={"policy": base64.b64encode(json.dumps(pol).encode()).decode()})
        self.assertS3Error(r, 403, "SignatureDoesNotMatch")
        listed = self.s3.list_objects_v2(Bucket=B, Prefix=prefix).get("Contents", [])
        self.assertEqual(listed, [])
        r = self.s3.list_objects_v2(Bucket=B, Prefix="elsewhere/").get("Contents", [])
        self.assertEqual(r, [])

    @photoflux_only("policy")
    def test_expired_policy(self):
        prefix = self.key("")
        p = self.presign(prefix, expires=1)
        time.sleep(2.2)
        self.assertS3Error(self.post(p, b"late"), 403, "AccessDenied")


# ------------------------------------------------------------------------------------------------
class Cors(Base):
    ORIGIN = "http://app.example.test"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if IS_MOTO:
            # moto (like S3) answers CORS only with a bucket configuration.
            cls.s3.put_bucket_cors(Bucket=B, CORSConfiguration={"CORSRules": [{
                "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})

    def test_preflight(self):
        r = raw_request("OPTIONS", f"{self.server.url}/{B}/some/key.jpg", headers={
            "Origin": self.ORIGIN, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-date,authorization,x-amz-content-sha256"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn(r.header("Access-Control-Allow-Origin"), ("*", self.ORIGIN), r.describe())
        self.assertIn("PUT", (r.header("Access-Control-Allow-Methods") or "").upper(), r.describe())
        allowed = (r.header("Access-Control-Allow-Headers") or "").lower()
        if allowed.strip() != "*":
            for h in ("content-type", "x-amz-date", "authorization", "x-amz-content-sha256"):
                self.assertIn(h, allowed, r.describe())
        self.assertIn("etag", (r.header("Access-Control-Expose-Headers") or "").lower(), r.describe())

    def test_actual_request_carries_cors_headers(self):
        k = self.key()
        self.put(k, b"cors")
        url = self.server.client(signature_version="s3v4").generate_presigned_url(
            "get_object", Params={"Bucket": B, "Key": k}, ExpiresIn=60)
        r = raw_request("GET", url, headers={"Origin": self.ORIGIN})
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn(r.header("Access-Control-Allow-Origin"), ("*", self.ORIGIN), r.describe())
        self.assertIn("etag", (r.header("Access-Control-Expose-Headers") or "").lower(), r.describe())


# ------------------------------------------------------------------------------------------------
class VirtualHosted(Base):
    def test_virtual_hosted_addressing(self):
        harness.resolve_localhost_subdomains()
        vs3 = self.server.client(addressing_style="virtual",
                                 endpoint_url=f"http://localhost:{self.server.port}")
        k = self.key("vhost a+b.txt")
        data = random_bytes(10_000)
        sent = []
        vs3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
        r = vs3.put_object(Bucket=B, Key=k, Body=data)
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        # The request really used the virtual host, not path style.
        self.assertTrue(sent[0].startswith(f"http://{B}.localhost:{self.server.port}/"), sent)
        self.assertNotIn(f"/{B}/", sent[0])
        self.assertEqual(vs3.get_object(Bucket=B, Key=k)["Body"].read(), data)
        self.assertEqual(self.get_bytes(k), data)  # same object via path style
        keys = [o["Key"] for o in vs3.list_objects_v2(Bucket=B, Prefix=k.split("/")[0])["Contents"]]
        self.assertEqual(keys, [k])
        vs3.delete_object(Bucket=B, Key=k)
        self.assertClientError(self.s3.head_object, "404", 404, Bucket=B, Key=k)

    def test_virtual_hosted_raw_host_header(self):
        k = self.key("raw")
        self.put(k, b"raw vhost")
        url = f"http://{B}.localhost:{self.server.port}/{harness.encode_key_path(k)}"
        s = sign_v4("GET", url, None, hashlib.sha256(b"").hexdigest(), self.server.creds)
        # Connect to 127.0.0.1 but keep the signed virtual Host header.
        r = raw_request("GET", f"{self.server.url}/{harness.encode_key_path(k)}", headers=s.headers)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"raw vhost")


# ------------------------------------------------------------------------------------------------
class ResponseConventions(Base):
    def test_common_headers_and_empty_bodies(self):
        k = self.key()
        s = sign_v4("PUT", f"{self.server.url}/{B}/{k}", None, hashlib.sha256(b"abc").hexdigest(),
                    self.server.creds)
        r = send_signed(s, body=b"abc")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"")
        if not IS_MOTO:  # moto deviation: MOTO_DEVIATIONS["request-id"]
            self.assertTrue(r.header("x-amz-request-id"))
        self.assertTrue(r.header("Date"))
        r = harness.signed_request(self.server, "GET", f"/{B}/{k}")
        lm = r.header("Last-Modified")
        self.assertRegex(lm, r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
        # XML LastModified agrees with the header to the second (aws s3 sync compares them).
        listed = self.s3.list_objects_v2(Bucket=B, Prefix=k)["Contents"][0]["LastModified"]
        from email.utils import parsedate_to_datetime
        self.assertEqual(listed.replace(microsecond=0), parsedate_to_datetime(lm))
        r = harness.signed_request(self.server, "HEAD", f"/{B}/{k}-missing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"")

    def test_error_document_shape(self):
        k = self.key("missing")
        r = harness.signed_request(self.server, "GET", f"/{B}/{k}")
        self.assertS3Error(r, 404, "NoSuchKey")
        self.assertEqual(harness.xml_text(r.body, "Key"), k)
        self.assertTrue(harness.xml_text(r.body, "Message"))
        self.assertTrue(r.header("Content-Type", "").startswith("application/xml"))

    def test_unknown_query_parameters_are_ignored_but_signed(self):
        k = self.key()
        self.put(k, b"x-id")
        r = harness.signed_request(self.server, "GET", f"/{B}/{k}?x-id=GetObject&foo=bar")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"x-id")

    @photoflux_only("expect-100")
    def test_expect_100_continue(self):
        k = self.key()
        data = random_bytes(300_000)
        s = sign_v4("PUT", f"{self.server.url}/{B}/{k}", {"Expect": "100-continue"},
                    "UNSIGNED-PAYLOAD", self.server.creds, signed=["host", "x-amz-date",
                                                                    "x-amz-content-sha256"])
        import socket
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as sock:
            head = f"PUT /{B}/{k} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in s.headers)
            head += f"Content-Length: {len(data)}\r\n\r\n"
            sock.sendall(head.encode())
            first = sock.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
            sock.sendall(data)
            rest = b""
            while b"\r\n\r\n" not in rest:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                rest += chunk
            # Exactly one interim response, then the final 200.
            rest = first[first.index(b"\r\n\r\n") + 4:] + rest
            self.assertTrue(rest.startswith(b"HTTP/1.1 200"), rest[:200])
        self.assertEqual(self.get_bytes(k), data)


if __name__ == "__main__":
    unittest.main()
