"""Assemble the ASGI application: SCIM routes, health, metrics, and error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from scimitar.db.engine import is_sqlite, make_engine
from scimitar.server import metrics
from scimitar.server.asgi import App, Request, Response, Route
from scimitar.server.bulk import BulkRunner, parse_request
from scimitar.server.http import error_response, read_json, scim_response
from scimitar.server.routes import ScimEndpoints, scim_base, scim_routes
from scimitar.server.service import ScimService
from scimitar.server.store.sql_json import install_casefold
from scimitar.settings import Settings

log = logging.getLogger("scimitar.server")
_TEXT = "text/plain; charset=utf-8"


def create_app(settings: Settings) -> App:
    """Return the application for ``settings``; the schema must already be current."""
    engine = make_engine(settings.database_url)
    if is_sqlite(engine):
        install_casefold(engine)  # before the first connection, so every one has it
    service = ScimService(engine)
    endpoints = ScimEndpoints(service, settings)

    async def bulk(request: Request) -> Response:
        body = await read_json(request, settings.max_body_bytes)
        principal = service.check_key(request.headers.get("authorization"))
        operations, fail_on_errors = parse_request(body, settings.max_bulk_operations)
        runner = BulkRunner(service.connection, principal, scim_base(request))
        return scim_response(runner.run(operations, fail_on_errors))

    async def healthz(_request: Request) -> Response:
        try:
            service.ping()
        except Exception:
            log.exception("health check: the database does not answer")
            return Response(b"database unavailable\n", 503, media_type=_TEXT)
        return Response(b"ok\n", media_type=_TEXT)

    async def metrics_endpoint(_request: Request) -> Response:
        """``GET /metrics`` in the Prometheus text exposition format (version 0.0.4)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        yield
        service.close()

    routes = [
        *scim_routes(endpoints, bulk),
        Route("/healthz", {"GET": healthz}),
        Route("/metrics", {"GET": metrics_endpoint}),
    ]
    app = App(routes, error_response, lifespan)
    app.state["engine"] = engine
    return app


def create_app_from_env() -> App:
    """Factory for ``uvicorn --factory``: settings come from ``SCIMITAR_*`` variables."""
    return create_app(Settings.from_env())
