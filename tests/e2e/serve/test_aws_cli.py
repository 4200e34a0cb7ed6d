"""The aws CLI (v1) against `photoflux serve`: high-level `aws s3` commands on a directory with
awkward names, `aws s3api` multipart by hand, automatic multipart, presigned URLs."""
import json
import shutil
import subprocess
import unittest
import urllib.request
from pathlib import Path

import harness
from harness import (DEFAULT_BUCKET as B, MiB, ServerTestCase, describe_proc, md5_file,
                     multipart_etag_file, rand_suffix, raw_request, run, tree_bytes, unique_bucket,
                     write_random_file)

AWS = shutil.which("aws")


def setUpModule():
    if not AWS:
        raise unittest.SkipTest("aws CLI not installed")
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


# Names that break naive servers: spaces, '+', '%', unicode, nested dirs, a leading dot.
TREE = {
    "plain.txt": 1000,
    "with space.txt": 2048,
    "plus+sign.jpg": 3000,
    "percent%41lit.txt": 10,
    "ünïcödé-日本語.png": 5000,
    "sub dir/nested+file.bin": 70_000,
    "sub dir/deeper/leaf.raw": 1,
    ".hidden": 5,
    "empty.txt": 0,
}


class AwsCli(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = Path(harness.tempfile.mkdtemp(prefix="pf-e2e-awscli-"))
        cls.env = cls.server.cli_env(cls.home)
        cls.s3 = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)

    def aws(self, *args, ok=True, timeout=300) -> subprocess.CompletedProcess:
        # A 20 s read timeout turns a stalled connection into a failure instead of a silent
        # 60 s wait (botocore's default).
        p = run([AWS, "--cli-read-timeout", "20", "--endpoint-url", self.server.url, *args],
                env=self.env, timeout=timeout)
        if ok:
            self.assertEqual(p.returncode, 0, describe_proc(p))
        return p

    def aws_json(self, *args):
        return json.loads(self.aws(*args, "--output", "json").stdout or b"{}")

    def make_tree(self, root: Path) -> Path:
        for i, (name, size) in enumerate(TREE.items()):
            write_random_file(root / name, size, seed=i)
        return root

    def ls_recursive(self, url: str) -> dict[str, int]:
        out = self.aws("s3", "ls", "--recursive", url).stdout.decode()
        listed = {}
        for line in out.splitlines():
            # "2026-11-29 12:00:00       1000 prefix/key with spaces"
            parts = line.split(None, 3)
            if len(parts) == 4:
                listed[parts[3]] = int(parts[2])
        return listed

    def test_mb_cp_ls_sync_rm_rb(self):
        bucket = unique_bucket("cli")
        work = self.tmpdir()
        src = self.make_tree(work / "src")
        self.aws("s3", "mb", f"s3://{bucket}")
        self.assertIn(bucket, self.aws("s3", "ls").stdout.decode())

        # sync up, then everything is listed with its size
        self.aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/photos")
        self.assertEqual(self.ls_recursive(f"s3://{bucket}/"),
                         {f"photos/{k}": v for k, v in TREE.items()})
        # non-recursive ls shows the "directory" as a PRE line
        top = self.aws("s3", "ls", f"s3://{bucket}/photos/").stdout.decode()
        self.assertIn("PRE sub dir/", top)

        # a second sync uploads nothing (sizes and LastModified agree)
        again = self.aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/photos")
        self.assertEqual(again.stdout.decode().strip(), "", describe_proc(again))

        # cp single files both ways
        self.aws("s3", "cp", str(src / "with space.txt"), f"s3://{bucket}/single/with space copy.txt")
        dl = work / "dl.txt"
        self.aws("s3", "cp", f"s3://{bucket}/single/with space copy.txt", str(dl))
        self.assertEqual(dl.read_bytes(), (src / "with space.txt").read_bytes())

        # sync down: identical tree; then a second sync down downloads nothing
        down = work / "down"
        self.aws("s3", "sync", "--no-progress", f"s3://{bucket}/photos", str(down))
        self.assertEqual(tree_bytes(down), tree_bytes(src))
        again = self.aws("s3", "sync", "--no-progress", f"s3://{bucket}/photos", str(down))
        self.assertEqual(again.stdout.decode().strip(), "", describe_proc(again))

        # change one file: only it is uploaded
        write_random_file(src / "plus+sign.jpg", 3001, seed=99)
        changed = self.aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/photos").stdout.decode()
        self.assertEqual(len(changed.strip().splitlines()), 1, changed)
        self.assertIn("plus+sign.jpg", changed)
        self.assertEqual(self.s3.get_object(Bucket=bucket, Key="photos/plus+sign.jpg")["Body"].read(),
                         (src / "plus+sign.jpg").read_bytes())

        # sync --delete removes what is gone locally
        (src / "plain.txt").unlink()
        self.aws("s3", "sync", "--no-progress", "--delete", str(src), f"s3://{bucket}/photos")
        self.assertNotIn("photos/plain.txt", self.ls_recursive(f"s3://{bucket}/"))

        # rm one key, rb refuses a non-empty bucket, rm --recursive, rb
        self.aws("s3", "rm", f"s3://{bucket}/photos/ünïcödé-日本語.png")
        self.assertNotIn("photos/ünïcödé-日本語.png", self.ls_recursive(f"s3://{bucket}/"))
        p = self.aws("s3", "rb", f"s3://{bucket}", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"BucketNotEmpty", p.stderr)
        self.aws("s3", "rm", "--recursive", f"s3://{bucket}/")
        self.assertEqual(self.ls_recursive(f"s3://{bucket}/"), {})
        self.aws("s3", "rb", f"s3://{bucket}")
        self.assertNotIn(bucket, self.aws("s3", "ls").stdout.decode())

    def test_cp_recursive_and_mv(self):
        work = self.tmpdir()
        src = self.make_tree(work / "src")
        prefix = f"s3://{B}/cli-rec-{rand_suffix()}"
        self.aws("s3", "cp", "--recursive", str(src), prefix)
        self.aws("s3", "mv", f"{prefix}/plus+sign.jpg", f"{prefix}/moved/plus+sign.jpg")
        listed = self.ls_recursive(prefix + "/")
        self.assertIn(prefix.split("/", 3)[3] + "/moved/plus+sign.jpg", listed)
        self.assertNotIn(prefix.split("/", 3)[3] + "/plus+sign.jpg", listed)
        down = work / "down"
        self.aws("s3", "cp", "--recursive", prefix, str(down))
        expected = tree_bytes(src)
        expected["moved/plus+sign.jpg"] = expected.pop("plus+sign.jpg")
        self.assertEqual(tree_bytes(down), expected)

    def test_s3api_multipart_by_hand(self):
        work = self.tmpdir()
        big = write_random_file(work / "big.bin", 20 * MiB + 12345)
        part_size = 6 * MiB
        data = big.read_bytes()
        parts = [data[i:i + part_size] for i in range(0, len(data), part_size)]
        self.assertEqual(len(parts), 4)
        key = f"cli-mpu-{rand_suffix()}/big file+1.bin"
        up = self.aws_json("s3api", "create-multipart-upload", "--bucket", B, "--key", key,
                           "--content-type", "application/x-test")
        upload_id = up["UploadId"]
        self.assertEqual(up["Key"], key)
        etags = {}
        for n in (3, 1, 4, 2):  # out of order
            pf = work / f"part{n}"
            pf.write_bytes(parts[n - 1])
            r = self.aws_json("s3api", "upload-part", "--bucket", B, "--key", key,
                              "--upload-id", upload_id, "--part-number", str(n), "--body", str(pf))
            self.assertEqual(r["ETag"], f'"{harness.md5_hex(parts[n - 1])}"')
            etags[n] = r["ETag"]
        lp = self.aws_json("s3api", "list-parts", "--bucket", B, "--key", key, "--upload-id", upload_id)
        self.assertEqual([p["PartNumber"] for p in lp["Parts"]], [1, 2, 3, 4])
        self.assertEqual([p["Size"] for p in lp["Parts"]], [len(p) for p in parts])
        self.assertEqual([p["ETag"] for p in lp["Parts"]], [etags[n] for n in (1, 2, 3, 4)])
        uploads = self.aws_json("s3api", "list-multipart-uploads", "--bucket", B,
                                "--prefix", key.split("/")[0])
        self.assertEqual([u["UploadId"] for u in uploads.get("Uploads", [])], [upload_id])
        manifest = work / "parts.json"
        manifest.write_text(json.dumps({"Parts": [{"ETag": etags[n], "PartNumber": n}
                                                  for n in (1, 2, 3, 4)]}))
        done = self.aws_json("s3api", "complete-multipart-upload", "--bucket", B, "--key", key,
                             "--upload-id", upload_id, "--multipart-upload", f"file://{manifest}")
        expected = f'"{multipart_etag_file(big, part_size)}"'
        self.assertEqual(done["ETag"], expected)
        self.assertTrue(expected.endswith('-4"'))
        head = self.aws_json("s3api", "head-object", "--bucket", B, "--key", key)
        self.assertEqual(head["ETag"], expected)
        self.assertEqual(head["ContentLength"], len(data))
        self.assertEqual(head["ContentType"], "application/x-test")
        out = work / "out.bin"
        self.aws_json("s3api", "get-object", "--bucket", B, "--key", key, str(out))
        self.assertEqual(md5_file(out), md5_file(big))
        ranged = work / "range.bin"
        r = self.aws_json("s3api", "get-object", "--bucket", B, "--key", key,
                          "--range", f"bytes={part_size - 10}-{part_size + 9}", str(ranged))
        self.assertEqual(r["ContentRange"], f"bytes {part_size - 10}-{part_size + 9}/{len(data)}")
        self.assertEqual(ranged.read_bytes(), data[part_size - 10:part_size + 10])

    def test_s3api_abort(self):
        key = f"cli-abort-{rand_suffix()}"
        up = self.aws_json("s3api", "create-multipart-upload", "--bucket", B, "--key", key)
        self.aws("s3api", "abort-multipart-upload", "--bucket", B, "--key", key,
                 "--upload-id", up["UploadId"])
        p = self.aws("s3api", "list-parts", "--bucket", B, "--key", key, "--upload-id",
                     up["UploadId"], ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"NoSuchUpload", p.stderr)

    def test_cp_auto_multipart(self):
        work = self.tmpdir()
        big = write_random_file(work / "big photo.tif", 20 * MiB)
        key = f"cli-auto-{rand_suffix()}/big photo.tif"
        self.aws("s3", "cp", str(big), f"s3://{B}/{key}")
        head = self.aws_json("s3api", "head-object", "--bucket", B, "--key", key)
        # aws-cli v1: 8 MiB threshold and chunk size -> 3 parts
        self.assertEqual(head["ETag"], f'"{multipart_etag_file(big, 8 * MiB)}"')
        self.assertEqual(head["ContentLength"], 20 * MiB)
        self.assertEqual(head["ContentType"], "image/tiff")  # guessed by the CLI, stored
        out = work / "out.tif"
        self.aws("s3", "cp", f"s3://{B}/{key}", str(out))  # ranged GETs with If-Match
        self.assertEqual(md5_file(out), md5_file(big))
        # stream from stdin (unknown length -> multipart from a pipe)
        key2 = f"cli-auto-{rand_suffix()}/from-stdin.bin"
        p = subprocess.run([AWS, "--cli-read-timeout", "20", "--endpoint-url", self.server.url, "s3", "cp", "-",
                            f"s3://{B}/{key2}"],
                           env=self.env, input=big.read_bytes()[:9 * MiB], capture_output=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, describe_proc(p))
        got = self.s3.get_object(Bucket=B, Key=key2)["Body"].read()
        self.assertEqual(got, big.read_bytes()[:9 * MiB])

    def test_presign_then_plain_get(self):
        work = self.tmpdir()
        f = write_random_file(work / "pre signed+ü.jpg", 123_456)
        key = f"cli-presign-{rand_suffix()}/pre signed+ü.jpg"
        self.aws("s3", "cp", str(f), f"s3://{B}/{key}")
        url = self.aws("s3", "presign", f"s3://{B}/{key}", "--expires-in", "300").stdout.decode().strip()
        self.assertIn("X-Amz-Signature=", url)
        with urllib.request.urlopen(url, timeout=30) as resp:
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.read(), f.read_bytes())
        curl = shutil.which("curl")
        if curl:
            out = work / "curl.out"
            p = run([curl, "-sS", "-f", "-o", str(out), url])
            self.assertEqual(p.returncode, 0, describe_proc(p))
            self.assertEqual(out.read_bytes(), f.read_bytes())
        if not harness.IS_MOTO:  # moto deviation: MOTO_DEVIATIONS["auth"]
            # A presigned GET does not allow writing.
            r = raw_request("PUT", url, body=b"x")
            self.assertS3Error(r, 403, "SignatureDoesNotMatch")
            self.assertEqual(self.s3.get_object(Bucket=B, Key=key)["Body"].read(), f.read_bytes())


if __name__ == "__main__":
    unittest.main()
