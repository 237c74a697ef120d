"""Assemble the ASGI application: SCIM routes, health, metrics, and error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from scimitar.db.engine import is_sqlite, make_engine
from scimitar.scim.errors import ScimError
from scimitar.server.bulk import BulkRunner, parse_request
from scimitar.server.http import error_response, read_json, scim_response
from scimitar.server.metrics import MetricsMiddleware, metrics_endpoint
from scimitar.server.routes import ScimEndpoints, scim_base, scim_routes
from scimitar.server.service import ScimService
from scimitar.server.store.sql_json import install_casefold
from scimitar.settings import Settings

log = logging.getLogger("scimitar.server")


def create_app(settings: Settings) -> Starlette:
    """Return the application for ``settings``; the schema must already be current."""
    engine = make_engine(settings.database_url)
    if is_sqlite(engine):
        install_casefold(engine)  # before the first connection, so every one has it
    service = ScimService(engine)
    endpoints = ScimEndpoints(service, settings)

    async def bulk(request: Request) -> Response:
        body = await read_json(request, settings.max_body_bytes)
        authorization = request.headers.get("authorization")
        principal = service.check_key(authorization)
        operations, fail_on_errors = parse_request(body, settings.max_bulk_operations)
        runner = BulkRunner(service.connection, principal, scim_base(request))
        return scim_response(runner.run(operations, fail_on_errors))

    async def healthz(_request: Request) -> Response:
        try:
            service.ping()
        except Exception:
            log.exception("health check: the database does not answer")
            return PlainTextResponse("database unavailable\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def scim_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ScimError)
        return error_response(exc)

    async def http_error(_request: Request, exc: Exception) -> Response:
        # Unknown URLs and wrong methods still answer in SCIM's error shape (§3.12).
        assert isinstance(exc, HTTPException)
        error = ScimError(exc.detail, status=exc.status_code)
        response = error_response(error)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def internal_error(_request: Request, exc: Exception) -> Response:
        # Starlette logs the traceback; the client learns only that it was our fault.
        return error_response(
            ScimError("internal server error; the server log has the details", status=500)
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        service.close()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Mount("/scim/v2", routes=scim_routes(endpoints, bulk)),
        ],
        exception_handlers={
            ScimError: scim_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
    )
    app.state.engine = engine
    app.add_middleware(MetricsMiddleware)
    return app


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory``: settings come from ``SCIMITAR_*`` variables."""
    return create_app(Settings.from_env())
