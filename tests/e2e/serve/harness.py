"""Shared harness for the `photoflux serve` end-to-end tests.

Starts a real server (the photoflux binary named by PF_BINARY, or moto_server when
PF_E2E_TARGET=moto), hands out clients configured for it, and offers the small tools
every test module needs: random files, MD5 / multipart ETag / CRC helpers, a SigV4
signer for hand-built requests (aws-chunked bodies, tampered signatures, hostile paths)
and a raw HTTP sender.

Only the standard library, boto3/botocore and the client programs are used; no pytest.

Targets
    PF_E2E_TARGET=photoflux (default)  build/photoflux serve (path from PF_BINARY)
    PF_E2E_TARGET=moto                 moto_server, an independent S3 implementation used
                                       to validate the client scripts themselves; tests that
                                       only make sense for photoflux are skipped there
                                       (see MOTO_DEVIATIONS for the documented reasons).
"""
from __future__ import annotations

import atexit
import base64
import datetime as _dt
import hashlib
import hmac
import http.client
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

TARGET = os.environ.get("PF_E2E_TARGET", "photoflux").strip().lower()
IS_MOTO = TARGET == "moto"
if TARGET not in ("photoflux", "moto"):
    raise SystemExit(f"PF_E2E_TARGET must be 'photoflux' or 'moto', not {TARGET!r}")

REGION = "us-east-1"
DEFAULT_BUCKET = "photos"
MiB = 1024 * 1024
KiB = 1024
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# Why a test is skipped against moto. Each entry is a behaviour where moto (5.2) is not a
# faithful stand-in for S3, so the test would check moto instead of our client script.
MOTO_DEVIATIONS = {
    "auth": "moto does not verify signatures, credentials, presign expiry or clock skew",
    "acl": "moto does not enforce anonymous access rules",
    "crash": "moto keeps state in memory; kill/restart durability only applies to photoflux",
    "disk": "moto keeps no data directory on disk",
    "limits": "moto does not enforce request-size, XML or header limits like S3 does",
    "policy": "moto does not enforce POST policy conditions or signatures",
    "chunk-sig": "moto does not verify aws-chunked chunk signatures or trailers",
    "cors-default": "moto (like S3) needs PutBucketCors first; photoflux answers CORS itself",
    "checksum-verify": "moto does not verify every x-amz-checksum-* value",
    "health": "moto has no /_/health endpoint",
    "bucket-names": "moto accepts bucket names that S3 rejects (InvalidBucketName)",
    "etag-quotes": "moto compares If-Match/If-None-Match ETags with their quotes",
    "precedence": "moto ignores RFC 9110 precedence of If-Match over If-Unmodified-Since",
    "list-buckets-pages": "moto ignores MaxBuckets (no ListBuckets pagination)",
    "digest": "moto does not verify Content-MD5 (BadDigest/InvalidDigest)",
    "checksum-echo": "moto does not store/echo x-amz-checksum-crc32c given by the client",
    "copy-conditions": "moto ignores x-amz-copy-source-if-none-match",
    "quiet-delete": "moto lists Deleted entries in Quiet mode",
    "v1-delimiter-pages": "moto repeats CommonPrefixes on every page of a paginated v1 listing",
    "unknown-upload": "moto answers 500 (KeyError) to UploadPart/Complete with an unknown or aborted upload id",
    "upload-order": "moto lists multipart uploads in creation order, not key order",
    "post-form": "moto reads form fields that follow the file field",
    "response-overrides": "moto ignores response-* query overrides on GET",
    "request-id": "moto omits x-amz-request-id on some responses",
    "expect-100": "moto sends '100 Continue' twice (fact sheet 7.8)",
    "part-order": "moto completes an upload whose part list is not in ascending order",
    "version-null": "moto answers 400 to HEAD ?versionId=null on an unversioned bucket (S3: the "
                    "null version, i.e. the object)",
    "post-201": "moto answers success_action_status=201 with an empty body",
    "queue-destinations": "moto accepts a QueueConfiguration naming a queue that does not exist; "
                          "test_queue_destination.py uses moto as the SQS side of photoflux "
                          "serve, not as the server under test",
    "sns-delivery": "moto_server implements the SNS API but makes no real HTTP/SMTP deliveries "
                    "(no confirmations, signatures, retries or SSRF rules to observe)",
}


