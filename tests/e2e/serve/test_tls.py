"""`photoflux serve` terminating TLS itself (serve.tls.certificate_file / serve.tls.key_file).

A self-signed certificate for 127.0.0.1 is made with the openssl CLI for this run; the module's
server gets it through PF_SERVE_TLS_CERTIFICATE_FILE / PF_SERVE_TLS_KEY_FILE. Checked:
  - the ready file, banner and every link say https://; plain http:// to the port gets a 400;
  - the aws CLI (`--ca-bundle`), boto3 (`verify=`) and Python's ssl work over it, uploads large
    enough to stream and go multipart included; without the certificate they refuse the server;
  - the SNS API (`aws sns create-topic`) works over https, and the links a subscription
    confirmation carries (SubscribeURL, SigningCertURL) are https URLs that work;
  - start-up refuses half a TLS configuration and unusable files with a clear message.

photoflux only (moto_server is started without TLS).
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import harness
from harness import (DEFAULT_BUCKET, MiB, REGION, ServerTestCase, describe_proc, md5_file,
                     raw_request, run, write_random_file)

AWS = shutil.which("aws")
OPENSSL = shutil.which("openssl")
CERTS: Path | None = None


def make_certificate(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed P-256 certificate for IP 127.0.0.1 and DNS localhost, and its key."""
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    p = run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=photoflux e2e", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"cannot make a test certificate:\n{describe_proc(p)}")
    return cert, key


def tls_env(cert: Path, key: Path) -> dict:
    return {"PF_SERVE_TLS_CERTIFICATE_FILE": str(cert), "PF_SERVE_TLS_KEY_FILE": str(key)}


def setUpModule():
    if harness.IS_MOTO:
        raise unittest.SkipTest("photoflux only: TLS termination of serve itself")
    if not OPENSSL:
        raise unittest.SkipTest("the openssl CLI is needed to make a test certificate")
    global CERTS
    CERTS = Path(tempfile.mkdtemp(prefix="pf-e2e-tls-"))
    cert, key = make_certificate(CERTS)
    env = tls_env(cert, key)
    # Webhook receivers of this module live on loopback.
    env["PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS"] = "127.0.0.0/8"
    harness.start_module_server(__name__, extra_env=env, ca_file=str(cert))


def tearDownModule():
    harness.stop_module_server(__name__)
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


class TlsCase(ServerTestCase):
    @property
    def cert(self) -> str:
        return self.server.ca_file

    def aws(self, *args, ca_bundle: bool = True, timeout: float = 300):
        if not AWS:
            self.skipTest("aws CLI not installed")
        cmd = [AWS, "--endpoint-url", self.server.url, "--region", REGION,
               "--cli-read-timeout", "30"]
        if ca_bundle:
            cmd += ["--ca-bundle", self.cert]
        return run(cmd + list(args), env=self.server.cli_env(self.tmpdir()), timeout=timeout)


