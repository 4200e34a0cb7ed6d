"""rclone (Debian's, S3 backend, provider Other, path style) against `photoflux serve`."""
import json
import shutil
import unittest
from pathlib import Path

import harness
from harness import (MiB, ServerTestCase, describe_proc, md5_file, multipart_etag_file,
                     rand_suffix, run, tree_bytes, unique_bucket, write_random_file)

RCLONE = shutil.which("rclone")
B = harness.DEFAULT_BUCKET


def setUpModule():
    if not RCLONE:
        raise unittest.SkipTest("rclone not installed (scripts/setup.sh installs it)")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class Rclone(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = Path(harness.tempfile.mkdtemp(prefix="pf-e2e-rclone-"))
        (cls.home / "rclone.conf").write_text("")
        cls.s3 = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    def rclone(self, *args, ok=True):
        env = {
            "HOME": str(self.home),
            "PATH": harness.os.environ.get("PATH", "/usr/bin:/bin"),
            "RCLONE_CONFIG": str(self.home / "rclone.conf"),
            "RCLONE_CONFIG_PF_TYPE": "s3",
            "RCLONE_CONFIG_PF_PROVIDER": "Other",
            "RCLONE_CONFIG_PF_ENDPOINT": self.server.url,
            "RCLONE_CONFIG_PF_ACCESS_KEY_ID": self.server.access_key,
            "RCLONE_CONFIG_PF_SECRET_ACCESS_KEY": self.server.secret_key,
            "RCLONE_CONFIG_PF_REGION": "us-east-1",
            "RCLONE_CONFIG_PF_FORCE_PATH_STYLE": "true",
        }
        p = run([RCLONE, "--retries", "1", "--low-level-retries", "1", *args], env=env, timeout=300)
        if ok:
            self.assertEqual(p.returncode, 0, describe_proc(p))
        return p

    def test_copy_lsjson_check_copy_down_delete(self):
        work = self.tmpdir()
        src = work / "src"
        names = ["a.jpg", "b c.jpg", "d+e.png", "percent%25.txt", "ü/日本.heic", "deep/er/x.raw", "zero"]
        for i, n in enumerate(names):
            write_random_file(src / n, 0 if n == "zero" else 1500 * (i + 1), seed=i)
        prefix = f"rc-{rand_suffix()}"
        remote = f"pf:{B}/{prefix}"
        self.rclone("copy", str(src), remote)
        listed = json.loads(self.rclone("lsjson", "-R", "--files-only", remote).stdout)
        self.assertEqual({e["Path"]: e["Size"] for e in listed},
                         {n: (src / n).stat().st_size for n in names})
        # check compares sizes and MD5s (ETags) of every file
        p = self.rclone("check", str(src), remote)
        self.assertEqual(p.returncode, 0)
        sums = self.rclone("md5sum", remote).stdout.decode()
        for n in names:
            self.assertIn(f"{md5_file(src / n)}  {n}", sums)
        down = work / "down"
        self.rclone("copy", remote, str(down))
        self.assertEqual(tree_bytes(down), tree_bytes(src))
        # A changed file makes check fail
        write_random_file(src / "a.jpg", 1500, seed=1234)
        p = self.rclone("check", str(src), remote, ok=False)
        self.assertNotEqual(p.returncode, 0, describe_proc(p))
        self.rclone("delete", remote)
        self.assertEqual(json.loads(self.rclone("lsjson", "-R", "--files-only", remote).stdout), [])

    def test_bucket_mkdir_rmdir(self):
        bucket = unique_bucket("rclone")
        self.rclone("mkdir", f"pf:{bucket}")
        self.assertIn(bucket, self.rclone("lsd", "pf:").stdout.decode())
        self.rclone("rmdir", f"pf:{bucket}")
        self.assertNotIn(bucket, self.rclone("lsd", "pf:").stdout.decode())

    def test_multipart(self):
        work = self.tmpdir()
        big = write_random_file(work / "big.bin", 20 * MiB)
        prefix = f"rc-mpu-{rand_suffix()}"
        # rclone HEADs the result with ?versionId=null after a multipart upload.
        extra = ["--s3-no-head"] if harness.IS_MOTO else []  # MOTO_DEVIATIONS["version-null"]
        self.rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", *extra, str(big),
                    f"pf:{B}/{prefix}")
        head = self.s3.head_object(Bucket=B, Key=f"{prefix}/big.bin")
        self.assertEqual(head["ETag"], f'"{multipart_etag_file(big, 5 * MiB)}"')
        self.assertEqual(head["ContentLength"], 20 * MiB)
        # rclone keeps the whole-file MD5 in metadata for multipart objects
        self.assertEqual(head["Metadata"].get("md5chksum"),
                         __import__("base64").b64encode(bytes.fromhex(md5_file(big))).decode())
        self.rclone("check", str(work), f"pf:{B}/{prefix}")
        out = work / "out"
        self.rclone("copy", f"pf:{B}/{prefix}/big.bin", str(out))
        self.assertEqual(md5_file(out / "big.bin"), md5_file(big))


if __name__ == "__main__":
    unittest.main()