def photoflux_only(kind: str):
    """Skip a test (or a whole TestCase) against moto, naming the documented deviation."""
    return unittest.skipIf(IS_MOTO, f"moto deviation: {MOTO_DEVIATIONS[kind]}")


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------

def rand_suffix(n: int = 8) -> str:
    return uuid.uuid4().hex[:n]


def unique_bucket(stem: str) -> str:
    return f"{stem}-{rand_suffix(10)}"


def random_bytes(size: int, seed: int | None = None) -> bytes:
    rng = random.Random(seed if seed is not None else random.getrandbits(64))
    return rng.randbytes(size)


def write_random_file(path: os.PathLike | str, size: int, seed: int | None = None) -> Path:
    """Writes `size` pseudo-random bytes (1 MiB at a time) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed if seed is not None else random.getrandbits(64))
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, MiB)
            f.write(rng.randbytes(n))
            left -= n
    return path


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def md5_file(path: os.PathLike | str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def multipart_etag_of_parts(parts: Iterable[bytes]) -> str:
    """S3's multipart ETag (unquoted): MD5 of the concatenated binary part MD5s + '-N'."""
    digests = [hashlib.md5(p).digest() for p in parts]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def multipart_etag_file(path: os.PathLike | str, part_size: int) -> str:
    digests = []
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(part_size), b""):
            digests.append(hashlib.md5(block).digest())
    if not digests:
        digests.append(hashlib.md5(b"").digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c_b64(data: bytes) -> str:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return base64.b64encode((c ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def unquote_etag(etag: str) -> str:
    return etag.strip().strip('"')


def tree_bytes(root: os.PathLike | str) -> dict[str, bytes]:
    """relative path -> content for every file under root."""
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def snapshot_tree(root: os.PathLike | str, exclude: Iterable[os.PathLike | str] = ()) -> set[str]:
    """Every path (files and directories) under root, minus the excluded subtrees."""
    root = Path(root)
    excluded = [Path(e).resolve() for e in exclude]
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath).resolve()
        dirnames[:] = [n for n in dirnames if (d / n).resolve() not in excluded]
        for n in dirnames + filenames:
            p = d / n
            if p.resolve() in excluded:
                continue
            out.add(str(p.relative_to(root.resolve())))
    return out


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------

def photoflux_binary() -> Path:
    env = os.environ.get("PF_BINARY")
    if env:  # named explicitly (CTest does): a missing binary is an error, not a skip
        p = Path(env)
        if not p.exists():
            raise ServerError(f"PF_BINARY={p} does not exist")
        return p
    p = REPO / "build" / "photoflux"
    if not p.exists():
        raise unittest.SkipTest(f"photoflux binary not found at {p} (build it or set PF_BINARY)")
    return p


class ServerError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies (e.g. a CTest timeout),
    so no server outlives its test."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_running: "set[Server]" = set()


@atexit.register
def _kill_leftover_servers() -> None:
    for srv in list(_running):
        srv.kill()


class Server:
    """One S3 server process (photoflux or moto) on a free loopback port.

    Layout of the private temp root (so hostile tests can snapshot the data dir's parent):
        ROOT/data        --data-dir
        ROOT/ready       --ready-file
        ROOT/server.log  stdout+stderr of every run (appended across restarts)
    """

    START_TIMEOUT = float(os.environ.get("PF_E2E_START_TIMEOUT", "30"))

    def __init__(self, *, config_text: str | None = None, extra_env: dict | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 listen: str | None = None, ca_file: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="pf-e2e-"))
        self.data_dir = self.root / "data"
        self.ready_file = self.root / "ready"
        self.log_path = self.root / "server.log"
        self.config_path: Path | None = None
        if config_text is not None:
            self.config_path = self.root / "config.yaml"
            self.config_path.write_text(config_text)
        # extra_env: added to the server's environment; a None value removes that variable.
        self.extra_env = dict(extra_env or {})
        # --listen (photoflux only). Default a free port; set it to "127.0.0.1:<port>" between a
        # stop and a start to come back on the same port.
        self.listen = listen or "127.0.0.1:0"
        # A server with TLS (serve.tls.* in extra_env or the config): the PEM bundle that
        # verifies its certificate, used by the health check and client().
        self.ca_file = ca_file
        self.access_key = access_key or ("AKPF" + uuid.uuid4().hex[:16].upper())
        self.secret_key = secret_key or base64.b64encode(os.urandom(30)).decode()
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.host = "127.0.0.1"
        self.port = 0
        self.starts = 0

    # -- lifecycle ------------------------------------------------------------------------

    def command(self) -> list[str]:
        if IS_MOTO:
            return [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", "0"]
        cmd = [str(photoflux_binary())]
        if os.environ.get("PF_E2E_LOG_LEVEL"):
            cmd += ["--log-level", os.environ["PF_E2E_LOG_LEVEL"]]
        cmd += ["serve", "--data-dir", str(self.data_dir), "--listen", self.listen,
                "--ready-file", str(self.ready_file)]
        if self.config_path:
            cmd += ["--config", str(self.config_path)]
        return cmd

    def start(self) -> "Server":
        if self.proc and self.proc.poll() is None:
            raise ServerError("server already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.ready_file.exists():
            self.ready_file.unlink()
        env = dict(os.environ)
        env.update({
            "PHOTOFLUX_ACCESS_KEY_ID": self.access_key,
            "PHOTOFLUX_SECRET_ACCESS_KEY": self.secret_key,
        })
        for k, v in self.extra_env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self.starts += 1
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=self.root,
                                         preexec_fn=_die_with_parent)
        _running.add(self)
        try:
            self.url = self._wait_ready()
        except Exception:
            self.kill()
            raise
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        if IS_MOTO and self.starts == 1:
            self.client().create_bucket(Bucket=DEFAULT_BUCKET)
        return self

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode} before it was ready"
                                  f"\n{self.log_tail()}")
            url = self._ready_url()
            if url:
                if IS_MOTO or self._health_ok(url, self.ca_file):
                    return url
            time.sleep(0.05)
        raise ServerError(f"server not ready after {self.START_TIMEOUT}s\n{self.log_tail()}")

    def _ready_url(self) -> str | None:
        if IS_MOTO:
            # The log is appended across restarts: take the last match.
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                ms = re.findall(rb"Running on (http://127\.0\.0\.1:\d+)", f.read())
            return ms[-1].decode() if ms else None
        try:
            text = self.ready_file.read_text()
        except FileNotFoundError:
            return None
        if not text.endswith("\n"):
            return None  # the contract says the file is written atomically; be lenient anyway
        return text.strip()

    @staticmethod
    def _health_ok(url: str, ca_file: str | None = None) -> bool:
        try:
            status, _, _ = http_request("GET", url + "/_/health", timeout=2, ca_file=ca_file)
            return status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM and wait; returns the exit status (None if it was not running)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise ServerError(f"server ignored SIGTERM for {timeout}s\n{self.log_tail()}")
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (crash) and reap."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> "Server":
        self.kill()
        return self.start()

    def cleanup(self) -> None:
        try:
            self.stop()
        except ServerError:
            pass
        if os.environ.get("PF_E2E_KEEP"):
            print(f"[harness] kept {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            data = self.log_path.read_bytes().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no server log)"
        return f"--- server log {self.log_path} (last {lines} lines) ---\n" + "\n".join(
            data[-lines:])

    # -- clients --------------------------------------------------------------------------

    @property
    def creds(self) -> "Credentials":
        return Credentials(self.access_key, self.secret_key)

    def client(self, *, retries: int = 1, addressing_style: str | None = None,
               endpoint_url: str | None = None, signature_version: str | None = None,
               **config_kw):
        """A boto3 S3 client. retries=1 means a single attempt, so errors are not masked."""
        import boto3
        from botocore.config import Config
        s3cfg = {}
        if addressing_style:
            s3cfg["addressing_style"] = addressing_style
        kw = {"connect_timeout": 10, "read_timeout": 60}
        kw.update(config_kw)
        cfg = Config(region_name=REGION, retries={"total_max_attempts": retries, "mode": "standard"},
                     s3=s3cfg or None, signature_version=signature_version, **kw)
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or self.url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=REGION, config=cfg,
            verify=self.ca_file)

    def cli_env(self, home: os.PathLike | str) -> dict:
        """Environment for the aws CLI isolated from ~/.aws (config files live under home)."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        cfg = home / "aws-config"
        cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(cfg),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials-none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "HOME": str(home),
        })
        return env


@dataclass
class Credentials:
    access_key: str
    secret_key: str


# --------------------------------------------------------------------------------------------
# Test case base: one server per module, server log printed on failure
# --------------------------------------------------------------------------------------------

class ServerTestCase(unittest.TestCase):
    """Base class. Subclasses share the module's server (set by start_module_server)."""

    server: Server = None  # type: ignore[assignment]
    maxDiff = 4000

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self._owned: list[Server] = []
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before and self.server is not None:
                sys.stderr.write("\n" + self.server.log_tail() + "\n")
            for srv in self._owned:  # after the log was printed
                srv.cleanup()

    def own_server(self, **kw) -> Server:
        """A server for this test alone (stopped and removed after the test and its report)."""
        srv = Server(**kw)
        self._owned.append(srv)
        self.server = srv
        return srv.start()

    def tmpdir(self) -> Path:
        d = Path(tempfile.mkdtemp(prefix="pf-e2e-client-"))
        self.addCleanup(shutil.rmtree, d, True)
        return d

    # -- assertions -------------------------------------------------------------------------

    def assertClientError(self, fn, code: str, status: int | None = None, *args, **kw):
        """Runs fn(*args, **kw) and asserts a botocore ClientError with this code/status."""
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        err = cm.exception.response.get("Error", {})
        meta = cm.exception.response.get("ResponseMetadata", {})
        self.assertEqual(err.get("Code"), code, f"error response: {cm.exception.response}")
        if status is not None:
            self.assertEqual(meta.get("HTTPStatusCode"), status,
                             f"error response: {cm.exception.response}")
        return cm.exception

    def assertS3Error(self, resp: "RawResponse", status: int, code: str | None = None):
        self.assertEqual(resp.status, status, f"{resp.describe()}")
        if code is not None:
            self.assertWellFormedError(resp)
            self.assertEqual(resp.error_code(), code, f"{resp.describe()}")

    def assertWellFormedError(self, resp: "RawResponse"):
        """The body is an S3 error document that an XML parser accepts."""
        problem = xml_problem(resp.body)
        self.assertIsNone(problem, f"error body is not a well-formed S3 <Error> document "
                                   f"({problem}):\n{resp.describe()}")


