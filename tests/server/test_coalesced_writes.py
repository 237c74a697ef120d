"""One socket write a response: uvicorn over ``CoalescingTransport``, on a real socket.

Each test serves a small ASGI application with uvicorn on 127.0.0.1, on asyncio's
loop and on uvloop (which ``scimitar serve`` uses), and talks to it over a real
connection. A spy between the coalescing transport and the socket's transport
counts the writes that reach the socket.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from scimitar.server.coalesced_writes import CoalescingHttpToolsProtocol, CoalescingTransport

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


class SocketWrites(asyncio.Transport):
    """The socket's transport, with each write it receives recorded."""

    def __init__(self, transport: asyncio.Transport, log: list[bytes]) -> None:
        super().__init__()
        self.transport = transport
        self.log = log

    def write(self, data: Any) -> None:
        self.log.append(bytes(data))
        self.transport.write(data)

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size()


WRITES: list[bytes] = []


class Coalescing(CoalescingHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        HttpToolsProtocol.connection_made(
            self, CoalescingTransport(SocketWrites(transport, WRITES), self.loop)
        )


class Plain(HttpToolsProtocol):
    """uvicorn as it comes, for the baseline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(SocketWrites(transport, WRITES))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo the body on POST; stream on /stream; 204 and 304 on those paths."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await asyncio.sleep(0.01)  # the next chunk comes in a later loop iteration
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    status = {"/empty": 204, "/unchanged": 304}.get(path, 200)
    answer = b"" if status != 200 else (body or path.encode())
    headers = [(b"content-length", b"%d" % len(answer))] if status == 200 else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def serve(
    protocol: type[asyncio.Protocol],
    loop: str,
    client: Callable[[int], Awaitable[bytes]],
) -> bytes:
    """Serve ``app`` on a free port and return what ``client(port)`` read."""
    WRITES.clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=protocol, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)

    async def main() -> bytes:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            return await client(port)
        finally:
            server.should_exit = True
            await task

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(main())


def exchange(*requests: bytes, until: int) -> Callable[[int], Awaitable[bytes]]:
    """A client sending ``requests`` at once and reading until ``until`` responses ended."""

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(requests))
        received = b""
        while received.count(b"HTTP/1.1 ") < until or not _complete(received):
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            received += chunk
        writer.close()
        return received

    return client


def _complete(received: bytes) -> bool:
    last = received.rsplit(b"HTTP/1.1 ", 1)[1]
    head, _, body = last.partition(b"\r\n\r\n")
    if not _:
        return False
    if b"transfer-encoding: chunked" in head:
        return body.endswith(b"0\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def get(path: str, *extra: bytes) -> bytes:
    return b"GET %s HTTP/1.1\r\nhost: test\r\n%s\r\n" % (path.encode(), b"".join(extra))


@pytest.mark.parametrize("loop", LOOPS)
def test_uvicorn_alone_writes_head_and_body_apart(loop: str) -> None:
    # The baseline this module exists for: two writes a response.
    received = serve(Plain, loop, exchange(get("/a"), until=1))
    assert received.endswith(b"\r\n\r\n/a")
    assert len(WRITES) == 2


@pytest.mark.parametrize("loop", LOOPS)
def test_a_response_leaves_in_one_write(loop: str) -> None:
    received = serve(Coalescing, loop, exchange(get("/a"), until=1))
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"content-length: 2\r\n\r\n/a")
    assert [received] == WRITES


@pytest.mark.parametrize("loop", LOOPS)
def test_pipelined_requests_get_whole_responses_in_order(loop: str) -> None:
    post = b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\n\r\nhello"
    requests = (get("/first"), post, get("/empty"), get("/unchanged"), get("/last"))
    received = serve(Coalescing, loop, exchange(*requests, until=5))
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    assert statuses == [b"200", b"200", b"204", b"304", b"200"]
    assert received.index(b"/first") < received.index(b"hello") < received.index(b"/last")
    assert b"".join(WRITES) == received
    assert len(WRITES) <= 5  # one a response at most, fewer when they met in one iteration


@pytest.mark.parametrize("loop", LOOPS)
def test_connection_close_sends_everything_before_closing(loop: str) -> None:
    received = serve(Coalescing, loop, exchange(get("/bye", b"connection: close\r\n"), until=1))
    assert b"connection: close\r\n" in received
    assert received.endswith(b"\r\n\r\n/bye")
    assert len(WRITES) == 1


@pytest.mark.parametrize("loop", LOOPS)
def test_a_streamed_body_still_leaves_chunk_by_chunk(loop: str) -> None:
    received = serve(Coalescing, loop, exchange(get("/stream"), until=1))
    assert received.endswith(b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n")
    # The head leaves with nothing (it waits for the first chunk's iteration at most);
    # each chunk leaves in its own iteration, not held until the end.
    assert len(WRITES) >= 4


@pytest.mark.parametrize("loop", LOOPS)
def test_expect_100_continue_is_answered_before_the_body_is_sent(loop: str) -> None:
    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 4\r\n"
            b"expect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"ping")
        final = await asyncio.wait_for(reader.readuntil(b"ping"), 5)
        writer.close()
        return interim + final

    received = serve(Coalescing, loop, client)
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")


async def over_a_socket() -> tuple[CoalescingTransport, list[bytes], socket.socket]:
    """A coalescing transport over one end of a socket pair: it, its writes, the other end."""
    loop = asyncio.get_running_loop()
    server_side, client_side = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, server_side)
    assert isinstance(transport, asyncio.Transport)
    log: list[bytes] = []
    return CoalescingTransport(SocketWrites(transport, log), loop), log, client_side


def test_held_writes_leave_at_the_end_of_the_iteration_and_on_close() -> None:
    async def main() -> None:
        coalescing, log, client_side = await over_a_socket()
        coalescing.write(b"head ")
        coalescing.writelines([b"body", b""])
        assert log == []
        assert coalescing.get_write_buffer_size() == 9
        await asyncio.sleep(0)
        assert log == [b"head body"]
        coalescing.write(b"last")
        coalescing.close()  # flushes first
        assert log == [b"head body", b"last"]
        await asyncio.sleep(0.01)
        client_side.settimeout(5)
        assert client_side.recv(100) == b"head bodylast"
        assert client_side.recv(100) == b""  # then closed
        client_side.close()

    asyncio.run(main())


def test_aborting_drops_what_is_held() -> None:
    async def main() -> None:
        coalescing, log, client_side = await over_a_socket()
        coalescing.write(b"never sent")
        coalescing.abort()
        await asyncio.sleep(0.01)
        assert log == []
        assert coalescing.is_closing()
        client_side.close()

    asyncio.run(main())
