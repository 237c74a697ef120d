"""Run the server: bring the schema up to date, then serve the app with uvicorn workers."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import uvicorn

from scimitar.db.engine import make_engine
from scimitar.db.migrate import upgrade
from scimitar.server import socket_per_worker
from scimitar.server.coalesced_writes import CoalescingHttpToolsProtocol
from scimitar.server.metrics import MULTIPROC_ENV
from scimitar.settings import Settings

# Built by the runtime module: the SCIM target plus the provisioning scheduler.
APP_FACTORY = "scimitar.runtime:create_app_from_env"
# How long a SIGTERM/SIGINT waits for requests in flight before closing connections.
GRACEFUL_SHUTDOWN_SECONDS = 10


def migrate(database_url: str) -> bool:
    """Apply pending migrations; return True when the schema changed."""
    engine = make_engine(database_url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def serve(
    settings: Settings, host: str, port: int, workers: int, *, access_log: bool = False
) -> None:
    """Serve until SIGTERM or SIGINT, after migrating the database once, up front.

    Workers build the app from the environment (``create_app_from_env``), so the
    database URL travels to them in ``SCIMITAR_DATABASE_URL``. Migrating here, before
    any worker starts, means N workers never race to create the same tables.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    migrate(settings.database_url)
    os.environ["SCIMITAR_DATABASE_URL"] = settings.database_url
    metrics_dir = None
    if workers > 1:
        # A fresh folder every start: files left by an earlier run would be added in.
        # It must be set before the workers import prometheus_client, which picks its
        # storage once, at import.
        metrics_dir = tempfile.mkdtemp(prefix="scimitar-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        run_workers(APP_FACTORY, host, port, workers, factory=True, access_log=access_log)
    finally:
        if metrics_dir is not None:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


def run_workers(
    app: str, host: str, port: int, workers: int, *, factory: bool, access_log: bool = False
) -> None:
    """Serve the ASGI application ``app`` (an import string) as ``serve`` serves its own.

    The benchmark's ceiling is served through this too, so that it measures the same
    stack: uvicorn with these options and, at several workers, a socket per worker.
    """
    options: dict[str, Any] = {
        "app": app,
        "factory": factory,
        "host": host,
        "port": port,
        "workers": workers,
        # "auto" picks uvloop (uvicorn[standard]) where it is installed; httptools
        # parses, and a response leaves in one write (see coalesced_writes).
        "loop": "auto",
        "http": CoalescingHttpToolsProtocol,
        # Off by default: one log line per request costs measurable throughput. The
        # access log holds the request line only, never headers, so no key is logged.
        "access_log": access_log,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    if workers > 1 and socket_per_worker.AVAILABLE:
        socket_per_worker.run(uvicorn.Config(**options))
    else:
        uvicorn.run(**options)
