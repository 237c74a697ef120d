"""The ceiling: the smallest useful endpoint on scimitar's ASGI stack.

Starlette on uvicorn (uvloop, httptools), served with the same worker count,
options and sockets as ``scimitar serve`` (``python bench/ceiling_app.py PORT
WORKERS``). Every method on every path reads the request body and answers a small
JSON object, so each benchmark script can be pointed at it unchanged: the gap
between this and scimitar is what SCIM, auth and the database cost on top of HTTP.
"""

from __future__ import annotations

import sys

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


if __name__ == "__main__":
    # Imported here: the workers import this module too, and need none of scimitar.
    from scimitar.server.serve import run_workers

    run_workers("ceiling_app:app", "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), factory=False)
