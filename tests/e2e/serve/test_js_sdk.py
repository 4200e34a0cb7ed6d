"""AWS SDK for JavaScript v3 (client-s3, lib-storage, s3-request-presigner; forcePathStyle) against
`photoflux serve`, through js/s3_e2e.mjs. The JS side writes what it downloaded; this side checks
bytes, ETags and the wire headers the SDK really sent (stream bodies -> aws-chunked with
STREAMING-UNSIGNED-PAYLOAD-TRAILER even over http)."""
import json
import shutil
import subprocess
import unittest

import harness
from harness import (DEFAULT_BUCKET as B, MiB, ServerTestCase, crc32_b64, md5_file,
                     multipart_etag_file, rand_suffix, write_random_file)

JS_DIR = harness.HERE / "js"
NODE = shutil.which("node")


def setUpModule():
    if not NODE:
        raise unittest.SkipTest("node not installed")
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        raise unittest.SkipTest(f"run `npm ci` in {JS_DIR} (scripts/setup.sh does it)")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class JsSdk(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Path(harness.tempfile.mkdtemp(prefix="pf-e2e-js-"))
        cls.files = {
            "small": write_random_file(cls.work / "small.bin", 100_000, seed=1),
            "medium": write_random_file(cls.work / "medium.bin", 1 * MiB + 333, seed=2),
            "big": write_random_file(cls.work / "big.bin", 12 * MiB, seed=3),
        }
        cls.prefix = f"js-{rand_suffix()}/"
        cfg = {"endpoint": cls.server.url, "accessKeyId": cls.server.access_key,
               "secretAccessKey": cls.server.secret_key, "bucket": B, "prefix": cls.prefix,
               "workdir": str(cls.work), "files": {k: str(v) for k, v in cls.files.items()}}
        cls.proc = subprocess.run([NODE, str(JS_DIR / "s3_e2e.mjs"), json.dumps(cfg)], cwd=JS_DIR,
                                  capture_output=True, timeout=300)
        try:
            cls.result = json.loads(cls.proc.stdout)
        except json.JSONDecodeError:
            cls.result = None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def step(self, name):
        self.assertIsNotNone(self.result, harness.describe_proc(self.proc))
        r = self.result["steps"].get(name)
        self.assertIsNotNone(r, f"step {name} missing; stderr: {self.proc.stderr[-2000:]!r}")
        self.assertNotIn("error", r, f"step {name}: {r}")
        return r

    def wire(self, command, index=0):
        return self.result["wire"][command][index]

    def same_file(self, downloaded: str, original):
        self.assertEqual((self.work / downloaded).read_bytes(), original.read_bytes())

    def test_script_ran(self):
        self.assertEqual(self.proc.returncode, 0, harness.describe_proc(self.proc))

    def test_put_buffer(self):
        r = self.step("putBuffer")
        self.assertEqual(r["etag"], f'"{md5_file(self.files["small"])}"')
        w = self.wire("PutObjectCommand", 0)
        self.assertEqual(w.get("x-amz-checksum-crc32"), crc32_b64(self.files["small"].read_bytes()))
        self.assertEqual(r["checksumCRC32"], w.get("x-amz-checksum-crc32"))
        g = self.step("getBuffer")
        self.same_file(g["file"], self.files["small"])
        self.assertEqual(g["contentType"], "image/png")
        self.assertEqual(g["metadata"], {"owner": "js-sdk"})
        h = self.step("head")
        self.assertEqual(h["contentDisposition"], "inline")
        self.assertEqual(h["contentLength"], 100_000)

    def test_put_file_stream_is_aws_chunked(self):
        r = self.step("putFileStream")
        data = self.files["medium"].read_bytes()
        self.assertEqual(r["etag"], f'"{md5_file(self.files["medium"])}"')
        w = self.wire("PutObjectCommand", 1)
        # What makes this test matter: the SDK really used aws-chunked with a trailer.
        self.assertEqual(w.get("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", w)
        self.assertIn("aws-chunked", w.get("content-encoding", ""), w)
        self.assertEqual(w.get("x-amz-trailer"), "x-amz-checksum-crc32", w)
        self.assertEqual(r["checksumCRC32"], crc32_b64(data))
        g = self.step("getFileStream")
        self.same_file(g["file"], self.files["medium"])
        self.assertEqual(g["contentLength"], len(data))

    def test_put_generic_stream(self):
        r = self.step("putGenericStream")
        self.assertEqual(r["etag"], f'"{md5_file(self.files["medium"])}"')
        w = self.wire("PutObjectCommand", 2)
        self.assertEqual(w.get("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", w)
        self.same_file(self.step("getGenericStream")["file"], self.files["medium"])

    def test_range(self):
        g = self.step("getRange")
        self.assertEqual(g["status"], 206)
        self.assertEqual(g["contentRange"], f"bytes 100-199/{self.files['medium'].stat().st_size}")
        self.assertEqual((self.work / g["file"]).read_bytes(), self.files["medium"].read_bytes()[100:200])

    def test_x_id_query_parameter_sent(self):
        # JS v3 appends x-id=<Operation>; the server must ignore it (and still verify the signature).
        self.step("getBuffer")
        self.assertEqual(self.wire("GetObjectCommand")[":query"].get("x-id"), "GetObject")

    def test_copy(self):
        self.assertEqual(self.step("copy")["etag"], f'"{md5_file(self.files["small"])}"')

    def test_lib_storage_multipart(self):
        r = self.step("libStorageUpload")
        self.assertEqual(r["etag"], f'"{multipart_etag_file(self.files["big"], 5 * MiB)}"')
        self.assertTrue(r["etag"].endswith('-3"'))
        self.assertEqual(len(self.result["wire"].get("UploadPartCommand", [])), 3)
        self.same_file(self.step("getBig")["file"], self.files["big"])

    def test_presigned_put_get(self):
        r = self.step("presigned")
        self.assertTrue(r["putUrlHasSignature"])
        self.assertEqual(r["putStatus"], 200)
        self.assertEqual(r["putEtag"], f'"{md5_file(self.files["small"])}"')
        self.assertEqual(r["getStatus"], 200)
        self.assertEqual(r["getMd5"], md5_file(self.files["small"]))

    def test_listing(self):
        names = ["big upload.bin", "buffer body.png", "copied.png", "file stream+1.bin",
                 "generic stream.bin", "presigned.bin"]
        expected = sorted(self.prefix + n for n in names)
        r = self.step("list")
        self.assertEqual(r["keys"], expected)
        self.assertEqual(r["keyCount"], len(expected))
        p = self.step("listPaged")
        self.assertEqual(p["keys"], expected)
        self.assertEqual(p["pages"], 3)

    def test_delete_objects(self):
        r = self.step("deleteObjects")
        self.assertEqual(len(r["deleted"]), 6)
        self.assertEqual(r["errors"], [])
        self.assertEqual(r["remaining"], 0)
        self.assertEqual(self.server.client().list_objects_v2(Bucket=B, Prefix=self.prefix)["KeyCount"], 0)

    def test_bucket_lifecycle(self):
        r = self.step("bucketLifecycle")
        self.assertEqual(r["notEmpty"], "BucketNotEmpty")
        self.assertEqual(r["deleteStatus"], 204)

    def test_missing_key_error(self):
        r = self.step("missingKey")
        self.assertEqual(r["thrown"], "NoSuchKey")
        self.assertEqual(r["status"], 404)


if __name__ == "__main__":
    unittest.main()