_module_servers: dict[str, Server] = {}


def start_module_server(module_name: str, **kw) -> Server:
    srv = Server(**kw).start()
    _module_servers[module_name] = srv
    mod = sys.modules[module_name]
    for obj in vars(mod).values():
        if isinstance(obj, type) and issubclass(obj, ServerTestCase):
            obj.server = srv
    return srv


def stop_module_server(module_name: str) -> None:
    srv = _module_servers.pop(module_name, None)
    if srv:
        srv.cleanup()


# --------------------------------------------------------------------------------------------
# Raw HTTP and SigV4 (for requests no client sends: tampered, hostile, hand-framed bodies)
# --------------------------------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    request_line: str = ""
    elapsed: float = 0.0

    def header(self, name: str, default=None):
        return self.headers.get(name, default)

    def error_code(self) -> str | None:
        return xml_error_code(self.body)

    def describe(self) -> str:
        return (f"{self.request_line} -> {self.status}\n"
                f"headers: {dict(self.headers.items())}\nbody: {self.body[:800]!r}")


def xml_problem(body: bytes) -> str | None:
    """Why body is not a well-formed <Error> document with a Code, or None."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        return f"XML parse error: {e}"
    if root.tag.split("}")[-1] != "Error":
        return f"root element is <{root.tag}>"
    if root.find("Code") is None or not (root.find("Code").text or "").strip():
        return "no <Code>"
    return None


def xml_error_code(body: bytes) -> str | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag.split("}")[-1] != "Error":
        return None
    code = root.find("Code")
    return code.text if code is not None else None


def http_request(method: str, url: str, body: bytes | Iterable[bytes] | None = None,
                 headers: dict | list | None = None, timeout: float = 30,
                 ca_file: str | None = None):
    """Minimal client for the health check and presigned URLs: (status, headers, body)."""
    r = raw_request(method, url, body=body, headers=headers, timeout=timeout, ca_file=ca_file)
    return r.status, r.headers, r.body


def raw_request(method: str, url: str, *, body: bytes | Iterable[bytes] | None = None,
                headers: dict | list | None = None, timeout: float = 30,
                chunked: bool = False, ca_file: str | None = None) -> RawResponse:
    """Sends exactly the path+query in `url` (no re-encoding), the given headers and body.

    `headers` may be a dict or a list of (name, value) pairs (duplicates allowed). Host is sent
    as in the URL unless given. With chunked=True, body must be an iterable of byte strings and
    is sent with Transfer-Encoding: chunked framing (one HTTP chunk per item). An https URL is
    verified against ca_file (default: the system's trust store)."""
    u = urllib.parse.urlsplit(url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                           context=ssl.create_default_context(cafile=ca_file))
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if "host" not in names:
            conn.putheader("Host", u.netloc)
        for k, v in items:
            conn.putheader(k, v)
        if chunked:
            if "transfer-encoding" not in names:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for piece in body or []:
                if piece:
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            if isinstance(body, (bytes, bytearray)):
                if "content-length" not in names:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders()
                if body:
                    conn.send(body)
            elif body is None:
                if method in ("PUT", "POST") and "content-length" not in names:
                    conn.putheader("Content-Length", "0")
                conn.endheaders()
            else:
                conn.endheaders()
                for piece in body:
                    conn.send(piece)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, resp.headers, data, f"{method} {path}",
                           time.monotonic() - t0)
    finally:
        conn.close()


UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(value: str | bytes, keep_slash: bool = False) -> str:
    """SigV4 UriEncode: every byte but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as %XY."""
    data = value.encode() if isinstance(value, str) else value
    out = []
    for b in data:
        if b in UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def encode_key_path(key: str) -> str:
    """A key as it goes into a URL path (encoded once, '/' kept)."""
    return uri_encode(key, keep_slash=True)


def canonical_uri(raw_path: str) -> str:
    """S3 canonical URI: the wire path decoded once and re-encoded (not normalised)."""
    return uri_encode(urllib.parse.unquote_to_bytes(raw_path), keep_slash=True)


def canonical_query(raw_query: str, exclude: Iterable[str] = ("X-Amz-Signature",)) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        name = urllib.parse.unquote_plus(name)
        value = urllib.parse.unquote_plus(value)
        if name in exclude:
            continue
        pairs.append((uri_encode(name), uri_encode(value)))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def _hmac(key: bytes, msg: str | bytes) -> bytes:
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str = REGION, service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def amz_now(offset_seconds: float = 0) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=offset_seconds)
    return t.strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Signed:
    """A signed request ready to send, plus what chunk signing needs."""
    method: str
    url: str
    headers: list
    signature: str
    amz_date: str
    scope: str
    key: bytes
    canonical_request: str = ""
    string_to_sign: str = ""


