"""The ceiling: the smallest useful endpoint on scimitar's ASGI stack.

Starlette on uvicorn (uvloop, httptools), served with the same worker count,
options and sockets as ``scimitar serve`` (``python bench/ceiling_app.py PORT
WORKERS``). Every method on every path reads the request body and answers a small
JSON object, so each benchmark script can be pointed at it unchanged: the gap
between this and scimitar is what SCIM, auth and the database cost on top of HTTP.

``raw_app`` does the same as a bare ASGI callable, without Starlette: the gap
between the two is what Starlette's routing, middleware, ``Request`` and
``Response`` cost a request (``bench/asgi_stack.py``; ``python bench/ceiling_app.py
PORT WORKERS raw`` serves it).
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def answer(request: Request) -> JSONResponse:
    """Read the body, as a real endpoint must, and answer a constant document."""
    await request.body()
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
)


_OK = orjson.dumps({"ok": True})
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_OK))]


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``app`` without Starlette: read the body, answer the same document."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _OK})


if __name__ == "__main__":
    # Imported here: the workers import this module too, and need none of scimitar.
    from scimitar.server.serve import run_workers

    served = "ceiling_app:raw_app" if sys.argv[3:] == ["raw"] else "ceiling_app:app"
    run_workers(served, "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), factory=False)
