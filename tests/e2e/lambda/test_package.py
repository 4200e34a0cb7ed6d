"""`photoflux package lambda`: the deployment package is built from the real binary, unpacked as
Lambda unpacks it, and RUN with this machine's library folders hidden (hide_host_libs.py: a
private mount namespace with empty directories bind-mounted over them), so it can only work if
the package carries everything: the libraries, the dynamic loader, the libvips modules (HEIC and
AVIF), the fonts of the watermark text.

  - the printed summary matches the archive; the layout and Unix modes are what Lambda needs;
    `bootstrap` is static; no symlinks; the binary carries no debug sections
  - `bootstrap process` on HEIC, AVIF and JPEG inside the hidden world gives the same
    derivatives as the host's photoflux (the watermark text within font-hinting noise)
  - `bootstrap` as the Lambda runtime against a Runtime API and moto_server: the photo's real
    S3 event (moto's, from SQS) gives the derivatives and the manifest in moto S3, and
    /proc/<pid>/maps shows only files of the unpacked package mapped
  - a broken package makes bootstrap say what is missing, on stderr and as an init error

Needs root (unshare(2) and mount(2)); PF_BINARY names the photoflux under test, and
photoflux-bootstrap must be beside it (building photoflux builds it).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zipfile
from pathlib import Path

import lambda_harness as lh

HERE = Path(__file__).resolve().parent
PHOTOS = lh.REPO / "tests" / "data" / "photos"
HIDE = HERE / "hide_host_libs.py"
MIB = 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * MIB
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * MIB
# Folders hidden in addition to the libraries when the package must bring its own fonts.
FONT_DIRS = ["/usr/share/fonts", "/etc/fonts", "/var/cache/fontconfig"]

RECIPE = """\
version: 1
outputs:
  - name: thumb
    resize: { width: 320, height: 320, fit: cover }
    format: { type: webp, quality: 80 }
  - name: avif
    resize: { width: 400, height: 400, fit: inside }
    format: { type: avif, quality: 60 }
  - name: marked
    resize: { width: 800, height: 800, fit: inside }
    watermark: { text: "PHOTOFLUX", size: 60, colour: "#ff00ff", opacity: 1,
                 position: southeast, margin: 10 }
    format: { type: png }
"""


def elf_segments_and_sections(path: Path) -> tuple[str | None, dict[str, tuple[int, int]]]:
    """(PT_INTERP or None, {section name: (type, size)}) of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise AssertionError(f"{path} is not a 64-bit little-endian ELF file")
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    interp = None
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data,
                                                                 phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            interp = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_off, names_size = headers[shstrndx][4], headers[shstrndx][5]
    names = data[names_off:names_off + names_size]
    sections = {}
    for h in headers:
        name = names[h[0]:names.index(b"\0", h[0])].decode()
        sections[name] = (h[1], h[5])
    return interp, sections


