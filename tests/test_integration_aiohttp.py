"""aiohttp (AppRunner + TCPSite on 127.0.0.1), read by httpx-sse: sse_writer and sse_response, Last-Event-ID,
and a client that leaves closes the writer, even while the stream is idle."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Iterator

import pytest
from integration_common import Seen, check_headers, read_sse
from servers import HOST, Server

from sse_fast import AsyncWriter, ClientDisconnected, Event
from sse_fast.testing import read_events

web = pytest.importorskip("aiohttp.web")
from sse_fast.integrations.aiohttp import last_event_id, sse_response, sse_writer  # noqa: E402

SEEN = Seen()


async def events(request: Any) -> Any:
    start = int(last_event_id(request) or 0) + 1
    async with sse_writer(request, headers={"X-Extra": "1"}) as writer:
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()
    return writer.response


async def items(request: Any) -> Any:
    async def gen() -> AsyncIterator[Any]:
        yield {"a": 1}
        yield Event(event="named", data="raw")

    return await sse_response(request, gen())


async def endless(request: Any) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        try:
            i = 0
            while True:
                await writer.write_event(i)
                i += 1
                await asyncio.sleep(0.01)
        finally:
            SEEN.put("reason", writer.context.reason)
            try:
                await writer.write_event("late")
            except ClientDisconnected as exc:
                SEEN.put("late", exc)

    return await sse_response(request, handler)


async def idle(request: Any) -> Any:
    async with sse_writer(request) as writer:
        await writer.write_event("hello")
        SEEN.put("idle-reason", await asyncio.wait_for(writer.context.wait(), 5))
        try:
            await writer.write_event("late")
        except ClientDisconnected as exc:
            SEEN.put("idle-late", exc)
    return writer.response


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = web.Application()
    app.router.add_get("/events", events)
    app.router.add_get("/items", items)
    app.router.add_get("/endless", endless)
    app.router.add_get("/idle", idle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        yield Server(port, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_sse_writer_with_last_event_id(server: Server) -> None:
    headers, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "41"})
    check_headers(headers)
    assert headers["x-extra"] == "1"
    assert [(e.id, e.json()) for e in got[:3]] == [("42", {"i": 42}), ("43", {"i": 43}), ("44", {"i": 44})]
    assert got[3].data == "[DONE]"


def test_query_fallback_and_invalid_id(server: Server) -> None:
    _, got = read_sse(server.url + "/events?lastEventId=9")
    assert [e.id for e in got[:3]] == ["10", "11", "12"]
    _, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "x" * 2000})
    assert [e.id for e in got[:3]] == ["1", "2", "3"]
    _, got = read_sse(server.url + "/events?lastEventId=a%00b")
    assert [e.id for e in got[:3]] == ["1", "2", "3"]


def test_sse_response_with_an_iterable(server: Server) -> None:
    _, got = read_sse(server.url + "/items")
    assert [(e.event, e.data) for e in got] == [
        ("message", '{"a":1}'),
        ("named", "raw"),
        ("message", "[DONE]"),
    ]


def test_client_leaving_closes_the_writer(server: Server) -> None:
    SEEN.clear()
    _, got = read_sse(server.url + "/endless", n=3)
    assert [e.data for e in got] == ["0", "1", "2"]
    assert SEEN.wait("reason") == "client_disconnected"
    assert isinstance(SEEN.wait("late"), ClientDisconnected)


def test_idle_stream_notices_the_client_leaving(server: Server) -> None:
    SEEN.clear()
    assert [e.data for e in read_events(server.url, "/idle", n=1)] == ['"hello"']
    assert SEEN.wait("idle-reason") == "client_disconnected"
    assert isinstance(SEEN.wait("idle-late"), ClientDisconnected)
