"""Real HTTP targets for provisioning tests: ``scimitar serve`` and a scripted server.

- ``serve_scimitar(folder)`` starts ``scimitar serve`` as a real process on a free
  port with SQLite in ``folder``; ``ScimitarTarget.cli`` runs the real CLI on its
  database (tenants, keys).
- ``ScriptedServer`` answers from a script of ``Reply`` objects (status, headers,
  body, delay), on plain HTTP or TLS, and records every request it receives: the
  misbehaving targets (429, 5xx, slow, HTML) that ``scimitar serve`` never is.
- ``self_signed_cert(folder)`` makes a certificate for ``localhost`` with the
  ``openssl`` command (no Python dependency needed).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

SCIMITAR = Path(sys.executable).with_name("scimitar")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SCIM_JSON = "application/scim+json"
EMPTY_LIST = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    "totalResults": 0,
    "startIndex": 1,
    "itemsPerPage": 0,
    "Resources": [],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- scimitar serve ------------------------------------------------------------------


@dataclass
class ScimitarTarget:
    """A running ``scimitar serve`` and the database it serves."""

    process: subprocess.Popen[bytes]
    base_url: str
    database_url: str
    log: Path

    @property
    def scim_url(self) -> str:
        return f"{self.base_url}/scim/v2"

    def cli(self, *args: str) -> str:
        """Run ``scimitar ARGS --database-url …`` and return its standard output."""
        done = subprocess.run(
            [str(SCIMITAR), *args, "--database-url", self.database_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def tenant(self, name: str, role_policy: str | None = None) -> str:
        """Create a tenant with the real CLI; return its name."""
        policy = ("--role-policy", role_policy) if role_policy else ()
        self.cli("tenant", "create", name, *policy)
        return name

    def key(self, tenant: str, permissions: str | None = None) -> str:
        """Issue an API key for ``tenant`` with the real CLI; return it."""
        extra = ("--permissions", permissions) if permissions is not None else ()
        return self.cli("token", "create", "--tenant", tenant, *extra).strip()

    def revoke(self, key: str) -> None:
        self.cli("token", "revoke", key.split("_")[1])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_scimitar(folder: Path) -> Iterator[ScimitarTarget]:
    """Run ``scimitar serve`` on a free port with SQLite in ``folder`` until the block ends."""
    port = free_port()
    database_url = f"sqlite:///{folder / 'target.db'}"
    log = folder / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SCIMITAR), "serve", "--port", str(port), "--database-url", database_url],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    target = ScimitarTarget(process, f"http://127.0.0.1:{port}", database_url, log)
    try:
        _wait_healthy(target)
        yield target
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(target: ScimitarTarget) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            raise AssertionError(f"scimitar serve exited early:\n{target.log_text()}")
        try:
            if httpx.get(f"{target.base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"scimitar serve did not start in {START_TIMEOUT}s:\n{target.log_text()}")


# -- a scripted HTTP server -----------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body`` is JSON-encoded unless it is bytes."""

    status: int = 200
    body: Any = field(default_factory=lambda: EMPTY_LIST)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = SCIM_JSON
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """A request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    client_port: int


class ScriptedServer:
    """An HTTP/1.1 server in a thread that answers from a script and records requests."""

    def __init__(self, tls: tuple[Path, Path] | None = None, default: Reply | None = None) -> None:
        self.replies: deque[Reply] = deque()
        self.default = default or Reply()
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port: int = self._httpd.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, *replies: Reply) -> ScriptedServer:
        """Answer the next requests with ``replies``, then with the default."""
        self.replies.extend(replies)
        return self

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(STOP_TIMEOUT)

    def _next(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            self.client_address[1],
                        )
                    )
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server._next()
                    if reply.delay and server._stopping.wait(reply.delay):
                        return
                    payload = (
                        reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
                    )
                    self.send_response(reply.status)
                    if reply.status != 204:
                        self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header(
                        "Content-Length", str(0 if reply.status == 204 else len(payload))
                    )
                    self.end_headers()
                    if reply.status != 204:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a timeout under test): nothing left to answer.
                    self.close_connection = True
                finally:
                    with server._lock:
                        server.in_flight -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate and key for ``localhost``; return their paths."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key
