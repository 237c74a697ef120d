"""Prometheus metrics: requests by route template and status, and a latency histogram.

Labels carry the route *template* (``/scim/v2/Users/{id}``), never the raw path,
so the number of series stays bounded whatever ids clients send; the application
(``asgi.App``) records every request it answers.

With several worker processes (``scimitar serve --workers N``) each worker counts
its own requests; ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start, prometheus_client then keeps the values in files there,
and ``/metrics`` (answered by any one worker) adds up all of them.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

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


_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record(method: str, template: str, status: int, seconds: float) -> None:
    """Count one answered request and observe its latency."""
    if method not in _METHODS:
        method = "OTHER"
    key = (method, template, status)
    series = _series.get(key)
    if series is None:
        # labels() takes a lock and builds tuples; resolving each series once keeps that
        # off the hot path.
        series = (
            REQUESTS.labels(method, template, str(status)),
            LATENCY.labels(method, template),
        )
        _series[key] = series
    series[0].inc()
    series[1].observe(seconds)


def render() -> bytes:
    """Return every metric in the Prometheus text format, summed over all workers."""
    if os.environ.get(MULTIPROC_ENV):
        # The multiprocess docs: collect into a fresh registry on each scrape.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
