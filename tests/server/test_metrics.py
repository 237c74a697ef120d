"""Prometheus metrics: route templates (never raw paths), status codes, latency, text format."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from scimitar.server import metrics
from scimitar.server.asgi import App, Request, Response, Route
from scimitar.server.http import error_response


async def _ok(request: Request) -> Response:
    return Response(b"ok")


async def _boom(request: Request) -> Response:
    raise RuntimeError("handler failed")


async def _metrics(request: Request) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _app(prefix: str) -> App:
    return App(
        [
            Route("/metrics", {"GET": _metrics}),
            Route(f"{prefix}/boom", {"GET": _boom}),
            Route(f"{prefix}/scim/v2/Users", {"GET": _ok, "POST": _ok}),
            Route(f"{prefix}/scim/v2/Users/{{id}}", {"GET": _ok, "DELETE": _ok}),
        ],
        error_response,
    )


def _requests(method: str, route: str, status: int) -> float:
    value = REGISTRY.get_sample_value(
        "scimitar_http_requests_total", {"method": method, "route": route, "status": str(status)}
    )
    return value or 0.0


def _call(app: App, *requests: tuple[str, str]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        # raise_app_exceptions=False: answer 500 as a real server does, instead of raising.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(method, path) for method, path in requests]

    return asyncio.run(go())


def test_requests_are_counted_by_route_template_and_status() -> None:
    prefix = f"/t{uuid.uuid4().hex[:8]}"  # the registry is process-wide: own routes per test
    users = f"{prefix}/scim/v2/Users"
    responses = _call(
        _app(prefix),
        ("GET", f"{users}/2819c223"),
        ("GET", f"{users}/b1e4a0c9"),
        ("DELETE", f"{users}/2819c223"),
        ("POST", users),
        ("PUT", users),  # the path matches, the method does not: 405
        ("GET", f"{prefix}/no/such/thing"),
        ("BREW", f"{users}/2819c223"),
        ("GET", f"{prefix}/boom"),
    )
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 405, 404, 405, 500]
    assert _requests("GET", f"{users}/{{id}}", 200) == 2
    assert _requests("DELETE", f"{users}/{{id}}", 200) == 1
    assert _requests("POST", users, 200) == 1
    assert _requests("PUT", users, 405) == 1
    assert _requests("OTHER", f"{users}/{{id}}", 405) == 1
    assert _requests("GET", f"{prefix}/boom", 500) == 1
    assert _requests("GET", "unmatched", 404) >= 1


def test_metrics_endpoint_serves_prometheus_text_without_raw_ids() -> None:
    prefix = f"/t{uuid.uuid4().hex[:8]}"
    app = _app(prefix)
    _call(app, *[("GET", f"{prefix}/scim/v2/Users/user-{n}") for n in range(5)])
    (response,) = _call(app, ("GET", "/metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    assert "user-3" not in text, "raw ids would make the series unbounded"

    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["scimitar_http_requests"].type == "counter"
    assert families["scimitar_http_request_duration_seconds"].type == "histogram"
    template = f"{prefix}/scim/v2/Users/{{id}}"
    samples = [
        s
        for s in families["scimitar_http_request_duration_seconds"].samples
        if s.labels.get("route") == template
    ]
    count = next(s.value for s in samples if s.name.endswith("_count"))
    buckets = [s for s in samples if s.name.endswith("_bucket")]
    assert count == 5
    assert {b.labels["le"] for b in buckets} >= {"0.001", "0.01", "0.1", "1.0", "+Inf"}
    assert next(b.value for b in buckets if b.labels["le"] == "+Inf") == 5


WORKER = """
import asyncio, sys
import httpx
from scimitar.server.asgi import App, Response, Route
from scimitar.server.http import error_response

async def ok(request):
    return Response(b"ok")

app = App([Route("/work", {"GET": ok})], error_response)

async def go():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for _ in range(int(sys.argv[1])):
            await client.get("/work")

asyncio.run(go())
"""


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", WORKER, count], env=env, check=True, timeout=60)
    scrape = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from scimitar.server.metrics import render; "
            "sys.stdout.write(render().decode())",
        ],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    line = 'scimitar_http_requests_total{method="GET",route="/work",status="200"} 7.0'
    assert line in scrape.stdout.splitlines()