class Endpoint(TlsCase):
    def test_ready_file_banner_and_url_say_https(self):
        self.assertRegex(self.server.url, r"^https://127\.0\.0\.1:\d+$")
        self.assertEqual(self.server.ready_file.read_text(), self.server.url + "\n")
        log = self.server.log_path.read_text(errors="replace")
        self.assertIn(f"Photoflux is serving the S3 API at {self.server.url}\n", log)
        self.assertIn(f"aws --endpoint-url {self.server.url} s3 cp", log)

    def test_health_over_https_is_verified(self):
        r = raw_request("GET", self.server.url + "/_/health", ca_file=self.cert)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(json.loads(r.body), {"status": "ok"})
        # The certificate is what the client verifies: the system trust store refuses it.
        with self.assertRaises(ssl.SSLCertVerificationError):
            raw_request("GET", self.server.url + "/_/health")

    def test_negotiates_tls13_and_refuses_tls11(self):
        host, port = self.server.host, self.server.port
        ctx = ssl.create_default_context(cafile=self.cert)
        with socket.create_connection((host, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                self.assertEqual(s.version(), "TLSv1.3")
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(self.cert)
        with warnings.catch_warnings():  # TLSVersion.TLSv1/TLSv1_1 are deprecated: the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        with socket.create_connection((host, port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError) as cm:
                old.wrap_socket(raw, server_hostname=host)
        self.assertIn("PROTOCOL_VERSION", str(cm.exception).upper())

    def test_plain_http_to_the_tls_port_gets_400(self):
        url = f"http://127.0.0.1:{self.server.port}/_/health"
        r = raw_request("GET", url)
        self.assertEqual(r.status, 400, r.describe())
        self.assertIn(b"https://", r.body)
        self.assertEqual(r.header("Connection"), "close")
        # And the port still serves https afterwards.
        r = raw_request("GET", self.server.url + "/_/health", ca_file=self.cert)
        self.assertEqual(r.status, 200, r.describe())


class Clients(TlsCase):
    def test_aws_cli_cp_with_ca_bundle(self):
        d = self.tmpdir()
        small = write_random_file(d / "small.bin", 300 * 1024)
        big = write_random_file(d / "big.bin", 20 * MiB + 5)  # multipart (8 MiB parts)
        for src, key in ((small, "tls/cli-small.bin"), (big, "tls/cli-big.bin")):
            p = self.aws("s3", "cp", str(src), f"s3://{DEFAULT_BUCKET}/{key}")
            self.assertEqual(p.returncode, 0, describe_proc(p))
            back = d / (src.name + ".back")
            p = self.aws("s3", "cp", f"s3://{DEFAULT_BUCKET}/{key}", str(back))
            self.assertEqual(p.returncode, 0, describe_proc(p))
            self.assertEqual(md5_file(back), md5_file(src))
        p = self.aws("s3", "ls", f"s3://{DEFAULT_BUCKET}/tls/")
        self.assertEqual(p.returncode, 0, describe_proc(p))
        self.assertIn(b"cli-big.bin", p.stdout)

    def test_aws_cli_without_the_certificate_refuses_the_server(self):
        p = self.aws("s3", "ls", f"s3://{DEFAULT_BUCKET}/", ca_bundle=False, timeout=120)
        self.assertNotEqual(p.returncode, 0, describe_proc(p))
        self.assertIn(b"CERTIFICATE_VERIFY_FAILED", p.stderr, describe_proc(p))

    def test_boto3_put_get_multipart_and_presigned(self):
        s3 = self.server.client()
        body = os.urandom(256 * 1024)
        s3.put_object(Bucket=DEFAULT_BUCKET, Key="tls/boto3.bin", Body=body)
        got = s3.get_object(Bucket=DEFAULT_BUCKET, Key="tls/boto3.bin")
        self.assertEqual(got["Body"].read(), body)
        # Ranged GET on the same (kept-alive) connection pool.
        got = s3.get_object(Bucket=DEFAULT_BUCKET, Key="tls/boto3.bin", Range="bytes=10-19")
        self.assertEqual(got["Body"].read(), body[10:20])

        # upload_file goes multipart above 8 MiB and streams the parts over several connections.
        d = self.tmpdir()
        big = write_random_file(d / "multi.bin", 12 * MiB + 3)
        s3.upload_file(str(big), DEFAULT_BUCKET, "tls/multi.bin")
        head = s3.head_object(Bucket=DEFAULT_BUCKET, Key="tls/multi.bin")
        self.assertEqual(head["ContentLength"], 12 * MiB + 3)
        self.assertTrue(head["ETag"].strip('"').endswith("-2"), head["ETag"])
        s3.download_file(DEFAULT_BUCKET, "tls/multi.bin", str(d / "multi.back"))
        self.assertEqual(md5_file(d / "multi.back"), md5_file(big))

        presigner = self.server.client(signature_version="s3v4")
        url = presigner.generate_presigned_url(
            "get_object", Params={"Bucket": DEFAULT_BUCKET, "Key": "tls/boto3.bin"})
        self.assertTrue(url.startswith(self.server.url + "/"), url)
        r = raw_request("GET", url, ca_file=self.cert)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, body)

    def test_boto3_without_the_certificate_refuses_the_server(self):
        from botocore.exceptions import SSLError
        import boto3
        from botocore.config import Config
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=self.server.url, aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key, region_name=REGION,
            config=Config(retries={"total_max_attempts": 1}))
        with self.assertRaises(SSLError):
            s3.list_buckets()


