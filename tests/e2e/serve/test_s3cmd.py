"""s3cmd (Debian's 2.x, SigV4, path style) against `photoflux serve`."""
import shutil
import unittest
from pathlib import Path

import harness
from harness import (MiB, ServerTestCase, describe_proc, md5_file, multipart_etag_file,
                     rand_suffix, run, tree_bytes, unique_bucket, write_random_file)

S3CMD = shutil.which("s3cmd")


def setUpModule():
    if not S3CMD:
        raise unittest.SkipTest("s3cmd not installed (scripts/setup.sh installs it)")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class S3cmd(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = Path(harness.tempfile.mkdtemp(prefix="pf-e2e-s3cmd-"))
        cls.cfg = cls.home / "s3cfg"
        hostport = f"{cls.server.host}:{cls.server.port}"
        cls.cfg.write_text(
            "[default]\n"
            f"access_key = {cls.server.access_key}\n"
            f"secret_key = {cls.server.secret_key}\n"
            f"host_base = {hostport}\n"
            f"host_bucket = {hostport}\n"
            "bucket_location = us-east-1\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "check_ssl_certificate = False\n"
            "guess_mime_type = True\n"
            "progress_meter = False\n")
        cls.s3 = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    def s3cmd(self, *args, ok=True):
        env = {"HOME": str(self.home), "PATH": harness.os.environ.get("PATH", "/usr/bin:/bin")}
        p = run([S3CMD, "-c", str(self.cfg), *args], env=env, timeout=300)
        if ok:
            self.assertEqual(p.returncode, 0, describe_proc(p))
        return p

    def test_mb_put_ls_get_del_sync_rb(self):
        bucket = unique_bucket("s3cmd")
        work = self.tmpdir()
        self.s3cmd("mb", f"s3://{bucket}")
        self.assertIn(f"s3://{bucket}", self.s3cmd("ls").stdout.decode())

        f = write_random_file(work / "one photo+x.jpg", 40_000)
        self.s3cmd("put", "--mime-type=image/jpeg", str(f), f"s3://{bucket}/in/one photo+x.jpg")
        listing = self.s3cmd("ls", f"s3://{bucket}/in/").stdout.decode()
        self.assertIn(f"s3://{bucket}/in/one photo+x.jpg", listing)
        self.assertIn("40000", listing)
        head = self.s3.head_object(Bucket=bucket, Key="in/one photo+x.jpg")
        self.assertEqual(head["ETag"], f'"{md5_file(f)}"')
        self.assertEqual(head["ContentType"], "image/jpeg")

        out = work / "got.jpg"
        self.s3cmd("get", f"s3://{bucket}/in/one photo+x.jpg", str(out))
        self.assertEqual(out.read_bytes(), f.read_bytes())
        info = self.s3cmd("info", f"s3://{bucket}/in/one photo+x.jpg").stdout.decode()
        self.assertIn(md5_file(f), info)

        src = work / "tree"
        for i, name in enumerate(["a.txt", "b c.txt", "d+e/f.bin", "ü/日本.png"]):
            write_random_file(src / name, 1000 * (i + 1), seed=i)
        self.s3cmd("sync", str(src) + "/", f"s3://{bucket}/tree/")
        down = work / "down"
        down.mkdir()
        self.s3cmd("sync", f"s3://{bucket}/tree/", str(down) + "/")
        self.assertEqual(tree_bytes(down), tree_bytes(src))
        # second sync: nothing to transfer
        again = self.s3cmd("sync", str(src) + "/", f"s3://{bucket}/tree/").stdout.decode()
        self.assertNotIn("upload:", again)

        self.s3cmd("del", f"s3://{bucket}/in/one photo+x.jpg")
        self.assertNotIn("one photo", self.s3cmd("ls", "--recursive", f"s3://{bucket}").stdout.decode())
        p = self.s3cmd("rb", f"s3://{bucket}", ok=False)
        self.assertNotEqual(p.returncode, 0, describe_proc(p))
        self.assertIn(b"BucketNotEmpty", p.stderr + p.stdout)
        self.s3cmd("del", "--recursive", "--force", f"s3://{bucket}/")
        self.s3cmd("rb", f"s3://{bucket}")
        self.assertNotIn(f"s3://{bucket}", self.s3cmd("ls").stdout.decode())

    def test_multipart(self):
        work = self.tmpdir()
        big = write_random_file(work / "big.bin", 12 * MiB + 7)
        key = f"s3cmd-mpu-{rand_suffix()}/big.bin"
        self.s3cmd("put", "--multipart-chunk-size-mb=5", str(big), f"s3://{harness.DEFAULT_BUCKET}/{key}")
        head = self.s3.head_object(Bucket=harness.DEFAULT_BUCKET, Key=key)
        self.assertEqual(head["ETag"], f'"{multipart_etag_file(big, 5 * MiB)}"')
        self.assertTrue(head["ETag"].endswith('-3"'))
        self.assertEqual(head["ContentLength"], 12 * MiB + 7)
        out = work / "out.bin"
        self.s3cmd("get", f"s3://{harness.DEFAULT_BUCKET}/{key}", str(out))
        self.assertEqual(md5_file(out), md5_file(big))


if __name__ == "__main__":
    unittest.main()
