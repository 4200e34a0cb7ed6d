"""Harness for running `photoflux function` the way AWS Lambda runs it, against moto_server.

Three pieces, no test logic:

    MotoServer    moto_server (S3, SNS, SQS, ...) on a free loopback port, in its own process
                  group; boto3 clients for it with dummy credentials in us-east-1.
    RuntimeApi    a Lambda Runtime API (2018-06-01, fact sheet 4.1) served from a thread:
                  invoke(payload) queues one event, hands it to the runtime's long-poll on
                  /runtime/invocation/next and returns the Outcome the runtime posts back.
    run_function  starts `photoflux function` (or any argv, e.g. an unpacked `bootstrap` inside
                  a mount namespace) with the environment Lambda gives a function (fact sheet
                  4.2), pointed at a RuntimeApi and optionally at moto; returns a FunctionProcess.

Only the standard library and boto3/botocore are used.

    with MotoServer() as moto, RuntimeApi() as api:
        fn = run_function(binary, {"PF_TOPIC_ARN": arn}, api, endpoint_url=moto.url)
        try:
            outcome = api.invoke({"Records": [...]}, timeout_ms=60_000)
        finally:
            fn.stop()
"""
from __future__ import annotations

import atexit
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
# Dummy credentials: moto does not verify signatures, but the function must still sign (and send
# the session token) as it would with a Lambda execution role's temporary credentials.
ACCESS_KEY_ID = "ASIAPFTESTEXAMPLE000"
SECRET_ACCESS_KEY = "pf/test/secret/0123456789abcdefghijklmn"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEPF//////////test-session-token/with+slashes=="

RUNTIME_API_VERSION = "2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
# Bounds on what the fake Runtime API accepts from a runtime (Lambda's own limit is 6 MB).
MAX_POST_BYTES = 6 * 1024 * 1024


def photoflux_binary() -> Path:
    """The binary under test: PF_BINARY (an error if it names nothing), else build/photoflux
    (a skip if absent)."""
    env = os.environ.get("PF_BINARY")
    if env:
        p = Path(env)
        if not p.exists():
            raise RuntimeError(f"PF_BINARY={p} does not exist")
        return p
    p = REPO / "build" / "photoflux"
    if not p.exists():
        raise unittest.SkipTest(f"photoflux binary not found at {p} (build it or set PF_BINARY)")
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_setup() -> None:
    """In the child before exec: own process group (so stop() reaches its children too) and
    SIGKILL when the test process dies (e.g. a CTest timeout)."""
    os.setpgid(0, 0)
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the child's process group (by the child's id), then SIGKILL after `grace`."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


_live: "set" = set()


@atexit.register
def _stop_leftovers() -> None:
    for p in list(_live):
        p.stop()


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace")
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------------------------
# moto_server
# --------------------------------------------------------------------------------------------

class MotoServer:
    """moto_server on a free loopback port. Fails (never skips) when moto_server is missing:
    these tests are part of `make test`."""

    START_TIMEOUT = 60.0

    def __init__(self):
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen | None = None
        self.root = Path(tempfile.mkdtemp(prefix="pf-moto-"))
        self.log_path = self.root / "moto.log"

    def start(self) -> "MotoServer":
        program = shutil.which("moto_server")
        if not program:
            raise RuntimeError("moto_server is not on PATH "
                               "(scripts/setup.sh installs moto[server])")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION=REGION)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=self.root,
                                         preexec_fn=_child_setup)
        _live.add(self)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on {self.url} within "
                           f"{self.START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc:
            _stop_group(self.proc)
        _live.discard(self)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        return _tail(self.log_path)

    def client(self, service: str, endpoint_url: str | None = None):
        """A boto3 client for `service` ("s3", "sns", "sqs", ...) against moto (or, with
        endpoint_url, against a proxy in front of it)."""
        import boto3
        from botocore.config import Config
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url or self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 2, "mode": "standard"},
                                          s3={"addressing_style": "path"}))

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Lambda Runtime API
# --------------------------------------------------------------------------------------------

