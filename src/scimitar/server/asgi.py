"""The server's HTTP layer: a request, a response, and an application routing on paths.

This replaces Starlette, which the server used until it measured what Starlette
cost a request: its middleware stack, its regular-expression routing, its
``Request`` and ``Response`` took 22 µs of a worker's CPU on every request
(``bench/asgi_stack.py``), a tenth of a get. The server needs little of it: a
dozen fixed paths, one ``{id}`` segment, JSON in and out, errors in SCIM's shape,
and a count of every request for ``/metrics``. That is this module, which
``App`` does in one function call per request.

Paths match after the ASGI ``root_path`` (a proxy's prefix) is taken off, and a
trailing slash is ignored. A path that matches no route answers 404, a method
the route does not have 405 with ``Allow``; ``HEAD`` is answered as ``GET``
(uvicorn sends the head only). Handlers raise ``ScimError`` for the client's
mistakes; anything else is logged with its traceback and answers a bare 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from urllib.parse import parse_qsl

from scimitar.scim.errors import ScimError
from scimitar.server import metrics

log = logging.getLogger("scimitar.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before its request's body was read: nobody to answer."""


class Request:
    """What a handler reads of a request; headers and query parameters parsed on demand."""

    __slots__ = ("_headers", "_query", "_receive", "path_params", "scope")

    def __init__(self, scope: Scope, receive: Receive, path_params: dict[str, str]) -> None:
        self.scope = scope
        self._receive = receive
        self.path_params = path_params
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def headers(self) -> dict[str, str]:
        """Header names in lower case; of a repeated header, the first value."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for name, value in self.scope["headers"]:
                headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
            self._headers = headers
        return self._headers

    @property
    def query_params(self) -> dict[str, str]:
        """The query string's parameters; of a repeated one, the last value."""
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = dict(parse_qsl(raw, keep_blank_values=True))
        return self._query

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return


class Response:
    """A whole response: status, headers and body, sent as two ASGI messages."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.body = body
        self.status = status
        raw: list[tuple[bytes, bytes]] = []
        if media_type is not None:
            raw.append((b"content-type", media_type.encode("latin-1")))
        if status not in (204, 304):  # these have no body, so no length either (RFC 9110)
            raw.append((b"content-length", b"%d" % len(body)))
        for name, value in (headers or {}).items():
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self.headers = raw

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


Handler = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[ScimError], Response]
Lifespan = Callable[[], AbstractAsyncContextManager[Any]]


class Route:
    """A path template with at most one parameter, last: ``/Users/{id}``, ``/Schemas/{id:path}``.

    ``{name}`` matches one path segment, ``{name:path}`` the rest of the path.
    """

    def __init__(self, template: str, handlers: dict[str, Handler]) -> None:
        self.template = template
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])
        self.allow = ", ".join(sorted(self.handlers))
        prefix, brace, parameter = template.partition("{")
        self.prefix = prefix
        name, _, kind = parameter.rstrip("}").partition(":")
        self.parameter = name if brace else None
        self.rest_of_path = kind == "path"

    def match(self, path: str) -> dict[str, str] | None:
        """Return the path parameters when ``path`` matches, else None."""
        if self.parameter is None:
            return {} if path == self.prefix else None
        if not path.startswith(self.prefix):
            return None
        value = path[len(self.prefix) :]
        if not value or ("/" in value and not self.rest_of_path):
            return None
        return {self.parameter: value}


class App:
    """An ASGI application serving ``routes``, the first that matches a path winning.

    ``state`` keeps what the builder of the app owns (a database engine, say).
    ``lifespan`` is entered at start-up and left at shutdown.
    """

    def __init__(
        self,
        routes: list[Route],
        render_error: ErrorRenderer,
        lifespan: Lifespan = nullcontext,
    ) -> None:
        self.routes = routes
        self.render_error = render_error
        self.lifespan = lifespan
        self.state: dict[str, Any] = {}
        # Most paths have no parameter: one dictionary look-up finds their route.
        self._fixed = {r.prefix: r for r in reversed(routes) if r.parameter is None}
        self._templated = [r for r in routes if r.parameter is not None]

    def route(self, path: str) -> tuple[Route, dict[str, str]] | None:
        fixed = self._fixed.get(path)
        if fixed is not None:
            return fixed, {}
        for route in self._templated:
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        found = self.route(path)
        if found is None:
            template = metrics.UNMATCHED
            response = self.render_error(ScimError(f"no endpoint at {path}", status=404))
        else:
            route, params = found
            template = route.template
            handler = route.handlers.get(method)
            if handler is None:
                response = self._not_allowed(method, route)
            else:
                try:
                    response = await handler(Request(scope, receive, params))
                except ScimError as error:
                    response = self.render_error(error)
                except ClientGone:
                    return
                except Exception:
                    log.exception("%s %s failed", method, template)
                    response = self.render_error(
                        ScimError(
                            "internal server error; the server log has the details", status=500
                        )
                    )
        await response.send(send)
        metrics.record(method, template, response.status, time.perf_counter() - started)

    def _not_allowed(self, method: str, route: Route) -> Response:
        error = ScimError(f"{method} is not allowed here; allowed: {route.allow}", status=405)
        response = self.render_error(error)
        response.headers.append((b"allow", route.allow.encode("latin-1")))
        return response

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol around ``self.lifespan``."""
        await receive()  # lifespan.startup
        context = self.lifespan()
        try:
            await context.__aenter__()
        except Exception:
            log.exception("start-up failed")
            await send({"type": "lifespan.startup.failed", "message": "start-up failed"})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await context.__aexit__(None, None, None)
        except Exception:
            log.exception("shutdown failed")
            await send({"type": "lifespan.shutdown.failed", "message": "shutdown failed"})
            return
        await send({"type": "lifespan.shutdown.complete"})
