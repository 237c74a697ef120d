"""The Python peer: scim2-server's own ASGI application, with a static bearer token.

scim2-server ships a WSGI test server (``scim2-server`` on wsgiref) and an ASGI
application over an asynchronous in-memory storage. uvicorn serves the ASGI one
natively, so the peer runs on the same server, loop and HTTP parser as scimitar.
Its storage is a dict in the worker's memory: nothing is written to disk, and it
can only run as a single worker (a second one would hold other resources).

Serve it with ``uvicorn scim2_peer:create_app --factory --app-dir bench``; the
token comes from ``BENCH_SCIM2_TOKEN``. The check is the one of scim2-server's
``BearerTokenApplication`` (a set lookup), so both servers authenticate.
"""

from __future__ import annotations

import os

from scim2_models import ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

TOKEN_ENV = "BENCH_SCIM2_TOKEN"


class BearerTokenASGIApplication(ASGIApplication):
    """scim2-server's ASGI application, refusing requests without the bearer token."""

    def __init__(self, token: str) -> None:
        config = load_default_service_provider_config()
        config.authentication_schemes = [
            *(config.authentication_schemes or []),
            BEARER_TOKEN_SCHEME,
        ]
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(), load_default_resource_types().values(), config=config
        )
        # The secret signs cursors only; one process, so a per-start value is enough.
        super().__init__(
            AsyncInMemoryStorage(), provider, ScimService(provider, secret=os.urandom(16).hex())
        )
        self.token = token

    def check_auth(self, request: ScimRequest) -> None:
        """Refuse a request that does not carry the bearer token."""
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            raise UnauthorizedException


def create_app() -> BearerTokenASGIApplication:
    """Factory for ``uvicorn --factory``."""
    return BearerTokenASGIApplication(os.environ[TOKEN_ENV])
