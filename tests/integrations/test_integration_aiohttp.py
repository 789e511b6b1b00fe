"""aiohttp (AppRunner + TCPSite on 127.0.0.1), read by httpx-sse: sse_writer and sse_response, Last-Event-ID,
and a client that leaves closes the writer, even while the stream is idle."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest
from support.integration_common import (
    SEEN,
    TOO_LONG_ID,
    async_items,
    check_client_leaving,
    check_cut_off,
    check_first_ids,
    check_head,
    check_items,
    check_resumed,
    endless,
    fails,
    first_after,
)
from support.servers import Server, run_aiohttp

from sse_fast import ClientDisconnected
from sse_fast.testing import read_events

web = pytest.importorskip("aiohttp.web")
from sse_fast.integrations.aiohttp import last_event_id, sse_response, sse_writer  # noqa: E402


async def events(request: Any) -> Any:
    start = first_after(last_event_id(request))
    async with sse_writer(request, headers={"X-Extra": "1"}) as writer:
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()
    return writer.response


async def counted(request: Any) -> Any:
    async def handler(writer: Any) -> None:
        SEEN.put("ran", True)
        await writer.write_event("hello")

    return await sse_response(request, handler)


async def items_view(request: Any) -> Any:
    return await sse_response(request, async_items())


async def endless_view(request: Any) -> Any:
    return await sse_response(request, endless)


async def idle(request: Any) -> Any:
    async with sse_writer(request) as writer:
        await writer.write_event("hello")
        SEEN.put("idle-reason", await asyncio.wait_for(writer.context.wait(), 5))
        try:
            await writer.write_event("late")
        except ClientDisconnected as exc:
            SEEN.put("idle-late", exc)
    return writer.response


async def fails_view(request: Any) -> Any:
    return await sse_response(request, fails)


async def fails_inside(request: Any) -> Any:
    async with sse_writer(request, heartbeat=None) as writer:
        await fails(writer)
    return writer.response


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = web.Application()
    app.router.add_get("/events", events)
    app.router.add_get("/items", items_view)
    app.router.add_get("/counted", counted)  # add_get answers HEAD on the same route
    app.router.add_get("/endless", endless_view)
    app.router.add_get("/idle", idle)
    app.router.add_get("/fails", fails_view)
    app.router.add_get("/fails_inside", fails_inside)
    with run_aiohttp(app) as server:
        yield server


def test_sse_writer_with_last_event_id(server: Server) -> None:
    check_resumed(server.url + "/events")


def test_query_fallback_and_invalid_id(server: Server) -> None:
    check_first_ids(server.url + "/events?lastEventId=9", 10)
    check_first_ids(server.url + "/events", 1, headers=TOO_LONG_ID)
    check_first_ids(server.url + "/events?lastEventId=a%00b", 1)


def test_head_gets_the_headers_without_running_the_handler(server: Server) -> None:
    check_head(server.url + "/counted")


def test_sse_response_with_an_iterable(server: Server) -> None:
    check_items(server.url + "/items")


def test_client_leaving_closes_the_writer(server: Server) -> None:
    check_client_leaving(server.url + "/endless")


def test_idle_stream_notices_the_client_leaving(server: Server) -> None:
    SEEN.clear()
    assert [e.data for e in read_events(server.url, "/idle", n=1)] == ['"hello"']
    assert SEEN.wait("idle-reason") == "client_disconnected"
    assert isinstance(SEEN.wait("idle-late"), ClientDisconnected)


@pytest.mark.parametrize("path", ["/fails", "/fails_inside"])
def test_a_handler_that_raises_cuts_the_body_off(server: Server, path: str) -> None:
    check_cut_off(server.port, path)