class _Receiver:
    """A webhook receiver on 127.0.0.1 (plain http) that queues every JSON POST it gets."""

    def __init__(self):
        received: "queue.Queue[dict]" = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    received.put(json.loads(body))
                except ValueError:
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.received = received
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Sns(TlsCase):
    def sns(self, *args):
        p = self.aws("--output", "json", "sns", *args, timeout=120)
        self.assertEqual(p.returncode, 0, describe_proc(p))
        return json.loads(p.stdout or b"{}")

    def test_create_topic_over_https(self):
        arn = self.sns("create-topic", "--name", "tls-topic")["TopicArn"]
        self.assertEqual(arn, f"arn:aws:sns:{REGION}:000000000000:tls-topic")
        topics = [t["TopicArn"] for t in self.sns("list-topics").get("Topics", [])]
        self.assertIn(arn, topics)

    def test_subscription_links_are_https(self):
        receiver = _Receiver()
        self.addCleanup(receiver.stop)
        arn = self.sns("create-topic", "--name", "tls-links")["TopicArn"]
        self.sns("subscribe", "--topic-arn", arn, "--protocol", "http",
                 "--notification-endpoint", receiver.url)
        try:
            doc = receiver.received.get(timeout=20)
        except queue.Empty:
            self.fail("no SubscriptionConfirmation arrived")
        self.assertEqual(doc.get("Type"), "SubscriptionConfirmation", doc)
        for field in ("SubscribeURL", "SigningCertURL"):
            self.assertTrue(doc[field].startswith(self.server.url + "/_/"), f"{field}: {doc}")
        r = raw_request("GET", doc["SigningCertURL"], ca_file=self.cert)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn(b"-----BEGIN CERTIFICATE-----", r.body)
        r = raw_request("GET", doc["SubscribeURL"], ca_file=self.cert)
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn(b"ConfirmSubscriptionResponse", r.body)


class GracefulStop(TlsCase):
    def test_sigterm_with_an_idle_tls_connection(self):
        cert, key = CERTS / "server-cert.pem", CERTS / "server-key.pem"
        srv = self.own_server(extra_env=tls_env(cert, key), ca_file=str(cert))
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=srv.host) as s:
                s.sendall(b"GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    data += s.recv(4096)
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data)
                # Kept alive and idle: SIGTERM closes it at once and serve exits 0.
                self.assertEqual(srv.stop(timeout=10), 0, srv.log_tail())
        log = srv.log_path.read_text(errors="replace")
        self.assertNotIn("Sanitizer", log)


class StartUp(unittest.TestCase):
    """Configurations serve must refuse before it listens."""

    def start(self, env: dict) -> subprocess.CompletedProcess:
        d = Path(tempfile.mkdtemp(prefix="pf-e2e-tls-start-"))
        self.addCleanup(shutil.rmtree, d, True)
        full = {k: v for k, v in os.environ.items() if not k.startswith("PF_SERVE_")}
        full.update(env)
        return run([str(harness.photoflux_binary()), "serve", "--data-dir", str(d / "data"),
                    "--listen", "127.0.0.1:0"], env=full, timeout=60)

    def assertRefused(self, p: subprocess.CompletedProcess, *needles: str):
        self.assertEqual(p.returncode, 2, describe_proc(p))
        err = p.stderr.decode(errors="replace")
        for needle in needles:
            self.assertIn(needle, err, describe_proc(p))
        self.assertNotIn(b"serving the S3 API", p.stdout, describe_proc(p))

    def test_half_a_configuration(self):
        cert = str(CERTS / "server-cert.pem")
        key = str(CERTS / "server-key.pem")
        self.assertRefused(self.start({"PF_SERVE_TLS_CERTIFICATE_FILE": cert}),
                           "PF_SERVE_TLS_KEY_FILE", "only the certificate file is set")
        self.assertRefused(self.start({"PF_SERVE_TLS_KEY_FILE": key}),
                           "PF_SERVE_TLS_CERTIFICATE_FILE", "only the key file is set")

    def test_unusable_files(self):
        other_cert, other_key = make_certificate(CERTS, "other")
        cert = str(CERTS / "server-cert.pem")
        missing = str(CERTS / "missing.pem")
        self.assertRefused(self.start(tls_env(Path(missing), other_key)),
                           f"TLS certificate file {missing}")
        self.assertRefused(self.start(tls_env(Path(cert), other_key)),
                           f"TLS key file {other_key}", "does not hold the private key")
        self.assertRefused(self.start(tls_env(other_key, other_key)), "no PEM certificate")
        self.assertRefused(self.start(tls_env(other_cert, other_cert)), "no PEM private key")


if __name__ == "__main__":
    unittest.main()
