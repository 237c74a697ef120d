"""The ceiling: the smallest useful endpoint on scimitar's ASGI stack.

scimitar's own HTTP layer (``scimitar.server.asgi.App``) on uvicorn (uvloop,
httptools, one write a response), served with the same worker count, options and
sockets as ``scimitar serve`` (``python bench/ceiling_app.py PORT WORKERS``). Every
method on every path reads the request body and answers a small JSON object, so
each benchmark script can be pointed at it unchanged: the gap between this and
scimitar is what SCIM, auth and the database cost on top of HTTP.

Two variants serve the same endpoint for ``bench/asgi_stack.py``, which measures
what the HTTP layer costs a request: ``raw_app``, a bare ASGI callable
(``python bench/ceiling_app.py PORT WORKERS raw``), and ``starlette_app``, the
endpoint on Starlette, which served scimitar until the sixth session
(``... starlette``).
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from scimitar.server.asgi import App, Request, Response, Route
from scimitar.server.http import error_response

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_OK = orjson.dumps({"ok": True})


async def answer(request: Request) -> Response:
    """Read the body, as a real endpoint must, and answer a constant document."""
    async for _ in request.stream():
        pass
    return Response(_OK, media_type="application/json")


app = App(
    [Route(path, dict.fromkeys(METHODS, answer)) for path in ("/", "/scim/v2/{path:path}")],
    error_response,
)

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_OK))]


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``app`` without an HTTP layer: read the body, answer the same document."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _OK})


def starlette_app() -> Any:
    """``app`` on Starlette (a test dependency, so imported only when asked for)."""
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import JSONResponse
    from starlette.routing import Route as StarletteRoute

    async def endpoint(request: StarletteRequest) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    return Starlette(routes=[StarletteRoute("/{path:path}", endpoint, methods=list(METHODS))])


if __name__ == "__main__":
    # Imported here: the workers import this module too, and need none of it.
    from scimitar.server.serve import run_workers

    variant = sys.argv[3] if len(sys.argv) > 3 else "app"
    served, factory = {
        "app": ("ceiling_app:app", False),
        "raw": ("ceiling_app:raw_app", False),
        "starlette": ("ceiling_app:starlette_app", True),
    }[variant]
    run_workers(served, "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), factory=factory)
