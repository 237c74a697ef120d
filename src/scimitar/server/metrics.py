"""Prometheus metrics: requests by route template and status, and a latency histogram.

Labels carry the route *template* (``/scim/v2/Users/{id}``), never the raw path,
so the number of series stays bounded whatever ids clients send.

With several worker processes (``scimitar serve --workers N``) each worker counts
its own requests; ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start, prometheus_client then keeps the values in files there,
and ``/metrics`` (answered by any one worker) adds up all of them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Host, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
# Methods outside this set are client-chosen strings: one label value keeps them bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Finer than the default buckets at the low end, where most SCIM requests land.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "scimitar_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
LATENCY = Histogram(
    "scimitar_http_request_duration_seconds",
    "Time from receiving a request to finishing its response, by method and route template.",
    ("method", "route"),
    buckets=_BUCKETS,
)


def _route_templates(routes: Any, prefix: str, table: dict[int, str]) -> None:
    for route in routes or ():
        if isinstance(route, Mount):
            # A request the mounted app answers without a route of its own keeps the Mount.
            table[id(route)] = f"{prefix}{route.path}/{{path}}"
            _route_templates(route.routes, prefix + route.path, table)
        elif isinstance(route, Host):
            _route_templates(route.routes, prefix, table)
        else:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                table[id(route)] = prefix + path


class MetricsMiddleware:
    """Count every HTTP request and time it (a pure ASGI middleware: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # id(route) -> full template. Keyed by id because Starlette routes define __eq__
        # without __hash__; they live as long as the app, so their ids stay valid.
        self._templates: dict[int, str] = {}
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _template(self, scope: Scope) -> str:
        # Starlette's Router stores the matched route (the innermost one under a Mount,
        # or the path-only match behind a 405) in scope["route"] as it dispatches.
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        template = self._templates.get(id(route))
        if template is None:
            # First sight of this route: (re)build the table from the application's tree,
            # which also picks up routes added after start-up.
            app = scope.get("app")
            table: dict[int, str] = {}
            _route_templates(getattr(app, "routes", None), "", table)
            self._templates = table
            template = table.get(id(route)) or getattr(route, "path", None) or UNMATCHED
            table[id(route)] = template
        return template

    def _record(self, method: str, template: str, status: int, seconds: float) -> None:
        key = (method, template, status)
        series = self._series.get(key)
        if series is None:
            # labels() takes a lock and builds tuples; resolving each series once keeps that
            # off the hot path.
            series = (
                REQUESTS.labels(method, template, str(status)),
                LATENCY.labels(method, template),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the application raises before answering
        method = scope["method"]

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._record(
                method if method in _METHODS else "OTHER",
                self._template(scope),
                status,
                time.perf_counter() - started,
            )


def render() -> bytes:
    """Return every metric in the Prometheus text format, summed over all workers."""
    if os.environ.get(MULTIPROC_ENV):
        # The multiprocess docs: collect into a fresh registry on each scrape.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    """Answer ``GET /metrics`` in the Prometheus text exposition format (version 0.0.4)."""
    return Response(render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