def sign_v4(method: str, url: str, headers: dict | list | None, payload_hash: str,
            creds: Credentials, *, amz_date: str | None = None, region: str = REGION,
            service: str = "s3", signed: Iterable[str] | None = None,
            scope_date: str | None = None) -> Signed:
    """Header-auth SigV4. url is sent verbatim (already encoded as it will be on the wire).

    Adds host, x-amz-date and x-amz-content-sha256 (when service is s3) unless present, and
    signs every header (or only `signed`)."""
    u = urllib.parse.urlsplit(url)
    amz_date = amz_date or amz_now()
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if "host" not in names:
        items.append(("Host", u.netloc))
    if "x-amz-date" not in names:
        items.append(("X-Amz-Date", amz_date))
    if service == "s3" and "x-amz-content-sha256" not in names:
        items.append(("X-Amz-Content-SHA256", payload_hash))
    canon: dict[str, list[str]] = {}
    for k, v in items:
        canon.setdefault(k.lower(), []).append(" ".join(str(v).strip().split()))
    signed_names = sorted(canon) if signed is None else sorted(n.lower() for n in signed)
    canonical_headers = "".join(f"{n}:{','.join(canon.get(n, []))}\n" for n in signed_names)
    creq = "\n".join([method, canonical_uri(u.path or "/"), canonical_query(u.query),
                      canonical_headers, ";".join(signed_names), payload_hash])
    date = (scope_date or amz_date[:8])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = signing_key(creds.secret_key, date, region, service)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    items.append(("Authorization",
                  f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                  f"SignedHeaders={';'.join(signed_names)}, Signature={sig}"))
    return Signed(method, url, items, sig, amz_date, scope, key, creq, sts)


