"""The server's HTTP layer: routing, requests, responses, errors and the lifespan."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from scimitar.scim.errors import InvalidValue
from scimitar.server.asgi import App, Request, Response, Route
from scimitar.server.http import error_response


async def echo(request: Request) -> Response:
    """Answer what the handler saw, so tests can check the request's parsing."""
    body = b"".join([chunk async for chunk in request.stream()])
    seen = {
        "method": request.method,
        "params": request.path_params,
        "query": request.query_params,
        "auth": request.headers.get("authorization"),
        "body": body.decode(),
    }
    return Response(repr(seen).encode(), headers={"X-Seen": "yes"}, media_type="text/plain")


async def refuse(request: Request) -> Response:
    raise InvalidValue("that value will not do")


async def crash(request: Request) -> Response:
    raise RuntimeError("secret=hunter2 went wrong")


async def nothing(request: Request) -> Response:
    return Response(status=204)


APP = App(
    [
        Route("/scim/v2/Users", {"GET": echo, "POST": echo}),
        Route("/scim/v2/Users/{id}", {"GET": echo, "DELETE": nothing}),
        Route("/scim/v2/Schemas/{id:path}", {"GET": echo}),
        Route("/refuse", {"POST": refuse}),
        Route("/crash", {"GET": crash}),
    ],
    error_response,
)


def call(
    method: str,
    path: str,
    *,
    body: list[bytes] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    root_path: str = "",
    app: App = APP,
) -> tuple[int, dict[bytes, bytes], bytes, list[dict[str, Any]]]:
    """Call ``app`` as uvicorn does; return status, headers, body and every message sent."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": query,
        "headers": headers or [],
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
    }
    parts = list(body or [b""])
    incoming = [
        {"type": "http.request", "body": part, "more_body": n < len(parts) - 1}
        for n, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if not sent:
        return 0, {}, b"", sent
    start, whole = sent
    return start["status"], dict(start["headers"]), whole["body"], sent


def test_a_fixed_path_and_one_with_an_id_reach_their_handlers() -> None:
    status, headers, body, _ = call("GET", "/scim/v2/Users")
    assert status == 200
    assert headers[b"x-seen"] == b"yes"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert "'params': {}" in body.decode()
    _, _, body, _ = call("GET", "/scim/v2/Users/2819c223")
    assert "'params': {'id': '2819c223'}" in body.decode()


def test_an_id_is_one_segment_unless_the_template_takes_the_rest_of_the_path() -> None:
    assert call("GET", "/scim/v2/Users/a/b")[0] == 404
    assert call("GET", "/scim/v2/Users/")[0] == 200  # a trailing slash is the list
    _, _, body, _ = call("GET", "/scim/v2/Schemas/urn:x:y/z")
    assert "'id': 'urn:x:y/z'" in body.decode()


def test_a_proxy_prefix_in_root_path_is_taken_off_before_matching() -> None:
    _, _, body, _ = call("GET", "/tenant-a/scim/v2/Users/42", root_path="/tenant-a")
    assert "'id': '42'" in body.decode()


def test_unknown_paths_and_methods_answer_scim_errors() -> None:
    status, _, body, _ = call("GET", "/nowhere")
    assert status == 404
    assert b'"status":"404"' in body
    assert b"no endpoint at /nowhere" in body
    status, headers, body, _ = call("PUT", "/scim/v2/Users")
    assert status == 405
    assert headers[b"allow"] == b"GET, HEAD, POST"
    assert b"PUT is not allowed here" in body


def test_head_is_answered_by_the_get_handler() -> None:
    status, headers, body, _ = call("HEAD", "/scim/v2/Users/7")
    assert status == 200
    assert "'method': 'HEAD'" in body.decode()
    # The whole body's length: uvicorn sends the head of a HEAD response only.
    assert headers[b"content-length"] == str(len(body)).encode()


def test_headers_and_query_parameters() -> None:
    headers = [(b"Authorization", b"Bearer first"), (b"authorization", b"Bearer second")]
    query = b"filter=userName%20eq%20%22a%22&count=&count=5"
    _, _, body, _ = call("GET", "/scim/v2/Users", headers=headers, query=query)
    text = body.decode()
    assert "'auth': 'Bearer first'" in text
    assert "'filter': 'userName eq \"a\"'" in text
    assert "'count': '5'" in text


def test_a_body_in_several_messages_is_read_whole() -> None:
    _, _, body, _ = call("POST", "/scim/v2/Users", body=[b'{"a":', b" 1", b"}"])
    assert "'body': '{\"a\": 1}'" in body.decode()


def test_a_client_gone_before_its_body_arrived_gets_no_answer() -> None:
    async def disconnected(request: Request) -> Response:
        async for _ in request.stream():
            pass
        return Response(b"unreachable")

    app = App([Route("/x", {"POST": disconnected})], error_response)
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [], "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent == []


def test_a_scim_error_becomes_its_status_and_body() -> None:
    status, headers, body, _ = call("POST", "/refuse")
    assert status == 400
    assert headers[b"content-type"] == b"application/scim+json"
    assert b'"scimType":"invalidValue"' in body
    assert b"that value will not do" in body


def test_a_crash_is_logged_and_answers_500_without_the_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="scimitar.server"):
        status, _, body, _ = call("GET", "/crash")
    assert status == 500
    assert b"server log has the details" in body
    assert b"hunter2" not in body
    assert b"Traceback" not in body
    assert "GET /crash failed" in caplog.text
    assert caplog.records[-1].exc_info is not None


def test_no_content_has_no_length() -> None:
    status, headers, body, _ = call("DELETE", "/scim/v2/Users/1")
    assert status == 204
    assert b"content-length" not in headers
    assert body == b""


def test_the_lifespan_is_entered_at_start_up_and_left_at_shutdown() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        events.append("up")
        yield
        events.append("down")

    answers = _lifespan(App([], error_response, lifespan))
    assert events == ["up", "down"]
    assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_a_failed_start_up_is_reported_to_the_server() -> None:
    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    answers = _lifespan(App([], error_response, lifespan))
    assert answers == ["lifespan.startup.failed"]


def _lifespan(app: App) -> list[str]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_the_server_runs_without_starlette() -> None:
    # Starlette is a test dependency now (TestClient): an import of it anywhere in the
    # served application would break an installation without the test extras.
    code = (
        "import sys, scimitar.runtime, scimitar.cli; "
        "scimitar.runtime.create_app_from_env; "
        "sys.exit('starlette' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