def unpack_like_lambda(zip_path: Path, root: Path) -> None:
    """Extracts every entry with the permission bits its external attributes carry (Python's
    extractall drops them; Lambda keeps them)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, root)
            os.chmod(root / info.filename, (info.external_attr >> 16) & 0o7777)


def mean_abs_difference(a: Path, b: Path, work: Path) -> float:
    """Mean absolute pixel difference of two images of the same size (host libvips CLI)."""
    diff, absd = work / f"d-{uuid.uuid4().hex}.v", work / f"a-{uuid.uuid4().hex}.v"
    subprocess.run(["vips", "subtract", str(a), str(b), str(diff)], check=True)
    subprocess.run(["vips", "abs", str(diff), str(absd)], check=True)
    out = subprocess.run(["vips", "avg", str(absd)], check=True, capture_output=True, text=True)
    return float(out.stdout)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("these tests make mount namespaces: run them as root")
        cls.binary = lh.photoflux_binary()
        cls.tmp = Path(tempfile.mkdtemp(prefix="pf-package-"))
        cls.zip_path = cls.tmp / "photoflux-lambda.zip"
        started = time.monotonic()
        run = subprocess.run([str(cls.binary), "package", "lambda", "--out", str(cls.zip_path)],
                             capture_output=True, text=True, timeout=600, cwd=cls.tmp)
        cls.seconds = time.monotonic() - started
        if run.returncode != 0:
            raise AssertionError(f"package lambda failed ({run.returncode}):\n{run.stderr}")
        cls.stdout, cls.stderr = run.stdout, run.stderr
        cls.root = cls.tmp / "task"  # what Lambda calls LAMBDA_TASK_ROOT (/var/task)
        unpack_like_lambda(cls.zip_path, cls.root)
        print(f"\n{cls.stdout}{cls.stderr}built in {cls.seconds:.1f} s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def hidden(self, *argv: str, hide_fonts: bool = False) -> list[str]:
        """argv that runs the unpacked bootstrap with the host's library folders hidden."""
        extra = [a for d in FONT_DIRS for a in ("--hide", d)] if hide_fonts else []
        return [sys.executable, str(HIDE), *extra, str(self.root / "bootstrap"), *argv]

    # ----------------------------------------------------------------------------------------

    def test_1_summary_matches_the_archive(self):
        with zipfile.ZipFile(self.zip_path) as z:
            self.assertIsNone(z.testzip(), "an entry fails its CRC-32")
            infos = z.infolist()
        m = re.search(r"files:\s+(\d+)", self.stdout)
        self.assertIsNotNone(m, self.stdout)
        self.assertEqual(int(m.group(1)), len(infos))
        zipped = int(re.search(r"zipped:\s+[\d.]+ MB \((\d+) bytes\)", self.stdout).group(1))
        unzipped = int(re.search(r"unzipped:\s+[\d.]+ MB \((\d+) bytes\)", self.stdout).group(1))
        self.assertEqual(zipped, self.zip_path.stat().st_size)
        self.assertEqual(unzipped, sum(i.file_size for i in infos))
        self.assertIn(str(self.zip_path), self.stdout)
        self.assertLessEqual(unzipped, LAMBDA_UNZIPPED_LIMIT)
        # Over 50 MB zipped the package still deploys (through S3): a warning, not a refusal.
        warned = "direct-upload limit" in self.stderr
        self.assertEqual(warned, zipped > LAMBDA_DIRECT_UPLOAD_LIMIT, self.stderr)

    def test_2_layout_modes_and_static_bootstrap(self):
        with zipfile.ZipFile(self.zip_path) as z:
            infos = {i.filename: i for i in z.infolist()}
        for info in infos.values():
            self.assertEqual(info.create_system, 3, f"{info.filename}: not made by Unix")
            mode = info.external_attr >> 16
            self.assertTrue(stat.S_ISREG(mode), f"{info.filename}: not a regular file")
            self.assertNotIn("..", info.filename.split("/"))
        executable = ["bootstrap", "bin/photoflux", "lib/ld-linux-x86-64.so.2"]
        for name in executable:
            self.assertIn(name, infos)
            self.assertEqual((infos[name].external_attr >> 16) & 0o777, 0o755, name)
            self.assertTrue(os.access(self.root / name, os.X_OK), name)
        for name in ["lib/libvips.so.42", "lib/libc.so.6", "lib/libstdc++.so.6",
                     "lib/libheif.so.1", "lib/libfontconfig.so.1", "lib/libpango-1.0.so.0",
                     "etc/fonts/fonts.conf", "share/fonts/dejavu/DejaVuSans.ttf"]:
            self.assertIn(name, infos)
        modules = [n for n in infos if re.fullmatch(r"vips/[^/]+/vips-modules-\d+\.\d+/[^/]+\.so", n)]
        self.assertIn("vips-heif.so", {Path(n).name for n in modules}, sorted(infos))

        interp, _ = elf_segments_and_sections(self.root / "bootstrap")
        self.assertIsNone(interp, "bootstrap must be statically linked")
        interp, sections = elf_segments_and_sections(self.root / "bin" / "photoflux")
        self.assertEqual(Path(interp).name, "ld-linux-x86-64.so.2")
        # Debug sections dropped (their headers stay, as SHT_NULL), code and symbols kept.
        live = {n for n, (t, size) in sections.items() if t != 0}
        self.assertFalse([n for n in live if n.startswith(".debug")], sorted(live))
        self.assertIn(".text", live)
        self.assertIn(".symtab", live)
        # Every library the binary names is in lib/ under that name.
        for line in subprocess.run(["/lib64/ld-linux-x86-64.so.2", "--list", str(self.binary)],
                                   capture_output=True, text=True, check=True).stdout.splitlines():
            if "=>" in line:
                self.assertIn("lib/" + line.split("=>")[0].strip(), infos, line)

    def test_3_process_heic_avif_jpeg_with_host_libraries_and_fonts_hidden(self):
        work = Path(tempfile.mkdtemp(prefix="process-", dir=self.tmp))
        (work / "recipe.yaml").write_text(RECIPE)
        photos = [str(PHOTOS / n) for n in ("example.heic", "example.avif", "camera.jpg")]
        host = subprocess.run([str(self.binary), "process", "--recipe", "recipe.yaml", "--out",
                               "host", *photos], cwd=work, capture_output=True, text=True,
                              timeout=300)
        self.assertEqual(host.returncode, 0, host.stderr)
        bundled = subprocess.run(self.hidden("process", "--recipe", "recipe.yaml", "--out",
                                             "bundled", *photos, hide_fonts=True),
                                 cwd=work, capture_output=True, text=True, timeout=300,
                                 env={"PATH": "/usr/bin:/bin", "HOME": str(work)})
        self.assertEqual(bundled.returncode, 0, bundled.stdout + bundled.stderr)
        for photo in ("example.heic", "example.avif", "camera.jpg"):
            for out in ("thumb.webp", "avif.avif"):
                h, b = work / "host" / photo / out, work / "bundled" / photo / out
                self.assertTrue(b.exists(), f"{b} missing")
                self.assertEqual(h.read_bytes(), b.read_bytes(), f"{photo}/{out} differs")
            # The text: same font family, rendered through the package's fontconfig (the host's
            # fonts are hidden); hinting settings may move a few edge pixels, no more.
            h, b = work / "host" / photo / "marked.png", work / "bundled" / photo / "marked.png"
            self.assertLess(mean_abs_difference(h, b, work), 0.25, f"{photo}: watermark differs")
            # The manifest reads the source the same way (format, size, frames, EXIF).
            host_m = json.loads((work / "host" / photo / "manifest.json").read_text())
            bundled_m = json.loads((work / "bundled" / photo / "manifest.json").read_text())
            for part in ("source", "exif"):
                self.assertEqual(host_m[part], bundled_m[part], f"{photo}: manifest {part}")

    def test_4_function_on_moto_with_host_libraries_hidden(self):
        with lh.MotoServer() as moto, lh.RuntimeApi() as api:
            s3, sqs = moto.client("s3"), moto.client("sqs")
            bucket = f"photos-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
                    "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
            key = "uploads/my phone+1.heic"
            s3.put_object(Bucket=bucket, Key=key, Body=(PHOTOS / "example.heic").read_bytes())
            event = None
            deadline = time.monotonic() + 30
            while event is None and time.monotonic() < deadline:
                for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=1).get("Messages", []):
                    body = json.loads(m["Body"])
                    if "Records" in body:  # not the s3:TestEvent
                        event = body
            self.assertIsNotNone(event, "moto sent no S3 event")

            fn = lh.run_function(self.hidden(), {}, api, endpoint_url=moto.url,
                                 task_root=self.root)
            try:
                outcome = api.invoke(event, timeout_ms=120_000)
                self.assertTrue(outcome.ok, f"{outcome}\n{fn.log_tail()}")
                self.assertTrue(fn.running(), fn.log_tail())
                maps = Path(f"/proc/{fn.proc.pid}/maps").read_text()
                exe = os.readlink(f"/proc/{fn.proc.pid}/exe")
            finally:
                fn.stop()
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="processed/")
                    .get("Contents", [])]
            manifest_key = f"processed/{key}/manifest.json"
            self.assertIn(manifest_key, keys, fn.log_tail())
            manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
            self.assertIn(f"processed/{key}/thumb.webp", keys)
            self.assertIn(f"processed/{key}/preview.jpg", keys)
            thumb = s3.get_object(Bucket=bucket, Key=f"processed/{key}/thumb.webp")["Body"].read()
            self.assertEqual(thumb[:4] + thumb[8:12], b"RIFFWEBP")
            self.assertIn("thumb", json.dumps(manifest))

        # The process was the package's loader running the package's binary, and every file it
        # had mapped came from the unpacked package -- or is the process's own making in /tmp:
        # fontconfig's cache, and liborc's JIT-compiled code (/tmp/orcexec.*, deleted at once).
        self.assertEqual(Path(exe), self.root / "lib" / "ld-linux-x86-64.so.2")
        mapped = set()
        for line in maps.splitlines():
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/"):
                mapped.add(parts[5].removesuffix(" (deleted)"))
        root = str(self.root) + "/"
        foreign = [p for p in mapped if not p.startswith(root)
                   and not p.startswith("/tmp/photoflux-fontconfig/")
                   and not p.startswith("/tmp/orcexec.")
                   and not p.startswith("/memfd:") and not p.startswith("/dev/")]
        self.assertEqual(foreign, [], "files mapped from outside the package")
        self.assertIn(root + "bin/photoflux", mapped)
        self.assertIn(root + "lib/libvips.so.42", mapped)
        self.assertTrue(any(p.endswith("/vips-heif.so") for p in mapped), sorted(mapped))

    def test_5_broken_package_reports_an_init_error(self):
        broken = Path(tempfile.mkdtemp(prefix="broken-", dir=self.tmp))
        shutil.copy2(self.root / "bootstrap", broken / "bootstrap")  # no lib/, no bin/
        with lh.RuntimeApi() as api:
            fn = lh.run_function([str(broken / "bootstrap")], {}, api, task_root=broken)
            try:
                status = fn.wait(timeout=30)
            finally:
                fn.stop()
            self.assertEqual(status, 127)
            self.assertIn("bootstrap: cannot start photoflux", fn.log())
            self.assertIn("ld-linux-x86-64.so.2", fn.log())
            self.assertEqual(len(api.init_errors), 1, api.init_errors)
            error_type, body = api.init_errors[0]
            self.assertEqual(error_type, "Photoflux.BootstrapFailed")
            error = json.loads(body)
            self.assertEqual(error["errorType"], "Photoflux.BootstrapFailed")
            self.assertIn("ld-linux-x86-64.so.2", error["errorMessage"])

    def test_6_refuses_what_cannot_be_packaged(self):
        # A dynamically linked "bootstrap" would need the very libraries Lambda lacks.
        run = subprocess.run([str(self.binary), "package", "lambda", "--out",
                              str(self.tmp / "bad.zip"), "--bootstrap", str(self.binary)],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 1)
        self.assertIn("must be statically linked", run.stderr)
        self.assertFalse((self.tmp / "bad.zip").exists())
        self.assertEqual([p for p in self.tmp.iterdir() if p.name.startswith(".bad.zip")], [])


if __name__ == "__main__":
    unittest.main()