def _peer_closed(sock: socket.socket) -> bool:
    """True when the client of a waiting request has closed its end (readable, 0 bytes)."""
    import select
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True

@dataclass
class Outcome:
    """What the runtime posted for one invocation."""
    request_id: str
    kind: str  # "response" or "error"
    body: bytes
    error_type: str = ""  # Lambda-Runtime-Function-Error-Type (errors only)
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "response"

    def json(self):
        return json.loads(self.body) if self.body else None

    def __str__(self) -> str:
        text = self.body[:2000].decode(errors="replace")
        return f"{self.kind} {self.error_type} {text}".replace("  ", " ")


@dataclass
class _Pending:
    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


class RuntimeApi:
    """The Runtime API Lambda serves to a custom runtime, on 127.0.0.1:<free port>.

    `address` is what AWS_LAMBDA_RUNTIME_API holds ("127.0.0.1:PORT"). Everything the runtime
    did is recorded: `init_errors` (body, error type) and `outcomes` (every Outcome, in order);
    `next_calls` counts the long-polls."""

    FUNCTION_NAME = "photoflux-test"

    def __init__(self, function_name: str = FUNCTION_NAME):
        self.function_name = function_name
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self._events: "queue.Queue[_Pending]" = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.init_errors: list[tuple[str, bytes]] = []
        self.init_error_posted = threading.Event()
        self.outcomes: list[Outcome] = []
        self.next_calls = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "RuntimeApi":
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                api._handle_get(self)

            def do_POST(self):
                api._handle_post(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="runtime-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "RuntimeApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the test side ----------------------------------------------------------------------

    def invoke(self, payload, *, timeout_ms: int = 60_000, wait: float | None = None,
               request_id: str | None = None, watch: "FunctionProcess | None" = None) -> Outcome:
        """Queues one invocation (payload: bytes, str, or a JSON-serialisable object) whose
        deadline is `timeout_ms` from now, and returns the runtime's Outcome. Raises
        TimeoutError when nothing was posted within `wait` seconds (default: the deadline
        plus 30 s), RuntimeError as soon as the `watch`ed function process has exited."""
        if isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode()
        else:
            body = json.dumps(payload).encode()
        rid = request_id or str(uuid.uuid4())
        pending = _Pending(rid, body, int(time.time() * 1000) + timeout_ms, self.function_arn,
                           f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0")
        with self._lock:
            self._pending[rid] = pending
        self._events.put(pending)
        limit = wait if wait is not None else timeout_ms / 1000 + 30
        give_up = time.monotonic() + limit
        while not pending.done.wait(0.25):
            if watch is not None and not watch.running() and not pending.done.is_set():
                with self._lock:
                    self._pending.pop(rid, None)
                raise RuntimeError(f"the function exited ({watch.proc.returncode}) during "
                                   f"invocation {rid}:\n{watch.log_tail()}")
            if time.monotonic() > give_up:
                raise TimeoutError(f"no response or error posted for invocation {rid} "
                                   f"within {limit:.0f} s")
        return pending.outcome

    # -- the runtime side -------------------------------------------------------------------

    def _prefix(self, path: str) -> str | None:
        p = f"/{RUNTIME_API_VERSION}/runtime/"
        return path[len(p):] if path.startswith(p) else None

    def _reply(self, h, status: int, body: dict | bytes, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def _handle_get(self, h) -> None:
        rest = self._prefix(h.path)
        if rest != "invocation/next":
            self._reply(h, 404, {"errorMessage": f"no route {h.path}"})
            return
        with self._lock:
            self.next_calls += 1
        # The long-poll: no timeout towards the runtime; our shutdown or the runtime going away
        # (a stopped function) ends it, so a dead poller never takes the next event.
        while not self._closing.is_set():
            if _peer_closed(h.connection):
                return
            try:
                ev = self._events.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._reply(h, 200, ev.payload, {
                    "Lambda-Runtime-Aws-Request-Id": ev.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(ev.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": ev.function_arn,
                    "Lambda-Runtime-Trace-Id": ev.trace_id,
                })
            except OSError:
                self._events.put(ev)  # not delivered: the next runtime gets it
                h.close_connection = True
            return
        try:
            self._reply(h, 500, {"errorMessage": "runtime API shutting down",
                                 "errorType": "Runtime.Shutdown"})
        except OSError:
            pass

    def _read_body(self, h) -> bytes | None:
        try:
            n = int(h.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_POST_BYTES:
            self._reply(h, 413, {"errorMessage": "payload too large or bad Content-Length",
                                 "errorType": "RequestEntityTooLarge"})
            h.close_connection = True
            return None
        return h.rfile.read(n) if n else b""

    def _handle_post(self, h) -> None:
        rest = self._prefix(h.path)
        body = self._read_body(h)
        if body is None:
            return
        if rest == "init/error":
            self.init_errors.append((h.headers.get(ERROR_TYPE_HEADER, ""), body))
            self.init_error_posted.set()
            self._reply(h, 202, {"status": "OK"})
            return
        parts = (rest or "").split("/")
        if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
            self._reply(h, 404, {"errorMessage": f"no route {h.path}"})
            return
        with self._lock:
            pending = self._pending.pop(parts[1], None)
        if pending is None:
            self._reply(h, 400, {"errorMessage": f"unknown or finished request id {parts[1]}",
                                 "errorType": "InvalidRequestID"})
            return
        pending.outcome = Outcome(pending.request_id, parts[2], body,
                                  h.headers.get(ERROR_TYPE_HEADER, "") if parts[2] == "error"
                                  else "", h.headers.get("Content-Type", ""))
        self.outcomes.append(pending.outcome)
        self._reply(h, 202, {"status": "OK"})
        pending.done.set()


# --------------------------------------------------------------------------------------------
# The function process
# --------------------------------------------------------------------------------------------

class FunctionProcess:
    """A started function (stdout+stderr in `log_path`, as CloudWatch would get them)."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, log_path: Path):
        self.argv = argv
        self.env = env
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                         preexec_fn=_child_setup)
        _live.add(self)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM (then SIGKILL) the function's process group; returns its exit status."""
        _stop_group(self.proc)
        _live.discard(self)
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def log_tail(self, limit: int = 4000) -> str:
        return _tail(self.log_path, limit)

    def __enter__(self) -> "FunctionProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def lambda_environment(runtime_api: RuntimeApi, *, endpoint_url: str | None = None,
                       task_root: os.PathLike | str | None = None) -> dict:
    """The environment Lambda gives a provided.al2023 function (fact sheet 4.2), with dummy
    temporary credentials. Nothing is inherited from the test's own environment but PATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "photoflux.handler",
        "AWS_LAMBDA_RUNTIME_API": runtime_api.address,
        "AWS_LAMBDA_FUNCTION_NAME": runtime_api.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{runtime_api.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]" + uuid.uuid4().hex,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
    }
    if task_root is not None:
        env["LAMBDA_TASK_ROOT"] = str(task_root)
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def run_function(command: os.PathLike | str | Sequence[str], env: dict | None,
                 runtime_api: RuntimeApi, *, endpoint_url: str | None = None,
                 task_root: os.PathLike | str | None = None,
                 cwd: os.PathLike | str | None = None) -> FunctionProcess:
    """Starts the function as Lambda would and returns at once (the runtime then long-polls).

    command: a photoflux binary (run as `BINARY function`) or an argv list run as given (e.g. an
             unpacked `bootstrap`, or `unshare ... bootstrap`).
    env:     PF_* configuration and overrides on top of lambda_environment(); a None value
             removes a variable.
    endpoint_url: AWS_ENDPOINT_URL (moto's url, or a proxy in front of it)."""
    if isinstance(command, (str, os.PathLike)):
        argv = [str(command), "function"]
    else:
        argv = [str(a) for a in command]
    full_env = lambda_environment(runtime_api, endpoint_url=endpoint_url, task_root=task_root)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = str(v)
    root = Path(tempfile.mkdtemp(prefix="pf-function-"))
    return FunctionProcess(argv, full_env, Path(cwd) if cwd else root, root / "function.log")