def presign_v4(method: str, url: str, creds: Credentials, *, expires: int = 300,
               amz_date: str | None = None, region: str = REGION,
               extra_signed_headers: dict | None = None) -> str:
    """Query-string SigV4 (what s3v4 presigners produce), with a free choice of date/expiry."""
    u = urllib.parse.urlsplit(url)
    amz_date = amz_date or amz_now()
    date = amz_date[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    headers = {"host": u.netloc}
    for k, v in (extra_signed_headers or {}).items():
        headers[k.lower()] = v
    signed_names = sorted(headers)
    params = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
              ("X-Amz-Credential", f"{creds.access_key}/{scope}"),
              ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(expires)),
              ("X-Amz-SignedHeaders", ";".join(signed_names))]
    q = u.query + ("&" if u.query else "") + "&".join(
        f"{uri_encode(k)}={uri_encode(v)}" for k, v in params)
    canonical_headers = "".join(f"{n}:{headers[n]}\n" for n in signed_names)
    creq = "\n".join([method, canonical_uri(u.path or "/"), canonical_query(q), canonical_headers,
                      ";".join(signed_names), "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(creds.secret_key, date, region), sts.encode(),
                   hashlib.sha256).hexdigest()
    return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, q + f"&X-Amz-Signature={sig}",
                                    ""))


def send_signed(s: Signed, body=None, timeout: float = 30, chunked: bool = False) -> RawResponse:
    return raw_request(s.method, s.url, body=body, headers=s.headers, timeout=timeout,
                       chunked=chunked)


def signed_request(server: Server, method: str, path_and_query: str, *, body: bytes = b"",
                   headers: dict | None = None, payload_hash: str | None = None,
                   timeout: float = 30, **sign_kw) -> RawResponse:
    """Signs (payload hash = SHA-256 of body unless given) and sends one request."""
    ph = payload_hash or hashlib.sha256(body).hexdigest()
    s = sign_v4(method, server.url + path_and_query, headers, ph, server.creds, **sign_kw)
    return send_signed(s, body=body if (body or method in ("PUT", "POST")) else None,
                       timeout=timeout)


# -- aws-chunked bodies (sheet 1.10 / 2.5) -------------------------------------------------------

def split_chunks(data: bytes, sizes: Iterable[int]) -> list[bytes]:
    out, pos = [], 0
    for n in sizes:
        out.append(data[pos:pos + n])
        pos += n
    if pos < len(data):
        out.append(data[pos:])
    return [c for c in out if c]


def aws_chunked_unsigned(chunks: list[bytes], trailers: list[tuple[str, str]]) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing: size CRLF data CRLF ... 0 CRLF trailers CRLF."""
    out = bytearray()
    for c in chunks:
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    out += b"0\r\n"
    for n, v in trailers:
        out += f"{n}:{v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def aws_chunked_signed(chunks: list[bytes], signed: Signed,
                       trailers: list[tuple[str, str]] | None = None,
                       tamper_chunk: int | None = None) -> bytes:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] framing with chained chunk signatures.

    tamper_chunk=i flips one hex digit of chunk i's signature (for negative tests)."""
    prev = signed.signature
    out = bytearray()
    all_chunks = list(chunks) + [b""]
    for i, c in enumerate(all_chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signed.amz_date, signed.scope, prev,
                         EMPTY_SHA256, hashlib.sha256(c).hexdigest()])
        sig = hmac.new(signed.key, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        if tamper_chunk == i:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        out += b"%x;chunk-signature=%s\r\n" % (len(c), sig.encode())
        if i < len(all_chunks) - 1:
            out += c + b"\r\n"
    if trailers is not None:
        tl = "".join(f"{n}:{v}\n" for n, v in trailers)
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", signed.amz_date, signed.scope, prev,
                         hashlib.sha256(tl.encode()).hexdigest()])
        tsig = hmac.new(signed.key, sts.encode(), hashlib.sha256).hexdigest()
        for n, v in trailers:
            out += f"{n}:{v}\r\n".encode()
        out += f"x-amz-trailer-signature:{tsig}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def signed_chunked_content_length(chunk_sizes: list[int]) -> int:
    """Wire length of a signed aws-chunked body without trailer (sheet 2.5)."""
    return sum(len("%x" % n) + 17 + 64 + 2 + n + 2 for n in list(chunk_sizes) + [0])


# --------------------------------------------------------------------------------------------
# Subprocesses and misc
# --------------------------------------------------------------------------------------------

def run(cmd: list[str], *, env: dict | None = None, timeout: float = 300, cwd=None,
        input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, timeout=timeout, cwd=cwd, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def describe_proc(p: subprocess.CompletedProcess) -> str:
    return (f"$ {' '.join(map(str, p.args))}\nexit {p.returncode}\n"
            f"stdout: {p.stdout.decode(errors='replace')[-3000:]}\n"
            f"stderr: {p.stderr.decode(errors='replace')[-3000:]}")


_orig_getaddrinfo = socket.getaddrinfo


def resolve_localhost_subdomains() -> None:
    """Make '*.localhost' resolve to 127.0.0.1 in this process (RFC 6761; glibc here does not),
    so virtual-hosted addressing (http://BUCKET.localhost:PORT) can be exercised."""
    def gai(host, *a, **kw):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return _orig_getaddrinfo(host, *a, **kw)
    socket.getaddrinfo = gai


def xml_find_all(body: bytes, tag: str) -> list[ET.Element]:
    root = ET.fromstring(body)
    return [e for e in root.iter() if e.tag.split("}")[-1] == tag]


def xml_text(body: bytes, tag: str) -> str | None:
    found = xml_find_all(body, tag)
    return found[0].text if found else None
